"""Figure E1 (extension): distance to W_GD of left-orthogonally invariant preconditioners and the control.

Left: every in-assumption run per preconditioner label. Right: the largest
distance per data set and invariance class, which shows that the property
holds on every data set and fails for the right-invariant control.
"""

import matplotlib.pyplot as plt
import seaborn as sns

from dspgd.claims import evidence_runs, numerical_floor, read_limit_tables
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import SYMMETRY_MARKERS, TEXT_WIDTH, apply_style, clip_to_floor, draw_floor, save_figure

logger = start_job(snakemake, "figure E1")
apply_style()
table = read_limit_tables(snakemake.input.tables)
threshold_control = snakemake.params.spread_factor * numerical_floor(table)
runs = evidence_runs(table)
runs = runs[runs["symmetry"].isin(["left-orthogonal", "right-orthogonal"])].copy()
runs["dist_gd_drawn"], _ = clip_to_floor(runs["dist_gd"])
order = runs.sort_values(["symmetry", "preconditioner"])["preconditioner"].unique().tolist()

figure, (left, right) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.0), gridspec_kw={"width_ratios": [1.2, 1.0]})
sns.stripplot(data=runs, x="preconditioner", y="dist_gd_drawn", hue="symmetry", order=order, ax=left, size=2,
              jitter=False, alpha=0.5, palette="colorblind", log_scale=True)
left.set_xlabel("")
left.set_ylabel(r"$\|W_\infty - W_{GD}\| / \|W_{GD} - W_0\|$")
plt.setp(left.get_xticklabels(), rotation=40, ha="right", rotation_mode="anchor")
left.legend(loc="center", bbox_to_anchor=(0.5, 0.7), frameon=False, title="invariance")

per_dataset = runs.groupby(["dataset", "symmetry"])["dist_gd"].max().reset_index()
datasets = sorted(per_dataset["dataset"].unique())
for symmetry, group in per_dataset.groupby("symmetry"):
    positions = [datasets.index(name) for name in group["dataset"]]
    values, _ = clip_to_floor(group["dist_gd"])
    right.scatter(positions, values, marker=SYMMETRY_MARKERS[symmetry], s=10, label=symmetry)
right.set_yscale("log")
right.set_xticks(range(len(datasets)), datasets, rotation=90, fontsize=4)
right.set_ylabel("largest distance per data set")
right.legend(loc="center", bbox_to_anchor=(0.5, 0.7), frameon=False)

for axis in (left, right):
    axis.axhline(snakemake.params.machine_precision, color="black", linewidth=0.8, linestyle="--")
    axis.axhline(threshold_control, color="black", linewidth=0.8, linestyle=":")
    draw_floor(axis)
left.annotate("E1 threshold", (0.01, snakemake.params.machine_precision), xycoords=("axes fraction", "data"),
              va="top", fontsize=6)
left.annotate("control must exceed", (0.01, threshold_control), xycoords=("axes fraction", "data"), va="bottom",
              fontsize=6)
figure.subplots_adjust(wspace=0.35)
figure.suptitle("E1 (extension): left-orthogonal invariance keeps the gradient descent limit", y=1.02)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("wrote %s", list(snakemake.output))
