"""Timers, the matrix-product bound, peak memory and machine facts for the benchmark.

Every timing records wall-clock and process CPU seconds and the 1-minute load
average when it finished. With one BLAS and one PyTorch thread, CPU seconds
leave out the time the process waited for a core, which makes them the steadier
of the two on a shared machine. On an idle machine the two agree.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from machine import describe_machine


@dataclass
class Timing:
    """Best (smallest) wall-clock and CPU seconds over the repeats, and the load average."""

    wall: float
    cpu: float
    load_average_1min: float

    def scaled(self, factor: float) -> Timing:
        return Timing(self.wall * factor, self.cpu * factor, self.load_average_1min)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def best_of(run: Callable[[], Any], repeats: int) -> tuple[Timing, Any]:
    """Call ``run`` ``repeats`` times; return the smallest times and the last result."""
    wall, cpu = np.inf, np.inf
    result = None
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        result = run()
        wall = min(wall, time.perf_counter() - wall_start)
        cpu = min(cpu, time.process_time() - cpu_start)
    return Timing(wall, cpu, os.getloadavg()[0]), result


def _clock(run: Callable[[], Any]) -> tuple[float, float]:
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall_start, time.process_time() - cpu_start


def products_of_one_iteration(n: int, d: int, columns: int, calls: int) -> Callable[[], None]:
    """Return a callable doing ``calls`` times the two bare products of one solver iteration.

    ``X`` is ``(n, d)`` and the right-hand sides have ``columns = m k`` columns.
    The outputs are preallocated, so only the float64 matrix products run.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, columns))
    R = np.empty((n, columns))
    G = np.empty((d, columns))

    def products() -> None:
        for _ in range(calls):
            np.matmul(X, W, out=R)
            np.matmul(X.T, R, out=G)

    return products


def iteration_and_bound(
    run: Callable[[int], Any], steps: tuple[int, int], products: Callable[[], None], calls: int, repeats: int
) -> tuple[Timing, Timing]:
    """Return the solver's cost of one iteration and the products' cost of one iteration.

    The solver's cost is ``(T(long) - T(short)) / (long - short)`` for runs of
    ``steps = (short, long)`` iterations, which cancels the set-up work done once
    per call, such as the reference limit that :func:`dspgd.run_batch` computes.
    The three measurements alternate in every repeat, so a change in the
    machine's load affects the solver and its bound alike; each keeps its minimum.
    """
    short, long = steps
    samples = {"products": [], "short": [], "long": []}
    for _ in range(repeats):
        samples["products"].append(_clock(products))
        samples["short"].append(_clock(lambda: run(short)))
        samples["long"].append(_clock(lambda: run(long)))
    best = {name: np.min(np.array(values), axis=0) for name, values in samples.items()}
    load = os.getloadavg()[0]
    solver = (best["long"] - best["short"]) / (long - short)
    bound = best["products"] / calls
    return Timing(float(solver[0]), float(solver[1]), load), Timing(float(bound[0]), float(bound[1]), load)


def traced_peak_bytes(run: Callable[[], Any]) -> int:
    """Return the peak of memory allocated through Python and numpy while ``run`` executes.

    tracemalloc tracks numpy arrays but not PyTorch's allocator.
    """
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def machine_facts(threads: int) -> dict[str, Any]:
    """Describe the machine, the libraries and the thread settings of this run."""
    facts = describe_machine()
    facts.update({"torch": torch.__version__, "threads": threads, "torch_threads": torch.get_num_threads()})
    return facts
