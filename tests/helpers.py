"""Registry selections, random inputs and numerical helpers shared by the core tests.

Tests import this module as ``from helpers import ...``, which works because
pytest puts ``tests/`` on ``sys.path`` when the folder has no ``__init__.py``.
The selections are evaluated at import time, so a newly registered family or
loss joins every parameterized test without editing the tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import dspgd

PRECONDITIONER_NAMES = sorted(dspgd.PRECONDITIONERS)
LOSS_NAMES = sorted(dspgd.LOSSES)


def preconditioners_where(predicate: Callable[[dspgd.Preconditioner], bool]) -> list[str]:
    """Return the registered preconditioner names whose default instance satisfies ``predicate``."""
    return [name for name in PRECONDITIONER_NAMES if predicate(dspgd.make_preconditioner(name))]


def losses_where(predicate: Callable[[dspgd.Loss], bool]) -> list[str]:
    """Return the registered loss names whose default instance satisfies ``predicate``."""
    return [name for name in LOSS_NAMES if predicate(dspgd.make_loss(name))]


SMOOTH_PRECONDITIONERS = preconditioners_where(lambda family: family.smooth)
SMOOTH_LOSSES = losses_where(lambda loss: loss.smooth)


def numeric_hyperparameters(cls: type) -> dict[str, float]:
    """Return the hyperparameters of a family or loss class whose default is a number."""
    return {
        item.name: float(item.default)
        for item in dataclasses.fields(cls)
        if isinstance(item.default, int | float) and not isinstance(item.default, bool)
    }


def per_run_hyperparameters(cls: type, m: int) -> dict[str, np.ndarray]:
    """Return one distinct valid value per run for every numeric hyperparameter.

    Values run from the default to twice the default (0 to 1 for a zero
    default), which stays inside the valid range of every family.
    """
    values = {}
    for name, default in numeric_hyperparameters(cls).items():
        stop = 2.0 * default if default else 1.0
        values[name] = np.linspace(default, stop, m)
    return values


def random_orthogonal(rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw a Haar-distributed orthogonal matrix of shape ``(size, size)``."""
    Q, R = np.linalg.qr(rng.standard_normal((size, size)))
    return Q * np.sign(np.diag(R))


def away_from_kinks(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Draw a random matrix whose entries have magnitude in ``scale * [0.2, 0.2 + |N(0,1)|]``.

    Keeping every entry away from 0 avoids the kinks of the exact sign and
    normalization families, and a random matrix has full rank (no kink of the
    nuclear norm).
    """
    magnitude = scale * (0.2 + np.abs(rng.standard_normal(shape)))
    return magnitude * rng.choice([-1.0, 1.0], size=shape)


def central_difference(function: Callable[[np.ndarray], np.ndarray], x: np.ndarray, direction: np.ndarray, h: float):
    """Return ``(f(x + h v) - f(x - h v)) / (2 h)``, the derivative of ``f`` at ``x`` along ``v``."""
    return (function(x + h * direction) - function(x - h * direction)) / (2.0 * h)


def frobenius(A: np.ndarray) -> np.ndarray:
    """Return the Frobenius norm over the last two axes."""
    return np.linalg.norm(A, axis=(-2, -1))


def relative_distance(W: np.ndarray, reference: np.ndarray, W0: np.ndarray) -> np.ndarray:
    """Return ``||W - reference|| / ||reference - W0||`` per run, the error measure of the limit tests."""
    return frobenius(W - reference) / frobenius(reference - W0)


@dataclass(frozen=True)
class Problem:
    """An overparameterized least-squares problem: ``X`` is ``(n, d)`` with ``d = 5 n``."""

    X: np.ndarray
    Y: np.ndarray
    space: dspgd.RowSpace

    @property
    def shape(self) -> tuple[int, int, int]:
        """The sizes ``(n, d, k)``."""
        n, d = self.X.shape
        return n, d, self.Y.shape[-1]


def make_problem(rng: np.random.Generator, n: int = 16, d: int = 80, k: int = 3) -> Problem:
    """Draw Gaussian data scaled so that ``lambda_max(X^T X)`` is about 2.

    For the default sizes, 300 seeds gave ``lambda_max`` in [1.6, 2.6] and
    ``cond(X X^T)`` in [3.5, 8.7]. Small sizes keep every solver run to a few
    thousand cheap iterations.
    """
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    Y = rng.standard_normal((n, k))
    return Problem(X=X, Y=Y, space=dspgd.RowSpace.from_design(X))
