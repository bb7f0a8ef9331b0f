"""Figure (extension): what the constant c of claim C4 depends on.

Largest rho per preconditioner against d/n, against cond(XX^T) (one point per
data set replicate), against the start scale (entry scale of W0, 0 for a zero
start) and against the smoothing eps (every family with an eps). Each point is
the maximum over every other setting that shares its x value.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from dspgd.claims import evidence_runs, read_limit_tables
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, palette, save_figure

logger = start_job(snakemake, "figure rho dependence")
apply_style()
table = read_limit_tables(snakemake.input.tables)
runs = evidence_runs(table)
chosen = runs[runs["preconditioner"].isin(snakemake.params.labels)]
with_eps = runs[runs["eps"].notna()] if "eps" in runs else runs.iloc[0:0]
families = sorted(set(chosen["family"]) | set(with_eps["family"]))
colours = palette(families)


def label_ticks(axis, values):
    """Put one labelled tick at every distinct x value instead of the log axis defaults."""
    axis.set_xticks(np.sort(np.unique(values)))
    axis.xaxis.set_major_formatter("{x:.3g}")
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.tick_params(axis="x", rotation=90, labelsize=5)


figure, axes = plt.subplots(1, 4, figsize=(TEXT_WIDTH, 2.6), sharey=True)
for label, group in chosen.groupby("preconditioner", sort=True):
    colour = colours[group["family"].iloc[0]]
    by_aspect = group.groupby("aspect")["rho"].max()
    axes[0].plot(by_aspect.index, by_aspect.to_numpy(), marker="o", markersize=2.5, linewidth=0.8, color=colour,
                 label=label)
    by_replicate = group.groupby(["dataset", "replicate"]).agg(x=("gram_condition", "first"), rho=("rho", "max"))
    axes[1].scatter(by_replicate["x"], by_replicate["rho"], s=5, color=colour)
    by_start = group.groupby("start_scale")["rho"].max()
    axes[2].plot(by_start.index, by_start.to_numpy(), marker="o", markersize=2.5, linewidth=0.8, color=colour)
for family, group in with_eps.groupby("family", sort=True):
    by_eps = group.groupby("eps")["rho"].max()
    axes[3].plot(by_eps.index, by_eps.to_numpy(), marker="s", markersize=2.5, linewidth=0.8, color=colours[family],
                 label=family)

axes[0].set_xscale("log")
label_ticks(axes[0], chosen["aspect"])
axes[0].set_xlabel("$d / n$")
axes[1].set_xscale("log")
axes[1].set_xlabel(r"cond$(XX^\top)$")
# A zero start has scale 0, so the axis is linear up to the smallest random scale.
positive = chosen.loc[chosen["start_scale"] > 0, "start_scale"]
axes[2].set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)
label_ticks(axes[2], chosen["start_scale"])
axes[2].set_xlabel("start scale of $W_0$ (0: zero start)")
axes[3].set_xscale("log")
axes[3].set_xlabel(r"smoothing $\varepsilon$")
axes[0].set_ylabel(r"largest $\rho$")
for axis in axes:
    axis.axhline(1.0, color="0.5", linewidth=0.6)
axes[0].legend(loc="upper left", bbox_to_anchor=(0.0, -0.32), ncol=3, frameon=False, fontsize=5,
               title="panels 1-3: preconditioner", title_fontsize=5)
axes[3].legend(loc="upper left", bbox_to_anchor=(-0.6, -0.32), ncol=2, frameon=False, fontsize=5,
               title="panel 4: family", title_fontsize=5)
figure.suptitle("Extension: largest $\\rho$ against the problem and preconditioner settings", y=1.02)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("wrote %s", list(snakemake.output))
