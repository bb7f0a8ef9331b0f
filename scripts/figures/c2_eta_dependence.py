"""Figure C2: how the limit depends on eta / eta_max, per preconditioner, against the numerical floor.

Left: distance of the limit to W_GD. Right: distance to the limit reached at the
largest step size of the same (data set, replicate, loss), which isolates the
dependence on eta.
"""

import matplotlib.pyplot as plt

from dspgd.claims import evidence_runs, numerical_floor, read_limit_tables
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import (
    SYMMETRY_MARKERS,
    TEXT_WIDTH,
    apply_style,
    clip_to_floor,
    draw_floor,
    draw_median_band,
    palette,
    save_figure,
)

logger = start_job(snakemake, "figure C2")
apply_style()
table = read_limit_tables(snakemake.input.tables)
floor = numerical_floor(table)
runs = evidence_runs(table).copy()
# The reference step of each group has spread 0 by definition; it carries no information.
largest = runs.groupby(["experiment", "dataset", "replicate", "loss", "preconditioner"])["eta_fraction"].transform(
    "max"
)
compared = runs[runs["eta_fraction"] < largest]
colours = palette(runs["preconditioner"])


def draw(axis, frame, column):
    for (label, symmetry), group in frame.groupby(["preconditioner", "symmetry"], sort=True):
        draw_median_band(
            axis,
            group["eta_fraction"],
            clip_to_floor(group[column])[0],
            color=colours[label],
            marker=SYMMETRY_MARKERS.get(symmetry, "o"),
            markersize=3,
            linewidth=1.0,
            label=f"{label} ({symmetry})",
        )
    axis.axhline(floor, color="black", linewidth=0.8, linestyle="--")
    axis.annotate(
        f"numerical floor {floor:.1e}", (0.01, floor), xycoords=("axes fraction", "data"), va="bottom", fontsize=6
    )
    draw_floor(axis)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel(r"$\eta / \eta_{max}$")


figure, (left, right) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.0), sharex=True, sharey=True)
draw(left, runs, "dist_gd")
left.set_ylabel("distance, relative to $\\|W_{GD} - W_0\\|$")
left.set_title(r"$\|W_\infty(\eta) - W_{GD}\|$")
draw(right, compared, "eta_spread")
right.set_title(r"$\|W_\infty(\eta) - W_\infty(\eta_{largest})\|$")
right.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
figure.suptitle("C2: the limit moves with $\\eta$ unless $K$ is left-orthogonally invariant or quadratic", y=1.02)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("wrote %s", list(snakemake.output))
