"""Helpers that run the Snakemake pipeline in temporary copies of the repository.

A copy contains the Snakefile, environment.yml, profiles/, workflow/, scripts/, config/ and src/. Its jobs
import the copy's own library through PYTHONPATH, so a test may edit library
code or configuration in the copy without touching the working tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
COPIED = ("Snakefile", "environment.yml", "profiles", "workflow", "scripts", "config", "src")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

#: An X display number that no X server serves here; a job that opened a window would fail on it.
UNREACHABLE_DISPLAY = ":4242"

#: A two-experiment configuration that runs every rule in 15 jobs (the target `all` included), in 19 s
#: on one core of a 2-core x86-64 machine (benchmarks/time_pipeline.py, one run).
#: It must stay valid against workflow/schemas/config.schema.yaml when new keys become required.
TINY_CONFIG: dict[str, Any] = {
    "seed": 7,
    "output_dir": "out",
    "solver": {"tol": 1e-10, "step_tol": 1e-10, "max_iter": 20000, "check_every": 10, "samples": 12,
               "record_distance_to_limit": True},
    "datasets": {
        "tiny_a": {"design": "gaussian", "n": 6, "d": 18, "k": 2, "labels": "planted", "replicates": 1},
        "tiny_b": {"design": "gaussian", "n": 5, "d": 12, "k": 1, "labels": "random", "replicates": 1},
    },
    "experiments": {
        "first": {"datasets": ["tiny_a"], "preconditioners": ["gd", {"name": "adam", "eps": 0.1}],
                  "losses": ["squared"], "eta_fractions": [0.3, 0.9]},
        "second": {"datasets": ["tiny_b"], "preconditioners": ["gd", {"name": "sign", "eps": 0.1}],
                   "losses": ["squared"], "eta_fractions": [0.5, 0.9]},
    },
    "claims": {"experiments": ["first", "second"], "machine_precision": 1e-6, "spread_factor": 1000,
               "rho_tolerance": 1e-6, "rho_bound": 100},
    "figures": {"trajectory": {"experiment": "first", "dataset": "tiny_a", "eta_fraction": 0.3},
                "real": {"experiment": "second"}},
}

_JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")
_JOB_FIELD = re.compile(r"^    (\w+): (.*)$")


def copy_repository(target: Path) -> Path:
    """Copy the files the pipeline needs into the new directory ``target`` and return it."""
    target.mkdir(parents=True)
    for name in COPIED:
        source = REPOSITORY / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, target / name)
    return target


def clone_run(source: Path, target: Path) -> Path:
    """Copy a finished run with its outputs and Snakemake metadata, keeping modification times."""
    shutil.copytree(source, target, symlinks=True)
    return target


def write_config(copy: Path, config: dict[str, Any], name: str) -> str:
    """Write ``config`` to ``config/<name>`` in ``copy`` and return its path relative to the copy."""
    path = copy / "config" / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return f"config/{name}"


def output_dir(copy: Path, configfile: str) -> Path:
    """Return the output directory that ``configfile`` sets, inside ``copy``."""
    config = yaml.safe_load((copy / configfile).read_text(encoding="utf-8"))
    return copy / config.get("output_dir", "")


def job_environment(copy: Path, **overrides: str | None) -> dict[str, str]:
    """Return the environment for Snakemake in ``copy``; an override of None removes the variable."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy / "src"), environment.get("PYTHONPATH")]))
    for key, value in overrides.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return environment


def run_snakemake(
    copy: Path, *arguments: str, environment: dict[str, str] | None = None, timeout: float = 1200
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake in ``copy``; raise AssertionError with its output if it fails."""
    command = [SNAKEMAKE, *arguments]
    result = subprocess.run(
        command, cwd=copy, env=environment or job_environment(copy), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed with exit status {result.returncode} in {copy}\n"
            f"--- stdout (end) ---\n{result.stdout[-4000:]}\n--- stderr (end) ---\n{result.stderr[-4000:]}"
        )
    return result


@dataclass(frozen=True)
class PlannedJob:
    """A job of a dry run: its rule, its wildcards and its input files."""

    rule: str
    wildcards: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)


def planned_jobs(copy: Path, configfile: str, *arguments: str) -> list[PlannedJob]:
    """Return every job that a dry run in ``copy`` plans, the target rule ``all`` included."""
    stdout = run_snakemake(copy, "--dry-run", "--cores", "1", "--configfile", configfile, *arguments).stdout
    jobs: list[PlannedJob] = []
    for line in stdout.splitlines():
        header = _JOB_HEADER.match(line)
        if header:
            jobs.append(PlannedJob(header.group(1)))
            continue
        field_line = _JOB_FIELD.match(line)
        if field_line is None or not jobs:
            continue
        key, value = field_line.groups()
        if key == "wildcards":
            jobs[-1].wildcards.update(dict(pair.split("=", 1) for pair in value.split(", ")))
        elif key == "input":
            jobs[-1].inputs.extend(path.strip() for path in value.split(","))
    return jobs


def planned_rules(copy: Path, configfile: str, *arguments: str) -> set[str]:
    """Return the rules with at least one job in a dry run, without the target rule ``all``."""
    return {job.rule for job in planned_jobs(copy, configfile, *arguments)} - {"all"}
