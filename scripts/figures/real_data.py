"""Rule `figure_real_data`: claims C2-C4 on the real data set.

Left: distance of the limit to W_GD against the step size (median and min-max
band over replicates and losses). Right: rho per preconditioner, one point per run.
"""

import matplotlib.pyplot as plt
import pandas as pd

from dspgd.claims import evidence_runs
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import (
    SYMMETRY_MARKERS,
    TEXT_WIDTH,
    apply_style,
    clip_to_floor,
    draw_floor,
    draw_median_band,
    draw_strip,
    palette,
    save_figure,
)

logger = start_job(snakemake, "figure_real_data")
apply_style()
table = pd.read_csv(snakemake.input.table)
runs = evidence_runs(table)
runs = runs.sort_values(["symmetry", "preconditioner", "eta_fraction", "rho"], kind="stable")
colours = palette(runs["preconditioner"])
figure, (distance_axis, rho_axis) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.8), layout="constrained")

labels = list(dict.fromkeys(runs["preconditioner"]))
for position, label in enumerate(labels):
    group = runs[runs["preconditioner"] == label]
    marker = SYMMETRY_MARKERS.get(group["symmetry"].iloc[0], "o")
    draw_median_band(distance_axis, group["eta_fraction"], clip_to_floor(group["dist_gd"])[0],
                     color=colours[label], marker=marker, markersize=3, linewidth=0.9, label=label)
    draw_strip(rho_axis, position, group["rho"], s=8, color=colours[label], marker=marker, linewidths=0)

draw_floor(distance_axis)
distance_axis.set_xscale("log")
distance_axis.set_yscale("log")
distance_axis.set_xlabel(r"$\eta / \eta_{max}$")
distance_axis.set_ylabel(r"$\|W_\infty - W_{GD}\| / \|W_{GD} - W_0\|$")
distance_axis.set_title(", ".join(sorted(runs["dataset"].unique())))
rho_axis.axhline(1.0, color="0.2", linewidth=0.8, linestyle="--")
rho_axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
rho_axis.set_ylabel(r"$\rho = \|W_\infty - W_0\| / \|W_{GD} - W_0\|$")
figure.legend(loc="outside right center", frameon=False)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("%d runs; wrote %s", len(runs), ", ".join(snakemake.output))
