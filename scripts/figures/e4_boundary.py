"""Figure E4 (extension): constant-step behaviour at the boundary of the assumptions.

Left: residual floor of the non-smooth families that stall, against eta, with
dashed lines of the predicted slope 1/(2 - p). Middle: relative residual
against iteration for every non-smooth family on replicate 0 of one data set
at the middle step size, with the predicted t^(-1/(p-2)) decay for p > 2.
Right: median iterations to converge of the smoothed variants against eps.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from dspgd.claims import read_limit_tables
from dspgd.extensions import SMOOTHED_COUNTERPARTS, boundary_prediction
from dspgd.io import load_npz
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, palette, save_figure

logger = start_job(snakemake, "figure E4")
apply_style()
table = read_limit_tables(snakemake.input.tables)
boundary = table[~table["smooth_preconditioner"]].copy()
predictions = {
    label: boundary_prediction(group["family"].iloc[0], group["p"].iloc[0] if "p" in group else None)
    for label, group in boundary.groupby("preconditioner")
}
colours = palette(predictions)
figure, (left, middle, right) = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 2.6))

for label, group in boundary.groupby("preconditioner", sort=True):
    regime, exponent = predictions[label]
    if regime != "floor":
        continue
    left.scatter(group["eta_fraction"], group["tail_residual_max"], s=6, color=colours[label], label=label)
    x = np.sort(group["eta_fraction"].unique())
    anchor = np.exp(np.mean(np.log(group["tail_residual_max"])) - exponent * np.mean(np.log(group["eta_fraction"])))
    left.plot(x, anchor * x**exponent, color=colours[label], linewidth=0.7, linestyle="--")
left.set_xscale("log")
left.set_yscale("log")
left.set_xticks(np.sort(boundary["eta_fraction"].unique()))
left.xaxis.set_major_formatter("{x:g}")
left.xaxis.set_minor_formatter(NullFormatter())
left.set_xlabel(r"$\eta / \eta_{max}$ of gradient descent")
left.set_ylabel("residual floor (tail maximum)")
left.set_title("floor; dashed: slope $1/(2-p)$")
left.legend(loc="upper left", frameon=False, fontsize=5)

fractions = np.sort(boundary["eta_fraction"].unique())
fraction = fractions[len(fractions) // 2]
dataset = sorted(boundary["dataset"].unique())[0]
trajectory_rows = boundary[(boundary["dataset"] == dataset) & (boundary["replicate"] == 0)
                 & (boundary["eta_fraction"] == fraction)]
for _, row in trajectory_rows.sort_values("preconditioner").iterrows():
    runs = load_npz(row["iterate_file"])
    iteration = runs["trajectory_iteration"]
    residual = runs["trajectory_relative_residual"][:, int(row["run_index"])]
    middle.plot(iteration[1:], residual[1:], color=colours[row["preconditioner"]], linewidth=0.9,
                label=row["preconditioner"])
    regime, exponent = predictions[row["preconditioner"]]
    if regime == "sublinear":
        # The reference line covers the last two decades and ends on the run's last sample.
        late = iteration >= iteration[-1] / 100
        end = residual[np.isfinite(residual)][-1]
        middle.plot(iteration[late], end * (iteration[late] / iteration[-1]) ** exponent, color="black",
                    linewidth=0.9, linestyle=":", label=f"$t^{{{exponent:g}}}$")
middle.set_xscale("log")
middle.set_yscale("log")
middle.set_xlabel("iteration $t$")
middle.set_ylabel(r"$\|XW_t - Y\| / \|Y\|$")
middle.set_title(f"{dataset}, $\\eta/\\eta_{{max}}$ = {fraction:g}", fontsize=6)
middle.legend(loc="lower left", frameon=False, fontsize=5)

smoothed = table[table["family"].isin(list(SMOOTHED_COUNTERPARTS.values())) & table["in_assumptions"]]
colours = palette(smoothed["family"])
for family, group in smoothed.groupby("family", sort=True):
    summary = group.groupby("eps")["iterations"].agg(["median", "min", "max"]).reset_index()
    right.plot(summary["eps"], summary["median"], marker="o", markersize=3, color=colours[family], label=family)
    right.fill_between(summary["eps"], summary["min"], summary["max"], color=colours[family], alpha=0.12,
                       linewidth=0)
if len(smoothed):
    # Slope -1 through the largest median at the smallest eps, the growth expected as eps -> 0.
    eps = np.sort(smoothed["eps"].unique())
    top = smoothed[smoothed["eps"] == eps[0]].groupby("family")["iterations"].median().max()
    right.plot(eps, top * eps[0] / eps, color="black", linewidth=0.7, linestyle=":", label=r"$\propto 1/\varepsilon$")
right.set_xscale("log")
right.set_yscale("log")
right.set_xlabel(r"smoothing $\varepsilon$")
right.set_ylabel("iterations to converge")
right.set_title("smoothed variants (median, range)")
right.legend(loc="upper right", frameon=False, fontsize=5)
figure.suptitle("E4 (extension): non-smooth $K$ at a constant step, outside the assumptions", y=1.03)
figure.tight_layout()
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("wrote %s", list(snakemake.output))
