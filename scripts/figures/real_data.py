"""Figure: claims C2-C4 on the real data set (digits through random Fourier features)."""

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from dspgd.pipeline import start_job
from dspgd.plotting import SYMMETRY_MARKERS, TEXT_WIDTH, apply_style, clip_to_floor, draw_floor, palette, save_figure

logger = start_job(snakemake, "figure real data")
apply_style()
table = pd.read_csv(snakemake.input.table)
runs = table[table["in_assumptions"] & (table["status"] == "converged")].copy()
colours = palette(runs["preconditioner"])

figure, (left, right) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.0), gridspec_kw={"width_ratios": [1.1, 1.0]})
for (label, symmetry), group in runs.groupby(["preconditioner", "symmetry"], sort=True):
    summary = group.groupby("eta_fraction")["dist_gd"].median()
    shown, _ = clip_to_floor(summary.to_numpy())
    left.plot(summary.index, shown, marker=SYMMETRY_MARKERS.get(symmetry, "o"), markersize=3, color=colours[label],
              label=label, linewidth=1.0)
draw_floor(left)
left.set_xscale("log")
left.set_yscale("log")
left.set_xlabel(r"$\eta / \eta_{max}$")
left.set_ylabel(r"$\|W_\infty - W_{GD}\| / \|W_{GD} - W_0\|$")
left.set_title("distance to $W_{GD}$ (C2, C3)")

order = runs.sort_values(["symmetry", "preconditioner"])["preconditioner"].unique().tolist()
sns.stripplot(data=runs, y="preconditioner", x="rho", order=order, ax=right, hue="preconditioner", palette=colours,
              size=3, legend=False)
right.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
right.set_xlabel(r"$\rho = \|W_\infty - W_0\| / \|W_{GD} - W_0\|$")
right.set_ylabel("")
right.set_title(r"$\rho$ (C4)")
datasets = ", ".join(sorted(runs["dataset"].unique()))
figure.suptitle(f"Real data: {datasets} (n={runs['n'].iloc[0]}, d={runs['d'].iloc[0]}, k={runs['k'].iloc[0]})")
left.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=4, frameon=False)
save_figure(figure, snakemake.output)
logger.info("wrote %s", list(snakemake.output))
