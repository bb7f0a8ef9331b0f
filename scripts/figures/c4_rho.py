"""Figure C4: distribution of rho = ||W_inf - W0|| / ||W_GD - W0|| per preconditioner, maximum marked."""

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from dspgd.pipeline import start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, save_figure

logger = start_job(snakemake, "figure C4")
apply_style()
table = pd.concat([pd.read_csv(path) for path in snakemake.input.tables], ignore_index=True)
runs = table[table["in_assumptions"] & (table["status"] == "converged")]
order = runs.sort_values(["symmetry", "preconditioner"])["preconditioner"].unique().tolist()

figure, axis = plt.subplots(figsize=(TEXT_WIDTH, 3.0))
sns.boxplot(data=runs, x="preconditioner", y="rho", order=order, ax=axis, color="0.85", fliersize=0, linewidth=0.7)
sns.stripplot(data=runs, x="preconditioner", y="rho", hue="dataset", order=order, ax=axis, size=2, jitter=0.25,
              palette="colorblind")
maxima = runs.groupby("preconditioner")["rho"].max()
for position, label in enumerate(order):
    axis.plot(position, maxima[label], marker="*", color="black", markersize=7, zorder=5)
    axis.annotate(f"{maxima[label]:.3g}", (position, maxima[label]), textcoords="offset points", xytext=(0, 4),
                  ha="center", fontsize=6)
axis.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
axis.set_xlabel("")
axis.set_ylabel(r"$\rho = \|W_\infty - W_0\| / \|W_{GD} - W_0\|$")
axis.tick_params(axis="x", rotation=30)
axis.set_title(r"C4: $\rho \geq 1$ and bounded; $\star$ marks the maximum per preconditioner")
axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="data set")
save_figure(figure, snakemake.output)
logger.info("wrote %s", list(snakemake.output))
