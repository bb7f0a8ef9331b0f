r"""Verdicts of the extension claims E1-E4, which go beyond the claims in the abstract of
R. Ghane, D. Akhtiamov, B. Hassibi, arXiv:2603.10485 (2026).

Each ``evaluate_e*`` function takes the concatenated extension tables of the
claim's experiments (limit tables with the columns of
:mod:`dspgd.extension_tables`) and returns a JSON-ready dictionary with
``id``, ``statement``, ``basis``, ``verdict`` (``"pass"`` or ``"fail"``) and
``evidence``, whose ``summary`` is the one-line text of the claims table.

``basis`` states what the verdict rests on. E1 and E2 are theorems (proofs in
docs/extensions.md) and the runs check them numerically. E3 is a conjecture
and E4 a prediction for the boundary of the assumptions: both are measured
only, and their ``"pass"`` means that no run contradicted them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dspgd.claims import numerical_floor

__all__ = [
    "BASIS",
    "SMOOTHED_COUNTERPARTS",
    "STATEMENTS",
    "boundary_prediction",
    "evaluate_e1",
    "evaluate_e2",
    "evaluate_e3",
    "evaluate_e4",
    "evaluate_extensions",
    "fit_exponent",
]

STATEMENTS = {
    "E1": "Every left-orthogonally invariant K (K(QG) = K(G) for orthogonal Q) reaches W_GD for every loss "
    "and eta; invariance on the right alone does not.",
    "E2": "The fixed diagonal quadratic K reaches W0 + D X^T (X D X^T)^-1 (Y - X W0) for every eta, "
    "and its rho is at most sqrt(max D / min D).",
    "E3": "Conjecture: if mu I <= Hess K <= L I, then rho = ||W_inf - W0|| / ||W_GD - W0|| <= sqrt(L / mu).",
    "E4": "At a constant step, non-smooth K with homogeneous gradient of degree p - 1 < 1 stall at a residual "
    "floor proportional to eta^(1/(2-p)), p > 2 decays sublinearly towards t^(-1/(p-2)), and smoothed variants "
    "converge for every eps > 0 with iteration counts growing as eps shrinks.",
}

BASIS = {"E1": "proof", "E2": "proof", "E3": "measurement", "E4": "measurement"}

#: Smoothed family of each non-smooth family whose eps -> 0 limit it is.
SMOOTHED_COUNTERPARTS = {"normalized_gd_exact": "normalized_gd", "sign_exact": "sign", "spectral_exact": "spectral"}

#: Non-smooth families whose gradient is homogeneous of degree 0, like ``|g|^p / p`` at ``p = 1``.
DEGREE_ZERO_FAMILIES = ("normalized_gd_exact", "sign_exact", "spectral_exact")

_SETTING_COLUMNS = ("experiment", "dataset", "replicate", "loss", "eta_fraction")


def _float(value: Any) -> float | None:
    """Convert to a JSON-safe float (None for NaN)."""
    value = float(value)
    return None if np.isnan(value) else value


def _setting(row: pd.Series, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Describe the run of ``row``: where it ran and with which settings."""
    setting: dict[str, Any] = {"preconditioner": row["preconditioner"]}
    for name in (*_SETTING_COLUMNS, *extra):
        value = row[name]
        if isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, np.floating | float):
            value = _float(value)
        setting[name] = value
    return setting


def _inside(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["in_assumptions"].astype(bool)]


def _claim(claim_id: str, passed: bool, evidence: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": claim_id,
        "statement": STATEMENTS[claim_id],
        "basis": BASIS[claim_id],
        "verdict": "pass" if passed else "fail",
        "evidence": evidence,
    }


