"""Shared fixtures for the core tests: a reproducible generator and a problem maker."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from helpers import Problem, make_problem


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """Return a generator seeded from the test id, so every parameter case draws its own reproducible data."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def problem(rng: np.random.Generator) -> Problem:
    """Return the default small problem: n = 16, d = 80, k = 3."""
    return make_problem(rng)
