r"""Entrywise losses of the residual ``R = XW - Y``.

Every loss is :math:`\ell(R) = \sum_{ij} \phi(r_{ij})` with a convex ``phi``
minimised at 0, so ``L(W) = \ell(XW - Y)`` has gradient ``X^T \nabla\ell(R)``.
``R`` has shape ``(n, k)`` for one run or ``(m, n, k)`` for a batch, and
``value`` returns one number per run.

Adding a loss is one decorated class in this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dspgd._batch import Array, check_hyperparameter

__all__ = ["LOSSES", "Loss", "make_loss", "register_loss"]

_LOG2 = float(np.log(2.0))


class Loss:
    """Base class of the loss families; subclasses are frozen dataclasses."""

    name: ClassVar[str]

    def value(self, R: Array) -> Array:
        """Return ``ell(R)``: shape ``()`` for ``(n, k)``, ``(m,)`` for ``(m, n, k)``."""
        return np.sum(self.entrywise(R), axis=(-2, -1))

    def entrywise(self, R: Array) -> Array:
        """Return ``phi(r)`` for every entry."""
        raise NotImplementedError

    def gradient(self, R: Array) -> Array:
        """Return ``phi'(r)`` for every entry, the gradient of ``ell`` at ``R``."""
        raise NotImplementedError

    def curvature_at_zero(self) -> float:
        """Return ``phi''(0)``: 0 or ``inf`` where ``phi`` is not twice differentiable with positive curvature."""
        raise NotImplementedError

    @property
    def smooth(self) -> bool:
        """Whether ``phi''(0)`` is finite and positive, so convergence near 0 is linear."""
        curvature = self.curvature_at_zero()
        return bool(0.0 < curvature < np.inf)

    def hyperparameters(self) -> dict[str, Any]:
        """Return the hyperparameters as plain Python values, for provenance records."""
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}  # type: ignore[arg-type]


LOSSES: dict[str, type[Loss]] = {}


def _check_shared(owner: str, name: str, value: float, *, lower: float) -> float:
    """Validate a loss hyperparameter, which must be one scalar for the whole batch.

    The solver evaluates the loss on residuals in ``(n, m, k)`` layout, where a
    per-run array would not broadcast, so arrays are rejected here.
    """
    checked = check_hyperparameter(owner, name, value, lower=lower)
    if np.ndim(checked):
        raise ValueError(
            f"{owner}: {name} must be a scalar shared by every run, got an array of shape "
            f"{np.shape(checked)}; run batches with different loss hyperparameters separately"
        )
    return float(checked)


def register_loss(cls: type[Loss]) -> type[Loss]:
    """Class decorator that adds a loss to :data:`LOSSES` under ``cls.name``."""
    if cls.name in LOSSES:
        raise ValueError(f"loss name {cls.name!r} is already registered")
    LOSSES[cls.name] = cls
    return cls


def make_loss(name: str, **hyperparameters: Any) -> Loss:
    """Build a registered loss by name, validating its hyperparameters.

    Raises:
        ValueError: for an unknown name or hyperparameter; the message lists the valid ones.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(sorted(LOSSES))}")
    cls = LOSSES[name]
    valid = [item.name for item in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(hyperparameters) - set(valid))
    if unknown:
        raise ValueError(
            f"loss {name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"valid ones: {', '.join(valid) or 'none'}"
        )
    return cls(**hyperparameters)


@register_loss
@dataclass(frozen=True)
class Squared(Loss):
    r"""Squared loss :math:`\phi(r) = r^2/2`."""

    name: ClassVar[str] = "squared"

    def entrywise(self, R: Array) -> Array:
        return 0.5 * R * R

    def gradient(self, R: Array) -> Array:
        return R.copy()

    def curvature_at_zero(self) -> float:
        return 1.0


@register_loss
@dataclass(frozen=True)
class LogCosh(Loss):
    r"""Log-cosh loss :math:`\phi(r) = \log\cosh r`, with :math:`\phi'(r) = \tanh r`.

    Evaluated as :math:`|r| + \log(1 + e^{-2|r|}) - \log 2` for :math:`|r| > 1`,
    which does not overflow for large residuals (``cosh`` overflows past
    ``|r| = 710``), and as :math:`\log(1 + 2 \sinh^2(r/2))` up to 1, which keeps
    full relative precision near 0 where the first form cancels to noise.
    """

    name: ClassVar[str] = "logcosh"

    def entrywise(self, R: Array) -> Array:
        magnitude = np.abs(R)
        near_zero = np.log1p(2.0 * np.sinh(0.5 * np.minimum(magnitude, 1.0)) ** 2)
        far = magnitude + np.log1p(np.exp(-2.0 * magnitude)) - _LOG2
        return np.where(magnitude <= 1.0, near_zero, far)

    def gradient(self, R: Array) -> Array:
        return np.tanh(R)

    def curvature_at_zero(self) -> float:
        return 1.0


@register_loss
@dataclass(frozen=True)
class PseudoHuber(Loss):
    r"""Pseudo-Huber loss :math:`\phi(r) = \delta^2 (\sqrt{1 + (r/\delta)^2} - 1)`.

    Its gradient :math:`r / \sqrt{1 + (r/\delta)^2}` is bounded by ``delta``.
    """

    delta: float = 1.0
    name: ClassVar[str] = "pseudo_huber"

    def __post_init__(self) -> None:
        object.__setattr__(self, "delta", _check_shared(self.name, "delta", self.delta, lower=0.0))

    def entrywise(self, R: Array) -> Array:
        scaled = R / self.delta
        # r^2 / (1 + sqrt(1 + s^2)) equals delta^2 (sqrt(1 + s^2) - 1) without cancellation near 0.
        return R * R / (1.0 + np.sqrt(1.0 + scaled * scaled))

    def gradient(self, R: Array) -> Array:
        scaled = R / self.delta
        return R / np.sqrt(1.0 + scaled * scaled)

    def curvature_at_zero(self) -> float:
        return 1.0


@register_loss
@dataclass(frozen=True)
class PowerLoss(Loss):
    r"""Entrywise power loss :math:`\phi(r) = |r|^p / p` for ``p > 1``.

    Curvature at 0 is 0 for ``p > 2`` (sublinear convergence) and infinite for
    ``p < 2``; only ``p = 2`` is smooth with positive curvature.
    """

    p: float = 3.0
    name: ClassVar[str] = "power"

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", _check_shared(self.name, "p", self.p, lower=1.0))

    def entrywise(self, R: Array) -> Array:
        return np.abs(R) ** self.p / self.p

    def gradient(self, R: Array) -> Array:
        return np.sign(R) * np.abs(R) ** (self.p - 1.0)

    def curvature_at_zero(self) -> float:
        if self.p > 2.0:
            return 0.0
        return np.inf if self.p < 2.0 else 1.0
