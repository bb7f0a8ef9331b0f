"""Tests of the entrywise losses of the residual ``R``, shape ``(n, k)`` or ``(m, n, k)``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import dspgd
from helpers import LOSS_NAMES, SMOOTH_LOSSES, away_from_kinks, central_difference, numeric_hyperparameters

n, k, m = 6, 3, 4
LOG2 = np.log(2.0)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_shapes_and_finiteness(name, rng):
    loss = dspgd.make_loss(name)
    single = rng.standard_normal((n, k))
    batch = rng.standard_normal((m, n, k))

    assert np.shape(loss.value(single)) == ()
    assert loss.gradient(single).shape == (n, k)
    assert np.shape(loss.value(batch)) == (m,)
    assert loss.gradient(batch).shape == (m, n, k)
    for value in (loss.value(single), loss.gradient(single), loss.value(batch), loss.gradient(batch)):
        assert np.all(np.isfinite(value))


@pytest.mark.parametrize("scale", (0.01, 1.0, 30.0))
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gradient_matches_finite_difference(name, scale, rng):
    loss = dspgd.make_loss(name)
    for _ in range(3):
        R = away_from_kinks(rng, (n, k), scale)
        direction = rng.standard_normal((n, k))
        direction /= np.linalg.norm(direction)

        numeric = central_difference(loss.value, R, direction, h=1e-6 * scale)
        exact = np.sum(loss.gradient(R) * direction)

        assert numeric == pytest.approx(exact, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_batch_matches_single_runs(name, rng):
    loss = dspgd.make_loss(name)
    R = rng.standard_normal((m, n, k))

    values, gradients = loss.value(R), loss.gradient(R)

    for run in range(m):
        assert values[run] == pytest.approx(float(loss.value(R[run])), rel=1e-14)
        np.testing.assert_allclose(gradients[run], loss.gradient(R[run]), rtol=1e-15)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_minimised_at_zero(name, rng):
    loss = dspgd.make_loss(name)

    assert loss.value(np.zeros((n, k))) == 0.0
    np.testing.assert_array_equal(loss.gradient(np.zeros((n, k))), 0.0)
    assert np.all(loss.entrywise(rng.standard_normal((n, k))) > 0.0)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gradient_is_monotone(name, rng):
    loss = dspgd.make_loss(name)
    for scale in (0.01, 1.0, 30.0):
        A, B = scale * rng.standard_normal((2, n, k))

        inner = np.sum((loss.gradient(A) - loss.gradient(B)) * (A - B))

        assert inner >= 0.0


@pytest.mark.parametrize("name", SMOOTH_LOSSES)
def test_curvature_at_zero_matches_finite_difference(name):
    loss = dspgd.make_loss(name)
    h = 1e-7

    numeric = (loss.gradient(np.array([[h]])) - loss.gradient(np.array([[-h]])))[0, 0] / (2.0 * h)

    assert numeric == pytest.approx(loss.curvature_at_zero(), rel=1e-10)


def test_smooth_flag():
    assert SMOOTH_LOSSES == sorted(["squared", "logcosh", "pseudo_huber"])
    assert dspgd.make_loss("power", p=2.0).smooth
    assert not dspgd.make_loss("power", p=1.5).smooth
    assert dspgd.make_loss("power", p=1.5).curvature_at_zero() == np.inf
    assert dspgd.make_loss("power", p=3.0).curvature_at_zero() == 0.0


def test_logcosh_matches_definition(rng):
    R = 10.0 * rng.standard_normal((n, k))

    np.testing.assert_allclose(dspgd.make_loss("logcosh").entrywise(R), np.log(np.cosh(R)), rtol=1e-13)
    np.testing.assert_allclose(dspgd.make_loss("logcosh").gradient(R), np.tanh(R), rtol=1e-15)


def test_logcosh_large_residuals():
    """At |r| = 1e3 cosh overflows, and log cosh r equals |r| - log 2 to double precision."""
    loss = dspgd.make_loss("logcosh")
    R = np.array([[1e3, -1e3], [1e300, -1e300]])

    # exp(-2|r|) underflows to 0 on purpose; overflow or NaN would be a bug.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        values, gradients = loss.entrywise(R), loss.gradient(R)

    np.testing.assert_allclose(values, np.abs(R) - LOG2, rtol=1e-15)
    np.testing.assert_array_equal(gradients, np.sign(R))


def test_logcosh_small_residuals():
    """Near 0, log cosh r is r^2/2 - r^4/12 + r^6/45 and must keep full relative precision."""
    loss = dspgd.make_loss("logcosh")
    r = np.array([[1e-12, -1e-8, 1e-6, -1e-4, 1e-3]])

    series = r**2 / 2 - r**4 / 12 + r**6 / 45

    np.testing.assert_allclose(loss.entrywise(r), series, rtol=1e-15)


def test_logcosh_continuous_at_branch_switch():
    loss = dspgd.make_loss("logcosh")
    r = np.array([[1.0 - 1e-12, 1.0, 1.0 + 1e-12]])

    np.testing.assert_allclose(loss.entrywise(r), np.log(np.cosh(r)), rtol=1e-15)


@pytest.mark.parametrize("delta", (0.5, 1.0, 3.0))
def test_pseudo_huber_small_residuals(delta):
    """Near 0 the textbook form loses every digit to cancellation; compare with the Taylor series."""
    loss = dspgd.make_loss("pseudo_huber", delta=delta)
    r = np.array([[1e-12, -1e-9, 1e-6, -1e-4]])
    s2 = (r / delta) ** 2

    series = delta**2 * (s2 / 2 - s2**2 / 8 + s2**3 / 16)

    np.testing.assert_allclose(loss.entrywise(r), series, rtol=1e-15)
    assert np.all(loss.entrywise(r) > 0.0)


@pytest.mark.parametrize("delta", (0.5, 1.0, 3.0))
def test_pseudo_huber_matches_definition(delta, rng):
    loss = dspgd.make_loss("pseudo_huber", delta=delta)
    R = 5.0 * rng.standard_normal((n, k))

    textbook = delta**2 * (np.sqrt(1.0 + (R / delta) ** 2) - 1.0)

    np.testing.assert_allclose(loss.entrywise(R), textbook, rtol=1e-12)
    assert np.all(np.abs(loss.gradient(R)) < delta)


def test_power_matches_definition(rng):
    R = away_from_kinks(rng, (n, k), 1.0)

    for p in (1.5, 2.0, 3.0):
        loss = dspgd.make_loss("power", p=p)
        np.testing.assert_allclose(loss.entrywise(R), np.abs(R) ** p / p, rtol=1e-15)
        np.testing.assert_allclose(loss.gradient(R), np.sign(R) * np.abs(R) ** (p - 1), rtol=1e-15)


# ---------------------------------------------------------------------------
# Construction and validation.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hyperparameter", "value", "valid_range"),
    [
        ("pseudo_huber", "delta", 0.0, "> 0.0"),
        ("pseudo_huber", "delta", -1.0, "> 0.0"),
        ("pseudo_huber", "delta", np.nan, "> 0.0"),
        ("power", "p", 1.0, "> 1.0"),
        ("power", "p", 0.5, "> 1.0"),
        ("power", "p", np.inf, "> 1.0"),
    ],
)
def test_invalid_value_message_names_range(name, hyperparameter, value, valid_range):
    with pytest.raises(ValueError) as raised:
        dspgd.make_loss(name, **{hyperparameter: value})

    assert f"{name}: invalid {hyperparameter}={value!r}" in str(raised.value)
    assert valid_range in str(raised.value)


@pytest.mark.parametrize("name", [name for name in LOSS_NAMES if numeric_hyperparameters(dspgd.LOSSES[name])])
def test_per_run_array_is_rejected(name):
    """The solver shares one loss across the batch, so a per-run array must fail at construction."""
    hyperparameter, default = next(iter(numeric_hyperparameters(dspgd.LOSSES[name]).items()))

    with pytest.raises(ValueError, match=f"{hyperparameter} must be a scalar shared by every run"):
        dspgd.make_loss(name, **{hyperparameter: np.array([default, default])})


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="unknown loss 'huber'; choose one of: ") as raised:
        dspgd.make_loss("huber")

    for name in LOSS_NAMES:
        assert name in str(raised.value)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_unknown_hyperparameter_lists_valid_ones(name):
    with pytest.raises(ValueError, match=f"loss '{name}' has no hyperparameter 'scale'") as raised:
        dspgd.make_loss(name, scale=2.0)

    valid = [field.name for field in dataclasses.fields(dspgd.LOSSES[name])]
    assert f"valid ones: {', '.join(valid) or 'none'}" in str(raised.value)


def test_duplicate_registration_is_rejected():
    with pytest.raises(ValueError, match="loss name 'squared' is already registered"):
        dspgd.register_loss(dspgd.LOSSES["squared"])
