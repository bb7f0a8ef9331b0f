r"""Designs, labels and starting points for the experiments.

Every problem is generated from a :class:`numpy.random.SeedSequence` built
from ``(root seed, data set name, replicate)``, so a data set's bytes depend
on its name and replicate only, never on job order or Python's ``hash()``.

Designs (``X`` of shape ``(n, d)``, scaled so that ``E[X X^T] = I_n``-ish):

* ``gaussian``: i.i.d. :math:`N(0, 1/d)` entries.
* ``correlated``: rows :math:`N(0, \Sigma/d)` with the Toeplitz covariance
  :math:`\Sigma_{ij} = \rho^{|i-j|}`; ``rho = 0.98`` gives ``cond(X X^T)``
  near 2e3 at ``n = 50, d = 200``.
* ``student_t``: i.i.d. Student-t entries with ``df`` degrees of freedom,
  scaled to unit variance, divided by :math:`\sqrt d`.
* ``digits``: scikit-learn's bundled handwritten digits (no download),
  standardised pixels mapped through ``d`` random Fourier features
  :math:`\sqrt{2/d} \cos(a_j^\top x + b_j)`; labels are one-hot (``k = 10``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from dspgd._batch import Array

__all__ = ["DESIGNS", "Problem", "make_problem", "problem_seed"]

DESIGNS = ("gaussian", "correlated", "student_t", "digits")
LABELS = ("planted", "random")
STARTS = ("zero", "random")


@dataclass(frozen=True)
class Problem:
    """One generated problem: data, labels and start.

    Attributes:
        X: design, shape ``(n, d)``.
        Y: labels, shape ``(n, k)``.
        W0: start, shape ``(d, k)``.
        seed: the seed words that produced it (``SeedSequence.entropy`` and ``spawn_key``).
    """

    X: Array
    Y: Array
    W0: Array
    seed: dict[str, Any]


def problem_seed(root_seed: int, name: str, replicate: int) -> np.random.SeedSequence:
    """Return the seed sequence of a data set replicate.

    The name enters through the first four 32-bit words of its SHA-256 digest.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    name_words = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
    return np.random.SeedSequence(entropy=int(root_seed), spawn_key=name_words + (int(replicate),))


def _gaussian(rng: np.random.Generator, n: int, d: int, spec: dict[str, Any]) -> Array:
    return rng.standard_normal((n, d)) / np.sqrt(d)


def _correlated(rng: np.random.Generator, n: int, d: int, spec: dict[str, Any]) -> Array:
    rho = float(spec.get("rho", 0.98))
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"correlated design: invalid rho={rho!r}; expected 0 <= rho < 1")
    factor = np.linalg.cholesky(scipy.linalg.toeplitz(rho ** np.arange(d)))
    return rng.standard_normal((n, d)) @ factor.T / np.sqrt(d)


def _student_t(rng: np.random.Generator, n: int, d: int, spec: dict[str, Any]) -> Array:
    df = float(spec.get("df", 3.0))
    if df <= 2.0:
        raise ValueError(f"student_t design: invalid df={df!r}; expected df > 2 so the variance is finite")
    return rng.standard_t(df, size=(n, d)) / np.sqrt(df / (df - 2.0)) / np.sqrt(d)


def _digits(rng: np.random.Generator, n: int, d: int, spec: dict[str, Any]) -> tuple[Array, Array]:
    # Imported here so the numerical core does not need scikit-learn.
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = (digits.data - digits.data.mean(axis=0)) / (digits.data.std(axis=0) + 1e-12)
    if n > pixels.shape[0]:
        raise ValueError(f"digits design: n={n} exceeds the {pixels.shape[0]} images in the data set")
    chosen = np.sort(rng.choice(pixels.shape[0], size=n, replace=False))
    bandwidth = float(spec.get("bandwidth", 4.0))
    weights = rng.standard_normal((pixels.shape[1], d)) / bandwidth
    phases = rng.uniform(0.0, 2.0 * np.pi, size=d)
    X = np.sqrt(2.0 / d) * np.cos(pixels[chosen] @ weights + phases)
    Y = np.eye(10)[digits.target[chosen]]
    return X, Y


def make_problem(spec: dict[str, Any], root_seed: int, name: str, replicate: int) -> Problem:
    """Generate replicate ``replicate`` of the data set ``name`` described by ``spec``.

    ``spec`` keys: ``design`` (one of :data:`DESIGNS`), ``n``, ``d``, ``k``
    (ignored for ``digits``, which has ``k = 10``), ``labels`` (``planted``:
    ``Y = X W* + noise * N(0, 1)`` with ``W*`` of unit-variance entries; ``random``:
    i.i.d. ``N(0, 1)``), ``noise``, ``start`` (``zero`` or ``random``: i.i.d.
    ``N(0, start_scale^2)`` entries), ``start_scale``, and the design's own
    parameters (``rho``, ``df``, ``bandwidth``).
    """
    design = spec["design"]
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; choose one of: {', '.join(DESIGNS)}")
    n, d = int(spec["n"]), int(spec["d"])
    if d <= n:
        raise ValueError(f"data set {name!r}: d={d} must exceed n={n} in the overparameterized setting")
    sequence = problem_seed(root_seed, name, replicate)
    rng = np.random.Generator(np.random.PCG64(sequence))

    if design == "digits":
        X, Y = _digits(rng, n, d, spec)
        k = Y.shape[1]
    else:
        k = int(spec["k"])
        X = {"gaussian": _gaussian, "correlated": _correlated, "student_t": _student_t}[design](rng, n, d, spec)
        labels = spec.get("labels", "planted")
        if labels == "planted":
            planted = rng.standard_normal((d, k))
            Y = X @ planted + float(spec.get("noise", 0.1)) * rng.standard_normal((n, k))
        elif labels == "random":
            Y = rng.standard_normal((n, k))
        else:
            raise ValueError(f"unknown labels {labels!r}; choose one of: {', '.join(LABELS)}")

    start = spec.get("start", "zero")
    if start == "zero":
        W0 = np.zeros((d, k))
    elif start == "random":
        W0 = float(spec.get("start_scale", 1.0)) * rng.standard_normal((d, k))
    else:
        raise ValueError(f"unknown start {start!r}; choose one of: {', '.join(STARTS)}")

    seed = {"entropy": int(root_seed), "spawn_key": [int(word) for word in sequence.spawn_key]}
    return Problem(X=X, Y=Y, W0=W0, seed=seed)
