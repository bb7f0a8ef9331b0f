"""Tests of the preconditioner families: every registered family, then each declared class.

Shapes: a single gradient matrix is ``(d, k)`` and a batch ``(m, d, k)``.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import dspgd
from dspgd import Symmetry
from helpers import (
    PRECONDITIONER_NAMES,
    SMOOTH_PRECONDITIONERS,
    away_from_kinks,
    central_difference,
    numeric_hyperparameters,
    per_run_hyperparameters,
    preconditioners_where,
    random_orthogonal,
)

d, k, m = 5, 3, 4
SCALES = (0.05, 1.0, 5.0)  # inside and outside the smoothing regions of the default eps, tau and delta


WITH_HYPERPARAMETERS = [name for name in PRECONDITIONER_NAMES if numeric_hyperparameters(dspgd.PRECONDITIONERS[name])]


def symmetric_families(*classes: Symmetry) -> list[str]:
    return preconditioners_where(lambda family: family.symmetry in classes)


# ---------------------------------------------------------------------------
# Every registered family.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRECONDITIONER_NAMES)
def test_shapes_and_finiteness(name, rng):
    family = dspgd.make_preconditioner(name)
    single = rng.standard_normal((d, k))
    batch = rng.standard_normal((m, d, k))

    assert np.shape(family.potential(single)) == ()
    assert family.gradient(single).shape == (d, k)
    assert np.shape(family.potential(batch)) == (m,)
    assert family.gradient(batch).shape == (m, d, k)
    for value in (family.potential(single), family.gradient(single), family.potential(batch), family.gradient(batch)):
        assert np.all(np.isfinite(value))


@pytest.mark.parametrize("name", PRECONDITIONER_NAMES)
def test_gradient_leaves_input_unchanged(name, rng):
    family = dspgd.make_preconditioner(name)
    G = rng.standard_normal((m, d, k))
    original = G.copy()

    family.potential(G)
    family.gradient(G)

    np.testing.assert_array_equal(G, original)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", PRECONDITIONER_NAMES)
def test_gradient_matches_finite_difference(name, scale, rng):
    family = dspgd.make_preconditioner(name)
    for _ in range(3):
        G = away_from_kinks(rng, (d, k), scale)
        direction = rng.standard_normal((d, k))
        direction /= np.linalg.norm(direction)

        numeric = central_difference(family.potential, G, direction, h=1e-6 * scale)
        exact = np.sum(family.gradient(G) * direction)

        assert numeric == pytest.approx(exact, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("name", PRECONDITIONER_NAMES)
def test_batch_matches_single_runs(name, rng):
    """A batch with scalar hyperparameters evaluates each run as if it were alone."""
    family = dspgd.make_preconditioner(name)
    G = rng.standard_normal((m, d, k))

    potentials, gradients = family.potential(G), family.gradient(G)

    for run in range(m):
        assert potentials[run] == pytest.approx(float(family.potential(G[run])), rel=1e-14, abs=1e-300)
        np.testing.assert_allclose(gradients[run], family.gradient(G[run]), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", WITH_HYPERPARAMETERS)
def test_per_run_hyperparameters_match_single_runs(name, rng):
    cls = dspgd.PRECONDITIONERS[name]
    per_run = per_run_hyperparameters(cls, m)
    batched = dspgd.make_preconditioner(name, **per_run)
    G = 2.0 * rng.standard_normal((m, d, k))

    potentials, gradients = batched.potential(G), batched.gradient(G)
    curvatures = np.broadcast_to(batched.curvature_at_zero(), (m,))

    for run in range(m):
        alone = dspgd.make_preconditioner(name, **{key: float(value[run]) for key, value in per_run.items()})
        assert potentials[run] == pytest.approx(float(alone.potential(G[run])), rel=1e-14)
        np.testing.assert_allclose(gradients[run], alone.gradient(G[run]), rtol=1e-14, atol=1e-300)
        assert curvatures[run] == alone.curvature_at_zero()

        selected = batched.select(np.array([run]))
        np.testing.assert_allclose(selected.gradient(G[run : run + 1])[0], gradients[run], rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", WITH_HYPERPARAMETERS)
def test_per_run_hyperparameters_reject_wrong_batch(name, rng):
    per_run = per_run_hyperparameters(dspgd.PRECONDITIONERS[name], m)
    batched = dspgd.make_preconditioner(name, **per_run)

    with pytest.raises(ValueError, match="per-run hyperparameter"):
        batched.gradient(rng.standard_normal((m + 1, d, k)))


@pytest.mark.parametrize("name", PRECONDITIONER_NAMES)
def test_gradient_vanishes_at_zero(name):
    family = dspgd.make_preconditioner(name)

    np.testing.assert_array_equal(family.gradient(np.zeros((d, k))), 0.0)
    np.testing.assert_array_equal(family.gradient(np.zeros((m, d, k))), 0.0)


@pytest.mark.parametrize("name", PRECONDITIONER_NAMES)
def test_gradient_is_monotone(name, rng):
    """Convexity of K: <grad K(A) - grad K(B), A - B> >= 0 on random pairs at mixed scales."""
    family = dspgd.make_preconditioner(name)
    for scale_a in SCALES:
        for scale_b in SCALES:
            A = scale_a * rng.standard_normal((d, k))
            B = scale_b * rng.standard_normal((d, k))
            gradient_gap = family.gradient(A) - family.gradient(B)

            inner = np.sum(gradient_gap * (A - B))

            assert inner >= -1e-12 * np.linalg.norm(gradient_gap) * np.linalg.norm(A - B)


@pytest.mark.parametrize("name", PRECONDITIONER_NAMES)
def test_hyperparameters_are_json_serializable(name):
    per_run = per_run_hyperparameters(dspgd.PRECONDITIONERS[name], m)

    for family in (dspgd.make_preconditioner(name), dspgd.make_preconditioner(name, **per_run)):
        record = json.loads(json.dumps(family.hyperparameters()))
        assert set(record) == {field.name for field in dataclasses.fields(family)}


def test_symmetry_is_declared_for_every_family():
    for name in PRECONDITIONER_NAMES:
        assert isinstance(dspgd.PRECONDITIONERS[name].symmetry, Symmetry), name


# ---------------------------------------------------------------------------
# Declared classes.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", symmetric_families(Symmetry.ISOTROPIC))
def test_isotropic_gradient_is_parallel(name, rng):
    """grad K(G) = c(||G||) G with c >= 0, and K and c depend on G only through ||G||."""
    family = dspgd.make_preconditioner(name)
    for scale in SCALES:
        G = scale * rng.standard_normal((d, k))
        H = rng.standard_normal((d, k))
        H *= np.linalg.norm(G) / np.linalg.norm(H)

        gradient = family.gradient(G)
        factor = np.sum(gradient * G) / np.sum(G * G)

        assert factor >= 0.0
        np.testing.assert_allclose(gradient, factor * G, rtol=0, atol=1e-13 * np.linalg.norm(gradient))
        np.testing.assert_allclose(family.gradient(H), factor * H, rtol=1e-12, atol=1e-300)
        assert family.potential(H) == pytest.approx(family.potential(G), rel=1e-12)


@pytest.mark.parametrize("name", symmetric_families(Symmetry.ISOTROPIC, Symmetry.LEFT_ORTHOGONAL))
def test_left_orthogonal_equivariance(name, rng):
    family = dspgd.make_preconditioner(name)
    for scale in SCALES:
        G = scale * rng.standard_normal((d, k))
        Q = random_orthogonal(rng, d)

        np.testing.assert_allclose(family.gradient(Q @ G), Q @ family.gradient(G), rtol=0, atol=1e-12 * scale)
        assert family.potential(Q @ G) == pytest.approx(family.potential(G), rel=1e-12)


def test_left_invariance_check_has_counterexamples():
    """Per-feature normalization and Adam are not left-invariant and must stay in the negative check below."""
    not_left_invariant = preconditioners_where(lambda family: not family.keeps_gd_limit)

    assert "per_feature" in not_left_invariant
    assert "adam" in not_left_invariant


@pytest.mark.parametrize("name", preconditioners_where(lambda family: not family.keeps_gd_limit))
def test_other_families_are_not_left_invariant(name, rng):
    """A family that does not declare left-orthogonal invariance must visibly break it.

    The scale 3 puts entries and rows well outside the smoothing region of
    every default eps, tau and delta, where the families are nonlinear.
    """
    family = dspgd.make_preconditioner(name)
    G = 3.0 * rng.standard_normal((d, k))

    departures = []
    for _ in range(3):
        Q = random_orthogonal(rng, d)
        departure = np.linalg.norm(family.gradient(Q @ G) - Q @ family.gradient(G))
        departures.append(departure / np.linalg.norm(family.gradient(G)))

    assert max(departures) > 1e-3


@pytest.mark.parametrize("name", symmetric_families(Symmetry.ISOTROPIC, Symmetry.RIGHT_ORTHOGONAL))
def test_right_orthogonal_equivariance(name, rng):
    family = dspgd.make_preconditioner(name)
    for scale in SCALES:
        G = scale * rng.standard_normal((d, k))
        Q = random_orthogonal(rng, k)

        np.testing.assert_allclose(family.gradient(G @ Q), family.gradient(G) @ Q, rtol=0, atol=1e-12 * scale)
        assert family.potential(G @ Q) == pytest.approx(family.potential(G), rel=1e-12)


@pytest.mark.parametrize("name", symmetric_families(Symmetry.SEPARABLE))
def test_separable_acts_entrywise(name, rng):
    """The gradient of a matrix equals the gradient of each entry as a 1 x 1 matrix."""
    family = dspgd.make_preconditioner(name)
    G = away_from_kinks(rng, (d, k), 1.0)

    gradient = family.gradient(G)
    entrywise = np.array([[family.gradient(G[i : i + 1, j : j + 1])[0, 0] for j in range(k)] for i in range(d)])
    potentials = [family.potential(G[i : i + 1, j : j + 1]) for i in range(d) for j in range(k)]

    np.testing.assert_allclose(gradient, entrywise, rtol=1e-15, atol=0)
    assert family.potential(G) == pytest.approx(sum(potentials), rel=1e-13)


@pytest.mark.parametrize("name", symmetric_families(Symmetry.QUADRATIC))
def test_quadratic_is_linear(name, rng):
    family = dspgd.make_preconditioner(name)
    A, B = rng.standard_normal((2, d, k))
    a, b = 1.7, -0.3

    combined = family.gradient(a * A + b * B)

    np.testing.assert_allclose(combined, a * family.gradient(A) + b * family.gradient(B), rtol=1e-13, atol=1e-14)
    assert family.potential(A) == pytest.approx(0.5 * np.sum(A * family.gradient(A)), rel=1e-13)


def test_diagonal_with_explicit_weights(rng):
    D = 1.0 + 9.0 * rng.random(d)
    family = dspgd.make_preconditioner("diagonal", D=D)
    G = rng.standard_normal((d, k))

    np.testing.assert_allclose(family.gradient(G), D[:, None] * G, rtol=1e-15)
    assert family.potential(G) == pytest.approx(0.5 * np.sum(D[:, None] * G * G), rel=1e-14)
    assert family.curvature_at_zero() == np.max(D)
    assert family.curvature_bounds() == (np.min(D), np.max(D))


def test_diagonal_with_per_run_weights(rng):
    D = 1.0 + 9.0 * rng.random((m, d))
    family = dspgd.make_preconditioner("diagonal", D=D)
    G = rng.standard_normal((m, d, k))

    gradients = family.gradient(G)

    for run in range(m):
        alone = dspgd.make_preconditioner("diagonal", D=D[run])
        np.testing.assert_allclose(gradients[run], alone.gradient(G[run]), rtol=1e-15)
        np.testing.assert_allclose(family.select(np.array([run])).gradient(G[run : run + 1])[0], gradients[run])
    np.testing.assert_array_equal(family.curvature_at_zero(), np.max(D, axis=1))


def test_diagonal_rejects_wrong_length(rng):
    family = dspgd.make_preconditioner("diagonal", D=np.ones(d + 1))

    with pytest.raises(ValueError, match=rf"D has {d + 1} entries but the gradient has d={d} rows"):
        family.gradient(rng.standard_normal((d, k)))


# ---------------------------------------------------------------------------
# Curvature.
# ---------------------------------------------------------------------------


def hessian_at_zero(family: dspgd.Preconditioner, h: float = 1e-10) -> np.ndarray:
    """Return the ``(d k, d k)`` Hessian of ``K`` at 0 by central differences of the gradient.

    The step is tiny because Adam's gradient ``g / (|g| + eps)`` has a kink in
    its derivative at 0, which makes the error ``h / eps`` rather than ``h^2``.
    Every gradient is odd, so the difference has no cancellation.
    """
    columns = []
    for index in range(d * k):
        basis = np.zeros(d * k)
        basis[index] = 1.0
        columns.append(central_difference(family.gradient, np.zeros((d, k)), basis.reshape(d, k), h).ravel())
    return np.column_stack(columns)


@pytest.mark.parametrize("name", SMOOTH_PRECONDITIONERS)
def test_curvature_at_zero_matches_hessian(name):
    family = dspgd.make_preconditioner(name)
    curvature = family.curvature_at_zero()

    hessian = hessian_at_zero(family)
    diagonal = np.diag(hessian)

    np.testing.assert_allclose(hessian - np.diag(diagonal), 0.0, atol=1e-8 * curvature)
    assert np.max(diagonal) == pytest.approx(curvature, rel=1e-8)
    if family.symmetry is not Symmetry.QUADRATIC:
        np.testing.assert_allclose(diagonal, curvature, rtol=1e-8)


def test_power_curvature_at_zero():
    assert dspgd.make_preconditioner("power", p=3.0).curvature_at_zero() == 0.0
    assert dspgd.make_preconditioner("power", p=1.5).curvature_at_zero() == np.inf
    assert dspgd.make_preconditioner("power", p=2.0).curvature_at_zero() == 1.0
    np.testing.assert_array_equal(
        dspgd.make_preconditioner("power", p=np.array([1.5, 2.0, 3.0])).curvature_at_zero(), [np.inf, 1.0, 0.0]
    )


@pytest.mark.parametrize("name", preconditioners_where(lambda family: family.curvature_bounds() is not None))
def test_curvature_bounds_hold(name, rng):
    """mu I <= Hess K <= L I on random Hessian-vector probes at scales from 0.01 to 10."""
    family = dspgd.make_preconditioner(name)
    mu, L = family.curvature_bounds()
    assert 0.0 < mu <= L
    assert mu <= family.curvature_at_zero() <= L

    for scale in (0.01, 0.1, 1.0, 10.0):
        for _ in range(5):
            G = scale * rng.standard_normal((d, k))
            V = rng.standard_normal((d, k))
            V /= np.linalg.norm(V)

            hessian_v = central_difference(family.gradient, G, V, h=1e-6 * max(scale, 1e-2))
            rayleigh = np.sum(V * hessian_v)

            assert mu * (1 - 1e-6) <= rayleigh <= L * (1 + 1e-6)
            assert np.linalg.norm(hessian_v) <= L * (1 + 1e-6)


# ---------------------------------------------------------------------------
# Construction and validation.
# ---------------------------------------------------------------------------


def invalid_cases() -> list[tuple[str, str, float]]:
    """Return ``(family, hyperparameter, value)`` for values no family accepts."""
    cases = []
    for name in PRECONDITIONER_NAMES:
        for hyperparameter in numeric_hyperparameters(dspgd.PRECONDITIONERS[name]):
            cases += [(name, hyperparameter, value) for value in (np.nan, np.inf, -1.0)]
    return cases


@pytest.mark.parametrize(("name", "hyperparameter", "value"), invalid_cases())
def test_invalid_value_is_rejected(name, hyperparameter, value):
    with pytest.raises(ValueError, match="expected a finite value") as raised:
        dspgd.make_preconditioner(name, **{hyperparameter: value})

    assert f"{hyperparameter}={value!r}" in str(raised.value)
    assert name in str(raised.value)


@pytest.mark.parametrize(
    ("name", "hyperparameter", "value", "valid_range"),
    [
        ("normalized_gd", "eps", 0.0, "> 0.0"),
        ("adam", "eps", -0.1, "> 0.0"),
        ("sign", "eps", 0.0, "> 0.0"),
        ("spectral", "eps", 0.0, "> 0.0"),
        ("per_output", "eps", 0.0, "> 0.0"),
        ("per_feature", "eps", 0.0, "> 0.0"),
        ("global_clip", "tau", 0.0, "> 0.0"),
        ("entrywise_clip", "tau", -1.0, "> 0.0"),
        ("power", "p", 1.0, "> 1.0"),
        ("power", "p", 0.5, "> 1.0"),
        ("diagonal", "condition", 0.5, ">= 1.0"),
        ("quadratic_pseudo_huber", "a", -0.1, ">= 0.0"),
        ("quadratic_pseudo_huber", "delta", 0.0, "> 0.0"),
        ("quadratic_row_norm", "delta", 0.0, "> 0.0"),
    ],
)
def test_invalid_value_message_names_range(name, hyperparameter, value, valid_range):
    with pytest.raises(ValueError) as raised:
        dspgd.make_preconditioner(name, **{hyperparameter: value})

    assert f"invalid {hyperparameter}={value!r}" in str(raised.value)
    assert valid_range in str(raised.value)


def test_invalid_per_run_entry_is_named():
    with pytest.raises(ValueError, match=r"invalid eps=-0\.2; expected a finite value > 0\.0"):
        dspgd.make_preconditioner("adam", eps=np.array([0.1, -0.2, 0.3]))


def test_hyperparameter_of_wrong_dimension_is_rejected():
    with pytest.raises(ValueError, match=r"eps must be a scalar or a 1-D array.*shape \(2, 2\)"):
        dspgd.make_preconditioner("sign", eps=np.full((2, 2), 0.1))


@pytest.mark.parametrize(
    ("D", "minimum"),
    [([1.0, 0.0, 2.0], "0.0"), ([1.0, -3.0, 2.0], "-3.0"), ([1.0, np.nan, 2.0], "nan"), ([[1.0, 0.0]], "0.0")],
)
def test_diagonal_rejects_non_positive_weights(D, minimum):
    with pytest.raises(ValueError, match="D must be a finite positive array") as raised:
        dspgd.make_preconditioner("diagonal", D=np.array(D))

    assert f"minimum {minimum}" in str(raised.value)


def test_diagonal_rejects_weights_of_wrong_dimension():
    with pytest.raises(ValueError, match=r"shape \(d,\) or \(m, d\); got shape \(1, 2, 2\)"):
        dspgd.make_preconditioner("diagonal", D=np.ones((1, 2, 2)))


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="unknown preconditioner 'adamw'; choose one of: ") as raised:
        dspgd.make_preconditioner("adamw")

    for name in PRECONDITIONER_NAMES:
        assert name in str(raised.value)


@pytest.mark.parametrize("name", PRECONDITIONER_NAMES)
def test_unknown_hyperparameter_lists_valid_ones(name):
    with pytest.raises(ValueError, match=f"preconditioner '{name}' has no hyperparameter 'beta2'") as raised:
        dspgd.make_preconditioner(name, beta2=0.999)

    valid = [field.name for field in dataclasses.fields(dspgd.PRECONDITIONERS[name])]
    assert f"valid ones: {', '.join(valid) or 'none'}" in str(raised.value)


def test_duplicate_registration_is_rejected():
    with pytest.raises(ValueError, match="preconditioner name 'gd' is already registered"):
        dspgd.register_preconditioner(dspgd.PRECONDITIONERS["gd"])
