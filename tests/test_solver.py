"""Tests of the batched solver: known limits, divergence handling, batching and bookkeeping.

``X`` is ``(n, d)``, ``Y`` is ``(n, k)`` or ``(m, n, k)``, ``W0`` is ``(d, k)``
or ``(m, d, k)`` and ``eta`` is ``(m,)``. Errors of a limit are relative to the
distance travelled: ``||W_inf - W_ref|| / ||W_ref - W0||``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dspgd
from dspgd import SolverOptions
from helpers import (
    SMOOTH_LOSSES,
    SMOOTH_PRECONDITIONERS,
    frobenius,
    make_problem,
    per_run_hyperparameters,
    preconditioners_where,
    relative_distance,
)

ETA_FRACTIONS = np.array([0.1, 0.5, 0.95])
GD_LIMIT_FAMILIES = preconditioners_where(lambda family: family.keeps_gd_limit and family.smooth)


def zero_and_random_starts(problem, rng, copies):
    """Return ``copies`` zero starts followed by ``copies`` repeats of one random start, shape ``(2 copies, d, k)``."""
    _, d, k = problem.shape
    random_start = rng.standard_normal((d, k))
    return np.concatenate([np.zeros((copies, d, k)), np.broadcast_to(random_start, (copies, d, k))])


def run(problem, family, loss, eta, W0, Y=None, **options):
    """Run a batch on ``problem`` with warnings turned into errors, so a stray overflow fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return dspgd.run_batch(
            problem.X,
            problem.Y if Y is None else Y,
            W0,
            eta,
            family,
            loss,
            options=SolverOptions(**options),
            space=problem.space,
        )


def iterate_by_hand(problem, family, loss, eta, W0, steps):
    """Apply ``W <- W - eta grad K(X^T grad l(X W - Y))`` ``steps`` times to one run."""
    W = W0.copy()
    for _ in range(steps):
        G = problem.X.T @ loss.gradient(problem.X @ W - problem.Y)
        W = W - eta * family.gradient(G)
    return W


# ---------------------------------------------------------------------------
# Known limits.
# ---------------------------------------------------------------------------


def test_gd_limit_covers_left_invariant_families():
    """The isotropic families and the left-invariant spectral and per-output ones must all be in the limit test."""
    assert {"gd", "normalized_gd", "global_clip", "spectral", "per_output"} <= set(GD_LIMIT_FAMILIES)


@pytest.mark.parametrize("loss_name", SMOOTH_LOSSES)
@pytest.mark.parametrize("name", GD_LIMIT_FAMILIES)
def test_left_invariant_family_reaches_gd_limit(name, loss_name, problem, rng):
    family, loss = dspgd.make_preconditioner(name), dspgd.make_loss(loss_name)
    W0 = zero_and_random_starts(problem, rng, len(ETA_FRACTIONS))
    eta = dspgd.eta_max(problem.space, family, loss) * np.tile(ETA_FRACTIONS, 2)

    result = run(problem, family, loss, eta, W0)
    W_gd = dspgd.gd_limit(problem.X, problem.Y, W0)

    assert list(result.status) == ["converged"] * len(eta)
    assert np.all(relative_distance(result.W, W_gd, W0) <= 1e-9)
    assert np.all(result.relative_residual <= 1e-12)
    np.testing.assert_allclose(result.W_gd, W_gd, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("weights", ["default", "explicit"])
@pytest.mark.parametrize("loss_name", SMOOTH_LOSSES)
def test_diagonal_reaches_closed_form_limit(loss_name, weights, problem, rng):
    """For any loss the steps stay in W0 + D range(X^T), so the limit is the D^{-1}-closest interpolant."""
    _, d, _ = problem.shape
    D = None if weights == "default" else 1.0 + 9.0 * rng.random(d)
    family, loss = dspgd.make_preconditioner("diagonal", D=D), dspgd.make_loss(loss_name)
    W0 = zero_and_random_starts(problem, rng, len(ETA_FRACTIONS))
    eta = dspgd.eta_max(problem.space, family, loss) * np.tile(ETA_FRACTIONS, 2)

    result = run(problem, family, loss, eta, W0)

    assert list(result.status) == ["converged"] * len(eta)
    for index in range(len(eta)):
        limit = dspgd.diagonal_quadratic_limit(problem.X, problem.Y, W0[index], family.weights(d))
        assert relative_distance(result.W[index], limit, W0[index]) <= 1e-9
        assert relative_distance(result.W[index], result.W_gd[index], W0[index]) > 1e-2


@pytest.mark.parametrize("loss_name", ["squared", "logcosh"])
@pytest.mark.parametrize("name", ["adam", "sign", "per_feature"])
def test_non_invariant_family_misses_gd_limit(name, loss_name, problem, rng):
    """Adam, sign and per-feature descent interpolate away from W_gd, which shows the limit check can fail."""
    family, loss = dspgd.make_preconditioner(name), dspgd.make_loss(loss_name)
    W0 = zero_and_random_starts(problem, rng, 2)
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.3, 0.9, 0.3, 0.9])

    result = run(problem, family, loss, eta, W0)

    assert list(result.status) == ["converged"] * len(eta)
    assert np.all(result.relative_residual <= 1e-12)
    assert np.all(relative_distance(result.W, result.W_gd, W0) >= 1e-4)
    assert np.all(frobenius(result.W - W0) > frobenius(result.W_gd - W0))


