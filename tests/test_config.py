"""The config schema and semantic checks reject bad configurations with a message naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from dspgd.config import ConfigError, check_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml"])
def test_shipped_configs_are_valid(name):
    config = check_config(load(name), SCHEMA)
    assert config["experiments"]


def test_schema_fills_defaults():
    config = load("quick.yaml")
    del config["datasets"]["gauss_n20_d80_k3"]["labels"]
    check_config(config, SCHEMA)
    assert config["datasets"]["gauss_n20_d80_k3"]["labels"] == "planted"
    assert config["experiments"]["sweep"]["extension"] is False


def rejected(config: dict) -> str:
    with pytest.raises(ConfigError) as error:
        check_config(config, SCHEMA)
    return str(error.value)


def test_unknown_preconditioner_lists_valid_names():
    config = load("quick.yaml")
    preconditioners = config["experiments"]["sweep"]["preconditioners"]
    preconditioners.append("adamw")
    message = rejected(config)
    # The index follows the list, which grows when a user adds a preconditioner to the sweep.
    assert f"experiments.sweep.preconditioners[{len(preconditioners) - 1}]" in message
    assert "unknown preconditioner 'adamw'" in message
    assert "choose one of:" in message
    assert "adam," in message


def test_invalid_hyperparameter_names_value_and_range():
    config = load("quick.yaml")
    config["experiments"]["sweep"]["preconditioners"][1] = {"name": "normalized_gd", "eps": -1.0}
    message = rejected(config)
    assert "experiments.sweep.preconditioners[1]" in message
    assert "eps=-1.0" in message
    assert "> 0.0" in message


def test_unknown_hyperparameter_lists_valid_ones():
    config = load("quick.yaml")
    config["experiments"]["sweep"]["preconditioners"][1] = {"name": "normalized_gd", "epsilon": 0.1}
    message = rejected(config)
    assert "'epsilon'" in message
    assert "valid ones: eps" in message


def test_nonpositive_eta_fraction_names_key():
    config = load("quick.yaml")
    config["experiments"]["sweep"]["eta_fractions"] = [0.3, 0.0]
    message = rejected(config)
    assert "config key experiments.sweep.eta_fractions.1" in message
    assert "less than or equal to the minimum" in message


def test_d_not_above_n_is_rejected():
    config = load("quick.yaml")
    config["datasets"]["gauss_n20_d80_k3"]["d"] = 20
    message = rejected(config)
    assert "datasets.gauss_n20_d80_k3: d=20 must exceed n=20" in message
    assert "raise d or lower n" in message


def test_missing_key_is_named():
    config = load("quick.yaml")
    del config["datasets"]["gauss_n20_d80_k3"]["n"]
    message = rejected(config)
    assert "config key datasets.gauss_n20_d80_k3: 'n' is a required property" in message
    assert "config.schema.yaml" in message


def test_mistyped_value_is_named():
    config = load("quick.yaml")
    config["datasets"]["gauss_n20_d80_k3"]["n"] = "twenty"
    assert "config key datasets.gauss_n20_d80_k3.n: 'twenty' is not of type 'integer'" in rejected(config)


def test_misspelled_key_is_named():
    config = load("quick.yaml")
    experiment = config["experiments"]["sweep"]
    experiment["eta_fraction"] = experiment.pop("eta_fractions")
    message = rejected(config)
    assert "'eta_fractions' is a required property" in message
    assert "'eta_fraction' was unexpected" in message


def test_unknown_loss_lists_valid_names():
    config = load("quick.yaml")
    config["experiments"]["real"]["losses"] = ["hinge"]
    message = rejected(config)
    assert "experiments.real.losses[0]: unknown loss 'hinge'" in message
    assert "squared" in message


def test_unknown_dataset_reference():
    config = load("quick.yaml")
    config["experiments"]["real"]["datasets"] = ["mnist"]
    assert "unknown data set 'mnist'" in rejected(config)


def test_duplicate_labels_rejected():
    config = load("quick.yaml")
    config["experiments"]["real"]["preconditioners"].append({"name": "adam", "eps": 0.01})
    assert "label 'adam' is used twice" in rejected(config)


def test_trajectory_figure_must_use_grid_step():
    config = copy.deepcopy(load("quick.yaml"))
    config["figures"]["trajectory"]["eta_fraction"] = 0.5
    assert "not on the eta_fractions grid" in rejected(config)
