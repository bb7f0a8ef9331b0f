"""Figure E2 (extension): the diagonal quadratic reaches its closed form at every eta, within the rho bound.

Left: distance of each limit to the closed form (at the floor) and to W_GD
(far from it) against eta / eta_max. Right: the largest rho per diagonal
against the bound sqrt(max D / min D).
"""

import matplotlib.pyplot as plt
import numpy as np

from dspgd.claims import read_limit_tables
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, clip_to_floor, draw_floor, palette, save_figure

logger = start_job(snakemake, "figure E2")
apply_style()
table = read_limit_tables(snakemake.input.tables)
runs = table[table["in_assumptions"] & (table["status"] == "converged") & (table["family"] == "diagonal")].copy()
runs["bound"] = np.sqrt(runs["curvature_L"] / runs["curvature_mu"])
colours = palette(runs["preconditioner"])

figure, (left, right) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.8))
for label, group in runs.groupby("preconditioner", sort=True):
    closed_form, _ = clip_to_floor(group["dist_closed_form"])
    left.scatter(group["eta_fraction"], closed_form, s=6, marker="o", color=colours[label], label=label)
    left.scatter(group["eta_fraction"], group["dist_gd"], s=6, marker="x", color=colours[label])
left.axhline(snakemake.params.machine_precision, color="black", linewidth=0.8, linestyle="--")
draw_floor(left)
left.set_xscale("log")
left.set_yscale("log")
left.set_xlabel(r"$\eta / \eta_{max}$")
left.set_ylabel("distance, relative to $\\|W_{GD} - W_0\\|$")
left.set_title("o: to the closed form, x: to $W_{GD}$")
left.legend(loc="center", bbox_to_anchor=(0.5, 0.62), frameon=False, fontsize=6)

largest = runs.groupby("preconditioner").agg(bound=("bound", "first"), rho=("rho", "max")).reset_index()
for _, row in largest.iterrows():
    right.scatter(row["bound"], row["rho"], s=14, color=colours[row["preconditioner"]])
line = np.geomspace(1.0, max(largest["bound"].max(), 1.5), 50)
right.plot(line, line, color="black", linewidth=0.8, linestyle="--", label=r"bound $\sqrt{\max D / \min D}$")
right.axhline(1.0, color="0.5", linewidth=0.6)
right.set_xscale("log")
right.set_yscale("log")
right.set_xlabel(r"$\sqrt{\max D / \min D}$")
right.set_ylabel(r"largest $\rho$")
right.legend(loc="upper left", frameon=False)
figure.suptitle("E2 (extension): diagonal quadratic, closed-form limit for every $\\eta$ and $\\rho$ bound", y=1.02)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("wrote %s", list(snakemake.output))
