"""One-run-at-a-time baselines for the solver benchmark: plain numpy and PyTorch.

Both run the squared loss ``L(W) = ||XW - Y||_F^2 / 2`` from one start ``W0``
for each step size in turn, with the stopping rule of :func:`dspgd.run_batch`.
A run is checked at every multiple of ``check_every``, at every trajectory
sample and at ``max_iter``. It diverges when its relative residual is not finite
or exceeds ``blowup * max(1, initial relative residual)``, and it converges when
the relative residual is at most ``tol`` and the step is at most
``step_tol * ||W_GD - W0||_F``. Unlike the batched solver, neither records a trajectory.

Shapes: ``X`` is ``(n, d)``, ``Y`` is ``(n, k)``, ``W`` is ``(d, k)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

import dspgd
from dspgd.solver import sample_iterations

FAMILIES = ("gd", "adam", "global_clip")


@dataclass
class Problem:
    """Shared inputs of every method: the data, one start and one step size per run."""

    X: np.ndarray
    Y: np.ndarray
    W0: np.ndarray
    eta: np.ndarray
    family: str
    hyperparameter: float  # eps for adam, tau for global_clip, unused for gd
    step_scale: float  # ||W_GD - W0||_F, the unit of the step-size test
    label_norm: float  # ||Y||_F


@dataclass
class RunOutcome:
    """Status, stopping iteration and final iterate of one run."""

    status: str
    iterations: int
    W: np.ndarray


class StoppingRule:
    """The check schedule and tests of :func:`dspgd.run_batch` for one run."""

    def __init__(self, options: dspgd.SolverOptions, label_norm: float, step_scale: float) -> None:
        self.options = options
        self.samples = set(sample_iterations(options.max_iter, options.samples).tolist())
        self.label_norm = label_norm
        self.step_scale = step_scale
        self.initial_residual = 1.0

    def is_check(self, t: int) -> bool:
        return t % self.options.check_every == 0 or t in self.samples or t == self.options.max_iter

    def diverged(self, t: int, residual: float) -> bool:
        if t == 0:
            self.initial_residual = residual
        limit = self.options.blowup * max(1.0, self.initial_residual)
        return not np.isfinite(residual) or residual > limit

    def converged(self, residual: float, step_norm: float) -> bool:
        return residual <= self.options.tol and step_norm / self.step_scale <= self.options.step_tol


def numpy_direction(family: str, hyperparameter: float) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``G -> grad K(G)`` for one ``(d, k)`` gradient, written as the textbook formula."""
    if family == "gd":
        return lambda G: G
    if family == "adam":
        return lambda G: G / (np.abs(G) + hyperparameter)
    if family == "global_clip":
        return lambda G: G * min(1.0, hyperparameter / np.linalg.norm(G))
    raise ValueError(f"no baseline for preconditioner {family!r}; choose one of: {', '.join(FAMILIES)}")


def run_numpy(problem: Problem, eta: float, options: dspgd.SolverOptions, max_steps: int | None = None) -> RunOutcome:
    """Run one step size with numpy; stop after ``max_steps`` updates if given."""
    X, Y = problem.X, problem.Y
    direction = numpy_direction(problem.family, problem.hyperparameter)
    rule = StoppingRule(options, problem.label_norm, problem.step_scale)
    W = problem.W0.copy()
    last = options.max_iter if max_steps is None else min(max_steps, options.max_iter)

    for t in range(last + 1):
        R = X @ W - Y
        check = rule.is_check(t)
        if check:
            residual = float(np.linalg.norm(R)) / problem.label_norm
            if rule.diverged(t, residual):
                return RunOutcome("diverged", t, np.full_like(W, np.nan))
        if t == last:
            return RunOutcome("max_iter", t, W)
        step = eta * direction(X.T @ R)
        if check and rule.converged(residual, float(np.linalg.norm(step))):
            return RunOutcome("converged", t, W)
        W -= step
    raise AssertionError("unreachable: the loop returns at t == last")


def run_torch(problem: Problem, eta: float, options: dspgd.SolverOptions, max_steps: int | None = None) -> RunOutcome:
    """Run one step size as a PyTorch user would: autograd, ``torch.optim`` and ``clip_grad_norm_``.

    The convergence test compares the parameter before and after ``optimizer.step()``,
    so a converged run ends one step later than in the other methods. That step is
    below ``step_tol * ||W_GD - W0||_F``, because the test passed on it.
    """
    X = torch.from_numpy(problem.X)
    Y = torch.from_numpy(problem.Y)
    W = torch.nn.Parameter(torch.from_numpy(problem.W0.copy()))
    if problem.family == "adam":
        optimizer = torch.optim.Adam([W], lr=eta, betas=(0.0, 0.0), eps=problem.hyperparameter)
    else:
        optimizer = torch.optim.SGD([W], lr=eta)
    rule = StoppingRule(options, problem.label_norm, problem.step_scale)
    last = options.max_iter if max_steps is None else min(max_steps, options.max_iter)

    for t in range(last + 1):
        optimizer.zero_grad()
        R = X @ W - Y
        loss = 0.5 * (R * R).sum()
        check = rule.is_check(t)
        if check:
            residual = torch.linalg.vector_norm(R.detach()).item() / problem.label_norm
            if rule.diverged(t, residual):
                return RunOutcome("diverged", t, np.full(W.shape, np.nan))
        if t == last:
            return RunOutcome("max_iter", t, W.detach().numpy().copy())
        loss.backward()
        if problem.family == "global_clip":
            torch.nn.utils.clip_grad_norm_([W], max_norm=problem.hyperparameter)
        before = W.detach().clone() if check else None
        optimizer.step()
        if before is not None:
            step_norm = torch.linalg.vector_norm(W.detach() - before).item()
            if rule.converged(residual, step_norm):
                return RunOutcome("converged", t, W.detach().numpy().copy())
    raise AssertionError("unreachable: the loop returns at t == last")


def run_all(
    runner: Callable[..., RunOutcome], problem: Problem, options: dspgd.SolverOptions, max_steps: int | None = None
) -> list[RunOutcome]:
    """Run every step size of ``problem`` one after another."""
    return [runner(problem, float(eta), options, max_steps) for eta in problem.eta]
