"""Figure style and deterministic saving for the pipeline's figures.

Figures use matplotlib's bundled DejaVu Sans font, so they do not depend on the
fonts a machine has, and are saved without timestamps or version strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from dspgd.io import atomic_path  # noqa: E402

__all__ = [
    "FLOOR",
    "SYMMETRY_MARKERS",
    "apply_style",
    "clip_to_floor",
    "draw_floor",
    "draw_median_band",
    "draw_strip",
    "draw_strips_by_class",
    "palette",
    "save_figure",
    "strip_offsets",
]

#: Line on logarithmic axes where exact zeros and smaller values are drawn.
FLOOR = 1e-17

#: Paper text width and column width in inches.
TEXT_WIDTH = 7.0
COLUMN_WIDTH = 3.4

SYMMETRY_MARKERS = {
    "isotropic": "o",
    "left-orthogonal": "s",
    "right-orthogonal": "D",
    "separable": "^",
    "quadratic": "v",
}

_METADATA = {
    ".pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    ".png": {"Software": None},
    ".svg": {"Date": None, "Creator": None},
}


#: Metadata field for a figure's provenance, per format.
_PROVENANCE_KEY = {".pdf": "Subject", ".png": "Description", ".svg": "Description"}


def apply_style() -> None:
    """Set a colour-blind-safe seaborn theme with a bundled font and fixed SVG ids."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font="DejaVu Sans")
    plt.rcParams.update(
        {
            "font.size": 8,
            "axes.titlesize": 8,
            "axes.labelsize": 8,
            "legend.fontsize": 7,
            "xtick.labelsize": 7,
            "ytick.labelsize": 7,
            "svg.hashsalt": "dspgd",
            "svg.fonttype": "path",
            "pdf.fonttype": 42,
            "savefig.dpi": 200,
        }
    )


def palette(labels: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """Map labels (sorted) to colours of seaborn's colour-blind palette, cycling past ten."""
    ordered = sorted(set(labels))
    colours = sns.color_palette("colorblind", n_colors=max(len(ordered), 1))
    return dict(zip(ordered, colours, strict=False))


def clip_to_floor(values: Sequence[float] | np.ndarray, floor: float = FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """Return values raised to ``floor`` for a log axis and the mask of entries that were raised."""
    array = np.asarray(values, dtype=np.float64)
    raised = np.isfinite(array) & (array < floor)
    return np.where(raised, floor, array), raised


def draw_floor(axis: plt.Axes, floor: float = FLOOR, label: str = "exact 0 / below") -> None:
    """Draw the floor line that clipped values sit on, so they are marked rather than dropped."""
    axis.axhline(floor, color="0.5", linewidth=0.6, linestyle=":")
    axis.annotate(
        label, (0.99, floor), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=6, color="0.4"
    )


def strip_offsets(count: int, width: float = 0.6) -> np.ndarray:
    """Return ``count`` evenly spread horizontal offsets in ``[-width/2, width/2]`` for a strip plot.

    Used in place of random jitter, so a strip plot has the same bytes on every run.
    """
    if count <= 1:
        return np.zeros(count)
    return np.linspace(-width / 2, width / 2, count)


def draw_strip(axis: plt.Axes, position: float, values: Sequence[float], **style: object) -> None:
    """Scatter ``values`` around the horizontal ``position``, spread by :func:`strip_offsets`."""
    values = np.asarray(values, dtype=np.float64)
    axis.scatter(position + strip_offsets(values.size), values, **style)


def draw_strips_by_class(
    axis: plt.Axes, runs: pd.DataFrame, column: str, colours: Mapping[str, Any], **style: object
) -> list[str]:
    """Draw one strip of ``runs[column]`` per preconditioner, coloured and marked by its symmetry class.

    Strips follow the preconditioners' order of first appearance in ``runs``, and
    the x axis is labelled with their names. Each class in ``colours`` gets one
    legend entry. ``style`` goes to every strip. Returns the names in strip order.
    """
    labels = list(dict.fromkeys(runs["preconditioner"]))
    for position, label in enumerate(labels):
        group = runs[runs["preconditioner"] == label]
        symmetry = group["symmetry"].iloc[0]
        draw_strip(axis, position, group[column], color=colours[symmetry],
                   marker=SYMMETRY_MARKERS.get(symmetry, "o"), **style)
    for symmetry, colour in colours.items():
        axis.scatter([], [], s=12, color=colour, marker=SYMMETRY_MARKERS.get(symmetry, "o"), label=symmetry)
    axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    return labels


def draw_median_band(axis: plt.Axes, x: Sequence[float], y: Sequence[float], **style: object) -> None:
    """Draw the median of ``y`` at each distinct ``x`` and a band from its minimum to its maximum.

    The band spans the observed extremes rather than a bootstrap interval, so it needs no random numbers.
    ``style`` goes to the median line; the band takes its colour.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    levels = np.unique(x)
    groups = [y[x == level] for level in levels]
    axis.plot(levels, [np.median(group) for group in groups], **style)
    axis.fill_between(levels, [group.min() for group in groups], [group.max() for group in groups],
                      color=style.get("color"), alpha=0.15, linewidth=0)


def save_figure(
    figure: plt.Figure, paths: Iterable[str | os.PathLike[str]], provenance: Mapping[str, Any] | None = None
) -> None:
    """Save ``figure`` to every path (format from the suffix) without timestamps, atomically.

    ``provenance`` (for example :func:`dspgd.pipeline.figure_provenance`) is stored as
    canonical JSON in the PDF ``Subject`` and the PNG and SVG ``Description`` fields.
    """
    text = None if provenance is None else json.dumps(provenance, sort_keys=True, separators=(",", ":"), default=str)
    for path in paths:
        suffix = Path(path).suffix
        metadata = dict(_METADATA.get(suffix, {}))
        if text is not None and suffix in _PROVENANCE_KEY:
            metadata[_PROVENANCE_KEY[suffix]] = text
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=suffix.lstrip("."), metadata=metadata, bbox_inches="tight")
    plt.close(figure)
