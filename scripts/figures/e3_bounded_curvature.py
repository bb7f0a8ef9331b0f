"""Figure E3 (extension): measured rho against the conjectured bound sqrt(L / mu) for bounded curvature.

Left: every converged run, with the bound as the diagonal line. Right: the
ratio rho / sqrt(L / mu) per preconditioner; a point above 1 is a
counterexample, and the star marks the largest ratio.
"""

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dspgd.claims import read_limit_tables
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, palette, save_figure

logger = start_job(snakemake, "figure E3")
apply_style()
table = read_limit_tables(snakemake.input.tables)
runs = table[table["in_assumptions"] & (table["status"] == "converged") & table["curvature_mu"].notna()]
runs = runs[runs["symmetry"] != "isotropic"].copy()
runs["bound"] = np.sqrt(runs["curvature_L"] / runs["curvature_mu"])
runs["ratio"] = runs["rho"] / runs["bound"]
colours = palette(runs["family"])
order = runs.sort_values(["family", "bound"])["preconditioner"].unique().tolist()

figure, (left, right) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.0), gridspec_kw={"width_ratios": [1.0, 1.4]})
for family, group in runs.groupby("family", sort=True):
    left.scatter(group["bound"], group["rho"], s=4, alpha=0.6, color=colours[family], label=family)
line = np.geomspace(1.0, runs["bound"].max() * 1.1, 50)
left.plot(line, line, color="black", linewidth=0.8, linestyle="--", label=r"$\rho = \sqrt{L/\mu}$")
left.set_xscale("log")
left.set_yscale("log")
left.set_xlabel(r"$\sqrt{L_K / \mu}$")
left.set_ylabel(r"$\rho$")
left.legend(loc="upper left", frameon=False, fontsize=6)

sns.stripplot(
    data=runs,
    x="preconditioner",
    y="ratio",
    hue="family",
    order=order,
    ax=right,
    size=2,
    jitter=False,
    alpha=0.5,
    palette=colours,
    legend=False,
)
worst = runs.loc[runs["ratio"].idxmax()]
right.plot(order.index(worst["preconditioner"]), worst["ratio"], marker="*", color="black", markersize=8, zorder=5)
right.annotate(
    f"{worst['ratio']:.3f}",
    (order.index(worst["preconditioner"]), worst["ratio"]),
    textcoords="offset points",
    xytext=(0, 5),
    ha="center",
    fontsize=6,
)
right.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
right.set_xlabel("")
right.set_ylabel(r"$\rho / \sqrt{L_K / \mu}$")
right.tick_params(axis="x", rotation=60, labelsize=5)
figure.suptitle(r"E3 (extension, conjecture): $\rho \leq \sqrt{L_K/\mu}$ measured over random data sets", y=1.02)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("wrote %s; largest ratio %.4f", list(snakemake.output), worst["ratio"])
