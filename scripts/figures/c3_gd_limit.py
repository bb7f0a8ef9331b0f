"""Rule `figure_c3`: distance of every converged run's limit to W_GD, by preconditioner (claim C3).

Colour marks the preconditioner's declared class; isotropic ones must sit below
the dashed threshold ``claims.machine_precision``.
"""

import matplotlib.pyplot as plt

from dspgd.claims import read_limit_tables
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import (
    TEXT_WIDTH,
    apply_style,
    clip_to_floor,
    draw_floor,
    draw_strips_by_class,
    palette,
    save_figure,
)

logger = start_job(snakemake, "figure_c3")
apply_style()
table = read_limit_tables(snakemake.input.tables)
runs = table[table["status"] == "converged"].sort_values(["symmetry", "preconditioner", "dist_gd"], kind="stable")
runs = runs.assign(dist_gd_drawn=clip_to_floor(runs["dist_gd"])[0])
colours = palette(runs["symmetry"])
figure, axis = plt.subplots(figsize=(TEXT_WIDTH, 2.6), layout="constrained")
draw_strips_by_class(axis, runs, "dist_gd_drawn", colours, s=6, linewidths=0)

threshold = snakemake.params.machine_precision
axis.axhline(threshold, color="0.2", linewidth=0.8, linestyle="--", label=f"C3 threshold {threshold:g}")
draw_floor(axis)
axis.set_yscale("log")
axis.set_ylabel(r"$\|W_\infty - W_{GD}\| / \|W_{GD} - W_0\|$")
axis.legend(loc="upper left", frameon=False, ncols=2)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("%d converged runs; wrote %s", len(runs), ", ".join(snakemake.output))