# ---------------------------------------------------------------------------
# Divergence and the iteration budget.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gd", "diagonal"])
def test_unstable_step_diverges_alone(name, problem, rng):
    """Runs above eta_max diverge without an exception while the rest of the batch converges."""
    family, loss = dspgd.make_preconditioner(name), dspgd.make_loss("squared")
    W0 = zero_and_random_starts(problem, rng, 2)
    fractions = np.array([0.5, 3.0, 0.9, 5.0])
    eta = dspgd.eta_max(problem.space, family, loss) * fractions

    result = run(problem, family, loss, eta, W0)

    assert list(result.status) == ["converged", "diverged", "converged", "diverged"]
    assert np.all(np.isnan(result.W[[1, 3]]))
    assert np.all(np.isfinite(result.W[[0, 2]]))
    assert np.all(result.iterations[[1, 3]] < 100)
    for index in (0, 2):
        alone = run(problem, family, loss, eta[index : index + 1], W0[index])
        assert relative_distance(result.W[index], alone.W[0], W0[index]) <= 1e-12


def test_spectral_overflow_diverges_without_error(problem):
    """A huge step makes G^T G overflow while G is finite, and the factorization fails."""
    _, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("spectral"), dspgd.make_loss("squared")
    eta = np.array([0.5 * dspgd.eta_max(problem.space, family, loss), 1e200, 1e300])

    result = run(problem, family, loss, eta, np.zeros((d, k)))

    assert list(result.status) == ["converged", "diverged", "diverged"]
    assert np.all(np.isnan(result.W[1:]))
    assert relative_distance(result.W[0], result.W_gd[0], np.zeros((d, k))) <= 1e-9


def test_budget_too_small_gives_max_iter(problem, rng):
    """A budget of seven steps stops every run with status max_iter at the iterate of seven hand-made steps."""
    n, d, k = problem.shape
    eps = np.array([0.05, 0.1, 0.3])
    family, loss = dspgd.make_preconditioner("adam", eps=eps), dspgd.make_loss("logcosh")
    W0 = rng.standard_normal((3, d, k))
    eta = dspgd.eta_max(problem.space, family, loss) * 0.5

    result = run(problem, family, loss, eta, W0, max_iter=7)

    assert list(result.status) == ["max_iter"] * 3
    np.testing.assert_array_equal(result.iterations, 7)
    for index in range(3):
        alone = dspgd.make_preconditioner("adam", eps=eps[index])
        expected = iterate_by_hand(problem, alone, loss, eta[index], W0[index], steps=7)
        assert frobenius(result.W[index] - expected) <= 1e-13 * frobenius(expected - W0[index])
        residual = frobenius(problem.X @ expected - problem.Y) / frobenius(problem.Y)
        assert result.relative_residual[index] == pytest.approx(residual, rel=1e-12)


