"""Tests of the extension claims E1-E4: verdicts on synthetic tables, each passing and failing,
the tail statistics of trajectories, the table augmentation and the random data set draws."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dspgd.config import ConfigError, check_config, expand_dataset_draws
from dspgd.extension_tables import augment_limits, dataset_columns, preconditioner_columns, trajectory_tail
from dspgd.extensions import (
    boundary_prediction,
    evaluate_e1,
    evaluate_e2,
    evaluate_e3,
    evaluate_e4,
    evaluate_extensions,
    fit_exponent,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def make_run(**values):
    """One row of an extension table: a converged in-assumption run unless overridden."""
    row = {
        "experiment": "ext",
        "dataset": "data",
        "replicate": 0,
        "loss": "squared",
        "eta": 0.1,
        "eta_fraction": 0.1,
        "preconditioner": "gd",
        "family": "gd",
        "symmetry": "isotropic",
        "smooth_preconditioner": True,
        "in_assumptions": True,
        "status": "converged",
        "iterations": 100,
        "relative_residual": 1e-13,
        "dist_gd": 1e-13,
        "dist_closed_form": np.nan,
        "eta_spread": 0.0,
        "rho": 1.0,
        "curvature_mu": np.nan,
        "curvature_L": np.nan,
        "n": 10,
        "d": 40,
        "k": 2,
        "design": "gaussian",
        "start_scale": 0.0,
        "eps": np.nan,
        "p": np.nan,
        "tail_residual_max": np.nan,
        "tail_residual_min": np.nan,
        "tail_slope": np.nan,
    }
    row.update(values)
    return row


def table_of(rows):
    return pd.DataFrame([make_run(**row) for row in rows])


# --- E1 -------------------------------------------------------------------


def e1_rows(left_dist=1e-12, left_status="converged", control_dist=0.3):
    rows = [{"dist_gd": 1e-13, "eta_fraction": fraction} for fraction in (0.1, 0.9)]
    for fraction in (0.1, 0.9):
        rows.append({"preconditioner": "spectral", "family": "spectral", "symmetry": "left-orthogonal",
                     "dist_gd": left_dist, "status": left_status, "eta_fraction": fraction})
        rows.append({"preconditioner": "per_feature", "family": "per_feature", "symmetry": "right-orthogonal",
                     "dist_gd": control_dist, "eta_fraction": fraction})
    return table_of(rows)


def test_e1_passes_when_left_invariant_reach_gd():
    claim = evaluate_e1(e1_rows(), machine_precision=1e-9, spread_factor=1000)
    assert claim["verdict"] == "pass"
    assert claim["evidence"]["left_orthogonal_runs"] == 2
    assert claim["evidence"]["control_holds"]


def test_e1_fails_when_left_invariant_misses_gd():
    claim = evaluate_e1(e1_rows(left_dist=1e-6), machine_precision=1e-9, spread_factor=1000)
    assert claim["verdict"] == "fail"
    assert not claim["evidence"]["left_orthogonal_holds"]


def test_e1_fails_when_left_invariant_did_not_converge():
    claim = evaluate_e1(e1_rows(left_status="max_iter"), machine_precision=1e-9, spread_factor=1000)
    assert claim["verdict"] == "fail"


def test_e1_fails_when_control_reaches_gd():
    claim = evaluate_e1(e1_rows(control_dist=1e-12), machine_precision=1e-9, spread_factor=1000)
    assert claim["verdict"] == "fail"
    assert not claim["evidence"]["control_holds"]


def test_e1_fails_without_left_invariant_runs():
    table = e1_rows()
    claim = evaluate_e1(table[table["symmetry"] != "left-orthogonal"], machine_precision=1e-9, spread_factor=1000)
    assert claim["verdict"] == "fail"


# --- E2 -------------------------------------------------------------------


def e2_rows(**override):
    values = {"preconditioner": "diagonal", "family": "diagonal", "symmetry": "quadratic", "dist_gd": 0.4,
              "dist_closed_form": 1e-12, "eta_spread": 1e-13, "rho": 1.2, "curvature_mu": 1.0, "curvature_L": 10.0}
    values.update(override)
    return table_of([{**values, "eta_fraction": fraction} for fraction in (0.1, 0.5, 0.95)])


def test_e2_passes_on_closed_form_within_bound():
    claim = evaluate_e2(e2_rows(), machine_precision=1e-9, rho_tolerance=1e-9)
    assert claim["verdict"] == "pass"
    assert all(claim["evidence"]["checks"].values())


@pytest.mark.parametrize(
    ("override", "check"),
    [
        ({"dist_closed_form": 1e-6}, "closed_form"),
        ({"eta_spread": 1e-5}, "eta_independent"),
        ({"rho": 3.2}, "rho_within_bound"),
        ({"status": "max_iter"}, "all_converged"),
    ],
)
def test_e2_fails_on_each_check(override, check):
    claim = evaluate_e2(e2_rows(**override), machine_precision=1e-9, rho_tolerance=1e-9)
    assert claim["verdict"] == "fail"
    assert not claim["evidence"]["checks"][check]


def test_e2_fails_without_diagonal_runs():
    claim = evaluate_e2(table_of([{}]), machine_precision=1e-9, rho_tolerance=1e-9)
    assert claim["verdict"] == "fail"


# --- E3 -------------------------------------------------------------------


def e3_rows(rho=1.0001):
    bounded = {"family": "quadratic_pseudo_huber", "symmetry": "separable", "curvature_mu": 1.0, "curvature_L": 1.3}
    return table_of(
        [
            {**bounded, "preconditioner": "qph", "rho": rho, "dataset": "draw_00"},
            {**bounded, "preconditioner": "qph", "rho": 1.0, "dataset": "draw_01"},
            {"preconditioner": "diagonal", "family": "diagonal", "symmetry": "quadratic", "rho": 1.5,
             "curvature_mu": 1.0, "curvature_L": 10.0},
            # Isotropic runs are left out: rounding may put their rho a hair above sqrt(L/mu) = 1.
            {"curvature_mu": 1.0, "curvature_L": 1.0, "rho": 1.0 + 1e-6},
        ]
    )


def test_e3_passes_without_counterexample():
    claim = evaluate_e3(e3_rows(), rho_tolerance=1e-9)
    assert claim["verdict"] == "pass"
    assert claim["evidence"]["counterexamples_found"] == 0
    assert claim["evidence"]["max_ratio"] == pytest.approx(1.0001 / np.sqrt(1.3))
    assert claim["evidence"]["max_ratio_setting"]["dataset"] == "draw_00"
    assert "gd" not in claim["evidence"]["per_family"]


def test_e3_fails_on_counterexample_and_lists_it():
    claim = evaluate_e3(e3_rows(rho=1.2), rho_tolerance=1e-9)
    assert claim["verdict"] == "fail"
    assert claim["evidence"]["counterexamples_found"] == 1
    assert claim["evidence"]["counterexamples"][0]["dataset"] == "draw_00"
    assert claim["evidence"]["counterexamples"][0]["ratio"] == pytest.approx(1.2 / np.sqrt(1.3))
    assert "counterexample" in claim["evidence"]["summary"]


def test_e3_fails_with_only_the_quadratic_family():
    table = e3_rows()
    claim = evaluate_e3(table[table["family"] != "quadratic_pseudo_huber"], rho_tolerance=1e-9)
    assert claim["verdict"] == "fail"


def test_e3_counts_runs_that_did_not_converge():
    table = e3_rows()
    table.loc[0, "status"] = "max_iter"
    claim = evaluate_e3(table, rho_tolerance=1e-9)
    assert claim["evidence"]["runs_not_converged"] == 1


# --- E4 -------------------------------------------------------------------

ETAS = np.array([0.01, 0.03, 0.1, 0.3])


def floor_rows(label, family, p, exponent, status="max_iter", tail_slope=0.02):
    return [
        {"preconditioner": label, "family": family, "p": p, "smooth_preconditioner": False, "in_assumptions": False,
         "status": status, "eta": eta, "eta_fraction": eta, "tail_residual_max": 0.5 * eta**exponent,
         "tail_slope": tail_slope}
        for eta in ETAS
    ]


def sublinear_rows(slopes=(-0.7, -0.8, -0.9, -0.95), status="max_iter"):
    return [
        {"preconditioner": "power_p3", "family": "power", "p": 3.0, "smooth_preconditioner": False,
         "in_assumptions": False, "status": status, "eta": eta, "eta_fraction": eta, "tail_slope": slope}
        for eta, slope in zip(ETAS, slopes, strict=True)
    ]


def smoothing_rows(iterations=(200, 400, 2000), status="converged"):
    return [
        {"preconditioner": f"normalized_gd_eps{eps:g}", "family": "normalized_gd", "eps": eps, "status": status,
         "iterations": count}
        for eps, count in zip((1.0, 0.1, 0.01), iterations, strict=True)
    ]


def e4_table(floor=None, sublinear=None, smoothing=None):
    rows = floor_rows("normalized_gd_exact", "normalized_gd_exact", np.nan, 1.0) if floor is None else floor
    rows = rows + floor_rows("power_p1.5", "power", 1.5, 2.0)
    rows = rows + (sublinear_rows() if sublinear is None else sublinear)
    rows = rows + (smoothing_rows() if smoothing is None else smoothing)
    return table_of(rows)


def test_e4_passes_on_predicted_exponents():
    claim = evaluate_e4(e4_table(), exponent_tolerance=0.25, stall_slope=0.5)
    assert claim["verdict"] == "pass"
    groups = claim["evidence"]["boundary_groups"]
    exponents = {group["preconditioner"]: group.get("measured_exponent") for group in groups}
    assert exponents["normalized_gd_exact"] == pytest.approx(1.0)
    assert exponents["power_p1.5"] == pytest.approx(2.0)


def test_e4_fails_on_wrong_floor_exponent():
    floor = floor_rows("normalized_gd_exact", "normalized_gd_exact", np.nan, 0.5)
    claim = evaluate_e4(e4_table(floor=floor), exponent_tolerance=0.25, stall_slope=0.5)
    assert claim["verdict"] == "fail"
    assert claim["evidence"]["groups_failing"] == 1


def test_e4_fails_when_a_boundary_run_converged():
    floor = floor_rows("normalized_gd_exact", "normalized_gd_exact", np.nan, 1.0, status="converged")
    claim = evaluate_e4(e4_table(floor=floor), exponent_tolerance=0.25, stall_slope=0.5)
    assert claim["verdict"] == "fail"


def test_e4_fails_when_floor_still_moving():
    floor = floor_rows("normalized_gd_exact", "normalized_gd_exact", np.nan, 1.0, tail_slope=-0.9)
    claim = evaluate_e4(e4_table(floor=floor), exponent_tolerance=0.25, stall_slope=0.5)
    assert claim["verdict"] == "fail"


@pytest.mark.parametrize(
    "slopes",
    [
        (-0.3, -0.35, -0.4, -0.45),  # slower than half the predicted rate t^-1
        (-1.2, -1.3, -1.4, -1.5),  # faster than the predicted rate
        (-0.95, -0.9, -0.8, -0.7),  # moving away from the asymptote as eta grows
    ],
)
def test_e4_fails_on_wrong_sublinear_slopes(slopes):
    claim = evaluate_e4(e4_table(sublinear=sublinear_rows(slopes=slopes)), exponent_tolerance=0.25, stall_slope=0.5)
    assert claim["verdict"] == "fail"


def test_e4_fails_when_sublinear_run_converged():
    claim = evaluate_e4(e4_table(sublinear=sublinear_rows(status="converged")), exponent_tolerance=0.25,
                        stall_slope=0.5)
    assert claim["verdict"] == "fail"


def test_e4_fails_without_sublinear_group():
    claim = evaluate_e4(e4_table(sublinear=[]), exponent_tolerance=0.25, stall_slope=0.5)
    assert claim["verdict"] == "fail"


def test_e4_fails_when_smoothed_iterations_shrink():
    smoothing = smoothing_rows(iterations=(2000, 400, 200))
    claim = evaluate_e4(e4_table(smoothing=smoothing), exponent_tolerance=0.25, stall_slope=0.5)
    assert claim["verdict"] == "fail"
    assert not claim["evidence"]["smoothed_families"]["normalized_gd"]["holds"]


def test_e4_fails_when_smoothed_run_did_not_converge():
    smoothing = smoothing_rows(status="max_iter")
    claim = evaluate_e4(e4_table(smoothing=smoothing), exponent_tolerance=0.25, stall_slope=0.5)
    assert claim["verdict"] == "fail"


def test_boundary_prediction_exponents():
    assert boundary_prediction("sign_exact") == ("floor", 1.0)
    assert boundary_prediction("spectral_exact") == ("floor", 1.0)
    assert boundary_prediction("power", 1.5) == ("floor", 2.0)
    assert boundary_prediction("power", 4.0) == ("sublinear", -0.5)


@pytest.mark.parametrize(("family", "p"), [("power", 2.0), ("power", None), ("adam", None)])
def test_boundary_prediction_rejects(family, p):
    with pytest.raises(ValueError):
        boundary_prediction(family, p)


def test_fit_exponent_slope_and_nan():
    x = np.array([0.1, 1.0, 10.0])
    assert fit_exponent(x, 3.0 * x**1.5) == pytest.approx(1.5)
    assert np.isnan(fit_exponent([1.0, 1.0], [2.0, 3.0]))
    assert np.isnan(fit_exponent([1.0, 2.0], [np.nan, 3.0]))


def test_evaluate_extensions_labels_claims():
    settings = {
        "machine_precision": 1e-9,
        "spread_factor": 1000,
        "rho_tolerance": 1e-9,
        "extensions": {
            "E1": {"experiments": ["one"]},
            "E2": {"experiments": ["two"]},
            "E3": {"experiments": ["three"]},
            "E4": {"experiments": ["four"], "exponent_tolerance": 0.25, "stall_slope": 0.5},
        },
    }
    tables = {"one": e1_rows(), "two": e2_rows(), "three": e3_rows(), "four": e4_table()}
    claims = evaluate_extensions(tables, settings, {"E1": ["figures/e1.png"]})
    assert [claim["id"] for claim in claims] == ["E1", "E2", "E3", "E4"]
    assert all(claim["extension"] for claim in claims)
    assert [claim["verdict"] for claim in claims] == ["pass"] * 4
    assert claims[0]["figures"] == ["figures/e1.png"]
    assert [claim["basis"] for claim in claims] == ["proof", "proof", "measurement", "measurement"]


# --- Tables ----------------------------------------------------------------


def test_trajectory_tail_of_decay_and_floor():
    iteration = np.array([0, 1, 10, 100, 1000, 2000, 5000, 10000])
    decay = 1.0 / np.maximum(iteration, 1)
    floor = np.where(iteration >= 100, 0.01, 1.0)
    residual = np.stack([decay, floor], axis=1)
    tail = trajectory_tail(iteration, residual, np.array([10000, 10000]))
    assert tail["tail_slope"][0] == pytest.approx(-1.0)
    assert tail["tail_slope"][1] == pytest.approx(0.0, abs=1e-12)
    assert tail["tail_residual_max"][1] == pytest.approx(0.01)
    assert tail["tail_residual_min"][0] == pytest.approx(1e-4)


def test_trajectory_tail_too_few_samples():
    iteration = np.array([0, 1, 10, 100])
    tail = trajectory_tail(iteration, np.ones((4, 1)), np.array([100]))
    assert np.isnan(tail["tail_slope"][0])
    assert np.isnan(tail["tail_residual_max"][0])


def test_preconditioner_columns_defaults_and_bounds():
    columns = preconditioner_columns(["sign", {"name": "diagonal", "condition": 100.0, "label": "diag"}])
    rows = columns.set_index("preconditioner")
    assert rows.loc["sign", "eps"] == pytest.approx(0.1)
    assert np.isnan(rows.loc["sign", "curvature_mu"])
    assert (rows.loc["diag", "curvature_mu"], rows.loc["diag", "curvature_L"]) == (1.0, 100.0)


def test_augment_limits_adds_columns_in_order():
    from dspgd.data import make_problem

    spec = {"design": "gaussian", "n": 6, "d": 12, "k": 2, "start": "random", "start_scale": 0.5}
    problems = [make_problem(spec, 1, "tiny", 0)]
    iteration = np.array([0, 1, 10, 100, 200, 500, 1000])
    runs = {"runs.npz": {"trajectory_iteration": iteration,
                         "trajectory_relative_residual": np.stack([np.full(7, 0.1), 1.0 / (iteration + 1.0)], axis=1),
                         "iterations": np.array([1000, 1000])}}
    limits = pd.DataFrame({"dataset": ["tiny", "tiny"], "replicate": [0, 0], "preconditioner": ["sign", "sign"],
                           "iterate_file": ["runs.npz", "runs.npz"], "run_index": [1, 0]})
    table = augment_limits(limits, ["sign"], {"tiny": dataset_columns("tiny", spec, problems)}, runs)
    assert list(table["run_index"]) == [1, 0]
    assert table["tail_slope"].iloc[1] == pytest.approx(0.0)
    assert table["tail_slope"].iloc[0] < -0.9
    assert table["start_scale"].iloc[0] == 0.5
    assert table["aspect"].iloc[0] == 2.0
    assert table["gram_condition"].iloc[0] >= 1.0


def test_augment_limits_rejects_unknown_label():
    limits = pd.DataFrame({"dataset": ["x"], "replicate": [0], "preconditioner": ["adam"],
                           "iterate_file": ["r.npz"], "run_index": [0]})
    with pytest.raises(ValueError, match="adam"):
        augment_limits(limits, ["sign"], {}, {})


# --- Random data set draws ---------------------------------------------------


def draw_config():
    return {
        "seed": 7,
        "datasets": {"fixed": {"design": "gaussian", "n": 5, "d": 10, "k": 1}},
        "dataset_draws": {
            "draw": {"count": 3, "n": [5, 9], "aspect": [1.2, 4.0], "k": [1, 3],
                     "designs": ["gaussian", "correlated", "student_t"], "rho": [0.3, 0.9], "df": [3.0, 10.0],
                     "labels": ["planted", "random"], "noise": 0.1, "starts": ["zero", "random"],
                     "start_scale": [0.1, 10.0], "replicates": 1},
        },
        "experiments": {"ext": {"datasets": ["fixed", "draw"]}},
    }


def test_expand_dataset_draws_is_deterministic():
    first, second = expand_dataset_draws(draw_config()), expand_dataset_draws(draw_config())
    assert first["datasets"] == second["datasets"]
    assert first["experiments"]["ext"]["datasets"] == ["fixed", "draw_00", "draw_01", "draw_02"]
    for name in ("draw_00", "draw_01", "draw_02"):
        spec = first["datasets"][name]
        assert spec["d"] > spec["n"]
        assert 5 <= spec["n"] <= 9


def test_expand_dataset_draws_twice_changes_nothing():
    once = expand_dataset_draws(draw_config())
    assert expand_dataset_draws(copy.deepcopy(once)) == once


def test_expand_dataset_draws_depends_on_seed():
    other = draw_config()
    other["seed"] = 8
    assert expand_dataset_draws(other)["datasets"] != expand_dataset_draws(draw_config())["datasets"]


def test_expand_dataset_draws_rejects_taken_name():
    config = draw_config()
    config["datasets"]["draw_01"] = {"design": "gaussian", "n": 5, "d": 10, "k": 1}
    with pytest.raises(ConfigError, match="draw_01"):
        expand_dataset_draws(config)


def test_expand_dataset_draws_rejects_reversed_range():
    config = draw_config()
    config["dataset_draws"]["draw"]["aspect"] = [4.0, 1.2]
    with pytest.raises(ConfigError, match="aspect"):
        expand_dataset_draws(config)


@pytest.mark.parametrize("profile", ["config.yaml", "quick.yaml"])
def test_profiles_configure_every_extension(profile):
    config = check_config(yaml.safe_load((ROOT / "config" / profile).read_text()), SCHEMA)
    extensions = config["claims"]["extensions"]
    assert set(extensions) == {"E1", "E2", "E3", "E4"}
    for section in extensions.values():
        for name in section["experiments"]:
            assert name in config["experiments"]
    for name, experiment in config["experiments"].items():
        if name.startswith("ext_"):
            assert experiment["extension"], f"experiment {name} must be labelled as an extension"


def test_e4_config_rejects_power_two():
    config = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
    config["experiments"]["ext_boundary"]["preconditioners"].append({"name": "power", "p": 2.0, "label": "power_p2"})
    with pytest.raises(ConfigError, match="p = 2"):
        check_config(config, SCHEMA)


def test_e1_config_requires_gd():
    config = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
    config["claims"]["extensions"]["E1"]["experiments"] = ["ext_smoothing"]
    with pytest.raises(ConfigError, match="gd"):
        check_config(config, SCHEMA)


def test_config_without_extensions_validates():
    config = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
    del config["claims"]["extensions"]
    with pytest.raises(ConfigError, match="figures.dependence"):
        check_config(copy.deepcopy(config), SCHEMA)
    del config["figures"]["dependence"]
    assert "extensions" not in check_config(config, SCHEMA)["claims"]
