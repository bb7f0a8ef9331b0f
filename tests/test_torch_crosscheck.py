"""Cross-check dspgd's batched solver against PyTorch's optimizers, an independent implementation.

Each test runs three step sizes for 100 steps of the squared loss on a small
float64 problem, once through :func:`dspgd.run_batch` and once per run with
``torch.optim``. It compares the final iterates, and the relative residuals at
the solver's sampled iterations, to 1e-10 relative:

- ``torch.optim.SGD`` against ``gd``;
- ``torch.optim.Adam(betas=(0, 0), eps=eps)`` against ``adam``, whose bias
  corrections are 1 when both betas are 0;
- ``torch.nn.utils.clip_grad_norm_`` followed by SGD against ``global_clip``.

``clip_grad_norm_`` (PyTorch 2.13) scales the gradient by
``min(1, max_norm / (||g|| + 1e-6))``, while ``global_clip`` uses
``min(1, tau / ||g||)``. While clipping is active the two steps differ by a
relative ``1e-6 / (||g|| + 1e-6)``. The tests handle the constant two ways,
each with clipping active in all 100 compared steps: they pass PyTorch
``max_norm = tau (||g|| + 1e-6) / ||g||``, which makes its factor
``tau / ||g||``, and they run plain ``max_norm = tau`` on data scaled so that
``||g|| >= 1e7``, where the offset is below 1e-13 per step. A third test checks
that at unit scale the plain call does differ by more than the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import dspgd

STEPS = 100
TOLERANCE = 1e-10
TORCH_CLIP_OFFSET = 1e-6  # the constant added to the norm in torch.nn.utils.clip_grad_norm_


@pytest.fixture(autouse=True, scope="module")
def single_torch_thread():
    """Run PyTorch on one thread for this module's tests.

    On problems this small a second thread made the tests about 10x slower while
    the other core was busy.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_problem(label_scale: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``X`` (10, 30), ``Y`` (10, 3) and starts ``W0`` (3 runs, 30, 3)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((10, 30))
    Y = label_scale * rng.standard_normal((10, 3))
    W0 = label_scale * 0.1 * rng.standard_normal((3, 30, 3))
    return X, Y, W0


def run_dspgd(X, Y, W0, eta, preconditioner: dspgd.Preconditioner) -> dspgd.BatchResult:
    """Run exactly STEPS updates: a tolerance no run reaches leaves every run at max_iter."""
    options = dspgd.SolverOptions(tol=1e-300, step_tol=1e-300, max_iter=STEPS)
    result = dspgd.run_batch(X, Y, W0, eta, preconditioner, dspgd.make_loss("squared"), options)
    assert np.all(result.status == "max_iter"), result.status
    return result


def run_torch(
    X: np.ndarray,
    Y: np.ndarray,
    W0: np.ndarray,
    make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    clip: Callable[[torch.Tensor], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Run STEPS updates of ``0.5 ||X W - Y||^2`` with autograd.

    Returns the final iterate, the relative residual before each update and after
    the last one (STEPS + 1 values), and the gradient norm at each update.
    """
    X_t, Y_t = torch.from_numpy(X), torch.from_numpy(Y)
    W = torch.nn.Parameter(torch.from_numpy(W0.copy()))
    optimizer = make_optimizer([W])
    label_norm = np.linalg.norm(Y)
    residuals, gradient_norms = [], []
    for _ in range(STEPS):
        optimizer.zero_grad()
        R = X_t @ W - Y_t
        residuals.append(torch.linalg.vector_norm(R.detach()).item() / label_norm)
        (0.5 * (R * R).sum()).backward()
        gradient_norms.append(torch.linalg.vector_norm(W.grad).item())
        if clip is not None:
            clip(W)
        optimizer.step()
    final = W.detach().numpy().copy()
    residuals.append(np.linalg.norm(X @ final - Y) / label_norm)
    return final, np.array(residuals), gradient_norms


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def assert_same_trajectory(result: dspgd.BatchResult, run: int, W: np.ndarray, residuals: np.ndarray) -> None:
    """Compare one run's final iterate and its sampled relative residuals with PyTorch's."""
    assert relative_difference(result.W[run], W) <= TOLERANCE
    sampled = result.trajectory.iteration
    assert sampled[-1] == STEPS
    assert relative_difference(result.trajectory.relative_residual[:, run], residuals[sampled]) <= TOLERANCE


def assert_moved(result: dspgd.BatchResult, W0: np.ndarray) -> None:
    """Guard against a vacuous comparison: every run moved a tenth of the way to W_GD or more."""
    for run in range(W0.shape[0]):
        moved = np.linalg.norm(result.W[run] - W0[run])
        assert moved >= 0.1 * np.linalg.norm(result.W_gd[run] - W0[run])


def eta_grid(X: np.ndarray, preconditioner: dspgd.Preconditioner) -> np.ndarray:
    """Step sizes at 0.3, 0.6 and 0.9 of the local limit eta_max."""
    space = dspgd.RowSpace.from_design(X)
    eta_max = dspgd.eta_max(space, preconditioner, dspgd.make_loss("squared"))
    return np.array([0.3, 0.6, 0.9]) * eta_max


def test_sgd_matches_gd():
    X, Y, W0 = make_problem()
    gd = dspgd.make_preconditioner("gd")
    eta = eta_grid(X, gd)
    result = run_dspgd(X, Y, W0, eta, gd)
    assert_moved(result, W0)
    for run, step in enumerate(eta):
        W, residuals, _ = run_torch(X, Y, W0[run], lambda params, step=step: torch.optim.SGD(params, lr=step))
        assert_same_trajectory(result, run, W, residuals)


def test_torch_adam_matches_adam():
    X, Y, W0 = make_problem()
    eps = np.array([0.05, 0.1, 0.2])  # one eps per run exercises the per-run hyperparameter path
    adam = dspgd.make_preconditioner("adam", eps=eps)
    eta = eta_grid(X, adam)
    result = run_dspgd(X, Y, W0, eta, adam)
    assert_moved(result, W0)
    for run, (step, run_eps) in enumerate(zip(eta, eps, strict=True)):

        def make_adam(params, step=step, run_eps=run_eps):
            return torch.optim.Adam(params, lr=step, betas=(0.0, 0.0), eps=run_eps)

        W, residuals, _ = run_torch(X, Y, W0[run], make_adam)
        assert_same_trajectory(result, run, W, residuals)


def clip_compensating_offset(tau: float) -> Callable[[torch.Tensor], None]:
    """Clip with ``max_norm = tau (||g|| + 1e-6) / ||g||``, so PyTorch's factor is dspgd's ``tau / ||g||``."""

    def clip(W: torch.Tensor) -> None:
        norm = torch.linalg.vector_norm(W.grad).item()
        torch.nn.utils.clip_grad_norm_([W], max_norm=tau * (norm + TORCH_CLIP_OFFSET) / norm)

    return clip


def clip_plain(tau: float) -> Callable[[torch.Tensor], None]:
    def clip(W: torch.Tensor) -> None:
        torch.nn.utils.clip_grad_norm_([W], max_norm=tau)

    return clip


def clipped_runs(label_scale: float, make_clip: Callable[[float], Callable[[torch.Tensor], None]]):
    """Run global_clip and PyTorch's clipping on the same runs and return what the tests compare.

    ``tau`` is 1 % of the first gradient's norm, which keeps every one of the
    STEPS updates clipped on this problem. The tests assert it from the gradient norms.
    """
    X, Y, W0 = make_problem(label_scale)
    tau = 0.01 * np.linalg.norm(X.T @ (X @ W0[0] - Y))
    clip = dspgd.make_preconditioner("global_clip", tau=tau)
    eta = eta_grid(X, clip)
    result = run_dspgd(X, Y, W0, eta, clip)
    torch_runs = [
        run_torch(X, Y, W0[run], lambda params, step=step: torch.optim.SGD(params, lr=step), make_clip(tau))
        for run, step in enumerate(eta)
    ]
    return result, torch_runs, tau, W0


def test_compensated_clip_matches_global_clip():
    result, torch_runs, tau, W0 = clipped_runs(1.0, clip_compensating_offset)
    assert_moved(result, W0)
    for run, (W, residuals, gradient_norms) in enumerate(torch_runs):
        assert min(gradient_norms) > tau, "clipping must be active in every compared step"
        assert_same_trajectory(result, run, W, residuals)


def test_plain_clip_matches_at_large_gradients():
    result, torch_runs, tau, W0 = clipped_runs(1e7, clip_plain)
    assert_moved(result, W0)
    for run, (W, residuals, gradient_norms) in enumerate(torch_runs):
        assert min(gradient_norms) > tau, "clipping must be active in every compared step"
        # The offset changes each step by a relative 1e-6 / ||g|| <= 1e-13.
        assert min(gradient_norms) >= 1e7
        assert_same_trajectory(result, run, W, residuals)


def test_plain_clip_differs_at_unit_scale():
    result, torch_runs, tau, _ = clipped_runs(1.0, clip_plain)
    for run, (W, _, gradient_norms) in enumerate(torch_runs):
        assert min(gradient_norms) > tau
        assert relative_difference(result.W[run], W) > TOLERANCE
