"""Shared set-up of the pipeline's rule scripts: logging, thread pinning, provenance.

The rule scripts pass their ``snakemake`` object in; this module never imports
Snakemake itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
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
from dspgd.solver import Progress

__all__ = ["config_hash", "progress_logger", "provenance", "start_job"]

_LIMITER: Any = None


def start_job(snakemake: Any, name: str) -> logging.Logger:
    """Send this job's log to its ``log:`` file and pin BLAS and OpenMP to the job's threads.

    Pinning makes results independent of ``--cores``: Snakemake would otherwise
    let BLAS pick its thread count, and a blocked product's rounding depends on it.
    """
    global _LIMITER
    _LIMITER = threadpool_limits(limits=int(snakemake.threads))
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        handlers = [logging.FileHandler(snakemake.log[0], mode="w")]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True
    )
    logger = logging.getLogger(name)
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


def _git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        output = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return output.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(config_section: Any, seeds: Any = None) -> dict[str, Any]:
    """Describe how an output was made: config and its hash, seeds, versions, BLAS and git commit.

    It contains no timestamp, so byte comparisons of outputs stay meaningful.
    """
    blas = [
        {key: pool.get(key) for key in ("internal_api", "version", "threading_layer", "architecture", "num_threads")}
        for pool in threadpool_info()
    ]
    return {
        "config": config_section,
        "config_sha256": config_hash(config_section),
        "seeds": seeds,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "dspgd": dspgd.__version__,
        },
        "blas": blas,
        "git_commit": _git_commit(),
    }
