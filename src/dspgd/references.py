r"""Exact references: closed-form limits, the row-space split and the step-size limit.

For data ``X`` of shape ``(n, d)`` with ``d > n`` and full row rank, every
interpolant ``W`` (``XW = Y``) splits as
``W - W_0 = P(W - W_0) + (I - P)(W - W_0)`` with ``P = X^+ X``, and the
row-space part is the same for all of them: ``W_GD - W_0``. The references
here come from one factorization, the thin QR decomposition
``X^T = Q R``: ``R`` is the Cholesky factor of the Gram matrix
(``X X^T = R^T R``) obtained without forming ``X X^T``, which would square the
condition number, and ``Q`` spans ``range(X^T)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from dspgd._batch import Array
from dspgd.losses import Loss
from dspgd.preconditioners import Preconditioner

__all__ = [
    "DEFAULT_RCOND",
    "RankDeficientError",
    "RowSpace",
    "diagonal_quadratic_limit",
    "eta_max",
    "gd_limit",
    "split_displacement",
]

#: Smallest accepted ratio ``sigma_min(X) / sigma_max(X)``. It admits a Gram
#: matrix ``X X^T`` with condition number up to 1e12; the references then carry
#: a relative error of about ``cond(X) * 1e-16 <= 1e-10``.
DEFAULT_RCOND = 1e-6


class RankDeficientError(ValueError):
    """Raised when ``X`` is not of numerically full row rank."""


@dataclass(frozen=True)
class RowSpace:
    """Thin QR factorization ``X^T = Q R`` of a full-row-rank design.

    Attributes:
        Q: orthonormal basis of ``range(X^T)``, shape ``(d, n)``.
        R: upper-triangular Cholesky factor of ``X X^T``, shape ``(n, n)``.
        singular_values: singular values of ``X`` in decreasing order, shape ``(n,)``.
    """

    Q: Array
    R: Array
    singular_values: Array

    @classmethod
    def from_design(cls, X: Array, rcond: float = DEFAULT_RCOND) -> RowSpace:
        """Factor ``X`` after checking its shape and numerical rank.

        Raises:
            ValueError: if ``X`` is not a finite 2-D array with ``d > n``.
            RankDeficientError: if ``sigma_min(X) < rcond * sigma_max(X)``.
        """
        if not (np.isfinite(rcond) and 0.0 <= rcond < 1.0):
            raise ValueError(f"invalid rcond={rcond!r}; expected a finite value in [0, 1)")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array of shape (n, d), got shape {X.shape}")
        n, d = X.shape
        if d <= n:
            raise ValueError(
                f"X has shape (n={n}, d={d}) but the overparameterized setting needs d > n; "
                "use more features or fewer samples"
            )
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinite entries")

        Q, R = np.linalg.qr(X.T)
        singular_values = np.linalg.svd(R, compute_uv=False)
        largest, smallest = singular_values[0], singular_values[-1]
        # X = 0 has largest = smallest = 0, which the ratio test alone would accept.
        if largest == 0.0 or smallest < rcond * largest:
            ratio = smallest / largest if largest > 0.0 else 0.0
            raise RankDeficientError(
                f"X is numerically rank deficient: sigma_min/sigma_max = {ratio:.3e} is below "
                f"rcond = {rcond:.1e}, so the minimum-norm interpolant is not well defined; "
                "remove dependent rows of X or pass a smaller rcond"
            )
        return cls(Q=Q, R=R, singular_values=singular_values)

    @property
    def lambda_max(self) -> float:
        """Largest eigenvalue of ``X^T X`` (equal to that of ``X X^T``)."""
        return float(self.singular_values[0] ** 2)

    @property
    def gram_condition(self) -> float:
        """Condition number of ``X X^T``."""
        return float((self.singular_values[0] / self.singular_values[-1]) ** 2)

    def min_norm_solution(self, B: Array) -> Array:
        r"""Return :math:`X^+ B = X^T (X X^T)^{-1} B = Q R^{-T} B` for ``B`` of shape ``(n, k)`` or ``(m, n, k)``."""
        B = np.asarray(B, dtype=np.float64)
        n = self.R.shape[0]
        columns = np.moveaxis(B, -2, 0).reshape(n, -1)
        solved = scipy.linalg.solve_triangular(self.R, columns, trans="T", lower=False)
        result = (self.Q @ solved).reshape((self.Q.shape[0],) + np.moveaxis(B, -2, 0).shape[1:])
        return np.moveaxis(result, 0, -2)

    def project(self, V: Array) -> Array:
        """Return ``P V = Q Q^T V``, the orthogonal projection onto ``range(X^T)``.

        ``V`` has shape ``(d, k)`` or ``(m, d, k)``.
        """
        V = np.asarray(V, dtype=np.float64)
        return self.Q @ (self.Q.T @ V)


def gd_limit(X: Array, Y: Array, W0: Array, rcond: float = DEFAULT_RCOND) -> Array:
    r"""Return the gradient descent limit, the interpolant closest to ``W0``.

    .. math:: W_{GD} = W_0 + X^\top (X X^\top)^{-1} (Y - X W_0)
              = \arg\min_{XW = Y} \|W - W_0\|_F.

    ``Y`` has shape ``(n, k)`` or ``(m, n, k)`` and ``W0`` shape ``(d, k)`` or
    ``(m, d, k)``; the result broadcasts to ``(m, d, k)`` if either is batched.

    Raises:
        RankDeficientError: see :meth:`RowSpace.from_design`.
    """
    space = RowSpace.from_design(X, rcond)
    W0 = np.asarray(W0, dtype=np.float64)
    return W0 + space.min_norm_solution(np.asarray(Y) - np.asarray(X) @ W0)


def diagonal_quadratic_limit(
    X: Array, Y: Array, W0: Array, D: Array, rcond: float = DEFAULT_RCOND
) -> Array:
    r"""Return the limit of the diagonal quadratic preconditioner for every stable ``eta``.

    .. math:: W_\infty = W_0 + D X^\top (X D X^\top)^{-1} (Y - X W_0),

    the interpolant closest to ``W0`` in the norm :math:`\|D^{-1/2} \cdot\|_F`.
    It is computed as :math:`W_0 + D^{1/2} \tilde X^+ (Y - X W_0)` with
    :math:`\tilde X = X D^{1/2}`. ``D`` has shape ``(d,)``.
    """
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 1 or D.shape[0] != np.shape(X)[1] or not np.all(np.isfinite(D) & (D > 0)):
        raise ValueError(
            f"D must be a finite positive vector of length d={np.shape(X)[1]}, got shape {D.shape} "
            f"with minimum {np.min(D) if D.size else 'n/a'}"
        )
    root = np.sqrt(D)
    space = RowSpace.from_design(np.asarray(X) * root, rcond)
    W0 = np.asarray(W0, dtype=np.float64)
    return W0 + root[:, None] * space.min_norm_solution(np.asarray(Y) - np.asarray(X) @ W0)


def split_displacement(space: RowSpace, W0: Array, W: Array) -> tuple[Array, Array]:
    """Split ``W - W0`` into its row-space part ``P(W - W0)`` and null-space part ``(I - P)(W - W0)``."""
    displacement = np.asarray(W, dtype=np.float64) - W0
    row_part = space.project(displacement)
    return row_part, displacement - row_part


def eta_max(space: RowSpace, preconditioner: Preconditioner, loss: Loss) -> float | Array:
    r"""Return the local step-size limit :math:`\eta_{max} = 2 / (s_K s_\ell \lambda_{max}(X^\top X))`.

    Near the solution the iteration is linear with Jacobian
    :math:`I - \eta \nabla^2 K(0) X^\top \nabla^2\ell(0) X`, stable for
    ``eta < eta_max``. ``s_K`` is the largest curvature of ``K`` at 0, which is
    conservative for the diagonal quadratic. Returns one value per run when
    the preconditioner's hyperparameters are per run.

    Raises:
        ValueError: if either curvature is 0 or infinite; such families need an
            absolute step size instead.
    """
    s_K = np.asarray(preconditioner.curvature_at_zero(), dtype=np.float64)
    s_loss = float(loss.curvature_at_zero())
    for label, value in ((f"preconditioner {preconditioner.name!r}", s_K), (f"loss {loss.name!r}", s_loss)):
        if not np.all((value > 0) & np.isfinite(value)):
            raise ValueError(
                f"{label} has curvature {value} at 0, so eta_max is undefined; "
                "give an absolute step size or scale by the gradient descent eta_max"
            )
    result = 2.0 / (s_K * s_loss * space.lambda_max)
    return result if result.ndim else float(result)

