"""Tests of the exact references: closed-form limits, the row-space split and eta_max.

``X`` is ``(n, d)`` with ``d > n``, ``Y`` is ``(n, k)`` and ``W`` is ``(d, k)``.
"""

from __future__ import annotations

import numpy as np
import pytest

import dspgd
from helpers import SMOOTH_LOSSES, frobenius, make_problem, per_run_hyperparameters, preconditioners_where

PINV_RCOND = 1e-10  # explicit cutoff for numpy.linalg.pinv, far below 1 / cond(X) of the Gaussian test designs


def pinv_limit(X, Y, W0):
    """Return ``W0 + X^+ (Y - X W0)`` with the pseudo-inverse from numpy's SVD."""
    return W0 + np.linalg.pinv(X, rcond=PINV_RCOND) @ (Y - X @ W0)


def null_space_matrix(problem, rng):
    """Return a random ``(d, k)`` matrix with ``X N = 0``."""
    _, d, k = problem.shape
    Z = rng.standard_normal((d, k))
    return Z - problem.space.project(Z)


@pytest.fixture(params=["zero", "random"])
def W0(request, problem, rng):
    _, d, k = problem.shape
    return np.zeros((d, k)) if request.param == "zero" else rng.standard_normal((d, k))


# ---------------------------------------------------------------------------
# Gradient descent limit.
# ---------------------------------------------------------------------------


def test_gd_limit_matches_pinv(problem, W0):
    W_gd = dspgd.gd_limit(problem.X, problem.Y, W0)
    expected = pinv_limit(problem.X, problem.Y, W0)

    assert frobenius(W_gd - expected) <= 1e-12 * frobenius(expected - W0)
    assert frobenius(problem.X @ W_gd - problem.Y) <= 1e-12 * frobenius(problem.Y)


def test_gd_limit_is_closest_interpolant(problem, W0, rng):
    W_gd = dspgd.gd_limit(problem.X, problem.Y, W0)
    base = frobenius(W_gd - W0)

    for size in (1e-6, 1e-2, 1.0):
        N = null_space_matrix(problem, rng)
        N *= size / frobenius(N)
        other = W_gd + N

        assert frobenius(problem.X @ other - problem.Y) <= 1e-12 * frobenius(problem.Y)
        assert frobenius(other - W0) > base
        # Pythagoras: the displacement of W_gd is orthogonal to the null space.
        assert frobenius(other - W0) ** 2 == pytest.approx(base**2 + size**2, rel=1e-12)


