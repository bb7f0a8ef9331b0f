"""Rule `figure_c4`: rho = ||W_inf - W0|| / ||W_GD - W0|| per preconditioner (claim C4).

Every converged run inside the assumptions is one point; a star marks the
maximum of each preconditioner.
"""

import matplotlib.pyplot as plt

from dspgd.claims import evidence_runs, read_limit_tables
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, draw_strips_by_class, palette, save_figure

logger = start_job(snakemake, "figure_c4")
apply_style()
table = read_limit_tables(snakemake.input.tables)
runs = evidence_runs(table).sort_values(["symmetry", "preconditioner", "rho"], kind="stable")
colours = palette(runs["symmetry"])
figure, axis = plt.subplots(figsize=(TEXT_WIDTH, 2.6), layout="constrained")

labels = draw_strips_by_class(axis, runs, "rho", colours, s=6, linewidths=0)
largest = runs.groupby("preconditioner", sort=False)["rho"].max()
axis.scatter(range(len(labels)), largest[labels], s=40, marker="*", color="black", zorder=3)

axis.axhline(1.0, color="0.2", linewidth=0.8, linestyle="--", label=r"$\rho = 1$ ($W_{GD}$)")
axis.set_ylabel(r"$\rho = \|W_\infty - W_0\| / \|W_{GD} - W_0\|$")
axis.legend(loc="upper left", frameon=False, ncols=2)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("%d runs, largest rho %.6f; wrote %s", len(runs), runs["rho"].max(), ", ".join(snakemake.output))
