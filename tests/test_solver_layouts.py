"""The solver's in-place paths and the kernels' fast paths for its (d, m, k) batch layout.

run_batch stores a batch as a C-contiguous (d, m, k) array and passes the
families its (m, d, k) transposed view. frobenius() and scale_runs() take a
faster route for such views, and the solver scales each direction in place.
These tests check that every route gives the textbook values.
"""

from __future__ import annotations

import numpy as np
import pytest

import dspgd
from dspgd._batch import frobenius, scale_runs

M, D, K = 4, 7, 3


def batch_layouts(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return the same (m, d, k) batch as a C-contiguous array and as the solver's transposed view."""
    G = np.random.default_rng(seed).standard_normal((M, D, K))
    rows_first = np.ascontiguousarray(G.transpose(1, 0, 2))
    return G, rows_first.transpose(1, 0, 2)


def textbook_gradient(name: str, G: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Return grad K(G) from the formulas in the preconditioners' docstrings, one run at a time."""
    runs = []
    for run, hyperparameter in zip(G, value, strict=True):
        if name == "gd":
            runs.append(run)
        elif name == "adam":
            runs.append(run / (np.abs(run) + hyperparameter))
        elif name == "global_clip":
            runs.append(run * min(1.0, hyperparameter / np.linalg.norm(run)))
        elif name == "normalized_gd":
            runs.append(run / np.sqrt(np.linalg.norm(run) ** 2 + hyperparameter**2))
    return np.array(runs)


CASES = [
    ("gd", {}, np.zeros(M)),
    ("adam", {"eps": 0.1}, np.full(M, 0.1)),
    ("adam", {"eps": np.array([0.05, 0.1, 0.5, 2.0])}, np.array([0.05, 0.1, 0.5, 2.0])),
    ("global_clip", {"tau": 1.0}, np.full(M, 1.0)),
    ("global_clip", {"tau": np.array([0.1, 1.0, 3.0, 100.0])}, np.array([0.1, 1.0, 3.0, 100.0])),
    ("normalized_gd", {"eps": 0.3}, np.full(M, 0.3)),
]


@pytest.mark.parametrize(("name", "hyperparameters", "value"), CASES)
def test_gradient_same_in_both_layouts(name, hyperparameters, value):
    preconditioner = dspgd.make_preconditioner(name, **hyperparameters)
    G, G_view = batch_layouts()
    expected = textbook_gradient(name, G, value)
    np.testing.assert_allclose(preconditioner.gradient(G), expected, rtol=1e-14, atol=0)
    np.testing.assert_allclose(preconditioner.gradient(G_view), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize(("name", "hyperparameters", "value"), CASES)
def test_gradient_leaves_input_unchanged(name, hyperparameters, value):
    preconditioner = dspgd.make_preconditioner(name, **hyperparameters)
    _, G_view = batch_layouts()
    before = G_view.copy()
    result = preconditioner.gradient(G_view)
    assert not np.shares_memory(result, G_view)
    np.testing.assert_array_equal(G_view, before)


def test_frobenius_same_in_both_layouts():
    G, G_view = batch_layouts()
    expected = np.linalg.norm(G.reshape(M, -1), axis=1)
    np.testing.assert_allclose(frobenius(G_view), expected, rtol=1e-15)
    np.testing.assert_allclose(frobenius(G_view, keepdims=True), expected[:, None, None], rtol=1e-15)
    np.testing.assert_allclose(frobenius(G), expected, rtol=1e-15)


def test_scale_runs_same_in_both_layouts():
    G, G_view = batch_layouts()
    factor = np.array([0.5, 2.0, -1.0, 3.0])[:, None, None]
    np.testing.assert_array_equal(scale_runs(G_view, factor), G * factor)
    np.testing.assert_array_equal(scale_runs(G, factor), G * factor)
    np.testing.assert_array_equal(scale_runs(G_view, 2.0), 2.0 * G)


def make_runs(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 15))
    Y = rng.standard_normal((m, 6, 2))
    W0 = 0.1 * rng.standard_normal((m, 15, 2))
    space = dspgd.RowSpace.from_design(X)
    eta = np.linspace(0.3, 0.9, m) * dspgd.eta_max(space, dspgd.make_preconditioner("adam"), dspgd.make_loss("squared"))
    return X, Y, W0, eta


def test_single_run_does_not_write_to_start():
    X, Y, W0, eta = make_runs(1)
    before = W0.copy()
    result = dspgd.run_batch(X, Y, W0, eta, dspgd.make_preconditioner("adam"), dspgd.make_loss("squared"))
    assert result.status[0] == "converged"
    np.testing.assert_array_equal(W0, before)


def test_single_run_accepts_shared_start():
    X, Y, W0, eta = make_runs(1)
    result = dspgd.run_batch(X, Y[0], W0[0], eta, dspgd.make_preconditioner("adam"), dspgd.make_loss("squared"))
    assert result.status[0] == "converged"


def test_batch_matches_runs_one_at_a_time():
    X, Y, W0, eta = make_runs(5)
    adam, loss = dspgd.make_preconditioner("adam"), dspgd.make_loss("squared")
    batch = dspgd.run_batch(X, Y, W0, eta, adam, loss)
    for run in range(5):
        single = dspgd.run_batch(X, Y[run : run + 1], W0[run : run + 1], eta[run : run + 1], adam, loss)
        assert single.status[0] == batch.status[run] == "converged"
        assert single.iterations[0] == batch.iterations[run]
        difference = np.linalg.norm(single.W[0] - batch.W[run]) / np.linalg.norm(batch.W[run])
        assert difference <= 1e-12