def test_gd_limit_broadcasts_over_runs(problem, rng):
    n, d, k = problem.shape
    Y = rng.standard_normal((3, n, k))
    W0 = rng.standard_normal((3, d, k))

    batched = dspgd.gd_limit(problem.X, Y, W0)
    shared_start = dspgd.gd_limit(problem.X, Y, W0[0])

    assert batched.shape == (3, d, k)
    for run in range(3):
        np.testing.assert_allclose(batched[run], dspgd.gd_limit(problem.X, Y[run], W0[run]), rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(shared_start[run], dspgd.gd_limit(problem.X, Y[run], W0[0]), rtol=1e-14, atol=1e-14)


def test_row_space_matches_numpy(problem, rng):
    space = problem.space
    _, d, k = problem.shape
    V = rng.standard_normal((d, k))
    projector = np.linalg.pinv(problem.X, rcond=PINV_RCOND) @ problem.X

    assert space.lambda_max == pytest.approx(np.max(np.linalg.eigvalsh(problem.X.T @ problem.X)), rel=1e-12)
    assert space.gram_condition == pytest.approx(np.linalg.cond(problem.X @ problem.X.T), rel=1e-10)
    np.testing.assert_allclose(space.project(V), projector @ V, atol=1e-13)
    np.testing.assert_allclose(space.project(space.project(V)), space.project(V), atol=1e-14)
    np.testing.assert_allclose(space.Q.T @ space.Q, np.eye(problem.shape[0]), atol=1e-14)


# ---------------------------------------------------------------------------
# Diagonal quadratic limit.
# ---------------------------------------------------------------------------


def test_diagonal_limit_matches_closed_form(problem, W0, rng):
    X, Y = problem.X, problem.Y
    D = 1.0 + 9.0 * rng.random(X.shape[1])

    limit = dspgd.diagonal_quadratic_limit(X, Y, W0, D)
    expected = W0 + D[:, None] * (X.T @ np.linalg.solve(X @ (D[:, None] * X.T), Y - X @ W0))

    assert frobenius(limit - expected) <= 1e-12 * frobenius(expected - W0)
    assert frobenius(X @ limit - Y) <= 1e-12 * frobenius(Y)


def test_diagonal_limit_minimises_weighted_distance(problem, W0, rng):
    X, Y = problem.X, problem.Y
    D = 1.0 + 9.0 * rng.random(X.shape[1])
    limit = dspgd.diagonal_quadratic_limit(X, Y, W0, D)

    def weighted_distance(W):
        return np.sqrt(np.sum((W - W0) ** 2 / D[:, None]))

    for size in (1e-6, 1e-2, 1.0):
        N = null_space_matrix(problem, rng)
        other = limit + size * N / frobenius(N)
        assert weighted_distance(other) > weighted_distance(limit)
    # It is a different interpolant from W_gd, which minimises the unweighted distance.
    assert weighted_distance(limit) < weighted_distance(dspgd.gd_limit(X, Y, W0))


def test_diagonal_limit_with_unit_weights_is_gd_limit(problem, W0):
    _, d, _ = problem.shape

    limit = dspgd.diagonal_quadratic_limit(problem.X, problem.Y, W0, np.ones(d))

    np.testing.assert_allclose(limit, dspgd.gd_limit(problem.X, problem.Y, W0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("D", "message"),
    [
        (np.array([1.0, 0.0, 2.0, 3.0, 4.0, 5.0]), "with minimum 0.0"),
        (np.array([1.0, -2.0, 2.0, 3.0, 4.0, 5.0]), "with minimum -2.0"),
        (np.array([1.0, np.inf, 2.0, 3.0, 4.0, 5.0]), "finite positive"),
        (np.ones(5), r"length d=6, got shape \(5,\)"),
        (np.ones((2, 6)), r"got shape \(2, 6\)"),
    ],
)
def test_diagonal_limit_rejects_invalid_weights(D, message, rng):
    X = rng.standard_normal((3, 6))

    with pytest.raises(ValueError, match=message):
        dspgd.diagonal_quadratic_limit(X, np.ones((3, 1)), np.zeros((6, 1)), D)


# ---------------------------------------------------------------------------
# Row-space split.
# ---------------------------------------------------------------------------


def test_split_parts_are_orthogonal_and_sum(problem, W0, rng):
    _, d, k = problem.shape
    W = rng.standard_normal((d, k))

    row_part, null_part = dspgd.split_displacement(problem.space, W0, W)

    np.testing.assert_allclose(row_part + null_part, W - W0, rtol=0, atol=1e-14 * frobenius(W - W0))
    assert abs(np.sum(row_part * null_part)) <= 1e-13 * frobenius(row_part) * frobenius(null_part)
    np.testing.assert_allclose(problem.X @ null_part, 0.0, atol=1e-13 * frobenius(null_part))


def test_split_row_part_is_gd_displacement(problem, W0, rng):
    """Every interpolant has the same row-space part, W_gd - W0."""
    W_gd = dspgd.gd_limit(problem.X, problem.Y, W0)
    D = 1.0 + 9.0 * rng.random(problem.shape[1])
    interpolants = [
        W_gd + null_space_matrix(problem, rng),
        dspgd.diagonal_quadratic_limit(problem.X, problem.Y, W0, D),
    ]

    for W in interpolants:
        row_part, null_part = dspgd.split_displacement(problem.space, W0, W)
        assert frobenius(row_part - (W_gd - W0)) <= 1e-12 * frobenius(W_gd - W0)
        ratio_squared = frobenius(W - W0) ** 2 / frobenius(W_gd - W0) ** 2
        assert ratio_squared == pytest.approx(1 + frobenius(null_part) ** 2 / frobenius(W_gd - W0) ** 2, rel=1e-12)


# ---------------------------------------------------------------------------
# Input validation of the design.
# ---------------------------------------------------------------------------


def rank_deficient_designs(rng):
    X = rng.standard_normal((4, 12))
    duplicate = X.copy()
    duplicate[3] = duplicate[0]
    combination = X.copy()
    combination[3] = 2.0 * X[0] - X[1]
    nearly = X.copy()
    nearly[3] = X[0] + 1e-9 * rng.standard_normal(12)
    return {"duplicate": duplicate, "combination": combination, "nearly": nearly, "zero": np.zeros((4, 12))}


@pytest.mark.parametrize("case", ["duplicate", "combination", "nearly", "zero"])
def test_rank_deficient_design_is_rejected(case, rng):
    X = rank_deficient_designs(rng)[case]
    Y, W0 = np.ones((4, 2)), np.zeros((12, 2))
    message = r"X is numerically rank deficient: sigma_min/sigma_max = .* is below rcond = 1\.0e-06"

    with pytest.raises(dspgd.RankDeficientError, match=message):
        dspgd.RowSpace.from_design(X)
    with pytest.raises(dspgd.RankDeficientError, match=message):
        dspgd.gd_limit(X, Y, W0)
    with pytest.raises(dspgd.RankDeficientError, match=message):
        dspgd.diagonal_quadratic_limit(X, Y, W0, np.ones(12))
    assert issubclass(dspgd.RankDeficientError, ValueError)


def test_nearly_deficient_design_passes_smaller_rcond(rng):
    X = rank_deficient_designs(rng)["nearly"]

    space = dspgd.RowSpace.from_design(X, rcond=1e-13)

    assert space.gram_condition > 1e12


@pytest.mark.parametrize("shape", [(5, 5), (6, 4)])
def test_design_without_more_features_is_rejected(shape, rng):
    with pytest.raises(ValueError, match=rf"X has shape \(n={shape[0]}, d={shape[1]}\).*needs d > n"):
        dspgd.RowSpace.from_design(rng.standard_normal(shape))


def test_non_finite_or_flat_design_is_rejected(rng):
    X = rng.standard_normal((3, 6))
    X[1, 2] = np.nan

    with pytest.raises(ValueError, match="X contains NaN or infinite entries"):
        dspgd.RowSpace.from_design(X)
    with pytest.raises(ValueError, match=r"X must be a 2-D array of shape \(n, d\), got shape \(6,\)"):
        dspgd.RowSpace.from_design(np.ones(6))


# ---------------------------------------------------------------------------
# Step-size limit.
# ---------------------------------------------------------------------------


FINITE_CURVATURE = preconditioners_where(lambda family: 0.0 < np.max(family.curvature_at_zero()) < np.inf)


@pytest.mark.parametrize("loss_name", SMOOTH_LOSSES)
@pytest.mark.parametrize("name", FINITE_CURVATURE)
def test_eta_max_formula(name, loss_name, problem):
    family, loss = dspgd.make_preconditioner(name), dspgd.make_loss(loss_name)
    lambda_max = np.max(np.linalg.eigvalsh(problem.X.T @ problem.X))

    expected = 2.0 / (family.curvature_at_zero() * loss.curvature_at_zero() * lambda_max)

    assert dspgd.eta_max(problem.space, family, loss) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", FINITE_CURVATURE)
def test_eta_max_per_run(name, problem):
    per_run = per_run_hyperparameters(dspgd.PRECONDITIONERS[name], 3)
    batched = dspgd.make_preconditioner(name, **per_run)
    loss = dspgd.make_loss("squared")

    values = np.broadcast_to(dspgd.eta_max(problem.space, batched, loss), (3,))

    for run in range(3):
        alone = dspgd.make_preconditioner(name, **{key: value[run] for key, value in per_run.items()})
        assert values[run] == pytest.approx(dspgd.eta_max(problem.space, alone, loss), rel=1e-15)


@pytest.mark.parametrize(
    ("name", "hyperparameters", "curvature"),
    [("power", {"p": 3.0}, "0.0"), ("power", {"p": 1.5}, "inf"), ("sign_exact", {}, "inf")],
)
def test_eta_max_rejects_degenerate_preconditioner(name, hyperparameters, curvature, problem):
    family = dspgd.make_preconditioner(name, **hyperparameters)

    with pytest.raises(ValueError, match=f"preconditioner '{name}' has curvature {curvature} at 0"):
        dspgd.eta_max(problem.space, family, dspgd.make_loss("squared"))


@pytest.mark.parametrize(("p", "curvature"), [(3.0, "0.0"), (1.5, "inf")])
def test_eta_max_rejects_power_loss(p, curvature, problem):
    with pytest.raises(ValueError, match=f"loss 'power' has curvature {curvature} at 0, so eta_max is undefined"):
        dspgd.eta_max(problem.space, dspgd.make_preconditioner("gd"), dspgd.make_loss("power", p=p))


def test_eta_max_accepts_quadratic_power(problem):
    eta = dspgd.eta_max(problem.space, dspgd.make_preconditioner("power", p=2.0), dspgd.make_loss("power", p=2.0))

    assert eta == pytest.approx(2.0 / problem.space.lambda_max, rel=1e-15)


def test_gd_limit_with_d_three_times_n(rng):
    """The default problems use d = 5 n; the limit must also match on a less overparameterized shape."""
    problem = make_problem(rng, n=20, d=60, k=2)
    W0 = rng.standard_normal((60, 2))

    W_gd = dspgd.gd_limit(problem.X, problem.Y, W0)
    expected = pinv_limit(problem.X, problem.Y, W0)

    assert frobenius(W_gd - expected) <= 1e-12 * frobenius(expected - W0)


@pytest.mark.parametrize("rcond", [np.nan, -1e-6, 1.0])
def test_invalid_rcond_is_rejected(rcond):
    X = np.random.default_rng(0).standard_normal((4, 10))
    with pytest.raises(ValueError, match="invalid rcond"):
        dspgd.RowSpace.from_design(X, rcond)
