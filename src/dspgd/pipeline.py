"""Shared set-up of the pipeline's rule scripts: logging, thread pinning, provenance.

The rule scripts pass their ``snakemake`` object in; this module never imports
Snakemake itself.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from threadpoolctl import threadpool_info, threadpool_limits

import dspgd
from dspgd.io import file_sha256
from dspgd.solver import Progress

__all__ = ["SOURCE_PATHS", "config_hash", "figure_provenance", "git_commit", "progress_logger", "provenance", "start_job"]

_LIMITER: Any = None


def start_job(snakemake: Any, name: str) -> logging.Logger:
    """Send this job's log to its ``log:`` file and pin BLAS and OpenMP to the job's threads.

    Pinning makes results independent of ``--cores``: Snakemake would otherwise
    let BLAS pick its thread count, and a blocked product's rounding depends on it.
    """
    global _LIMITER
    # NOTE: Snakemake lowers a rule's threads to --cores when --cores is smaller, so a rule
    # with threads > 1 would give results that depend on --cores after all.
    _LIMITER = threadpool_limits(limits=int(snakemake.threads))
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        handlers = [logging.FileHandler(snakemake.log[0], mode="w")]
    # Other libraries log at WARNING and above only: fontTools, for one, logs every
    # font subset matplotlib embeds in a PDF at INFO.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers,
                        force=True)
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.info("start %s with %d BLAS thread(s)", name, int(snakemake.threads))
    return logger


def progress_logger(logger: logging.Logger, interval_seconds: float = 5.0) -> Callable[[str, Progress], None]:
    """Return a solver progress callback that logs at most once per ``interval_seconds``."""
    last = [0.0]

    def report(tag: str, progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < interval_seconds:
            return
        last[0] = now
        logger.info(
            "%s: iteration %d, %d active, %d converged, %d diverged, largest residual %.3e",
            tag,
            progress.iteration,
            progress.active,
            progress.converged,
            progress.diverged,
            progress.max_relative_residual,
        )

    return report


def config_hash(section: Any) -> str:
    """Return the SHA-256 of a config section serialised as canonical JSON."""
    return hashlib.sha256(json.dumps(section, sort_keys=True, default=str).encode()).hexdigest()


#: Files and directories, relative to the repository root, whose content determines the outputs.
#: The output directories are left out: a run of the default configuration rewrites the
#: committed figures/ and results/claims.* while later jobs still record their provenance.
SOURCE_PATHS = ("Snakefile", "workflow", "scripts", "src", "config", "profiles", "environment.yml",
                "requirements.lock", "pyproject.toml")


def git_commit(root: Path | None = None) -> str:
    """Return the commit of the repository at ``root``, with ``-dirty`` if its source files differ from it.

    Only :data:`SOURCE_PATHS` count, tracked or not (ignored files excepted), so every job of
    one run records the same value whatever the order of its jobs. Outside a git repository,
    or without git, the value is ``"unknown"``.
    """
    root = Path(__file__).resolve().parents[2] if root is None else root

    def git(*arguments: str) -> str:
        return subprocess.run(["git", "-C", str(root), *arguments], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=normal", "--", *SOURCE_PATHS)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if changed else commit


def _installed_version(distribution: str) -> str | None:
    # Read from the installed metadata, so recording a version never imports the package.
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def provenance(config_section: Any, seeds: Any = None) -> dict[str, Any]:
    """Describe how an output was made: config and its hash, seeds, versions, BLAS, platform and git commit.

    It contains no timestamp, so byte comparisons of outputs stay meaningful.
    """
    blas = [
        {key: pool.get(key) for key in ("internal_api", "version", "threading_layer", "architecture", "num_threads")}
        for pool in threadpool_info()
    ]
    # threadpool_info() lists the loaded libraries in an order that varies between
    # processes, so sort them to keep the record byte-identical from run to run.
    blas.sort(key=lambda pool: json.dumps(pool, sort_keys=True))
    return {
        "config": config_section,
        "config_sha256": config_hash(config_section),
        "seeds": seeds,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": _installed_version("pandas"),
            "matplotlib": _installed_version("matplotlib"),
            "dspgd": dspgd.__version__,
        },
        "blas": blas,
        "platform": {"machine": platform.machine(), "system": platform.system(), "libc": " ".join(platform.libc_ver())},
        "git_commit": git_commit(),
    }


def figure_provenance(snakemake: Any) -> dict[str, Any]:
    """Describe a figure job: :func:`provenance` of its params plus the SHA-256 of every input file.

    Input paths are stored relative to the working directory, so the record names
    no machine-specific absolute path for files inside the repository.
    """
    record = provenance(dict(snakemake.params.items()))
    record["inputs"] = {os.path.relpath(path): file_sha256(path) for path in sorted(snakemake.input)}
    return record
