"""Goals of the solver benchmark and the table it prints."""

from __future__ import annotations

from typing import Any

# (ratio key, shapes it applies to, comparison, threshold). Each shape and family
# meets a goal when its ratio compares with the threshold as stated.
GOALS = (
    ("fraction_of_gemm_bound", ("small", "large"), ">=", 0.75),
    ("speedup_vs_loop", ("small",), ">=", 3.0),
    ("speedup_vs_torch", ("small",), ">=", 10.0),
    ("peak_over_data_plus_iterates", ("small", "large"), "<=", 2.0),
)


def goal_value(record: dict[str, Any], key: str) -> float:
    if key == "peak_over_data_plus_iterates":
        return record["memory"][key]
    return record["ratios"][key]


def evaluate_goals(shapes: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one entry per goal, shape and family with the measured value and whether it is met."""
    entries = []
    for key, goal_shapes, comparison, threshold in GOALS:
        for shape_name in goal_shapes:
            if shape_name not in shapes:
                continue
            for family, record in shapes[shape_name]["families"].items():
                value = goal_value(record, key)
                met = value >= threshold if comparison == ">=" else value <= threshold
                entries.append({
                    "goal": f"{key} {comparison} {threshold:g}",
                    "shape": shape_name,
                    "family": family,
                    "value": value,
                    "value_cpu_time": record["ratios"].get(key + "_cpu"),
                    "met": bool(met),
                })
    return entries


def format_row(cells: list[str], widths: list[int]) -> str:
    """Left-align the first cell and right-align the others."""
    padded = [cells[0].ljust(widths[0])]
    padded += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
    return "  ".join(padded)


def print_table(results: dict[str, Any]) -> None:
    """Print the timings, the product bound and the goals as plain-text tables."""
    machine = results["machine"]
    print(f"{machine['cpu_model']}, {machine['logical_cores']} logical cores, "
          f"{machine['threads']} BLAS and PyTorch thread(s)")
    print(f"load average (1, 5, 15 min) at start {machine['load_average_at_start']}, "
          f"at end {machine['load_average_at_end']}")

    headers = ["family / method", "basis", "wall s", "cpu s", "run-it/s", "GFLOP/s", "peak MB", "speedup", "load"]
    widths = [22, 26, 9, 9, 10, 8, 8, 8, 5]
    for shape_name, shape_record in results["shapes"].items():
        shape = shape_record["shape"]
        print(f"\n{shape_name}: n={shape['n']} d={shape['d']} k={shape['k']} m={shape['m']}")
        print(format_row(headers, widths))
        for family, record in shape_record["families"].items():
            ratios = record["ratios"]
            rows = [
                ("gemm bound", "per iteration", record["gemm_bound"], None, ""),
                ("gemm bound, 1 run", "per iteration", record["single_run_gemm_bound"], None, ""),
                ("batched", "per iteration", record["batched_per_iteration"], None, ""),
                ("batched", "to convergence", record.get("batched"), record["memory"]["peak_bytes"], ""),
                ("loop", ratios["speedup_basis"], record["loop"], record["loop"]["peak_bytes"],
                 f"{ratios['speedup_vs_loop']:.1f}x"),
                ("torch", ratios["speedup_basis"], record["torch"], None, f"{ratios['speedup_vs_torch']:.1f}x"),
            ]
            for method, basis, timing, peak, speedup in rows:
                if timing is None:
                    continue
                if method in ("loop", "torch") and basis != "time to convergence":
                    basis = f"{timing['run_iterations']} run-iterations"
                cells = [
                    f"{family} / {method}",
                    basis,
                    f"{timing['wall']:.4g}",
                    f"{timing['cpu']:.4g}",
                    f"{timing['run_iterations_per_second']:.4g}",
                    f"{timing['gflops']:.3g}",
                    "" if peak is None else f"{peak / 1e6:.1f}",
                    speedup,
                    f"{timing['load_average_1min']:.1f}",
                ]
                print(format_row(cells, widths))
            print(f"{'':22}  fraction of gemm bound {ratios['fraction_of_gemm_bound']:.2f} "
                  f"(cpu {ratios['fraction_of_gemm_bound_cpu']:.2f}); speedup vs loop "
                  f"{ratios['speedup_vs_loop']:.2f} (cpu {ratios['speedup_vs_loop_cpu']:.2f}), at most "
                  f"{ratios['loop_over_gemm_bound']:.2f} (cpu {ratios['loop_over_gemm_bound_cpu']:.2f}) at the bound; "
                  f"peak / (data + iterates) {record['memory']['peak_over_data_plus_iterates']:.2f}")

    print("\ngoals, judged on wall-clock time (the CPU-time value in brackets)")
    for entry in results["goals"]:
        cpu = "" if entry["value_cpu_time"] is None else f" (cpu {entry['value_cpu_time']:.2f})"
        print(f"  {'met ' if entry['met'] else 'MISS'}  {entry['shape']:5} {entry['family']:11} "
              f"{entry['goal']:36} measured {entry['value']:.2f}{cpu}")
