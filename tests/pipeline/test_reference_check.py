"""The cross-machine reference check (dspgd.reference) and evidence that it can fail."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_support import REPOSITORY, clone_run, run_snakemake

from dspgd.io import write_json, write_npz, write_text
from dspgd.reference import NUMERICAL_FLOOR, compare_reference, measure_run, reference_from_run

REFERENCE = REPOSITORY / "tests" / "reference" / "quick.json"


def write_run(root, *, x_scale=1.0, adam_rho=1.05, gd_dist=2e-12, gd_iterations=700, verdict="pass",
              numpy_version="2.4.6", extra_experiment=False):
    """Write the files measure_run reads: one data replicate, one limit table, claims.json."""
    X = np.arange(12.0).reshape(3, 4) * x_scale
    write_npz(root / "results" / "data" / "toy" / "rep0.npz",
              {"X": X, "Y": np.ones((3, 1)), "W0": np.zeros((4, 1)), "provenance": np.array("{}")})
    rows = [
        {"experiment": "sweep", "preconditioner": "gd", "status": "converged", "rho": 1.0, "dist_gd": gd_dist,
         "eta_spread": 1e-13, "iterations": gd_iterations},
        {"experiment": "sweep", "preconditioner": "adam", "status": "converged", "rho": adam_rho, "dist_gd": 0.3,
         "eta_spread": 4e-3, "iterations": 730},
    ]
    if extra_experiment:
        rows.append({"experiment": "e1", "preconditioner": "gd", "status": "converged", "rho": 1.0,
                     "dist_gd": 1e-12, "eta_spread": 1e-13, "iterations": 10})
    write_text(root / "results" / "limits" / "sweep.csv", pd.DataFrame(rows).to_csv(index=False))
    provenance = {"versions": {"numpy": numpy_version}, "blas": [], "config_sha256": "abc"}
    write_json(root / "results" / "claims.json", {"claims": [{"id": "C1", "verdict": verdict}],
                                                  "provenance": provenance})
    return root


@pytest.fixture
def reference(tmp_path):
    return reference_from_run(write_run(tmp_path / "reference"))


def check(tmp_path, reference, **changes):
    return compare_reference(reference, measure_run(write_run(tmp_path / "run", **changes)))


def test_identical_run_passes(tmp_path, reference):
    result = check(tmp_path, reference)

    assert result.passed, result.failures
    assert result.notes == []


def test_changed_rho_names_quantity(tmp_path, reference):
    result = check(tmp_path, reference, adam_rho=1.0501)

    assert len(result.failures) == 1
    assert result.failures[0].startswith("limits/sweep/adam/max_rho: expected 1.05, measured 1.0501")


def test_floor_values_stored_as_bounds(reference):
    entry = reference["quantities"]["limits/sweep/gd/max_dist_gd"]

    assert entry["below"] == NUMERICAL_FLOOR
    assert "rtol" not in entry


def test_floor_value_moving_below_bound_passes(tmp_path, reference):
    assert check(tmp_path, reference, gd_dist=7e-14).passed


def test_floor_value_above_bound_fails(tmp_path, reference):
    result = check(tmp_path, reference, gd_dist=1e-6)

    assert result.failures == [
        "limits/sweep/gd/max_dist_gd: expected at most 1e-09 (numerical floor; reference 2e-12), measured 1e-06"
    ]


def test_iterations_allow_one_check(tmp_path, reference):
    assert check(tmp_path, reference, gd_iterations=710).passed
    assert not check(tmp_path / "far", reference, gd_iterations=800).passed


def test_changed_verdict_fails(tmp_path, reference):
    result = check(tmp_path, reference, verdict="fail")

    assert result.failures == ["claims/C1/verdict: expected 'pass', measured 'fail'"]


def test_new_numpy_data_change_blames_stream(tmp_path, reference):
    result = check(tmp_path, reference, x_scale=1.5, numpy_version="2.5.0")

    assert result.failures[0].startswith("numpy random stream changed (numpy 2.5.0, reference made with 2.4.6)")
    assert "data differ" in result.failures[0]
    assert not [line for line in result.failures if line.startswith(("limits/", "claims/"))]


def test_same_numpy_data_change_blames_generation(tmp_path, reference):
    result = check(tmp_path, reference, x_scale=1.5)

    assert result.failures[0].startswith("generated data differ although numpy is the reference's version (2.4.6)")
    assert any(line.startswith("data/toy/rep0/X/mean: expected") for line in result.failures)


def test_new_experiment_is_noted_not_failed(tmp_path, reference):
    result = check(tmp_path, reference, extra_experiment=True)

    assert result.passed, result.failures
    assert any("not in the reference" in note and "limits/e1/gd" in note for note in result.notes)


def test_missing_quantity_fails(tmp_path, reference):
    reference["quantities"]["limits/sweep/sign/max_rho"] = {"value": 1.1, "rtol": 1e-6, "atol": 0.0}

    result = check(tmp_path, reference)

    assert result.failures == ["limits/sweep/sign/max_rho: expected 1.1, missing from the run"]


@pytest.mark.pipeline
def test_step_size_change_fails_check(quick_run, tmp_path):
    """Multiplying one experiment's step sizes by 1.01 must fail the check on a named quantity."""
    copy = clone_run(quick_run.copy, tmp_path / "copy")
    config_path = copy / quick_run.configfile
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    # The real-data experiment is the quick profile's smallest, so rerunning it is cheap.
    experiment = config["figures"]["real"]["experiment"]
    settings = config["experiments"][experiment]
    settings["eta_fractions"] = [fraction * 1.01 for fraction in settings["eta_fractions"]]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    run_snakemake(copy, "--cores", "2", "--configfile", quick_run.configfile)
    output = copy / quick_run.output.relative_to(quick_run.copy)
    result = compare_reference(json.loads(REFERENCE.read_text(encoding="utf-8")), measure_run(output))

    named = [line for line in result.failures if line.startswith(f"limits/{experiment}/")]
    assert not result.passed
    assert not any("data differ" in line for line in result.failures)
    assert named, result.failures
    assert all("expected" in line for line in named)
    assert all("measured" in line for line in named)