def evaluate_e1(table: pd.DataFrame, machine_precision: float, spread_factor: float) -> dict[str, Any]:
    """E1 passes when the left-orthogonal runs reach ``W_GD`` and the right-invariant control does not.

    Every in-assumption run of a left-orthogonally invariant family must have
    converged with ``dist_gd <= machine_precision``. The control, families
    invariant on the right only, must have a median ``dist_gd`` above
    ``spread_factor`` times the numerical floor (the largest ``dist_gd`` of
    plain gradient descent), so the check can tell the two classes apart.
    """
    floor = numerical_floor(table)
    inside = _inside(table)
    left = inside[inside["symmetry"] == "left-orthogonal"]
    control = inside[(inside["symmetry"] == "right-orthogonal") & (inside["status"] == "converged")]
    threshold = spread_factor * floor

    per_preconditioner = {}
    for label, group in pd.concat([left, control]).groupby("preconditioner", sort=True):
        per_preconditioner[label] = {
            "symmetry": group["symmetry"].iloc[0],
            "runs": len(group),
            "converged": int((group["status"] == "converged").sum()),
            "datasets": int(group["dataset"].nunique()),
            "max_dist_gd": _float(group["dist_gd"].max()),
            "median_dist_gd": _float(group["dist_gd"].median()),
        }
    left_holds = (
        bool(len(left))
        and bool((left["status"] == "converged").all())
        and bool((left["dist_gd"] <= machine_precision).all())
    )
    control_median = float(control["dist_gd"].median()) if len(control) else np.nan
    control_holds = bool(len(control)) and bool(control_median > threshold)
    worst = left.loc[left["dist_gd"].idxmax()] if left["dist_gd"].notna().any() else None
    summary = (
        f"{len(left)} left-orthogonal runs on {left['dataset'].nunique()} data sets, largest distance to W_GD "
        f"{left['dist_gd'].max():.1e}; right-invariant control median {control_median:.1e}"
    )
    return _claim(
        "E1",
        left_holds and control_holds,
        {
            "summary": summary,
            "threshold_left_orthogonal": machine_precision,
            "threshold_control": threshold,
            "numerical_floor": floor,
            "left_orthogonal_runs": len(left),
            "left_orthogonal_holds": left_holds,
            "control_runs": len(control),
            "control_median_dist_gd": _float(control_median),
            "control_holds": control_holds,
            "datasets": sorted(left["dataset"].unique().tolist()),
            "eta_fractions": sorted(float(value) for value in left["eta_fraction"].unique()),
            "losses": sorted(left["loss"].unique().tolist()),
            "max_dist_gd_setting": None if worst is None else _setting(worst),
            "per_preconditioner": per_preconditioner,
        },
    )


def evaluate_e2(table: pd.DataFrame, machine_precision: float, rho_tolerance: float) -> dict[str, Any]:
    """E2 passes when every in-assumption diagonal run converged to its closed form, independently of eta,
    with ``rho <= sqrt(max D / min D) * (1 + rho_tolerance)``."""
    inside = _inside(table)
    diagonal = inside[inside["family"] == "diagonal"]
    converged = diagonal[diagonal["status"] == "converged"]
    bound = np.sqrt(converged["curvature_L"] / converged["curvature_mu"])

    per_preconditioner = {}
    for label, group in converged.groupby("preconditioner", sort=True):
        per_preconditioner[label] = {
            "runs": len(group),
            "bound_sqrt_L_over_mu": _float(np.sqrt(group["curvature_L"].iloc[0] / group["curvature_mu"].iloc[0])),
            "max_rho": _float(group["rho"].max()),
            "max_dist_closed_form": _float(group["dist_closed_form"].max()),
            "max_eta_spread": _float(group["eta_spread"].max()),
            "min_dist_gd": _float(group["dist_gd"].min()),
        }
    checks = {
        "all_converged": bool(len(diagonal)) and len(converged) == len(diagonal),
        "closed_form": bool((converged["dist_closed_form"] <= machine_precision).all()),
        "eta_independent": bool((converged["eta_spread"] <= machine_precision).all()),
        "rho_within_bound": bool((converged["rho"] <= bound * (1.0 + rho_tolerance)).all()),
    }
    summary = (
        f"{len(converged)} of {len(diagonal)} diagonal runs converged, largest distance to the closed form "
        f"{converged['dist_closed_form'].max():.1e}, largest rho / sqrt(L/mu) {(converged['rho'] / bound).max():.3f}"
    )
    return _claim(
        "E2",
        all(checks.values()),
        {
            "summary": summary,
            "threshold_closed_form": machine_precision,
            "runs": len(diagonal),
            "checks": checks,
            "per_preconditioner": per_preconditioner,
        },
    )


