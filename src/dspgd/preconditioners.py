r"""Dual space preconditioners: convex potentials ``K`` and their gradients.

The dual space preconditioned update for a loss ``L`` is

.. math:: W_{t+1} = W_t - \eta \, \nabla K(\nabla L(W_t)),

so a preconditioner is a convex potential ``K`` on gradient matrices
``G`` of shape ``(d, k)`` together with its gradient. Every family here is
even, hence ``\nabla K(0) = 0``. Each family also works on a batch of ``m``
runs, ``G`` of shape ``(m, d, k)``, and then accepts its hyperparameters as
scalars or as 1-D arrays with one value per run.

Adding a family is one decorated class in this module: the registry, the
config schema's list of names and every pipeline stage read it from here.

Reference: R. Ghane, D. Akhtiamov, B. Hassibi, "Dual Space Preconditioning
for Gradient Descent in the Overparameterized Regime", arXiv:2603.10485, 2026.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from dspgd._batch import Array, check_hyperparameter, frobenius, per_run, scale_runs, select_runs

__all__ = [
    "PRECONDITIONERS",
    "Preconditioner",
    "Symmetry",
    "make_preconditioner",
    "register_preconditioner",
]


class Symmetry(enum.StrEnum):
    """Declared invariance class of a potential ``K``.

    ``ISOTROPIC``: ``K(G) = h(||G||_F)``. ``LEFT_ORTHOGONAL``: ``K(QG) = K(G)``
    for every orthogonal ``Q`` of size ``d``. ``RIGHT_ORTHOGONAL``: the same with
    ``Q`` of size ``k`` acting on the right only. ``SEPARABLE``: a sum of one
    scalar function over the entries. ``QUADRATIC``: a fixed positive definite
    quadratic form.
    """

    ISOTROPIC = "isotropic"
    LEFT_ORTHOGONAL = "left-orthogonal"
    RIGHT_ORTHOGONAL = "right-orthogonal"
    SEPARABLE = "separable"
    QUADRATIC = "quadratic"


class Preconditioner:
    """Base class of every potential family; subclasses are frozen dataclasses.

    Subclasses set the class attributes ``name``, ``symmetry`` and ``smooth``
    and implement :meth:`potential`, :meth:`gradient` and
    :meth:`curvature_at_zero`. ``smooth = False`` marks a family outside the
    smooth case: constant-step runs of it are labelled counterexamples, never
    evidence of convergence.
    """

    name: ClassVar[str]
    symmetry: ClassVar[Symmetry]
    smooth: ClassVar[bool] = True

    def potential(self, G: Array) -> Array:
        """Return ``K(G)``: shape ``()`` for ``(d, k)``, ``(m,)`` for ``(m, d, k)``."""
        raise NotImplementedError

    def gradient(self, G: Array) -> Array:
        """Return ``grad K(G)``, an array of the same shape as ``G``.

        The caller may overwrite the result, so return a new array or a view of
        ``G``, never an array that the family keeps.
        """
        raise NotImplementedError

    def curvature_at_zero(self) -> float | Array:
        """Return ``s`` with ``Hess K(0) = s I``, the largest one for a diagonal Hessian.

        It is 0 or ``inf`` for potentials that are not twice differentiable at 0.
        """
        raise NotImplementedError

    def curvature_bounds(self) -> tuple[float, float] | None:
        """Return ``(mu, L)`` with ``mu I <= Hess K <= L I`` everywhere, if known and ``mu > 0``."""
        return None

    @property
    def keeps_gd_limit(self) -> bool:
        """Whether the declared class forces the gradient descent limit (left-orthogonal invariance)."""
        return self.symmetry in (Symmetry.ISOTROPIC, Symmetry.LEFT_ORTHOGONAL)

    def select(self, index: Array) -> Preconditioner:
        """Return the same family restricted to the runs in ``index``."""
        return select_runs(self, index)

    def hyperparameters(self) -> dict[str, Any]:
        """Return the hyperparameters as plain Python values, for provenance records."""
        values = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            values[item.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return values


PRECONDITIONERS: dict[str, type[Preconditioner]] = {}


def register_preconditioner(cls: type[Preconditioner]) -> type[Preconditioner]:
    """Class decorator that adds a family to :data:`PRECONDITIONERS` under ``cls.name``."""
    if cls.name in PRECONDITIONERS:
        raise ValueError(f"preconditioner name {cls.name!r} is already registered")
    PRECONDITIONERS[cls.name] = cls
    return cls


def make_preconditioner(name: str, **hyperparameters: Any) -> Preconditioner:
    """Build a registered preconditioner by name, validating its hyperparameters.

    Raises:
        ValueError: for an unknown name or an unknown hyperparameter; the message
            lists the valid choices.
    """
    if name not in PRECONDITIONERS:
        raise ValueError(
            f"unknown preconditioner {name!r}; choose one of: {', '.join(sorted(PRECONDITIONERS))}"
        )
    cls = PRECONDITIONERS[name]
    valid = [item.name for item in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(hyperparameters) - set(valid))
    if unknown:
        raise ValueError(
            f"preconditioner {name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"valid ones: {', '.join(valid) or 'none'}"
        )
    return cls(**hyperparameters)


def _sum_entries(values: Array) -> Array:
    return np.sum(values, axis=(-2, -1))


def _huber(x: Array, tau: float | Array) -> Array:
    """Huber function of a non-negative ``x``: quadratic up to ``tau``, linear after."""
    return np.where(x <= tau, 0.5 * x * x, tau * x - 0.5 * tau * tau)


# ---------------------------------------------------------------------------
# Isotropic families: K(G) = h(||G||_F).
# ---------------------------------------------------------------------------


@register_preconditioner
@dataclass(frozen=True)
class GradientDescent(Preconditioner):
    r"""Plain gradient descent: :math:`K(G) = \tfrac12 \|G\|_F^2`, :math:`\nabla K(G) = G`."""

    name: ClassVar[str] = "gd"
    symmetry: ClassVar[Symmetry] = Symmetry.ISOTROPIC

    def potential(self, G: Array) -> Array:
        return 0.5 * _sum_entries(G * G)

    def gradient(self, G: Array) -> Array:
        # np.copy keeps G's memory layout; ndarray.copy() would transpose the solver's view.
        return np.copy(G)

    def curvature_at_zero(self) -> float:
        return 1.0

    def curvature_bounds(self) -> tuple[float, float]:
        return (1.0, 1.0)


@register_preconditioner
@dataclass(frozen=True)
class NormalizedGD(Preconditioner):
    r"""Smoothed normalized gradient descent.

    .. math:: K(G) = \sqrt{\|G\|_F^2 + \varepsilon^2}, \qquad
              \nabla K(G) = G / \sqrt{\|G\|_F^2 + \varepsilon^2}.

    ``eps > 0`` keeps ``K`` smooth at 0 with curvature ``1/eps`` there.
    """

    eps: float | Array = 0.1
    name: ClassVar[str] = "normalized_gd"
    symmetry: ClassVar[Symmetry] = Symmetry.ISOTROPIC

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", check_hyperparameter(self.name, "eps", self.eps, lower=0.0))

    def potential(self, G: Array) -> Array:
        eps = np.asarray(self.eps)
        return np.sqrt(_sum_entries(G * G) + eps * eps)

    def gradient(self, G: Array) -> Array:
        eps = per_run(self.eps, G)
        return G / np.sqrt(frobenius(G, keepdims=True) ** 2 + eps * eps)

    def curvature_at_zero(self) -> float | Array:
        return 1.0 / np.asarray(self.eps) if np.ndim(self.eps) else 1.0 / self.eps


@register_preconditioner
@dataclass(frozen=True)
class GlobalClip(Preconditioner):
    r"""Global-norm gradient clipping at threshold ``tau``.

    .. math:: K(G) = H_\tau(\|G\|_F), \qquad \nabla K(G) = G \min(1, \tau / \|G\|_F),

    with the Huber function :math:`H_\tau(x) = x^2/2` for :math:`x \le \tau` and
    :math:`\tau x - \tau^2/2` beyond.
    """

    tau: float | Array = 1.0
    name: ClassVar[str] = "global_clip"
    symmetry: ClassVar[Symmetry] = Symmetry.ISOTROPIC

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau", check_hyperparameter(self.name, "tau", self.tau, lower=0.0))

    def potential(self, G: Array) -> Array:
        return _huber(frobenius(G), np.asarray(self.tau))

    def gradient(self, G: Array) -> Array:
        tau = per_run(self.tau, G)
        norm = frobenius(G, keepdims=True)
        # The maximum avoids 0/0 at G = 0, where the factor is 1 anyway.
        factor = np.minimum(1.0, tau / np.maximum(norm, np.finfo(float).tiny))
        return scale_runs(G, factor)

    def curvature_at_zero(self) -> float:
        return 1.0


@register_preconditioner
@dataclass(frozen=True)
class NormalizedGDExact(Preconditioner):
    r"""Unsmoothed normalized gradient descent, outside the smooth case.

    .. math:: K(G) = \|G\|_F, \qquad \nabla K(G) = G / \|G\|_F \ (0 \text{ at } G = 0).

    A constant step cannot settle on an interpolant: every step has length ``eta``.
    """

    name: ClassVar[str] = "normalized_gd_exact"
    symmetry: ClassVar[Symmetry] = Symmetry.ISOTROPIC
    smooth: ClassVar[bool] = False

    def potential(self, G: Array) -> Array:
        return frobenius(G)

    def gradient(self, G: Array) -> Array:
        norm = frobenius(G, keepdims=True)
        return np.where(norm > 0.0, G / np.where(norm > 0.0, norm, 1.0), 0.0)

    def curvature_at_zero(self) -> float:
        return np.inf


# ---------------------------------------------------------------------------
# Separable families: K(G) = sum_ij phi(g_ij).
# ---------------------------------------------------------------------------


@register_preconditioner
@dataclass(frozen=True)
class Adam(Preconditioner):
    r"""Adam with :math:`\beta_1 = \beta_2 = 0`, whose update is :math:`g / (|g| + \varepsilon)`.

    .. math:: K(G) = \sum_{ij} |g_{ij}| - \varepsilon \log(1 + |g_{ij}|/\varepsilon), \qquad
              \nabla K(G) = G / (|G| + \varepsilon) \text{ entrywise}.

    This is exactly ``torch.optim.Adam(betas=(0, 0), eps=eps)``: with both betas
    0 the bias corrections equal 1.
    """

    eps: float | Array = 0.1
    name: ClassVar[str] = "adam"
    symmetry: ClassVar[Symmetry] = Symmetry.SEPARABLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", check_hyperparameter(self.name, "eps", self.eps, lower=0.0))

    def potential(self, G: Array) -> Array:
        eps = per_run(self.eps, G)
        magnitude = np.abs(G)
        return _sum_entries(magnitude - eps * np.log1p(magnitude / eps))

    def gradient(self, G: Array) -> Array:
        # In place on one new array: the same operations as G / (|G| + eps), one allocation fewer.
        direction = np.abs(G)
        direction += per_run(self.eps, G)
        return np.divide(G, direction, out=direction)

    def curvature_at_zero(self) -> float | Array:
        return 1.0 / np.asarray(self.eps) if np.ndim(self.eps) else 1.0 / self.eps


@register_preconditioner
@dataclass(frozen=True)
class Sign(Preconditioner):
    r"""Smoothed sign descent.

    .. math:: K(G) = \sum_{ij} \sqrt{g_{ij}^2 + \varepsilon^2}, \qquad
              \nabla K(G) = G / \sqrt{G^2 + \varepsilon^2} \text{ entrywise}.
    """

    eps: float | Array = 0.1
    name: ClassVar[str] = "sign"
    symmetry: ClassVar[Symmetry] = Symmetry.SEPARABLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", check_hyperparameter(self.name, "eps", self.eps, lower=0.0))

    def potential(self, G: Array) -> Array:
        eps = per_run(self.eps, G)
        return _sum_entries(np.sqrt(G * G + eps * eps))

    def gradient(self, G: Array) -> Array:
        eps = per_run(self.eps, G)
        return G / np.sqrt(G * G + eps * eps)

    def curvature_at_zero(self) -> float | Array:
        return 1.0 / np.asarray(self.eps) if np.ndim(self.eps) else 1.0 / self.eps


@register_preconditioner
@dataclass(frozen=True)
class EntrywiseClip(Preconditioner):
    r"""Entrywise gradient clipping: :math:`K(G) = \sum_{ij} H_\tau(|g_{ij}|)`,
    :math:`\nabla K(G) = \operatorname{clip}(G, -\tau, \tau)`."""

    tau: float | Array = 1.0
    name: ClassVar[str] = "entrywise_clip"
    symmetry: ClassVar[Symmetry] = Symmetry.SEPARABLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau", check_hyperparameter(self.name, "tau", self.tau, lower=0.0))

    def potential(self, G: Array) -> Array:
        return _sum_entries(_huber(np.abs(G), per_run(self.tau, G)))

    def gradient(self, G: Array) -> Array:
        tau = per_run(self.tau, G)
        return np.clip(G, -tau, tau)

    def curvature_at_zero(self) -> float:
        return 1.0


@register_preconditioner
@dataclass(frozen=True)
class SignExact(Preconditioner):
    r"""Exact sign descent, outside the smooth case: :math:`K(G) = \sum_{ij} |g_{ij}|`,
    :math:`\nabla K(G) = \operatorname{sign}(G)`."""

    name: ClassVar[str] = "sign_exact"
    symmetry: ClassVar[Symmetry] = Symmetry.SEPARABLE
    smooth: ClassVar[bool] = False

    def potential(self, G: Array) -> Array:
        return _sum_entries(np.abs(G))

    def gradient(self, G: Array) -> Array:
        return np.sign(G)

    def curvature_at_zero(self) -> float:
        return np.inf


@register_preconditioner
@dataclass(frozen=True)
class Power(Preconditioner):
    r"""Entrywise power potential, outside the smooth case unless ``p = 2``.

    .. math:: K(G) = \sum_{ij} |g_{ij}|^p / p, \qquad
              \nabla K(G) = \operatorname{sign}(G) |G|^{p-1}.

    The curvature at 0 is 0 for ``p > 2`` (sublinear convergence) and infinite
    for ``p < 2`` (a constant step oscillates around the interpolant).
    """

    p: float | Array = 3.0
    name: ClassVar[str] = "power"
    symmetry: ClassVar[Symmetry] = Symmetry.SEPARABLE
    smooth: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", check_hyperparameter(self.name, "p", self.p, lower=1.0))

    def potential(self, G: Array) -> Array:
        p = per_run(self.p, G)
        return _sum_entries(np.abs(G) ** p / p)

    def gradient(self, G: Array) -> Array:
        return np.sign(G) * np.abs(G) ** (per_run(self.p, G) - 1.0)

    def curvature_at_zero(self) -> float | Array:
        p = np.asarray(self.p)
        curvature = np.where(p > 2.0, 0.0, np.where(p < 2.0, np.inf, 1.0))
        return curvature if curvature.ndim else float(curvature)


@register_preconditioner
@dataclass(frozen=True)
class QuadraticPseudoHuber(Preconditioner):
    r"""Quadratic plus entrywise pseudo-Huber, a separable potential of bounded curvature.

    .. math:: K(G) = \sum_{ij} \tfrac12 g_{ij}^2 + a \delta^2
              \left(\sqrt{1 + (g_{ij}/\delta)^2} - 1\right), \qquad
              \nabla K(G) = G + a \, G / \sqrt{1 + (G/\delta)^2}.

    Its Hessian lies between ``I`` and ``(1 + a) I``, the largest value at 0.
    """

    a: float | Array = 3.0
    delta: float | Array = 0.1
    name: ClassVar[str] = "quadratic_pseudo_huber"
    symmetry: ClassVar[Symmetry] = Symmetry.SEPARABLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", check_hyperparameter(self.name, "a", self.a, lower=0.0, inclusive=True))
        object.__setattr__(self, "delta", check_hyperparameter(self.name, "delta", self.delta, lower=0.0))

    def potential(self, G: Array) -> Array:
        a, delta = per_run(self.a, G), per_run(self.delta, G)
        bump = delta * delta * (np.sqrt(1.0 + (G / delta) ** 2) - 1.0)
        return _sum_entries(0.5 * G * G + a * bump)

    def gradient(self, G: Array) -> Array:
        a, delta = per_run(self.a, G), per_run(self.delta, G)
        return G + a * G / np.sqrt(1.0 + (G / delta) ** 2)

    def curvature_at_zero(self) -> float | Array:
        return 1.0 + np.asarray(self.a) if np.ndim(self.a) else 1.0 + self.a

    def curvature_bounds(self) -> tuple[float, float] | None:
        return (1.0, 1.0 + float(np.max(self.a)))


# ---------------------------------------------------------------------------
# Quadratic potential with a fixed diagonal.
# ---------------------------------------------------------------------------


def _diagonal_weights(D: Array | None, condition: float | Array, d: int) -> Array:
    if D is None:
        # A per-run condition of shape (m,) gives one diagonal per run, shape (m, d).
        return np.asarray(condition)[..., None] ** (np.arange(d) / max(d - 1, 1))
    if D.shape[-1] != d:
        raise ValueError(f"diagonal: D has {D.shape[-1]} entries but the gradient has d={d} rows")
    return D


@register_preconditioner
@dataclass(frozen=True)
class DiagonalQuadratic(Preconditioner):
    r"""Fixed diagonal quadratic potential.

    .. math:: K(G) = \tfrac12 \langle G, \operatorname{diag}(D) G \rangle, \qquad
              \nabla K(G) = \operatorname{diag}(D) G.

    ``D`` is either given (shape ``(d,)``, or ``(m, d)`` for one diagonal per run)
    or, when ``D`` is None, log-spaced from 1 to ``condition`` over the ``d``
    rows, with one diagonal per run when ``condition`` is per run. Its limit
    is known in closed form (:func:`dspgd.references.diagonal_quadratic_limit`).
    """

    D: Array | None = field(default=None, metadata={"per_run": False})
    condition: float | Array = 10.0
    name: ClassVar[str] = "diagonal"
    symmetry: ClassVar[Symmetry] = Symmetry.QUADRATIC

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "condition", check_hyperparameter(self.name, "condition", self.condition, lower=1.0, inclusive=True)
        )
        if self.D is not None:
            D = np.array(self.D, dtype=np.float64)
            if D.ndim not in (1, 2) or not np.all(np.isfinite(D) & (D > 0)):
                raise ValueError(
                    "diagonal: D must be a finite positive array of shape (d,) or (m, d); "
                    f"got shape {D.shape} with minimum {np.min(D) if D.size else 'n/a'}"
                )
            D.setflags(write=False)
            object.__setattr__(self, "D", D)

    def weights(self, d: int) -> Array:
        """Return the diagonal ``D`` for ``d`` rows: shape ``(d,)`` or ``(m, d)``."""
        return _diagonal_weights(self.D, self.condition, d)

    def _row_weights(self, G: Array) -> Array:
        """Return the diagonal shaped to broadcast against ``G``: ``(d, 1)`` or ``(m, d, 1)``."""
        D = self.weights(G.shape[-2])
        if D.ndim == 2 and (G.ndim != 3 or G.shape[0] != D.shape[0]):
            raise ValueError(
                f"diagonal: per-run hyperparameters for m={D.shape[0]} runs need a batch of shape "
                f"(m={D.shape[0]}, d, k), got an array of shape {G.shape}"
            )
        return D[..., :, None]

    def potential(self, G: Array) -> Array:
        return 0.5 * _sum_entries(self._row_weights(G) * G * G)

    def gradient(self, G: Array) -> Array:
        return self._row_weights(G) * G

    def curvature_at_zero(self) -> float | Array:
        if self.D is None:
            return self.condition
        return np.max(self.D, axis=-1) if self.D.ndim == 2 else float(np.max(self.D))

    def curvature_bounds(self) -> tuple[float, float]:
        if self.D is None:
            return (1.0, float(np.max(self.condition)))
        return (float(np.min(self.D)), float(np.max(self.D)))

    def select(self, index: Array) -> Preconditioner:
        selected = super().select(index)
        if self.D is not None and self.D.ndim == 2:
            return dataclasses.replace(selected, D=self.D[index])
        return selected


# ---------------------------------------------------------------------------
# Orthogonally invariant, non-isotropic families.
# ---------------------------------------------------------------------------


@register_preconditioner
@dataclass(frozen=True)
class Spectral(Preconditioner):
    r"""Smoothed spectral (Muon-like) preconditioner.

    .. math:: K(G) = \sum_i \sqrt{\sigma_i(G)^2 + \varepsilon^2}, \qquad
              \nabla K(G) = G (G^\top G + \varepsilon^2 I)^{-1/2}.

    The inverse square root uses an eigendecomposition of the ``k x k`` matrix
    ``G^T G``, so the cost is small when ``k`` is.
    """

    eps: float | Array = 0.1
    name: ClassVar[str] = "spectral"
    symmetry: ClassVar[Symmetry] = Symmetry.LEFT_ORTHOGONAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", check_hyperparameter(self.name, "eps", self.eps, lower=0.0))

    def _gram_eigen(self, G: Array) -> tuple[Array, Array, Array]:
        eps = np.asarray(per_run(self.eps, G))
        eps2 = (eps[..., 0] if eps.ndim == 3 else eps) ** 2
        eigenvalues, eigenvectors = np.linalg.eigh(np.swapaxes(G, -1, -2) @ G)
        # Rounding can leave tiny negative eigenvalues of a PSD matrix.
        return np.maximum(eigenvalues, 0.0), eigenvectors, eps2

    def potential(self, G: Array) -> Array:
        eigenvalues, _, eps2 = self._gram_eigen(G)
        return np.sum(np.sqrt(eigenvalues + eps2), axis=-1)

    def gradient(self, G: Array) -> Array:
        eigenvalues, V, eps2 = self._gram_eigen(G)
        inverse_root = (V / np.sqrt(eigenvalues + eps2)[..., None, :]) @ np.swapaxes(V, -1, -2)
        return G @ inverse_root

    def curvature_at_zero(self) -> float | Array:
        return 1.0 / np.asarray(self.eps) if np.ndim(self.eps) else 1.0 / self.eps


@register_preconditioner
@dataclass(frozen=True)
class SpectralExact(Preconditioner):
    r"""Exact Muon direction, outside the smooth case.

    .. math:: K(G) = \|G\|_* = \sum_i \sigma_i(G), \qquad \nabla K(G) = U V^\top

    for the thin SVD ``G = U S V^T``, keeping singular values above
    ``1e-12 * sigma_max`` (the others count as zero).
    """

    name: ClassVar[str] = "spectral_exact"
    symmetry: ClassVar[Symmetry] = Symmetry.LEFT_ORTHOGONAL
    smooth: ClassVar[bool] = False

    def potential(self, G: Array) -> Array:
        return np.sum(np.linalg.svd(G, compute_uv=False), axis=-1)

    def gradient(self, G: Array) -> Array:
        U, singular_values, Vt = np.linalg.svd(G, full_matrices=False)
        largest = singular_values[..., :1]
        keep = (singular_values > 1e-12 * largest) & (singular_values > 0.0)
        return (U * keep[..., None, :]) @ Vt

    def curvature_at_zero(self) -> float:
        return np.inf


@register_preconditioner
@dataclass(frozen=True)
class PerOutput(Preconditioner):
    r"""Per-output (column) normalization, left-orthogonally invariant.

    .. math:: K(G) = \sum_c \sqrt{\|G_{:,c}\|^2 + \varepsilon^2}, \qquad
              \nabla K(G)_{:,c} = G_{:,c} / \sqrt{\|G_{:,c}\|^2 + \varepsilon^2}.
    """

    eps: float | Array = 0.1
    name: ClassVar[str] = "per_output"
    symmetry: ClassVar[Symmetry] = Symmetry.LEFT_ORTHOGONAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", check_hyperparameter(self.name, "eps", self.eps, lower=0.0))

    def _column_scale(self, G: Array) -> Array:
        eps = per_run(self.eps, G)
        return np.sqrt(np.sum(G * G, axis=-2, keepdims=True) + eps * eps)

    def potential(self, G: Array) -> Array:
        return _sum_entries(self._column_scale(G))

    def gradient(self, G: Array) -> Array:
        return G / self._column_scale(G)

    def curvature_at_zero(self) -> float | Array:
        return 1.0 / np.asarray(self.eps) if np.ndim(self.eps) else 1.0 / self.eps


@register_preconditioner
@dataclass(frozen=True)
class PerFeature(Preconditioner):
    r"""Per-feature (row) normalization, invariant on the right only.

    .. math:: K(G) = \sum_j \sqrt{\|G_{j,:}\|^2 + \varepsilon^2}, \qquad
              \nabla K(G)_{j,:} = G_{j,:} / \sqrt{\|G_{j,:}\|^2 + \varepsilon^2}.
    """

    eps: float | Array = 0.1
    name: ClassVar[str] = "per_feature"
    symmetry: ClassVar[Symmetry] = Symmetry.RIGHT_ORTHOGONAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", check_hyperparameter(self.name, "eps", self.eps, lower=0.0))

    def _row_scale(self, G: Array) -> Array:
        eps = per_run(self.eps, G)
        return np.sqrt(np.sum(G * G, axis=-1, keepdims=True) + eps * eps)

    def potential(self, G: Array) -> Array:
        return _sum_entries(self._row_scale(G))

    def gradient(self, G: Array) -> Array:
        return G / self._row_scale(G)

    def curvature_at_zero(self) -> float | Array:
        return 1.0 / np.asarray(self.eps) if np.ndim(self.eps) else 1.0 / self.eps


@register_preconditioner
@dataclass(frozen=True)
class QuadraticRowNorm(Preconditioner):
    r"""Quadratic plus pseudo-Huber of each row norm, right-invariant with bounded curvature.

    .. math:: K(G) = \tfrac12 \|G\|_F^2 + a \sum_j \delta^2
              \left(\sqrt{1 + \|G_{j,:}\|^2/\delta^2} - 1\right), \qquad
              \nabla K(G)_{j,:} = G_{j,:} \left(1 + a / \sqrt{1 + \|G_{j,:}\|^2/\delta^2}\right).

    Its Hessian lies between ``I`` and ``(1 + a) I``, the largest value at 0.
    """

    a: float | Array = 3.0
    delta: float | Array = 0.1
    name: ClassVar[str] = "quadratic_row_norm"
    symmetry: ClassVar[Symmetry] = Symmetry.RIGHT_ORTHOGONAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", check_hyperparameter(self.name, "a", self.a, lower=0.0, inclusive=True))
        object.__setattr__(self, "delta", check_hyperparameter(self.name, "delta", self.delta, lower=0.0))

    def _row_root(self, G: Array) -> Array:
        delta = per_run(self.delta, G)
        return np.sqrt(1.0 + np.sum(G * G, axis=-1, keepdims=True) / (delta * delta))

    def potential(self, G: Array) -> Array:
        a, delta = per_run(self.a, G), per_run(self.delta, G)
        bump = a * delta * delta * (self._row_root(G) - 1.0)
        return 0.5 * _sum_entries(G * G) + np.sum(bump, axis=(-2, -1))

    def gradient(self, G: Array) -> Array:
        return G * (1.0 + per_run(self.a, G) / self._row_root(G))

    def curvature_at_zero(self) -> float | Array:
        return 1.0 + np.asarray(self.a) if np.ndim(self.a) else 1.0 + self.a

    def curvature_bounds(self) -> tuple[float, float] | None:
        return (1.0, 1.0 + float(np.max(self.a)))
