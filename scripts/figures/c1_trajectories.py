"""Rule `figure_c1`: residual and distance to the final iterate along the iterations (claim C1).

One line per (preconditioner, loss) on replicate 0 of the configured data set at
the configured fraction of eta_max; colour marks the preconditioner, line style the loss.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from dspgd.io import load_npz
from dspgd.pipeline import figure_provenance, start_job
from dspgd.plotting import TEXT_WIDTH, apply_style, clip_to_floor, draw_floor, palette, save_figure

LINE_STYLES = ("-", "--", ":", "-.")

logger = start_job(snakemake, "figure_c1")
params = snakemake.params
apply_style()
colours = palette(params.labels)
figure, (residual_axis, limit_axis) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.8), sharex=True,
                                                 layout="constrained")
losses = []

for label, path in zip(params.labels, snakemake.input.runs, strict=True):
    runs = load_npz(path)
    chosen = np.flatnonzero((runs["replicate"] == 0) & np.isclose(runs["eta_fraction"], params.eta_fraction))
    for index in chosen:
        loss = str(runs["loss"][index])
        if loss not in losses:
            losses.append(loss)
        style = {"color": colours[label], "linestyle": LINE_STYLES[losses.index(loss) % len(LINE_STYLES)],
                 "linewidth": 0.9}
        iteration = runs["trajectory_iteration"]
        residual_axis.plot(iteration, clip_to_floor(runs["trajectory_relative_residual"][:, index])[0], **style)
        limit_axis.plot(iteration, clip_to_floor(runs["trajectory_distance_to_limit"][:, index])[0], **style)
    logger.info("%s: %d trajectories from %s", label, chosen.size, path)

for axis, ylabel in ((residual_axis, r"$\|XW_t - Y\| / \|Y\|$"), (limit_axis, r"$\|W_t - W_{\mathrm{final}}\|_F$")):
    # Iteration 0 is the first sample, so the axis is linear below 1 and logarithmic above.
    axis.set_xscale("symlog", linthresh=1.0)
    axis.set_yscale("log")
    axis.set_xlabel("iteration")
    axis.set_ylabel(ylabel)
    draw_floor(axis)
residual_axis.set_title(f"{params.dataset}, replicate 0, $\\eta = {params.eta_fraction:g}\\,\\eta_{{max}}$")

handles = [Line2D([], [], color=colours[label], label=label) for label in params.labels]
handles += [Line2D([], [], color="0.3", linestyle=LINE_STYLES[i % len(LINE_STYLES)], label=loss)
            for i, loss in enumerate(losses)]
figure.legend(handles=handles, loc="outside right center", frameon=False)
save_figure(figure, snakemake.output, figure_provenance(snakemake))
logger.info("wrote %s", ", ".join(snakemake.output))
