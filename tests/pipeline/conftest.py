"""Session fixtures: the quick profile and a tiny configuration, each run once per test session.

Tests that change a run first copy it with ``clone_run``, so the fixtures stay pristine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from workflow_support import (
    TINY_CONFIG,
    UNREACHABLE_DISPLAY,
    copy_repository,
    job_environment,
    output_dir,
    run_snakemake,
    write_config,
)

QUICK_CONFIG = "config/quick.yaml"


@dataclass(frozen=True)
class FinishedRun:
    """A completed pipeline run in a copy of the repository.

    Attributes:
        copy: root of the copy; Snakemake ran there.
        configfile: the configuration, relative to ``copy``.
        output: the run's output directory.
        console: Snakemake's stdout and stderr, with the stderr of every job.
    """

    copy: Path
    configfile: str
    output: Path
    console: str


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """The quick profile, run once with a DISPLAY that has no X server and FutureWarning as an error."""
    copy = copy_repository(tmp_path_factory.mktemp("quick") / "repository")
    environment = job_environment(copy, DISPLAY=UNREACHABLE_DISPLAY, PYTHONWARNINGS="error::FutureWarning")
    result = run_snakemake(copy, "--cores", "2", "--configfile", QUICK_CONFIG, environment=environment)
    return FinishedRun(copy, QUICK_CONFIG, output_dir(copy, QUICK_CONFIG), result.stdout + result.stderr)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """The tiny configuration, run once on one core with DISPLAY unset."""
    copy = copy_repository(tmp_path_factory.mktemp("tiny") / "repository")
    configfile = write_config(copy, TINY_CONFIG, "tiny.yaml")
    environment = job_environment(copy, DISPLAY=None, PYTHONWARNINGS="error::FutureWarning")
    result = run_snakemake(copy, "--cores", "1", "--configfile", configfile, environment=environment)
    return FinishedRun(copy, configfile, output_dir(copy, configfile), result.stdout + result.stderr)
