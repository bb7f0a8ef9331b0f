"""Figure C1: relative residual and distance to the limit against iteration, per preconditioner and loss."""

import matplotlib.pyplot as plt
import numpy as np

from dspgd.io import load_npz
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, clip_to_floor, draw_floor, palette, save_figure

logger = start_job(snakemake, "figure C1")
apply_style()
params = snakemake.params
runs = {label: load_npz(path) for label, path in zip(params.labels, snakemake.input.runs, strict=True)}
losses = list(dict.fromkeys(runs[params.labels[0]]["loss"].tolist()))
colours = palette(params.labels)

figure, axes = plt.subplots(len(losses), 2, figsize=(TEXT_WIDTH, 1.9 * len(losses)), sharex=True, squeeze=False)
for row, loss in enumerate(losses):
    for label, arrays in runs.items():
        chosen = np.flatnonzero(
            (arrays["replicate"] == 0)
            & (arrays["loss"] == loss)
            & np.isclose(arrays["eta_fraction"], params.eta_fraction)
        )
        if chosen.size == 0:
            continue
        run = chosen[0]
        iterations = arrays["trajectory_iteration"] + 1
        start_distance = arrays["trajectory_distance_to_gd"][0, run]
        residual, _ = clip_to_floor(arrays["trajectory_relative_residual"][:, run])
        distance, _ = clip_to_floor(arrays["trajectory_distance_to_limit"][:, run] / start_distance)
        axes[row, 0].plot(iterations, residual, color=colours[label], label=label, linewidth=1.0)
        axes[row, 1].plot(iterations, distance, color=colours[label], label=label, linewidth=1.0)
    axes[row, 0].set_ylabel(f"loss: {loss}")
    for axis in axes[row]:
        axis.set_xscale("log")
        axis.set_yscale("log")
        draw_floor(axis)
for axis in axes[-1]:
    axis.set_xlabel("iteration + 1")
axes[0, 0].set_title(r"relative residual $\|XW_t - Y\| / \|Y\|$")
axes[0, 1].set_title(r"distance to the limit $\|W_t - W_\infty\| / \|W_0 - W_{GD}\|$")
axes[0, 1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title="preconditioner")
figure.suptitle(f"C1: convergence on {params.dataset}, replicate 0, " rf"$\eta = {params.eta_fraction}\,\eta_{{max}}$")
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("wrote %s", list(snakemake.output))
