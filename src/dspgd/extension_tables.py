"""Per-run tables for the extension claims E1-E4 and the rho dependence figure.

The pipeline's limit tables (one row per run) hold distances to the exact
references. The extension verdicts also need what those tables leave out:

* the preconditioner's scalar hyperparameters (``eps``, ``a``, ``p``, ...) and
  its curvature bounds ``mu I <= Hess K <= L I`` where known;
* properties of the data set replicate: design, ``d/n``, ``cond(X X^T)`` and
  the scale of the start ``W0``;
* the tail of each run's relative residual trajectory, which shows whether a
  run that never converged oscillates at a floor or is still decreasing.

:func:`augment_limits` adds these columns. File input and output stay in the
pipeline script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dspgd._batch import Array
from dspgd.data import Problem
from dspgd.experiments import parse_preconditioner
from dspgd.references import RowSpace

__all__ = ["TAIL_DECADES", "augment_limits", "dataset_columns", "preconditioner_columns", "trajectory_tail"]

#: The tail of a trajectory is its last ``TAIL_DECADES`` decades of iterations:
#: the samples with ``t >= t_stop / 10**TAIL_DECADES``.
TAIL_DECADES = 1.0

#: Minimum number of positive finite tail samples for a tail statistic. Fewer give NaN.
MIN_TAIL_SAMPLES = 3


def preconditioner_columns(entries: Sequence[str | Mapping[str, Any]]) -> pd.DataFrame:
    """Describe each preconditioner entry of an experiment, one row per label.

    Columns: ``preconditioner`` (the label), one column per scalar
    hyperparameter of the built family (defaults included, so an entry that
    omits ``eps`` still gets the value it ran with), and ``curvature_mu``,
    ``curvature_L`` from :meth:`Preconditioner.curvature_bounds` (NaN when unknown).
    """
    rows = []
    for entry in entries:
        spec = parse_preconditioner(entry)
        preconditioner = spec.build()
        row: dict[str, Any] = {"preconditioner": spec.label}
        for name, value in preconditioner.hyperparameters().items():
            # Array hyperparameters (an explicit diagonal D) have no single value to tabulate.
            if isinstance(value, int | float) and not isinstance(value, bool):
                row[name] = float(value)
        bounds = preconditioner.curvature_bounds()
        row["curvature_mu"], row["curvature_L"] = bounds if bounds is not None else (np.nan, np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def dataset_columns(dataset: str, spec: Mapping[str, Any], problems: Sequence[Problem]) -> pd.DataFrame:
    """Describe every replicate of a data set, one row per replicate.

    Columns: ``dataset``, ``replicate``, ``design``, ``labels`` (``one-hot`` for
    digits), ``start_scale`` (0 for a zero start), ``aspect`` (``d/n``) and
    ``gram_condition`` (the condition number of ``X X^T``).
    """
    rows = []
    for replicate, problem in enumerate(problems):
        n, d = problem.X.shape
        random_start = spec.get("start", "zero") == "random"
        rows.append(
            {
                "dataset": dataset,
                "replicate": replicate,
                "design": spec["design"],
                "labels": "one-hot" if spec["design"] == "digits" else spec.get("labels", "planted"),
                "start_scale": float(spec.get("start_scale", 1.0)) if random_start else 0.0,
                "aspect": d / n,
                "gram_condition": RowSpace.from_design(problem.X).gram_condition,
            }
        )
    return pd.DataFrame(rows)


def trajectory_tail(iteration: Array, residual: Array, stop: Array) -> dict[str, Array]:
    r"""Summarize the relative residual over the tail of each run.

    Args:
        iteration: sampled iterations, shape ``(samples,)``.
        residual: relative residual at those iterations, shape ``(samples, runs)``;
            NaN after a run stopped.
        stop: iteration at which each run stopped, shape ``(runs,)``.

    Returns:
        Arrays of shape ``(runs,)``: ``tail_residual_max`` and
        ``tail_residual_min`` over the samples with
        ``stop / 10**TAIL_DECADES <= t <= stop``, and ``tail_slope``, the
        least-squares slope of :math:`\log r_t` against :math:`\log t` there
        (0 for a floor, :math:`-1/(p-2)` for sublinear :math:`t^{-1/(p-2)}` decay).
        NaN where fewer than ``MIN_TAIL_SAMPLES`` positive finite samples exist.
    """
    runs = residual.shape[1]
    result = {name: np.full(runs, np.nan) for name in ("tail_residual_max", "tail_residual_min", "tail_slope")}
    for run in range(runs):
        window = (iteration >= stop[run] / 10.0**TAIL_DECADES) & (iteration <= stop[run]) & (iteration > 0)
        values = residual[window, run]
        usable = np.isfinite(values) & (values > 0)
        if np.sum(usable) < MIN_TAIL_SAMPLES:
            continue
        times, values = iteration[window][usable].astype(np.float64), values[usable]
        result["tail_residual_max"][run] = np.max(values)
        result["tail_residual_min"][run] = np.min(values)
        result["tail_slope"][run] = np.polyfit(np.log(times), np.log(values), 1)[0]
    return result


def augment_limits(
    limits: pd.DataFrame,
    entries: Sequence[str | Mapping[str, Any]],
    datasets: Mapping[str, pd.DataFrame],
    runs: Mapping[str, Mapping[str, Array]],
) -> pd.DataFrame:
    """Add the extension columns to one experiment's limit table.

    Args:
        limits: the experiment's limit table, one row per run.
        entries: the experiment's preconditioner entries from the config.
        datasets: :func:`dataset_columns` of every data set of the experiment, by name.
        runs: the run files (``iterate_file`` column) loaded as arrays, by path.

    Returns:
        ``limits`` with the columns of :func:`preconditioner_columns`,
        :func:`dataset_columns` and :func:`trajectory_tail` added, rows in the same order.

    Raises:
        ValueError: if a run file or a preconditioner label of the table is missing.
    """
    described = preconditioner_columns(entries)
    unknown = sorted(set(limits["preconditioner"]) - set(described["preconditioner"]))
    if unknown:
        raise ValueError(f"limit table has preconditioner labels {unknown} that no config entry defines")
    table = limits.merge(described, on="preconditioner", how="left", validate="many_to_one")
    properties = pd.concat(list(datasets.values()), ignore_index=True)
    table = table.merge(properties, on=["dataset", "replicate"], how="left", validate="many_to_one")
    if table["gram_condition"].isna().any():
        missing = sorted(table.loc[table["gram_condition"].isna(), "dataset"].unique())
        raise ValueError(f"no data set properties for {', '.join(missing)}; pass every data set of the experiment")

    tails = {name: np.full(len(table), np.nan) for name in ("tail_residual_max", "tail_residual_min", "tail_slope")}
    for path, rows in table.groupby("iterate_file").groups.items():
        if path not in runs:
            raise ValueError(f"run file {path} of the limit table was not loaded")
        arrays = runs[path]
        index = table.loc[rows, "run_index"].to_numpy()
        summary = trajectory_tail(
            arrays["trajectory_iteration"],
            arrays["trajectory_relative_residual"][:, index],
            np.asarray(arrays["iterations"])[index],
        )
        positions = table.index.get_indexer(rows)
        for name, values in summary.items():
            tails[name][positions] = values
    for name, values in tails.items():
        table[name] = values
    return table