def evaluate_e3(table: pd.DataFrame, rho_tolerance: float, max_counterexamples: int = 10) -> dict[str, Any]:
    """E3 passes when no converged run of a bounded-curvature, non-isotropic family has
    ``rho > sqrt(L / mu) * (1 + rho_tolerance)``; a run that does is a counterexample and fails it.

    Isotropic families are left out because their ``rho`` is 1 (claim C3),
    which would hide the ratios of the others. The diagonal quadratic, where
    the bound is a theorem (E2), is kept as a reference.
    """
    inside = _inside(table)
    bounded = inside[inside["curvature_mu"].notna() & (inside["symmetry"] != "isotropic")]
    converged = bounded[bounded["status"] == "converged"].copy()
    converged["ratio"] = converged["rho"] / np.sqrt(converged["curvature_L"] / converged["curvature_mu"])
    setting_columns = ("family", "curvature_mu", "curvature_L", "n", "d", "k", "design", "start_scale", "rho")

    per_family = {}
    for family, group in converged.groupby("family", sort=True):
        worst = group.loc[group["ratio"].idxmax()]
        per_family[family] = {
            "runs": len(group),
            "proven": family == "diagonal",
            "max_rho": _float(group["rho"].max()),
            "max_ratio": _float(worst["ratio"]),
            "median_ratio": _float(group["ratio"].median()),
            "max_ratio_setting": _setting(worst, setting_columns),
        }
    exceeding = converged[converged["ratio"] > 1.0 + rho_tolerance].sort_values("ratio", ascending=False)
    counterexamples = [
        {**_setting(row, setting_columns), "ratio": _float(row["ratio"])}
        for _, row in exceeding.head(max_counterexamples).iterrows()
    ]
    conjectured = converged[converged["family"] != "diagonal"]
    found = len(exceeding) > 0
    if len(converged):
        worst = converged.loc[converged["ratio"].idxmax()]
        summary = (
            f"{len(converged)} runs, worst rho / sqrt(L/mu) = {worst['ratio']:.3f} "
            f"({worst['preconditioner']} on {worst['dataset']}); "
            + (f"{len(exceeding)} counterexamples found" if found else "no counterexample found")
        )
    else:
        worst, summary = None, "no converged bounded-curvature run"
    return _claim(
        "E3",
        bool(len(conjectured)) and not found,
        {
            "summary": summary,
            "verdict_meaning": "pass: no converged run exceeded sqrt(L/mu), so no counterexample was found "
            "(this is not a proof); fail: at least one run exceeded it, a counterexample listed under "
            "counterexamples, or there was no run of a non-quadratic bounded-curvature family",
            "ratio_definition": "rho / sqrt(L / mu) with rho = ||W_inf - W0|| / ||W_GD - W0||",
            "threshold": 1.0 + rho_tolerance,
            "runs": len(bounded),
            "runs_not_converged": int(len(bounded) - len(converged)),
            "max_ratio": None if worst is None else _float(worst["ratio"]),
            "max_ratio_setting": None if worst is None else _setting(worst, setting_columns),
            "max_ratio_conjecture_only": _float(conjectured["ratio"].max()) if len(conjectured) else None,
            "counterexamples_found": int(len(exceeding)),
            "counterexamples": counterexamples,
            "per_family": per_family,
        },
    )


def boundary_prediction(family: str, p: float | None = None) -> tuple[str, float]:
    r"""Return the predicted constant-step behaviour of a non-smooth family as ``(regime, exponent)``.

    A gradient homogeneous of degree ``q = p - 1`` scales the residual
    recursion :math:`r \leftarrow r - \eta X \nabla K(X^\top r)` (squared
    loss) so that :math:`r = \eta^{1/(1-q)} v` removes ``eta`` when ``q < 1``:
    the iterates settle on a floor proportional to :math:`\eta^{1/(2-p)}`
    (regime ``"floor"``). When ``q > 1`` the curvature at 0 vanishes and the
    residual decays like :math:`t^{-1/(p-2)}` (regime ``"sublinear"``, negative
    exponent). The exact normalized, sign and spectral families have ``q = 0``.

    Raises:
        ValueError: for a family without a prediction, or ``power`` with ``p = 2``
            (plain gradient descent, which converges linearly).
    """
    if family in DEGREE_ZERO_FAMILIES:
        p = 1.0
    elif family != "power":
        raise ValueError(
            f"no constant-step prediction for family {family!r}; E4 covers "
            f"{', '.join((*DEGREE_ZERO_FAMILIES, 'power'))}"
        )
    if p is None or not np.isfinite(p):
        raise ValueError(f"family {family!r} needs its exponent p for a prediction, got {p!r}")
    if p < 2.0:
        return "floor", 1.0 / (2.0 - p)
    if p > 2.0:
        return "sublinear", -1.0 / (p - 2.0)
    raise ValueError("power with p = 2 is plain gradient descent, which converges linearly; use p < 2 or p > 2")