def test_oscillating_run_ends_at_budget(problem):
    """Log-cosh bounds the gradient, so an unstable step oscillates instead of blowing up."""
    _, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("logcosh")
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.5, 3.0])

    result = run(problem, family, loss, eta, np.zeros((d, k)), max_iter=3000)

    assert list(result.status) == ["converged", "max_iter"]
    assert result.iterations[1] == 3000
    assert np.all(np.isfinite(result.W[1]))


# ---------------------------------------------------------------------------
# Batched runs equal single runs.
# ---------------------------------------------------------------------------


def assert_batch_matches_single_runs(problem, family, loss, eta, Y, W0):
    m = len(eta)
    result = run(problem, family, loss, eta, W0, Y=Y)

    assert len(set(result.iterations)) > 1, "the runs should stop at different iterations"
    for index in range(m):
        alone = run(problem, family.select(np.array([index])), loss, eta[index : index + 1], W0[index], Y=Y[index])
        assert result.status[index] == alone.status[0]
        assert result.iterations[index] == alone.iterations[0]
        assert relative_distance(result.W[index], alone.W[0], W0[index]) <= 1e-12
        np.testing.assert_allclose(
            result.trajectory.relative_residual[:, index],
            alone.trajectory.relative_residual[:, 0],
            rtol=1e-12,
            atol=1e-14,  # near convergence ||XW - Y|| is rounding noise of size ||Y|| * 1e-16
        )


@pytest.mark.parametrize("name", SMOOTH_PRECONDITIONERS)
def test_batch_matches_single_runs(name, problem, rng):
    """Every run has its own hyperparameters, labels, start and step size, and stops at its own iteration."""
    n, d, k = problem.shape
    m = 4
    family = dspgd.make_preconditioner(name, **per_run_hyperparameters(dspgd.PRECONDITIONERS[name], m))
    loss = dspgd.make_loss("logcosh")
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.2, 0.5, 0.9, 0.7])

    Y = rng.standard_normal((m, n, k))
    W0 = rng.standard_normal((m, d, k))

    assert_batch_matches_single_runs(problem, family, loss, eta, Y, W0)


def test_per_run_diagonal_matches_single_runs(problem, rng):
    n, d, k = problem.shape
    m = 3
    family = dspgd.make_preconditioner("diagonal", D=1.0 + 9.0 * rng.random((m, d)))
    loss = dspgd.make_loss("squared")
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.2, 0.6, 0.9])

    Y = rng.standard_normal((m, n, k))
    W0 = rng.standard_normal((m, d, k))

    assert_batch_matches_single_runs(problem, family, loss, eta, Y, W0)


def test_shared_inputs_equal_repeated_inputs(problem, rng):
    n, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("sign"), dspgd.make_loss("squared")
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.3, 0.6])
    W0 = rng.standard_normal((d, k))

    shared = run(problem, family, loss, eta, W0)
    repeated = run(problem, family, loss, eta, np.stack([W0, W0]), Y=np.stack([problem.Y, problem.Y]))
    fresh_space = dspgd.run_batch(problem.X, problem.Y, W0, eta, family, loss)

    np.testing.assert_array_equal(shared.W, repeated.W)
    np.testing.assert_array_equal(shared.W, fresh_space.W)


def test_inputs_are_not_modified(problem, rng):
    """W0 already in the solver's (d, m, k) layout, or a single (1, d, k) start, must not be updated in place."""
    n, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")
    transposed = np.ascontiguousarray(rng.standard_normal((d, 2, k))).transpose(1, 0, 2)
    single = rng.standard_normal((1, d, k))

    for W0 in (transposed, single):
        original, labels = W0.copy(), problem.Y.copy()
        eta = np.full(len(W0), 0.5 * dspgd.eta_max(problem.space, family, loss))
        result = run(problem, family, loss, eta, W0)
        assert list(result.status) == ["converged"] * len(W0)
        np.testing.assert_array_equal(W0, original)
        np.testing.assert_array_equal(problem.Y, labels)


