"""Benchmark the batched solver against one-run-at-a-time numpy and PyTorch loops.

Usage::

    python benchmarks/bench_solver.py [--threads 1] [--scaling] [--output benchmarks/results.json]

For each shape and each preconditioner in ``gd, adam, global_clip`` (squared
loss, ``W0 = 0``, step sizes ``eta`` spread over 0.2 to 0.9 of ``eta_max``) it
times the same runs with the same stopping rule in three ways:

- ``batched``: :func:`dspgd.run_batch` on all ``m`` runs at once;
- ``loop``: the runs one after another, a plain numpy loop per run;
- ``torch``: the runs one after another with ``torch.optim`` on CPU, float64.

It also times the two bare matrix products of one batched iteration (the
bound) and the batched solver's cost per iteration at the full batch size.
At the small shape every method runs every family to its stopping rule. At the
large shape the batched solver runs ``gd`` to its stopping rule, and the loops
run ``fixed_steps`` updates per run, so the methods are compared per iteration.
The table goes to stdout and everything to JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl
import torch

import dspgd
from baselines import FAMILIES, Problem, RunOutcome, run_all, run_numpy, run_torch
from measure import Timing, best_of, iteration_and_bound, machine_facts, products_of_one_iteration, traced_peak_bytes
from report import evaluate_goals, print_table

HERE = Path(__file__).resolve().parent
HYPERPARAMETERS = {"gd": {}, "adam": {"eps": 0.1}, "global_clip": {"tau": 1.0}}
ETA_FRACTIONS = (0.2, 0.9)  # step sizes as fractions of eta_max, evenly spaced over the m runs
# Far below any reachable residual, so fixed-length runs never retire and the batch keeps m runs.
NEVER = 1e-300


@dataclass(frozen=True)
class Shape:
    """One benchmark shape and how much of it to run."""

    n: int
    d: int
    k: int
    m: int
    converge: tuple[str, ...]  # families the batched solver runs to its stopping rule
    loops_converge: bool  # whether the loops run to the stopping rule too
    fixed_steps: int  # otherwise, updates per run in the loops
    per_iteration_steps: tuple[int, int]  # batched runs of these lengths give the cost of one iteration
    repeats: int  # repeats of the per-iteration and product timings
    full_run_repeats: int  # repeats of the batched runs to convergence; the loops run once

    def __post_init__(self) -> None:
        if self.loops_converge and set(self.converge) != set(FAMILIES):
            raise ValueError("loops run to convergence only where the batched solver does, for every family")


SHAPES = {
    "small": Shape(n=50, d=200, k=5, m=64, converge=FAMILIES, loops_converge=True, fixed_steps=0,
                   per_iteration_steps=(100, 600), repeats=5, full_run_repeats=3),
    "large": Shape(n=1024, d=4096, k=8, m=32, converge=("gd",), loops_converge=False, fixed_steps=3,
                   per_iteration_steps=(2, 6), repeats=3, full_run_repeats=1),
}
# Length of the traced batched run at shapes whose loops do not run to convergence.
# Every run retires at max_iter at its end, so the trace covers retire() too.
MEMORY_STEPS = 12


def build_problem(shape: Shape, family: str) -> tuple[Problem, dspgd.RowSpace, dspgd.Preconditioner, dspgd.Loss]:
    """Draw Gaussian data and the step-size grid for one shape and family."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((shape.n, shape.d))
    Y = rng.standard_normal((shape.n, shape.k))
    W0 = np.zeros((shape.d, shape.k))
    space = dspgd.RowSpace.from_design(X)
    preconditioner = dspgd.make_preconditioner(family, **HYPERPARAMETERS[family])
    loss = dspgd.make_loss("squared")
    eta = np.linspace(*ETA_FRACTIONS, shape.m) * dspgd.eta_max(space, preconditioner, loss)
    W_gd = dspgd.gd_limit(X, Y, W0)
    problem = Problem(
        X=X,
        Y=Y,
        W0=W0,
        eta=eta,
        family=family,
        hyperparameter=next(iter(HYPERPARAMETERS[family].values()), 0.0),
        step_scale=float(np.linalg.norm(W_gd - W0)),
        label_norm=float(np.linalg.norm(Y)),
    )
    return problem, space, preconditioner, loss


