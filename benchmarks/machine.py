"""Machine description for the benchmarks' JSON files, without importing PyTorch."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np
import threadpoolctl


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or platform.processor() elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    """Return the machine's total memory in GiB from /proc/meminfo, or None where it is missing."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def describe_machine() -> dict[str, Any]:
    """Describe the CPU, memory, platform, Python, numpy and BLAS pools of this process."""
    # Library, version, kernel and thread count of every BLAS and OpenMP pool, without local paths.
    pools = [
        {key: value for key, value in pool.items() if key != "filepath"} for pool in threadpoolctl.threadpool_info()
    ]
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": pools,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "load_average_at_start": list(os.getloadavg()),
    }
