"""Validation of the pipeline configuration.

:func:`check_config` validates against the JSON schema in
``workflow/schemas/config.schema.yaml``, expands the randomly drawn data sets
of ``dataset_draws`` and then checks what a schema cannot: names against the
registries, ``d > n``, references between sections. Every error names the
config key, the offending value and what to change.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import yaml

from dspgd.data import DESIGNS, problem_seed
from dspgd.experiments import parse_preconditioner
from dspgd.extensions import boundary_prediction
from dspgd.losses import LOSSES, make_loss
from dspgd.preconditioners import PRECONDITIONERS
from dspgd.solver import SolverOptions

__all__ = ["ConfigError", "check_config", "expand_dataset_draws", "experiment_solver_options"]

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


def _draw_spec(rng: np.random.Generator, draw: Mapping[str, Any]) -> dict[str, Any]:
    """Draw one data set specification from the ranges and choices of a ``dataset_draws`` entry."""

    def log_uniform(bounds: list[float]) -> float:
        return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))

    n = int(rng.integers(draw["n"][0], draw["n"][1], endpoint=True))
    aspect = log_uniform(draw["aspect"])
    spec: dict[str, Any] = {
        "design": str(rng.choice(draw["designs"])),
        "n": n,
        "d": max(n + 1, round(aspect * n)),
        "k": int(rng.integers(draw["k"][0], draw["k"][1], endpoint=True)),
        "labels": str(rng.choice(draw["labels"])),
        "noise": float(draw["noise"]),
        "start": str(rng.choice(draw["starts"])),
        "replicates": int(draw["replicates"]),
    }
    # Every value is drawn whatever the design, so one draw's choices never shift the next draw's.
    rho, df, start_scale = float(rng.uniform(*draw["rho"])), log_uniform(draw["df"]), log_uniform(draw["start_scale"])
    # Three significant digits keep the drawn settings readable in logs and provenance records.
    rho, df, start_scale = (float(f"{value:.3g}") for value in (rho, df, start_scale))
    if spec["design"] == "correlated":
        spec["rho"] = rho
    if spec["design"] == "student_t":
        spec["df"] = df
    spec["start_scale"] = start_scale if spec["start"] == "random" else 1.0
    return spec


def expand_dataset_draws(config: dict[str, Any]) -> dict[str, Any]:
    """Replace each ``dataset_draws`` entry by the data sets it draws, in place, and return ``config``.

    Entry ``NAME`` adds data sets ``NAME_00``, ``NAME_01``, ... to ``datasets``,
    drawn with the seed sequence of ``(seed, "draws/NAME")``, so they depend
    on the root seed and the entry only. An experiment that lists ``NAME``
    among its data sets gets all of them. Expanding twice changes nothing.

    Raises:
        ConfigError: for a range whose low end exceeds its high end, or a drawn
            name that an explicit data set already uses with other settings.
    """
    for name, draw in config.get("dataset_draws", {}).items():
        for key in ("n", "aspect", "k", "rho", "df", "start_scale"):
            low, high = draw[key]
            if low > high:
                raise ConfigError(f"dataset_draws.{name}.{key}: low end {low} exceeds high end {high}; swap them")
        rng = np.random.Generator(np.random.PCG64(problem_seed(config["seed"], f"draws/{name}", 0)))
        drawn = [f"{name}_{index:02d}" for index in range(draw["count"])]
        for dataset in drawn:
            spec = _draw_spec(rng, draw)
            if config["datasets"].setdefault(dataset, spec) != spec:
                raise ConfigError(
                    f"datasets.{dataset}: the name is taken by an explicit data set but dataset_draws.{name} "
                    "draws it too; rename one of them"
                )
        for experiment in config["experiments"].values():
            experiment["datasets"] = [
                member for entry in experiment["datasets"] for member in (drawn if entry == name else [entry])
            ]
    return config


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


def _check_extensions(config: dict[str, Any]) -> None:
    experiments = config["experiments"]
    extensions = config["claims"].get("extensions", {})
    for claim_id, section in extensions.items():
        for index, name in enumerate(section["experiments"]):
            if name not in experiments:
                raise ConfigError(
                    f"claims.extensions.{claim_id}.experiments[{index}]: unknown experiment {name!r}; "
                    "define it under experiments"
                )
    if extensions:
        families = {
            parse_preconditioner(entry).name
            for name in extensions["E1"]["experiments"]
            for entry in experiments[name]["preconditioners"]
        }
        if "gd" not in families:
            raise ConfigError(
                "claims.extensions.E1.experiments: none of them runs 'gd', whose distance to W_GD sets the "
                "numerical floor of E1's control; add gd to one of them"
            )
    for name in extensions.get("E4", {}).get("experiments", []):
        for index, entry in enumerate(experiments[name]["preconditioners"]):
            spec = parse_preconditioner(entry)
            preconditioner = spec.build()
            if preconditioner.smooth:
                continue
            try:
                boundary_prediction(spec.name, preconditioner.hyperparameters().get("p"))
            except ValueError as error:
                raise ConfigError(f"experiments.{name}.preconditioners[{index}] (used by claim E4): {error}") from None
    dependence = config["figures"].get("dependence")
    if dependence is None:
        return
    if not extensions:
        raise ConfigError("figures.dependence needs claims.extensions, which enables the extension outputs; add it")
    labels = set()
    for index, name in enumerate(dependence["experiments"]):
        if name not in experiments:
            raise ConfigError(f"figures.dependence.experiments[{index}]: unknown experiment {name!r}")
        labels.update(parse_preconditioner(entry).label for entry in experiments[name]["preconditioners"])
    for index, label in enumerate(dependence["labels"]):
        if label not in labels:
            raise ConfigError(
                f"figures.dependence.labels[{index}]: no experiment of figures.dependence has a preconditioner "
                f"labelled {label!r}; choose from: {', '.join(sorted(labels))}"
            )


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
    expand_dataset_draws(config)
    _check_datasets(config)
    _check_experiments(config)
    _check_references(config)
    _check_extensions(config)
    return config