def summarize(timing: Timing, run_iterations: int, flops_per_run_iteration: float) -> dict[str, Any]:
    """Timing plus throughput: run-iterations per second and effective GFLOP/s of the two products."""
    return {
        **timing.as_dict(),
        "run_iterations": int(run_iterations),
        "run_iterations_per_second": run_iterations / timing.wall,
        "gflops": run_iterations * flops_per_run_iteration / timing.wall / 1e9,
    }


def agreement(outcomes: list[RunOutcome], result: dspgd.BatchResult) -> dict[str, Any]:
    """Compare per-run outcomes with the batched result on the runs that both call converged."""
    statuses = np.array([outcome.status for outcome in outcomes])
    both = (statuses == "converged") & (result.status == "converged")
    differences = [
        np.linalg.norm(outcome.W - result.W[i]) / np.linalg.norm(result.W[i])
        for i, outcome in enumerate(outcomes)
        if both[i]
    ]
    iterations = np.array([outcome.iterations for outcome in outcomes])
    return {
        "same_status": bool(np.array_equal(statuses, result.status)),
        "max_iteration_difference": int(np.max(np.abs(iterations - result.iterations))),
        "max_relative_difference_of_W": float(max(differences)) if differences else None,
    }


def bench_family(shape: Shape, family: str) -> dict[str, Any]:
    """Time every method on one shape and family; return the JSON record."""
    problem, space, preconditioner, loss = build_problem(shape, family)
    n, d, k, m = shape.n, shape.d, shape.k, shape.m
    flops = 4.0 * n * d * k  # two products of 2 n d k flops per run and iteration

    def batched(options: dspgd.SolverOptions) -> dspgd.BatchResult:
        X, Y, W0, eta = problem.X, problem.Y, problem.W0, problem.eta
        return dspgd.run_batch(X, Y, W0, eta, preconditioner, loss, options, space=space)

    def fixed_length(steps: int) -> dspgd.SolverOptions:
        return dspgd.SolverOptions(tol=NEVER, step_tol=NEVER, max_iter=steps)

    record: dict[str, Any] = {"family": family, "hyperparameters": HYPERPARAMETERS[family]}
    calls = max(2, int(2e9 // (flops * m)))  # about 2 GFLOP, or 50 ms at 40 GFLOP/s, per sample
    products = products_of_one_iteration(n, d, m * k, calls)
    iteration_timing, bound_timing = iteration_and_bound(
        lambda steps: batched(fixed_length(steps)), shape.per_iteration_steps, products, calls, shape.repeats
    )
    record["gemm_bound"] = summarize(bound_timing, m, flops)
    record["batched_per_iteration"] = summarize(iteration_timing, m, flops)
    # The loops' own floor: the same two products for one run, k columns instead of m k.
    single_calls = max(2, int(2e9 // flops))
    single_run, _ = best_of(products_of_one_iteration(n, d, k, single_calls), shape.repeats)
    record["single_run_gemm_bound"] = summarize(single_run.scaled(1.0 / single_calls), 1, flops)

    result = None
    if family in shape.converge:
        timing, result = best_of(lambda: batched(dspgd.SolverOptions()), shape.full_run_repeats)
        record["batched"] = summarize(timing, int(result.iterations.sum()), flops)
        record["batched"]["batch_iterations"] = int(result.iterations.max())
        record["batched"]["statuses"] = sorted(set(result.status.tolist()))

    steps = None if shape.loops_converge else shape.fixed_steps
    for name, runner in (("loop", run_numpy), ("torch", run_torch)):
        runner(problem, float(problem.eta[0]), dspgd.SolverOptions(), 1)  # the first call pays one-time set-up
        timing, outcomes = best_of(lambda runner=runner: run_all(runner, problem, dspgd.SolverOptions(), steps), 1)
        if steps is None:
            record[name] = summarize(timing, sum(outcome.iterations for outcome in outcomes), flops)
            record[name]["agreement_with_batched"] = agreement(outcomes, result)
        else:
            record[name] = summarize(timing, m * steps, flops)

    memory_options = dspgd.SolverOptions() if shape.loops_converge else fixed_length(MEMORY_STEPS)
    record["memory"] = memory_record(problem, space, lambda: batched(memory_options), m)
    peak_with_row_space = traced_peak_bytes(
        lambda: dspgd.run_batch(problem.X, problem.Y, problem.W0, problem.eta, preconditioner, loss, memory_options)
    )
    record["memory"]["peak_over_data_plus_iterates_with_row_space"] = (
        record["memory"]["data_bytes"] + peak_with_row_space
    ) / (record["memory"]["data_bytes"] + record["memory"]["iterate_bytes"])
    loop_peak = traced_peak_bytes(lambda: run_all(run_numpy, problem, dspgd.SolverOptions(), 5))
    record["loop"]["peak_bytes"] = record["memory"]["data_bytes"] + loop_peak
    record["torch"]["peak_bytes"] = None  # tracemalloc does not track PyTorch's allocator
    record["ratios"] = ratios(record, shape.loops_converge, m)
    return record


def memory_record(problem: Problem, space: dspgd.RowSpace, run: Any, m: int) -> dict[str, Any]:
    """Peak memory of one batched run against the data and the batch's iterates.

    The run reuses a precomputed :class:`dspgd.RowSpace`; its ``Q`` factor is as
    large as ``X`` and is reported separately as ``row_space_bytes``.
    """
    data_bytes = problem.X.nbytes + problem.Y.nbytes + problem.W0.nbytes
    iterate_bytes = problem.W0.nbytes * m
    peak = traced_peak_bytes(run)
    return {
        "data_bytes": data_bytes,
        "iterate_bytes": iterate_bytes,
        "row_space_bytes": space.Q.nbytes + space.R.nbytes,
        "run_batch_peak_bytes": peak,
        "peak_bytes": data_bytes + peak,
        "peak_over_data_plus_iterates": (data_bytes + peak) / (data_bytes + iterate_bytes),
    }


def ratios(record: dict[str, Any], converge: bool, m: int) -> dict[str, Any]:
    """Speedups over the loops and the fraction of the product bound, from wall-clock and CPU seconds.

    ``loop_over_gemm_bound`` is the loop's time per run-iteration over the bound's
    time per run-iteration: the speedup over the loop that a solver costing only
    its two products, with all ``m`` runs active, would reach.
    """
    bound = record["gemm_bound"]
    iteration = record["batched_per_iteration"]
    values: dict[str, Any] = {}
    for clock in ("wall", "cpu"):
        suffix = "" if clock == "wall" else "_cpu"
        values["fraction_of_gemm_bound" + suffix] = bound[clock] / iteration[clock]
        for name in ("loop", "torch"):
            per_run_iteration = record[name][clock] / record[name]["run_iterations"]
            if converge:
                speedup = record[name][clock] / record["batched"][clock]
            else:
                speedup = per_run_iteration * m / iteration[clock]
            values[f"speedup_vs_{name}{suffix}"] = speedup
        loop_per_run_iteration = record["loop"][clock] / record["loop"]["run_iterations"]
        values["loop_over_gemm_bound" + suffix] = loop_per_run_iteration * m / bound[clock]
    values["speedup_basis"] = "time to convergence" if converge else "time per iteration of all m runs"
    return values


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS and PyTorch threads for every method (default 1, so the numbers "
                             "compare single-core work and vary less on a shared machine)")
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES),
                        help="shapes to run (default: all)")
    parser.add_argument("--scaling", action="store_true",
                        help="also measure time per iteration against d and m and write benchmarks/scaling.png")
    parser.add_argument("--output", type=Path, default=HERE / "results.json", help="JSON file to write")
    arguments = parser.parse_args(argv)
    if arguments.threads < 1:
        parser.error(f"invalid --threads {arguments.threads}; expected a positive integer")
    return arguments


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    torch.set_num_threads(arguments.threads)

    with threadpoolctl.threadpool_limits(limits=arguments.threads, user_api="blas"):
        results: dict[str, Any] = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": machine_facts(arguments.threads),
            "settings": {
                "loss": "squared",
                "W0": "zeros",
                "data": "X and Y standard normal, seed 0",
                "eta_fractions_of_eta_max": list(ETA_FRACTIONS),
                "solver_options": asdict(dspgd.SolverOptions()),
                "timings": "best of repeats; per-iteration costs from the difference of two run lengths",
            },
            "shapes": {},
        }
        for name in arguments.shapes:
            shape = SHAPES[name]
            families = {family: bench_family(shape, family) for family in FAMILIES}
            results["shapes"][name] = {"shape": asdict(shape), "families": families}
        if arguments.scaling:
            from scaling import measure_scaling, plot_scaling

            results["scaling"] = measure_scaling()
            plot_scaling(results["scaling"], HERE / "scaling.png")

    results["goals"] = evaluate_goals(results["shapes"])
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    print_table(results)
    arguments.output.write_text(json.dumps(results, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