def fit_exponent(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Return the least-squares slope of ``log y`` against ``log x``.

    The result is NaN unless at least two distinct positive ``x`` have a finite positive ``y``.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    usable = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if np.unique(x[usable]).size < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[usable]), np.log(y[usable]), 1)[0])


def _within(value: float, predicted: float, tolerance: float) -> bool:
    """Return whether ``value`` is within ``tolerance * |predicted|`` of ``predicted``, False for NaN."""
    return bool(np.isfinite(value)) and abs(value - predicted) <= tolerance * abs(predicted)


def _boundary_groups(table: pd.DataFrame, exponent_tolerance: float, stall_slope: float) -> list[dict[str, Any]]:
    """Check every (run file, replicate, loss) group of a non-smooth family against its prediction."""
    groups = []
    keys = ["experiment", "dataset", "replicate", "loss", "preconditioner"]
    for key, group in table.groupby(keys, sort=True):
        family = group["family"].iloc[0]
        p = float(group["p"].iloc[0]) if "p" in group and pd.notna(group["p"].iloc[0]) else None
        regime, predicted = boundary_prediction(family, p)
        never_converged = bool((group["status"] == "max_iter").all())
        entry: dict[str, Any] = dict(zip(keys, key, strict=True))
        entry.update(family=family, regime=regime, predicted_exponent=predicted, never_converged=never_converged)
        entry["replicate"] = int(entry["replicate"])
        if regime == "floor":
            measured = fit_exponent(group["eta"], group["tail_residual_max"])
            stalled = bool((group["tail_slope"].abs() <= stall_slope).all())
            entry.update(
                measured_exponent=_float(measured),
                max_abs_tail_slope=_float(group["tail_slope"].abs().max()),
                floors={f"{fraction:g}": _float(value)
                        for fraction, value in zip(group["eta_fraction"], group["tail_residual_max"], strict=True)},
                holds=never_converged and stalled and _within(measured, predicted, exponent_tolerance),
            )
        else:
            ordered = group.sort_values("eta")
            slopes = ordered["tail_slope"].to_numpy()
            # A larger eta means more time eta * t, so the slope must approach the predicted one as eta grows.
            approaching = bool(np.all(np.diff(slopes) <= 0.0))
            in_range = bool(np.all((slopes >= predicted * (1.0 + exponent_tolerance)) & (slopes <= predicted / 2.0)))
            entry.update(
                tail_slopes={f"{fraction:g}": _float(value)
                             for fraction, value in zip(ordered["eta_fraction"], slopes, strict=True)},
                approaching=approaching,
                holds=never_converged and in_range and approaching,
            )
        groups.append(entry)
    return groups


