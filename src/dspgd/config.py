"""Validation of the pipeline configuration.

:func:`check_config` validates against the JSON schema in
``workflow/schemas/config.schema.yaml`` and then checks what a schema cannot:
names against the registries, ``d > n``, references between sections. Every
error names the config key, the offending value and what to change.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dspgd.data import DESIGNS
from dspgd.experiments import parse_preconditioner
from dspgd.losses import LOSSES, make_loss
from dspgd.preconditioners import PRECONDITIONERS
from dspgd.solver import SolverOptions

__all__ = ["ConfigError", "check_config", "experiment_solver_options"]

DIGITS_IMAGES = 1797


class ConfigError(ValueError):
    """Raised for an invalid configuration; the message names the key and the fix."""


def _key(path: Any) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _apply_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    """Fill ``default`` values of object properties in place, following ``$ref`` and ``additionalProperties``."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for name, subschema in schema.get("properties", {}).items():
        if name not in instance and "default" in subschema:
            instance[name] = copy.deepcopy(subschema["default"])
        if name in instance:
            _apply_defaults(instance[name], subschema, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for name, value in instance.items():
            if name not in schema.get("properties", {}):
                _apply_defaults(value, extra, root)


def _validate_schema(config: dict[str, Any], schema_path: Path) -> None:
    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda error: list(error.absolute_path))
    if errors:
        lines = [f"config key {_key(error.absolute_path)}: {error.message}" for error in errors[:10]]
        raise ConfigError(
            "invalid configuration:\n  "
            + "\n  ".join(lines)
            + f"\nsee {schema_path} for every key, its type and meaning"
        )
    _apply_defaults(config, schema, schema)


def _check_datasets(config: dict[str, Any]) -> None:
    for name, spec in config["datasets"].items():
        key = f"datasets.{name}"
        if spec["d"] <= spec["n"]:
            raise ConfigError(
                f"{key}: d={spec['d']} must exceed n={spec['n']} (overparameterized setting); raise d or lower n"
            )
        if spec["design"] != "digits" and "k" not in spec:
            raise ConfigError(f"{key}: missing k (number of outputs) for design {spec['design']!r}")
        if spec["design"] == "digits" and spec["n"] > DIGITS_IMAGES:
            raise ConfigError(f"{key}: n={spec['n']} exceeds the {DIGITS_IMAGES} images of the digits data set")
        if spec["design"] not in DESIGNS:
            raise ConfigError(f"{key}.design: unknown design {spec['design']!r}; choose one of: {', '.join(DESIGNS)}")


def _check_experiments(config: dict[str, Any]) -> None:
    for name, experiment in config["experiments"].items():
        key = f"experiments.{name}"
        for dataset in experiment["datasets"]:
            if dataset not in config["datasets"]:
                raise ConfigError(
                    f"{key}.datasets: unknown data set {dataset!r}; define it under datasets "
                    f"(defined: {', '.join(sorted(config['datasets']))})"
                )
        labels = set()
        for index, entry in enumerate(experiment["preconditioners"]):
            entry_key = f"{key}.preconditioners[{index}]"
            family = entry if isinstance(entry, str) else entry.get("name")
            if family not in PRECONDITIONERS:
                valid = ", ".join(sorted(PRECONDITIONERS))
                raise ConfigError(f"{entry_key}: unknown preconditioner {family!r}; choose one of: {valid}")
            spec = parse_preconditioner(entry)
            try:
                spec.build()
            except (TypeError, ValueError) as error:
                raise ConfigError(f"{entry_key}: {error}") from None
            if spec.label in labels:
                raise ConfigError(f"{entry_key}: label {spec.label!r} is used twice; give each entry a distinct label")
            labels.add(spec.label)
        for index, loss in enumerate(experiment["losses"]):
            if loss not in LOSSES:
                raise ConfigError(
                    f"{key}.losses[{index}]: unknown loss {loss!r}; choose one of: {', '.join(sorted(LOSSES))}"
                )
            make_loss(loss)
        try:
            experiment_solver_options(config, name)
        except ValueError as error:
            raise ConfigError(f"{key}.solver: {error}") from None


def _check_references(config: dict[str, Any]) -> None:
    experiments = config["experiments"]
    for index, name in enumerate(config["claims"]["experiments"]):
        if name not in experiments:
            raise ConfigError(f"claims.experiments[{index}]: unknown experiment {name!r}; define it under experiments")
    trajectory = config["figures"]["trajectory"]
    if trajectory["experiment"] not in experiments:
        raise ConfigError(f"figures.trajectory.experiment: unknown experiment {trajectory['experiment']!r}")
    if trajectory["dataset"] not in experiments[trajectory["experiment"]]["datasets"]:
        raise ConfigError(
            f"figures.trajectory.dataset: {trajectory['dataset']!r} is not a data set of experiment "
            f"{trajectory['experiment']!r}"
        )
    if trajectory["eta_fraction"] not in experiments[trajectory["experiment"]]["eta_fractions"]:
        raise ConfigError(
            f"figures.trajectory.eta_fraction: {trajectory['eta_fraction']} is not on the eta_fractions grid of "
            f"experiment {trajectory['experiment']!r}"
        )
    if config["figures"]["real"]["experiment"] not in experiments:
        raise ConfigError(f"figures.real.experiment: unknown experiment {config['figures']['real']['experiment']!r}")


def experiment_solver_options(config: Mapping[str, Any], experiment: str) -> SolverOptions:
    """Return the solver options of an experiment: global ``solver`` values overridden by its own."""
    values = dict(config.get("solver", {}))
    values.update(config["experiments"][experiment].get("solver", {}))
    return SolverOptions(**values)


def check_config(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Validate ``config`` in place (filling schema defaults) and return it.

    Raises:
        ConfigError: naming the first invalid key, its value and the fix.
    """
    _validate_schema(config, Path(schema_path))
    _check_datasets(config)
    _check_experiments(config)
    _check_references(config)
    return config
