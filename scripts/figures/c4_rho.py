"""Rule `figure_c4`: rho = ||W_inf - W0|| / ||W_GD - W0|| per preconditioner (claim C4).

Every converged run inside the assumptions is one point; a star marks the
maximum of each preconditioner.
"""

import matplotlib.pyplot as plt
import pandas as pd

from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import SYMMETRY_MARKERS, TEXT_WIDTH, apply_style, draw_strip, palette, save_figure

logger = start_job(snakemake, "figure_c4")
apply_style()
table = pd.concat([pd.read_csv(path) for path in snakemake.input.tables], ignore_index=True)
runs = table[table["in_assumptions"] & (table["status"] == "converged")]
runs = runs.sort_values(["symmetry", "preconditioner", "rho"], kind="stable")
colours = palette(runs["symmetry"])
figure, axis = plt.subplots(figsize=(TEXT_WIDTH, 2.6), layout="constrained")

labels = list(dict.fromkeys(runs["preconditioner"]))
for position, label in enumerate(labels):
    group = runs[runs["preconditioner"] == label]
    symmetry = group["symmetry"].iloc[0]
    draw_strip(axis, position, group["rho"], s=6, color=colours[symmetry],
               marker=SYMMETRY_MARKERS.get(symmetry, "o"), linewidths=0)
    axis.scatter([position], [group["rho"].max()], s=40, marker="*", color="black", zorder=3)
for symmetry, colour in colours.items():
    axis.scatter([], [], s=12, color=colour, marker=SYMMETRY_MARKERS.get(symmetry, "o"), label=symmetry)

axis.axhline(1.0, color="0.2", linewidth=0.8, linestyle="--", label=r"$\rho = 1$ ($W_{GD}$)")
axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
axis.set_ylabel(r"$\rho = \|W_\infty - W_0\| / \|W_{GD} - W_0\|$")
axis.legend(loc="upper left", frameon=False, ncols=2)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("%d runs, largest rho %.6f; wrote %s", len(runs), runs["rho"].max(), ", ".join(snakemake.output))