def test_single_run_with_shared_start(problem):
    _, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")

    result = run(problem, family, loss, np.array([1.0]), np.zeros((d, k)))

    assert list(result.status) == ["converged"]
    assert relative_distance(result.W[0], result.W_gd[0], np.zeros((d, k))) <= 1e-9


# ---------------------------------------------------------------------------
# Trajectories and progress.
# ---------------------------------------------------------------------------


def test_trajectory_samples_and_stops(problem, rng):
    _, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("spectral"), dspgd.make_loss("pseudo_huber")
    W0 = rng.standard_normal((3, d, k))
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.1, 0.5, 0.9])
    max_iter, samples = 100_000, 25

    result = run(problem, family, loss, eta, W0, samples=samples, record_distance_to_limit=True)
    trajectory = result.trajectory
    iteration = trajectory.iteration

    assert iteration[0] == 0
    assert iteration[-1] == max_iter
    assert np.all(np.diff(iteration) > 0)
    assert len(iteration) <= samples + 1
    targets = np.unique(np.round(np.logspace(0.0, np.log10(max_iter), samples)))
    assert set(targets.astype(int)) <= set(iteration.tolist())

    metrics = {
        "relative_residual": trajectory.relative_residual,
        "loss": trajectory.loss,
        "distance_to_gd": trajectory.distance_to_gd,
        "distance_to_start": trajectory.distance_to_start,
        "distance_to_limit": trajectory.distance_to_limit,
    }
    for label, values in metrics.items():
        assert values.shape == (len(iteration), 3), label
        for index in range(3):
            running = iteration <= result.iterations[index]
            assert np.all(np.isfinite(values[running, index])), label
            assert np.all(np.isnan(values[~running, index])), label

    R0 = problem.X @ W0 - problem.Y
    np.testing.assert_allclose(trajectory.relative_residual[0], frobenius(R0) / frobenius(problem.Y), rtol=1e-12)
    np.testing.assert_allclose(trajectory.loss[0], loss.value(R0), rtol=1e-12)
    np.testing.assert_allclose(trajectory.distance_to_gd[0], frobenius(W0 - result.W_gd), rtol=1e-12)
    np.testing.assert_array_equal(trajectory.distance_to_start[0], 0.0)
    np.testing.assert_allclose(trajectory.distance_to_limit[0], frobenius(W0 - result.W), rtol=1e-12)


def test_trajectory_without_limit_distance(problem):
    _, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")

    result = run(problem, family, loss, np.array([0.5]), np.zeros((d, k)))

    assert result.trajectory.distance_to_limit is None


def test_diverged_trajectory_stops(problem):
    _, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.5, 3.0])

    result = run(problem, family, loss, eta, np.zeros((d, k)))
    after_stop = result.trajectory.iteration > result.iterations[1]

    assert result.status[1] == "diverged"
    assert np.all(np.isnan(result.trajectory.relative_residual[after_stop, 1]))
    assert np.any(np.isfinite(result.trajectory.relative_residual[after_stop, 0]))


def test_progress_reported_without_printing(problem, rng, capsys):
    _, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.2, 0.9, 3.0])
    reports = []

    result = dspgd.run_batch(
        problem.X, problem.Y, np.zeros((d, k)), eta, family, loss, progress=reports.append, space=problem.space
    )

    assert reports
    assert all(isinstance(report, dspgd.Progress) for report in reports)
    assert np.all(np.diff([report.iteration for report in reports]) > 0)
    assert all(report.active + report.converged + report.diverged == 3 for report in reports)
    assert reports[-1].active == 0
    assert reports[-1].converged == np.sum(result.status == "converged") == 2
    assert reports[-1].diverged == np.sum(result.status == "diverged") == 1
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------------------
# Input validation.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("eta", "shown"),
    [
        (np.array([0.1, 0.0]), "0."),
        (np.array([0.1, -0.5]), "-0.5"),
        (np.array([np.nan]), "nan"),
        (np.array([np.inf]), "inf"),
        (np.full((2, 2), 0.1), "[[0.1, 0.1]"),
    ],
)
def test_invalid_eta_is_rejected(eta, shown, problem):
    _, d, k = problem.shape

    with pytest.raises(ValueError, match="eta must be a 1-D array of finite positive step sizes, got") as raised:
        dspgd.run_batch(
            problem.X, problem.Y, np.zeros((d, k)), eta, dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")
        )

    assert shown in str(raised.value)


