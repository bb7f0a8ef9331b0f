"""Experiment runs and limit-point comparison, as used by the pipeline.

A *run job* takes one preconditioner, a list of losses, a grid of step sizes
given as fractions of ``eta_max`` and the replicates of one data set. It runs
one batch per (replicate, loss) and returns flat per-run arrays. The *limit
comparison* measures each final iterate against the exact references.
File input and output stay in the pipeline scripts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dspgd._batch import Array
from dspgd.data import Problem
from dspgd.losses import Loss, make_loss
from dspgd.preconditioners import DiagonalQuadratic, Preconditioner, make_preconditioner
from dspgd.references import RowSpace, diagonal_quadratic_limit, eta_max, split_displacement
from dspgd.solver import Progress, SolverOptions, run_batch

__all__ = [
    "PreconditionerSpec",
    "compare_limits",
    "eta_spread",
    "gd_reference",
    "limit_columns",
    "parse_preconditioner",
    "run_job",
    "step_sizes",
]

#: Per-run scalar columns of a run job, in the order they are written.
RUN_COLUMNS = (
    "replicate",
    "loss",
    "eta",
    "eta_fraction",
    "eta_max",
    "eta_reference",
    "status",
    "iterations",
    "relative_residual",
)
TRAJECTORY_METRICS = ("relative_residual", "loss", "distance_to_gd", "distance_to_start", "distance_to_limit")


@dataclass(frozen=True)
class PreconditionerSpec:
    """A named preconditioner configuration from the config file."""

    label: str
    name: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Preconditioner:
        """Instantiate the preconditioner, validating its hyperparameters."""
        return make_preconditioner(self.name, **self.hyperparameters)


def parse_preconditioner(entry: str | Mapping[str, Any]) -> PreconditionerSpec:
    """Parse a config entry: a registry name, or a mapping with ``name``, optional ``label`` and hyperparameters."""
    if isinstance(entry, str):
        return PreconditionerSpec(label=entry, name=entry)
    values = dict(entry)
    name = values.pop("name")
    label = values.pop("label", name)
    return PreconditionerSpec(label=label, name=name, hyperparameters=values)


def step_sizes(
    space: RowSpace, preconditioner: Preconditioner, loss: Loss, fractions: Sequence[float]
) -> tuple[Array, float, str]:
    """Return ``(eta, eta_max, reference)`` for step sizes given as fractions of ``eta_max``.

    For a preconditioner or loss whose curvature at 0 is 0 or infinite,
    ``eta_max`` is undefined. The fractions then refer to plain gradient
    descent with the squared loss, and ``reference`` is ``"gd"`` instead of ``"self"``.
    """
    try:
        limit = float(np.max(eta_max(space, preconditioner, loss)))
        reference = "self"
    except ValueError:
        limit = float(eta_max(space, make_preconditioner("gd"), make_loss("squared")))
        reference = "gd"
    return limit * np.asarray(fractions, dtype=np.float64), limit, reference


def run_job(
    problems: Sequence[Problem],
    spec: PreconditionerSpec,
    losses: Sequence[str],
    fractions: Sequence[float],
    options: SolverOptions,
    progress: Callable[[str, Progress], None] | None = None,
) -> dict[str, Array]:
    """Run every (replicate, loss, step size) of one preconditioner on one data set.

    Returns flat arrays with one entry per run, ordered by replicate, then
    loss, then step size. The scalar columns are ``replicate``, ``loss``,
    ``eta``, ``eta_fraction``, ``eta_max``, ``eta_reference``, ``status``,
    ``iterations`` and ``relative_residual``. ``W`` has shape ``(runs, d, k)``.
    The trajectories share the iteration grid ``trajectory_iteration``, with
    one ``trajectory_<metric>`` array of shape ``(samples, runs)`` per metric.
    """
    preconditioner = spec.build()
    columns: dict[str, list[Any]] = {name: [] for name in (*RUN_COLUMNS, "W")}
    trajectories: dict[str, list[Array]] = {name: [] for name in TRAJECTORY_METRICS}
    iteration_grid: Array | None = None

    for replicate, problem in enumerate(problems):
        space = RowSpace.from_design(problem.X)
        for loss_name in losses:
            loss = make_loss(loss_name)
            eta, limit, reference = step_sizes(space, preconditioner, loss, fractions)
            report = None if progress is None else (lambda p, tag=f"rep{replicate}/{loss_name}": progress(tag, p))
            result = run_batch(problem.X, problem.Y, problem.W0, eta, preconditioner, loss, options, report, space)

            m = eta.shape[0]
            columns["replicate"].append(np.full(m, replicate))
            columns["loss"].append(np.full(m, loss_name))
            columns["eta"].append(eta)
            columns["eta_fraction"].append(np.asarray(fractions, dtype=np.float64))
            columns["eta_max"].append(np.full(m, limit))
            columns["eta_reference"].append(np.full(m, reference))
            columns["status"].append(result.status)
            columns["iterations"].append(result.iterations)
            columns["relative_residual"].append(result.relative_residual)
            columns["W"].append(result.W)
            iteration_grid = result.trajectory.iteration
            for metric in TRAJECTORY_METRICS:
                values = getattr(result.trajectory, metric)
                trajectories[metric].append(values if values is not None else np.full((len(iteration_grid), m), np.nan))

    arrays = {name: np.concatenate(parts) for name, parts in columns.items()}
    arrays["status"] = arrays["status"].astype("U16")
    arrays["loss"] = arrays["loss"].astype("U32")
    arrays["eta_reference"] = arrays["eta_reference"].astype("U8")
    arrays["trajectory_iteration"] = np.asarray(iteration_grid)
    for metric in TRAJECTORY_METRICS:
        arrays[f"trajectory_{metric}"] = np.concatenate(trajectories[metric], axis=1)
    return arrays


def gd_reference(problem: Problem) -> tuple[RowSpace, Array, float]:
    """Return the factorization of ``X``, the gradient descent limit ``W_GD`` and ``||W_GD - W0||_F``."""
    space = RowSpace.from_design(problem.X)
    W_gd = problem.W0 + space.min_norm_solution(problem.Y - problem.X @ problem.W0)
    return space, W_gd, float(np.linalg.norm(W_gd - problem.W0))


def compare_limits(problem: Problem, W: Array, preconditioner: Preconditioner) -> dict[str, Array]:
    """Measure final iterates ``W`` of shape ``(m, d, k)`` against the exact references of ``problem``.

    Returns per-run arrays, each distance relative to ``||W_GD - W0||_F``:
    ``dist_gd`` (``||W - W_GD||``), ``rho`` (``||W - W0||``), ``null_space``
    (``||(I - P)(W - W0)||``), ``row_space_error`` (``||P(W - W0) - (W_GD - W0)||``)
    and, for the diagonal quadratic only, ``dist_closed_form`` to its closed-form
    limit (NaN otherwise). NaN iterates (diverged runs) give NaN everywhere.
    """
    space, W_gd, scale = gd_reference(problem)
    row_part, null_part = split_displacement(space, problem.W0, W)

    def relative(difference: Array) -> Array:
        return np.sqrt(np.sum(difference * difference, axis=(-2, -1))) / scale

    result = {
        "dist_gd": relative(W - W_gd),
        "rho": relative(W - problem.W0),
        "null_space": relative(null_part),
        "row_space_error": relative(row_part - (W_gd - problem.W0)),
        "dist_closed_form": np.full(W.shape[0], np.nan),
    }
    if isinstance(preconditioner, DiagonalQuadratic):
        D = preconditioner.weights(problem.X.shape[1])
        result["dist_closed_form"] = relative(W - diagonal_quadratic_limit(problem.X, problem.Y, problem.W0, D))
    return result


def eta_spread(W: Array, converged: Array, eta: Array, scale: float) -> Array:
    """Distance of each converged limit to the limit at the largest converged step, relative to ``scale``.

    ``W`` contains the limits of one (data set, replicate, loss, preconditioner)
    group at different step sizes. Runs that did not converge get NaN.
    """
    spread = np.full(W.shape[0], np.nan)
    if not np.any(converged):
        return spread
    reference = W[np.flatnonzero(converged)[np.argmax(eta[converged])]]
    spread[converged] = np.linalg.norm((W[converged] - reference).reshape(int(np.sum(converged)), -1), axis=1) / scale
    return spread


def limit_columns(problems: Sequence[Problem], runs: Mapping[str, Array], spec: PreconditionerSpec) -> dict[str, Array]:
    """Build the per-run limit comparison columns for the output of :func:`run_job`.

    Adds to the scalar run columns: the distances of :func:`compare_limits`,
    ``eta_spread`` (see :func:`eta_spread`, per replicate and loss) and
    ``in_assumptions``: true for smooth preconditioner and loss at a step
    below the local limit, the runs that count as evidence of convergence.
    """
    preconditioner = spec.build()
    m = runs["status"].shape[0]
    columns = {name: np.asarray(runs[name]) for name in RUN_COLUMNS}
    for name in ("dist_gd", "rho", "null_space", "row_space_error", "dist_closed_form", "eta_spread"):
        columns[name] = np.full(m, np.nan)

    converged = columns["status"] == "converged"
    for replicate, problem in enumerate(problems):
        in_replicate = np.flatnonzero(columns["replicate"] == replicate)
        for name, values in compare_limits(problem, runs["W"][in_replicate], preconditioner).items():
            columns[name][in_replicate] = values
        scale = gd_reference(problem)[2]
        for loss_name in np.unique(columns["loss"][in_replicate]):
            group = in_replicate[columns["loss"][in_replicate] == loss_name]
            columns["eta_spread"][group] = eta_spread(runs["W"][group], converged[group], columns["eta"][group], scale)

    loss_smooth = {name: make_loss(str(name)).smooth for name in np.unique(columns["loss"])}
    columns["in_assumptions"] = (
        bool(preconditioner.smooth)
        & np.array([loss_smooth[name] for name in columns["loss"]], dtype=bool)
        & (columns["eta_fraction"] < 1.0)
        & (columns["eta_reference"] == "self")
    )
    columns["run_index"] = np.arange(m)
    return columns
