"""Verdicts of C1-C4 on a small real run table, and that each verdict can fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dspgd.claims import claims_markdown, evaluate_claims, numerical_floor
from dspgd.data import make_problem
from dspgd.experiments import limit_columns, parse_preconditioner, run_job
from dspgd.solver import SolverOptions

SETTINGS = {"machine_precision": 1e-9, "spread_factor": 1000.0, "rho_tolerance": 1e-9, "rho_bound": 100.0}
TOL = 1e-12
ENTRIES = [
    "gd",
    {"name": "normalized_gd", "eps": 0.1},
    {"name": "adam", "eps": 0.1},
    {"name": "per_feature", "eps": 0.1},
    {"name": "spectral", "eps": 0.1},
    {"name": "diagonal", "condition": 10.0},
]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    spec = {"design": "gaussian", "n": 10, "d": 40, "k": 2, "labels": "planted", "start": "zero"}
    problems = [make_problem(spec, 7, "tiny", replicate) for replicate in range(2)]
    frames = []
    for entry in ENTRIES:
        preconditioner = parse_preconditioner(entry)
        runs = run_job(problems, preconditioner, ["squared", "logcosh"], [0.1, 0.5, 0.95], SolverOptions())
        frame = pd.DataFrame(limit_columns(problems, runs, preconditioner))
        built = preconditioner.build()
        frame["experiment"], frame["dataset"] = "unit", "tiny"
        frame["preconditioner"], frame["family"] = preconditioner.label, preconditioner.name
        frame["symmetry"] = built.symmetry.value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def verdicts(table: pd.DataFrame) -> dict[str, str]:
    return {claim["id"]: claim["verdict"] for claim in evaluate_claims(table, SETTINGS, TOL, {})}


def test_all_claims_pass_on_real_runs(table):
    assert verdicts(table) == {"C1": "pass", "C2": "pass", "C3": "pass", "C4": "pass"}


def test_floor_is_gradient_descent_accuracy(table):
    floor = numerical_floor(table)
    assert 0.0 < floor < 1e-10


def test_floor_requires_gradient_descent(table):
    with pytest.raises(ValueError, match="add 'gd'"):
        numerical_floor(table[table["family"] != "gd"])


def test_c3_fails_when_adam_is_labelled_isotropic(table):
    mislabelled = table.copy()
    mislabelled.loc[mislabelled["family"] == "adam", "symmetry"] = "isotropic"
    result = verdicts(mislabelled)
    assert result["C3"] == "fail"
    assert result["C2"] == "fail"


def test_c1_fails_on_unconverged_run(table):
    broken = table.copy()
    broken.loc[broken.index[0], "status"] = "max_iter"
    assert verdicts(broken)["C1"] == "fail"


def test_c1_counts_runs_outside_assumptions_apart(table):
    extra = table[table["family"] == "gd"].head(3).copy()
    extra["in_assumptions"] = False
    extra["status"] = "diverged"
    claims = evaluate_claims(pd.concat([table, extra], ignore_index=True), SETTINGS, TOL, {})
    c1 = claims[0]
    assert c1["verdict"] == "pass"
    assert c1["evidence"]["outside_assumptions"]["runs"] == 3
    assert c1["evidence"]["outside_assumptions"]["status_counts"] == {"diverged": 3}


def test_c2_fails_when_general_limits_do_not_move(table):
    frozen = table.copy()
    frozen.loc[frozen["family"] == "adam", "eta_spread"] = 0.0
    assert verdicts(frozen)["C2"] == "fail"


def test_c4_fails_below_one_or_above_bound(table):
    low = table.copy()
    low.loc[low.index[0], "rho"] = 0.5
    assert verdicts(low)["C4"] == "fail"
    high = table.copy()
    high.loc[high.index[0], "rho"] = 1e3
    assert verdicts(high)["C4"] == "fail"


def test_markdown_has_one_row_per_claim(table):
    text = claims_markdown(evaluate_claims(table, SETTINGS, TOL, {}))
    rows = [line for line in text.splitlines() if line.startswith("| C")]
    assert [row.split("|")[1].strip() for row in rows] == ["C1", "C2", "C3", "C4"]


def test_non_isotropic_spread_is_measurable(table):
    adam = table[(table["family"] == "adam") & (table["status"] == "converged")]
    assert np.nanmax(adam["eta_spread"]) > 1e-6
