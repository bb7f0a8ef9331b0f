"""Dual space preconditioned gradient descent on overparameterized linear models.

Reproduction library for R. Ghane, D. Akhtiamov, B. Hassibi, "Dual Space
Preconditioning for Gradient Descent in the Overparameterized Regime",
arXiv:2603.10485 (2026).

Usage::

    import numpy as np
    import dspgd

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 80)), rng.standard_normal((20, 3))
    space = dspgd.RowSpace.from_design(X)
    adam, loss = dspgd.make_preconditioner("adam", eps=0.1), dspgd.make_loss("squared")
    eta = 0.5 * dspgd.eta_max(space, adam, loss) * np.ones(4)
    result = dspgd.run_batch(X, Y, np.zeros((80, 3)), eta, adam, loss, space=space)
    result.status, result.W.shape  # (4,) statuses, (4, 80, 3) limits
"""

from dspgd.losses import LOSSES, Loss, make_loss, register_loss
from dspgd.preconditioners import (
    PRECONDITIONERS,
    Preconditioner,
    Symmetry,
    make_preconditioner,
    register_preconditioner,
)
from dspgd.references import (
    DEFAULT_RCOND,
    RankDeficientError,
    RowSpace,
    diagonal_quadratic_limit,
    eta_max,
    gd_limit,
    split_displacement,
)
from dspgd.solver import BatchResult, Progress, SolverOptions, Trajectory, run_batch

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_RCOND",
    "LOSSES",
    "PRECONDITIONERS",
    "BatchResult",
    "Loss",
    "Preconditioner",
    "Progress",
    "RankDeficientError",
    "RowSpace",
    "SolverOptions",
    "Symmetry",
    "Trajectory",
    "diagonal_quadratic_limit",
    "eta_max",
    "gd_limit",
    "make_loss",
    "make_preconditioner",
    "register_loss",
    "register_preconditioner",
    "run_batch",
    "split_displacement",
]
