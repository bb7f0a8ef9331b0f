"""Rule `figure_c2`: distance of the limit to W_GD against the step size (claim C2).

Lines are medians over data sets, replicates and losses of the converged runs
inside the assumptions; bands span the minimum to the maximum.
"""

import matplotlib.pyplot as plt
import pandas as pd

from dspgd.claims import numerical_floor
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import (
    COLUMN_WIDTH,
    SYMMETRY_MARKERS,
    apply_style,
    clip_to_floor,
    draw_floor,
    draw_median_band,
    palette,
    save_figure,
)

logger = start_job(snakemake, "figure_c2")
apply_style()
table = pd.concat([pd.read_csv(path) for path in snakemake.input.tables], ignore_index=True)
runs = table[table["in_assumptions"] & (table["status"] == "converged")]
colours = palette(runs["preconditioner"])
figure, axis = plt.subplots(figsize=(COLUMN_WIDTH, 2.8), layout="constrained")

for label, group in runs.groupby("preconditioner", sort=True):
    marker = SYMMETRY_MARKERS.get(group["symmetry"].iloc[0], "o")
    draw_median_band(axis, group["eta_fraction"], clip_to_floor(group["dist_gd"])[0], color=colours[label],
                     marker=marker, markersize=3, linewidth=0.9, label=label)

floor = numerical_floor(table)
axis.axhline(floor, color="0.2", linewidth=0.8, linestyle="--", label="numerical floor")
draw_floor(axis)
axis.set_xscale("log")
axis.set_yscale("log")
axis.set_xlabel(r"$\eta / \eta_{max}$")
axis.set_ylabel(r"$\|W_\infty - W_{GD}\| / \|W_{GD} - W_0\|$")
figure.legend(loc="outside right center", frameon=False)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("%d runs, numerical floor %.3e; wrote %s", len(runs), floor, ", ".join(snakemake.output))
