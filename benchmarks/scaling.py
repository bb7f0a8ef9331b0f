"""Time per batched iteration against d and against m, and the log-log figure of it.

One iteration costs two products of ``2 n d k m`` flops each, so once they
dominate the time grows as ``n d k m``: linearly in ``d`` at fixed ``n, k, m``
and linearly in ``m`` at fixed ``n, d, k``. At small sizes the per-iteration
Python and elementwise overhead flattens the curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

import dspgd
from measure import iteration_and_bound, products_of_one_iteration

FAMILY = "adam"
N, K = 256, 8
D_SWEEP = {"n": N, "k": K, "m": 16, "d": [512, 1024, 2048, 4096, 8192]}
M_SWEEP = {"n": N, "k": K, "d": 2048, "m": [1, 2, 4, 8, 16, 32, 64]}
STEPS = (3, 13)  # run lengths whose difference gives the cost of one iteration
REPEATS = 3


def iteration_seconds(n: int, d: int, k: int, m: int) -> dict[str, float]:
    """Return the batched solver's and the bare products' seconds per iteration at one size."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, k))
    space = dspgd.RowSpace.from_design(X)
    preconditioner = dspgd.make_preconditioner(FAMILY)
    loss = dspgd.make_loss("squared")
    eta = np.linspace(0.2, 0.9, m) * dspgd.eta_max(space, preconditioner, loss)

    def run(steps: int) -> None:
        options = dspgd.SolverOptions(tol=1e-300, step_tol=1e-300, max_iter=steps)
        dspgd.run_batch(X, Y, np.zeros((d, k)), eta, preconditioner, loss, options, space=space)

    calls = max(2, int(1e9 // (4.0 * n * d * k * m)))
    products = products_of_one_iteration(n, d, m * k, calls)
    solver, bound = iteration_and_bound(run, STEPS, products, calls, REPEATS)
    return {"n": n, "d": d, "k": k, "m": m, "solver_seconds": solver.wall, "solver_cpu_seconds": solver.cpu,
            "gemm_seconds": bound.wall, "gemm_cpu_seconds": bound.cpu, "load_average_1min": solver.load_average_1min}


def measure_scaling() -> dict[str, Any]:
    """Run both sweeps; return their points and settings."""
    over_d = [iteration_seconds(D_SWEEP["n"], d, D_SWEEP["k"], D_SWEEP["m"]) for d in D_SWEEP["d"]]
    over_m = [iteration_seconds(M_SWEEP["n"], M_SWEEP["d"], M_SWEEP["k"], m) for m in M_SWEEP["m"]]
    return {"family": FAMILY, "loss": "squared", "over_d": over_d, "over_m": over_m}


def plot_scaling(scaling: dict[str, Any], path: Path) -> None:
    """Draw time per iteration against d and m on log-log axes, with the n d k m line through the largest point.

    The figure shows CPU seconds: with one thread they leave out the time spent
    waiting for a core on a shared machine, and on an idle one they equal wall-clock time.
    """
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    axes = figure.subplots(1, 2)
    for axis, key, variable, fixed in (
        (axes[0], "over_d", "d", f"n={D_SWEEP['n']}, k={D_SWEEP['k']}, m={D_SWEEP['m']}"),
        (axes[1], "over_m", "m", f"n={M_SWEEP['n']}, d={M_SWEEP['d']}, k={M_SWEEP['k']}"),
    ):
        points = scaling[key]
        x = np.array([point[variable] for point in points], dtype=float)
        solver = np.array([point["solver_cpu_seconds"] for point in points]) * 1e3
        bound = np.array([point["gemm_cpu_seconds"] for point in points]) * 1e3
        axis.loglog(x, solver, "o-", label=f"run_batch ({scaling['family']})")
        axis.loglog(x, bound, "s--", label="two bare products")
        axis.loglog(x, solver[-1] * x / x[-1], ":", color="gray", label=r"$\propto n\,d\,k\,m$")
        axis.set_xticks(x, [f"{value:g}" for value in x])
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        axis.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        axis.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        axis.set_xlabel(variable)
        axis.set_ylabel("CPU ms per iteration")
        axis.set_title(fixed, fontsize=10)
        axis.legend(fontsize=8)
    # No Software entry, so the PNG bytes depend only on the measured numbers.
    figure.savefig(path, dpi=110, metadata={"Software": None})
