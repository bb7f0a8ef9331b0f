"""Rule `figure_c3`: distance of every converged run's limit to W_GD, by preconditioner (claim C3).

Colour marks the preconditioner's declared class; isotropic ones must sit below
the dashed threshold ``claims.machine_precision``.
"""

import matplotlib.pyplot as plt
import pandas as pd

from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import (
    SYMMETRY_MARKERS,
    TEXT_WIDTH,
    apply_style,
    clip_to_floor,
    draw_floor,
    draw_strip,
    palette,
    save_figure,
)

logger = start_job(snakemake, "figure_c3")
apply_style()
table = pd.concat([pd.read_csv(path) for path in snakemake.input.tables], ignore_index=True)
runs = table[table["status"] == "converged"].sort_values(["symmetry", "preconditioner", "dist_gd"], kind="stable")
colours = palette(runs["symmetry"])
figure, axis = plt.subplots(figsize=(TEXT_WIDTH, 2.6), layout="constrained")

labels = list(dict.fromkeys(runs["preconditioner"]))
for position, label in enumerate(labels):
    group = runs[runs["preconditioner"] == label]
    symmetry = group["symmetry"].iloc[0]
    draw_strip(axis, position, clip_to_floor(group["dist_gd"])[0], s=6, color=colours[symmetry],
               marker=SYMMETRY_MARKERS.get(symmetry, "o"), linewidths=0)
for symmetry, colour in colours.items():
    axis.scatter([], [], s=12, color=colour, marker=SYMMETRY_MARKERS.get(symmetry, "o"), label=symmetry)

threshold = snakemake.params.machine_precision
axis.axhline(threshold, color="0.2", linewidth=0.8, linestyle="--", label=f"C3 threshold {threshold:g}")
draw_floor(axis)
axis.set_yscale("log")
axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
axis.set_ylabel(r"$\|W_\infty - W_{GD}\| / \|W_{GD} - W_0\|$")
axis.legend(loc="upper left", frameon=False, ncols=2)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("%d converged runs; wrote %s", len(runs), ", ".join(snakemake.output))
