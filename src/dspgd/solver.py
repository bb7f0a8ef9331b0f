r"""Batched dual space preconditioned gradient descent.

A batch is ``m`` runs sharing the data ``X`` of shape ``(n, d)``. The runs may
differ in the step size ``eta``, the start ``W0``, the labels ``Y`` and the
preconditioner's per-run hyperparameters. Each iteration computes, for all
runs at once,

.. math:: R = X W_t - Y, \qquad G = X^\top \nabla\ell(R), \qquad
          W_{t+1} = W_t - \eta \nabla K(G).

The iterates are stored as one ``(d, m, k)`` array, so the two products with
``X`` are single matrix products with ``m k`` columns, whatever ``m`` is.
Runs that converge or diverge leave the batch at the next check and the
arrays shrink, so finished runs cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dspgd._batch import Array
from dspgd.losses import Loss
from dspgd.preconditioners import Preconditioner
from dspgd.references import RowSpace

__all__ = ["BatchResult", "Progress", "SolverOptions", "Trajectory", "run_batch", "sample_iterations"]

CONVERGED = "converged"
DIVERGED = "diverged"
MAX_ITER = "max_iter"


@dataclass(frozen=True)
class SolverOptions:
    """Stopping rule and recording options.

    Attributes:
        tol: a run converges when ``||X W_t - Y||_F / ||Y||_F <= tol`` ...
        step_tol: ... and ``||W_{t+1} - W_t||_F <= step_tol * ||W_GD - W0||_F``.
        max_iter: iteration budget; runs still going get status ``max_iter``.
        check_every: iterations between convergence and divergence checks.
        blowup: a run diverges when its relative residual exceeds
            ``blowup * max(1, initial relative residual)`` or is not finite.
        samples: number of log-spaced iterations at which the trajectory is recorded.
        record_distance_to_limit: also record ``||W_t - W_final||_F``. This
            keeps a copy of the batch's iterates at every sample until the end,
            so memory grows by ``samples * d * m * k`` floats.
    """

    tol: float = 1e-12
    step_tol: float = 1e-12
    max_iter: int = 100_000
    check_every: int = 10
    blowup: float = 1e8
    samples: int = 60
    record_distance_to_limit: bool = False

    def __post_init__(self) -> None:
        for name in ("tol", "step_tol", "blowup"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"SolverOptions: invalid {name}={value!r}; expected a finite positive number")
        for name in ("max_iter", "check_every", "samples"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"SolverOptions: invalid {name}={value!r}; expected a positive integer")


@dataclass(frozen=True)
class Progress:
    """Snapshot passed to the progress callback at every check."""

    iteration: int
    active: int
    converged: int
    diverged: int
    max_relative_residual: float


@dataclass
class Trajectory:
    """Metrics at log-spaced iterations; entries after a run stopped are NaN.

    Every metric array has shape ``(len(iteration), m)``.
    """

    iteration: Array
    relative_residual: Array
    loss: Array
    distance_to_gd: Array
    distance_to_start: Array
    distance_to_limit: Array | None = None


@dataclass
class BatchResult:
    """Outcome of :func:`run_batch`, one entry per run.

    Attributes:
        status: ``"converged"``, ``"diverged"`` or ``"max_iter"``, shape ``(m,)``.
        iterations: iteration at which the run stopped, shape ``(m,)``.
        W: final iterate, shape ``(m, d, k)``; NaN for diverged runs, so a
            diverged run can never pass for a limit point.
        relative_residual: ``||X W - Y||_F / ||Y||_F`` at the final iterate.
        W_gd: the gradient descent limit of each run, shape ``(m, d, k)``.
        trajectory: metrics sampled along the way.
    """

    status: np.ndarray
    iterations: np.ndarray
    W: Array
    relative_residual: Array
    W_gd: Array
    trajectory: Trajectory = field(repr=False)


def sample_iterations(max_iter: int, samples: int) -> Array:
    """Return about ``samples`` distinct log-spaced iterations in ``[0, max_iter]``, starting at 0."""
    points = np.unique(np.round(np.logspace(0.0, np.log10(max_iter), samples)).astype(np.int64))
    return np.concatenate(([0], points))


def _as_batch(array: Array, m: int, shape: tuple[int, int], label: str) -> Array:
    """Broadcast a ``(rows, k)`` or ``(m, rows, k)`` array to ``(m, rows, k)``."""
    array = np.asarray(array, dtype=np.float64)
    input_shape = array.shape
    if array.ndim == 2:
        array = np.broadcast_to(array, (m,) + array.shape)
    if array.ndim != 3 or array.shape != (m,) + shape:
        raise ValueError(f"{label} must have shape {shape} or {(m,) + shape}, got {input_shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{label} contains NaN or infinite entries")
    return array


def _column_norms(A: Array) -> Array:
    """Frobenius norm of each run of a C-contiguous ``(rows, m, k)`` array."""
    rows, m, k = A.shape
    columns = A.reshape(rows, m * k)
    # Column sums first: the inner loop then spans all m k columns (about 3x faster
    # than "imk,imk->m" at m k = 320), and the order of the additions changes only rounding.
    return np.sqrt(np.einsum("ij,ij->j", columns, columns).reshape(m, k).sum(axis=1))


def _scale_by_step_size(direction: Array, eta_runs: Array) -> Array:
    """Return ``eta * direction`` for a ``(d, m, k)`` direction, in place when it is writeable.

    ``eta_runs`` has shape ``(m, k)``, each run's step size repeated ``k``
    times. For a C-contiguous direction numpy's inner loop then spans all
    ``m k`` columns, while broadcasting ``eta[None, :, None]`` runs it over
    only ``k`` entries at a time. Overwriting the preconditioner's output is
    allowed by the :meth:`~dspgd.preconditioners.Preconditioner.gradient` contract.
    """
    if direction.flags.writeable:
        return np.multiply(direction, eta_runs, out=direction)
    return direction * eta_runs


def _distances(W: Array, references: Array, active: Array) -> Array:
    """Frobenius distance from each active run of ``W`` to its reference.

    ``W`` has shape ``(d, m_active, k)`` and ``references`` shape ``(m, d, k)``
    for all runs; only the active ones are copied.
    """
    reference = references.transpose(1, 0, 2)
    if active.size != references.shape[0]:
        reference = reference[:, active, :]
    return _column_norms(W - reference)


class _Recorder:
    """Collects trajectory samples and final values, indexed by original run number."""

    def __init__(self, m: int, iterations: Array, keep_iterates: bool) -> None:
        self.iterations = iterations
        shape = (len(iterations), m)
        self.metrics = {name: np.full(shape, np.nan) for name in ("relative_residual", "loss", "gd", "start")}
        self.snapshots: list[tuple[int, Array, Array]] | None = [] if keep_iterates else None

    def sample(self, row: int, active: Array, values: dict[str, Array], W: Array) -> None:
        for name, value in values.items():
            self.metrics[name][row, active] = value
        if self.snapshots is not None:
            self.snapshots.append((row, active.copy(), W.copy()))

    def distance_to_limit(self, W_final: Array) -> Array | None:
        if self.snapshots is None:
            return None
        distances = np.full_like(self.metrics["gd"], np.nan)
        for row, active, W in self.snapshots:
            difference = W - W_final[active].transpose(1, 0, 2)
            distances[row, active] = _column_norms(difference)
        return distances


def run_batch(
    X: Array,
    Y: Array,
    W0: Array,
    eta: Array,
    preconditioner: Preconditioner,
    loss: Loss,
    options: SolverOptions = SolverOptions(),
    progress: Callable[[Progress], None] | None = None,
    space: RowSpace | None = None,
) -> BatchResult:
    """Run ``m`` dual space preconditioned gradient descent runs to their limits.

    Args:
        X: data, shape ``(n, d)`` with ``d > n`` and full row rank.
        Y: labels, shape ``(n, k)`` shared by all runs or ``(m, n, k)``.
        W0: starts, shape ``(d, k)`` or ``(m, d, k)``.
        eta: step sizes, shape ``(m,)``; this fixes the batch size ``m``.
        preconditioner: scalar or per-run (length ``m``) hyperparameters.
        loss: the entrywise loss.
        options: stopping rule; see :class:`SolverOptions`.
        progress: called at every check with a :class:`Progress`; the
            solver itself prints nothing.
        space: a precomputed :class:`RowSpace` of ``X`` to reuse.

    Returns:
        A :class:`BatchResult`. A diverging run does not raise: it gets status
        ``"diverged"`` and NaN iterates while the other runs go on. A
        factorization error is re-raised when every run's ``||G||_F^2`` is finite.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    space = space or RowSpace.from_design(X)
    n, d = X.shape
    eta = np.atleast_1d(np.asarray(eta, dtype=np.float64))
    if eta.ndim != 1 or not np.all(np.isfinite(eta) & (eta > 0)):
        raise ValueError(f"eta must be a 1-D array of finite positive step sizes, got {eta!r}")
    m = eta.shape[0]
    k = np.shape(Y)[-1]
    Y_runs = _as_batch(Y, m, (n, k), "Y")
    W0_runs = _as_batch(W0, m, (d, k), "W0")
    label_norms = np.sqrt(np.einsum("mnk,mnk->m", Y_runs, Y_runs))
    if np.any(label_norms == 0):
        raise ValueError("Y is zero for some run, so the relative residual ||XW - Y|| / ||Y|| is undefined")

    W_gd = W0_runs + space.min_norm_solution(Y_runs - X @ W0_runs)
    displacement = W_gd - W0_runs
    step_scale = np.sqrt(np.einsum("mdk,mdk->m", displacement, displacement))
    step_scale = np.maximum(step_scale, np.finfo(float).tiny)
    del displacement

    # Working arrays in (rows, runs, k) layout, restricted to the active runs. W0 and
    # W_gd stay in (m, d, k) layout and are read only at sampled iterations, so they
    # get no working copies: peak memory is about four batches of iterates (W, W_gd,
    # the gradient and the direction) plus the data.
    active = np.arange(m)
    # A copy even when the transpose is already contiguous (m = 1): W is updated in place
    # and must never alias the caller's W0.
    W = W0_runs.transpose(1, 0, 2).copy()
    work = {"Y": np.ascontiguousarray(Y_runs.transpose(1, 0, 2))}
    run_values = {"eta": eta, "label_norm": label_norms, "step_scale": step_scale}
    active_preconditioner = preconditioner

    status = np.full(m, MAX_ITER, dtype=object)
    iterations = np.full(m, options.max_iter, dtype=np.int64)
    finished_W: list[tuple[Array, Array]] = []
    final_residual = np.full(m, np.nan)
    initial_residual = np.ones(m)

    sampled = sample_iterations(options.max_iter, options.samples)
    sample_row = {int(t): row for row, t in enumerate(sampled)}
    recorder = _Recorder(m, sampled, options.record_distance_to_limit)

    def retire(mask: Array, label: str, t: int, residual: Array) -> None:
        nonlocal W, active, active_preconditioner
        runs = active[mask]
        status[runs] = label
        iterations[runs] = t
        final_residual[runs] = residual[mask]
        if label != DIVERGED:
            finished_W.append((runs, W[:, mask, :]))
        keep = ~mask
        W = np.ascontiguousarray(W[:, keep, :])
        for name in work:
            work[name] = np.ascontiguousarray(work[name][:, keep, :])
        if np.any(keep):
            active_preconditioner = active_preconditioner.select(np.flatnonzero(keep))
        active = active[keep]

    # Both products write into buffers kept while the active set is unchanged. Allocating
    # arrays of this size anew every iteration made an iteration about 1.4x slower at
    # n=50, d=200, k=5, m=64, because glibc maps and unmaps such blocks and page faults refill them.
    residual_buffer = gradient_buffer = eta_runs = np.empty((0, 0))

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        t = 0
        while active.size:
            m_active = active.size
            if eta_runs.shape[0] != m_active:
                residual_buffer = np.empty((n, m_active * k))
                gradient_buffer = np.empty((d, m_active * k))
                eta_runs = np.repeat(run_values["eta"][active][:, None], k, axis=1)
            R = np.matmul(X, W.reshape(d, -1), out=residual_buffer).reshape(n, m_active, k)
            R -= work["Y"]
            is_check = t % options.check_every == 0 or t in sample_row or t == options.max_iter
            if is_check:
                residual = _column_norms(R) / run_values["label_norm"][active]
                if t == 0:
                    initial_residual[active] = residual
                if t in sample_row:
                    recorder.sample(
                        sample_row[t],
                        active,
                        {
                            "relative_residual": residual,
                            "loss": loss.value(R.transpose(1, 0, 2)),
                            "gd": _distances(W, W_gd, active),
                            "start": _distances(W, W0_runs, active),
                        },
                        W,
                    )
                limit = options.blowup * np.maximum(1.0, initial_residual[active])
                bad = ~np.isfinite(residual) | (residual > limit)
                if t == options.max_iter:
                    if np.any(bad):
                        retire(bad, DIVERGED, t, residual)
                        residual = residual[~bad]
                    if active.size:
                        retire(np.ones(active.size, dtype=bool), MAX_ITER, t, residual)
                    break

            G_columns = np.matmul(X.T, loss.gradient(R).reshape(n, -1), out=gradient_buffer)
            G = G_columns.reshape(d, m_active, k).transpose(1, 0, 2)
            try:
                direction = active_preconditioner.gradient(G)
            except np.linalg.LinAlgError:
                # A factorization fails on non-finite entries, or on a Gram matrix G^T G
                # that overflows although G is finite. A non-finite ||G||_F^2 marks both
                # cases because it bounds every entry of G^T G. Retire those runs and retry.
                broken = ~np.isfinite(np.einsum("mdk,mdk->m", G, G))
                if not np.any(broken):
                    raise
                retire(broken, DIVERGED, t, np.full(m_active, np.nan))
                continue
            step = _scale_by_step_size(direction.transpose(1, 0, 2), eta_runs)
            del direction

            if is_check:
                step_size = _column_norms(step) / run_values["step_scale"][active]
                done = (residual <= options.tol) & (step_size <= options.step_tol) & ~bad
                stopped = done | bad
                if np.any(stopped):
                    step = step[:, ~stopped, :]
                    # Release the gradient buffer before retire() copies W; the next
                    # iteration allocates buffers for the smaller batch anyway.
                    del G, G_columns
                    gradient_buffer = np.empty((0, 0))
                    if np.any(bad):
                        retire(bad, DIVERGED, t, residual)
                        residual, done = residual[~bad], done[~bad]
                    if np.any(done):
                        retire(done, CONVERGED, t, residual)
                        residual = residual[~done]
                if progress is not None:
                    progress(
                        Progress(
                            iteration=t,
                            active=int(active.size),
                            converged=int(np.sum(status == CONVERGED)),
                            diverged=int(np.sum(status == DIVERGED)),
                            max_relative_residual=float(np.max(residual)) if residual.size else 0.0,
                        )
                    )

            W -= step
            # Free the step before the next direction is allocated, so the allocator reuses its memory.
            del step
            t += 1

    final_W = np.full((m, d, k), np.nan)
    for runs, finished in finished_W:
        final_W[runs] = finished.transpose(1, 0, 2)
    finished_W.clear()

    trajectory = Trajectory(
        iteration=sampled,
        relative_residual=recorder.metrics["relative_residual"],
        loss=recorder.metrics["loss"],
        distance_to_gd=recorder.metrics["gd"],
        distance_to_start=recorder.metrics["start"],
        distance_to_limit=recorder.distance_to_limit(final_W),
    )
    return BatchResult(
        status=status.astype(str),
        iterations=iterations,
        W=final_W,
        relative_residual=final_residual,
        W_gd=W_gd,
        trajectory=trajectory,
    )