def _smoothing_families(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Check that each smoothed family converges for every eps, with median iterations growing as eps shrinks."""
    results = {}
    smoothed = _inside(table[table["family"].isin(list(SMOOTHED_COUNTERPARTS.values()))])
    for family, runs in smoothed.groupby("family", sort=True):
        medians = runs.groupby("eps")["iterations"].median().sort_index(ascending=False)
        eps, counts = medians.index.to_numpy(), medians.to_numpy()
        all_converged = bool((runs["status"] == "converged").all())
        growing = len(counts) >= 2 and bool(np.all(np.diff(counts) >= 0)) and bool(counts[-1] > counts[0])
        small_end = fit_exponent(eps[-2:], counts[-2:]) if len(counts) >= 2 else float("nan")
        results[family] = {
            "runs": len(runs),
            "all_converged": all_converged,
            "median_iterations_by_eps": {f"{value:g}": float(count) for value, count in zip(eps, counts, strict=True)},
            "small_eps_exponent": _float(small_end),
            "holds": all_converged and growing,
        }
    return results


def evaluate_e4(table: pd.DataFrame, exponent_tolerance: float, stall_slope: float) -> dict[str, Any]:
    r"""E4 passes when every boundary run behaves as :func:`boundary_prediction` predicts and every smoothed family
    converges with iteration counts growing as eps shrinks.

    A ``floor`` group is one data set replicate, loss and family over several
    eta. It holds when no run converged, every tail slope is within
    ``stall_slope`` of 0, and the fitted exponent of the tail maximum of the
    residual against eta is within ``exponent_tolerance`` (relative) of
    ``1/(2-p)``. A ``sublinear`` group holds when no run converged and every
    tail slope lies between ``(1 + exponent_tolerance)`` and ``1/2`` times
    ``-1/(p-2)``, getting steeper as eta grows. The predicted slope is only
    reached asymptotically: the scalar model :math:`r' = -c\, r^{p-1}` has
    local log-log slope :math:`-\frac{1}{p-2} \frac{u}{1+u}` with ``u``
    growing linearly in ``t``. The check therefore accepts slopes from half
    the predicted rate to the predicted rate plus the tolerance. The verdict
    needs at least one group of each regime and one smoothed family.
    """
    boundary = table[~table["smooth_preconditioner"].astype(bool)]
    groups = _boundary_groups(boundary, exponent_tolerance, stall_slope)
    smoothing = _smoothing_families(table)
    regimes = {regime: [group for group in groups if group["regime"] == regime] for regime in ("floor", "sublinear")}
    passed = (
        all(regimes.values())
        and bool(smoothing)
        and all(group["holds"] for group in groups)
        and all(entry["holds"] for entry in smoothing.values())
    )
    floor_exponents = [group["measured_exponent"] for group in regimes["floor"]]
    floor_exponents = [value for value in floor_exponents if value is not None]
    sublinear_slopes = [value for group in regimes["sublinear"] for value in group["tail_slopes"].values()]
    sublinear_slopes = [value for value in sublinear_slopes if value is not None]
    failing = [group for group in groups if not group["holds"]]
    summary = (
        f"{len(regimes['floor'])} floor groups (exponents {min(floor_exponents, default=np.nan):.2f} to "
        f"{max(floor_exponents, default=np.nan):.2f}), {len(regimes['sublinear'])} sublinear groups (tail slopes "
        f"{min(sublinear_slopes, default=np.nan):.2f} to {max(sublinear_slopes, default=np.nan):.2f}), "
        f"{sum(entry['holds'] for entry in smoothing.values())} of {len(smoothing)} smoothed families growing"
    )
    return _claim(
        "E4",
        passed,
        {
            "summary": summary,
            "verdict_meaning": "pass: every boundary group matched its predicted exponent and every smoothed "
            "family converged with growing iteration counts; these runs are outside the assumptions and "
            "never count as evidence for C1",
            "exponent_tolerance": exponent_tolerance,
            "stall_slope": stall_slope,
            "floor_definition": "largest relative residual over the last decade of iterations of a max_iter run",
            "groups": len(groups),
            "groups_failing": len(failing),
            "boundary_groups": groups,
            "smoothed_families": smoothing,
        },
    )


def evaluate_extensions(
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, Any],
    figures: Mapping[str, Sequence[str]],
) -> list[dict[str, Any]]:
    """Evaluate E1-E4 with the thresholds of the config's ``claims`` section.

    Args:
        tables: extension table of every experiment named under ``claims.extensions``, by experiment.
        settings: the config's ``claims`` section, with its ``extensions`` subsection.
        figures: figure files of each claim, by id.
    """
    extensions = settings["extensions"]

    def combined(claim_id: str) -> pd.DataFrame:
        return pd.concat([tables[name] for name in extensions[claim_id]["experiments"]], ignore_index=True)

    claims = [
        evaluate_e1(combined("E1"), settings["machine_precision"], settings["spread_factor"]),
        evaluate_e2(combined("E2"), settings["machine_precision"], settings["rho_tolerance"]),
        evaluate_e3(combined("E3"), settings["rho_tolerance"]),
        evaluate_e4(combined("E4"), extensions["E4"]["exponent_tolerance"], extensions["E4"]["stall_slope"]),
    ]
    for claim in claims:
        claim["extension"] = True
        claim["figures"] = list(figures.get(claim["id"], []))
    return claims