def test_wrong_shapes_are_rejected(problem):
    n, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")
    eta = np.array([0.1, 0.2])
    Y_shapes = rf"Y must have shape \({n}, {k}\) or \(2, {n}, {k}\)"
    W0_shapes = rf"W0 must have shape \({d}, {k}\) or \(2, {d}, {k}\)"
    cases = [
        (np.zeros((n + 1, k)), np.zeros((d, k)), rf"{Y_shapes}, got \({n + 1}, {k}\)"),
        (problem.Y, np.zeros((d + 1, k)), rf"{W0_shapes}, got \({d + 1}, {k}\)"),
        (problem.Y, np.zeros((3, d, k)), rf"{W0_shapes}, got \(3, {d}, {k}\)"),
        (problem.Y, np.zeros((d, k + 1)), rf"{W0_shapes}, got \({d}, {k + 1}\)"),
    ]

    for Y, W0, message in cases:
        with pytest.raises(ValueError, match=message):
            dspgd.run_batch(problem.X, Y, W0, eta, family, loss, space=problem.space)


def test_zero_or_non_finite_labels_are_rejected(problem):
    n, d, k = problem.shape
    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")
    eta = np.array([0.1, 0.2])
    one_zero_run = np.stack([problem.Y, np.zeros((n, k))])
    with_nan = problem.Y.copy()
    with_nan[0, 0] = np.nan

    for Y, message in ((np.zeros((n, k)), "Y is zero"), (one_zero_run, "Y is zero"), (with_nan, "Y contains NaN")):
        with pytest.raises(ValueError, match=message):
            dspgd.run_batch(problem.X, Y, np.zeros((d, k)), eta, family, loss, space=problem.space)


def test_design_errors_reach_the_caller(rng):
    X = rng.standard_normal((10, 8))

    family, loss = dspgd.make_preconditioner("gd"), dspgd.make_loss("squared")

    with pytest.raises(ValueError, match="needs d > n"):
        dspgd.run_batch(X, np.ones((10, 2)), np.zeros((8, 2)), np.array([0.1]), family, loss)


def test_per_run_hyperparameters_must_match_batch(problem):
    _, d, k = problem.shape
    family = dspgd.make_preconditioner("adam", eps=np.array([0.1, 0.2, 0.3]))

    with pytest.raises(ValueError, match=r"per-run hyperparameter of length 3 needs a batch of shape \(m=3, d, k\)"):
        run(problem, family, dspgd.make_loss("squared"), np.array([0.1, 0.2]), np.zeros((d, k)))


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("tol", 0.0, "finite positive number"),
        ("step_tol", -1e-12, "finite positive number"),
        ("blowup", np.inf, "finite positive number"),
        ("max_iter", 0, "positive integer"),
        ("check_every", 2.5, "positive integer"),
        ("samples", -3, "positive integer"),
    ],
)
def test_invalid_options_are_rejected(option, value, expected):
    with pytest.raises(ValueError, match=f"SolverOptions: invalid {option}={value!r}; expected a {expected}"):
        SolverOptions(**{option: value})


def test_small_problem_with_one_output(rng):
    """k = 1 and n = 10, the smallest shapes the pipeline uses."""
    problem = make_problem(rng, n=10, d=30, k=1)
    family, loss = dspgd.make_preconditioner("per_output"), dspgd.make_loss("squared")
    eta = dspgd.eta_max(problem.space, family, loss) * np.array([0.5])

    result = run(problem, family, loss, eta, np.zeros((30, 1)))

    assert list(result.status) == ["converged"]
    assert relative_distance(result.W, result.W_gd, np.zeros((30, 1)))[0] <= 1e-9


@pytest.mark.parametrize("value", [np.nan, 2.5, 0])
def test_non_integer_budget_is_named(value):
    with pytest.raises(ValueError, match=f"invalid max_iter={value!r}"):
        dspgd.SolverOptions(max_iter=value)
