"""Figure C3: distribution of the distance to W_GD, isotropic against other preconditioners."""

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from dspgd.claims import numerical_floor
from dspgd.pipeline import start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, clip_to_floor, draw_floor, save_figure

logger = start_job(snakemake, "figure C3")
apply_style()
table = pd.concat([pd.read_csv(path) for path in snakemake.input.tables], ignore_index=True)
floor = numerical_floor(table)
runs = table[table["in_assumptions"] & (table["status"] == "converged")].copy()
runs["shown"], raised = clip_to_floor(runs["dist_gd"])
runs["class"] = runs["symmetry"].where(runs["symmetry"] == "isotropic", "not isotropic: " + runs["symmetry"])
order = runs.sort_values(["symmetry", "preconditioner"])["preconditioner"].unique().tolist()

figure, axis = plt.subplots(figsize=(TEXT_WIDTH, 3.0))
sns.stripplot(data=runs, x="preconditioner", y="shown", hue="class", order=order, ax=axis, size=2.5, jitter=0.25,
              log_scale=True, palette="colorblind")
axis.axhline(snakemake.params.machine_precision, color="black", linewidth=0.8, linestyle="--")
axis.annotate(f"C3 threshold {snakemake.params.machine_precision:g}", (0.01, snakemake.params.machine_precision),
              xycoords=("axes fraction", "data"), va="bottom", fontsize=6)
axis.axhline(floor, color="0.3", linewidth=0.6, linestyle="-.")
draw_floor(axis)
axis.set_xlabel("")
axis.set_ylabel(r"$\|W_\infty - W_{GD}\| / \|W_{GD} - W_0\|$")
axis.tick_params(axis="x", rotation=30)
axis.set_title(f"C3: isotropic preconditioners reach $W_{{GD}}$ ({len(runs)} converged runs, {int(raised.sum())} at the floor)")
axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="declared class")
save_figure(figure, snakemake.output)
logger.info("wrote %s", list(snakemake.output))
