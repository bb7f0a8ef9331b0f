"""The quick profile's figures match the committed baseline images in tests/baseline/.

Images are compared with matplotlib.testing.compare.compare_images: the root mean
square difference of pixel values (0-255) must stay at or below FIGURE_TOLERANCE.
A failing comparison copies the new image and the difference image to
test-results/figures/. Regenerate the baselines with `make baseline` after an
intended change.

The comparison runs only where the quick run's versions, BLAS and platform equal
those of the baseline run (tests/baseline/environment.json). Elsewhere the values
at the numerical floor (about 1e-12) come out different, and the figures draw them.
Multiplying each such value by a random factor between 0.3 and 3 moved the C2
figure by RMS 30, more than a real change does (RMS 0.9 to 10, see
FIGURE_TOLERANCE). The reference check in test_quick_reproduction.py compares
the numbers across platforms.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from matplotlib.testing.compare import compare_images
from matplotlib.testing.exceptions import ImageComparisonFailure
from workflow_support import REPOSITORY

from dspgd.reference import run_environment

pytestmark = pytest.mark.pipeline

BASELINE_DIR = REPOSITORY / "tests" / "baseline"
BASELINE_ENVIRONMENT = BASELINE_DIR / "environment.json"
DIFF_DIR = REPOSITORY / "test-results" / "figures"
BASELINES = sorted(path.name for path in BASELINE_DIR.glob("*.png"))

#: RMS pixel difference allowed. On the baseline platform the pixels are identical (RMS 0). Multiplying
#: the real-data experiment's step sizes by 1.01 moves c3_gd_limit by RMS 0.9, c2_eta_dependence by 5.7
#: and real_data by 10.2, measured with the quick profile on an x86-64 machine (OpenBLAS, SkylakeX kernels).
FIGURE_TOLERANCE = 0.1


@pytest.fixture(scope="module")
def figures(quick_run):
    """The quick run's figure directory, if its environment is the baseline run's."""
    expected = json.loads(BASELINE_ENVIRONMENT.read_text(encoding="utf-8"))
    actual = run_environment(quick_run.output)
    if actual != expected:
        changed = sorted(key for key in expected.keys() | actual.keys() if expected.get(key) != actual.get(key))
        pytest.skip(
            f"the quick run's {', '.join(changed)} differ from tests/baseline/environment.json, so values at the "
            "numerical floor and the figures drawing them differ; run `make baseline` on this machine to compare here"
        )
    return quick_run.output / "figures"


@pytest.mark.parametrize("name", BASELINES)
def test_figure_matches_baseline(figures, name, tmp_path):
    drawn = figures / name
    assert drawn.is_file(), f"the quick profile no longer draws {name}; delete tests/baseline/{name} or restore it"
    # compare_images writes its difference image beside the new image, so compare a copy
    # and leave the shared run's figure directory as it is.
    actual = Path(shutil.copy(drawn, tmp_path / name))

    try:
        result = compare_images(str(BASELINE_DIR / name), str(actual), tol=FIGURE_TOLERANCE, in_decorator=True)
    except ImageComparisonFailure as error:
        # Raised for images of different sizes, which cannot be compared pixel by pixel.
        pytest.fail(f"{name} cannot be compared with tests/baseline/{name}: {error}. "
                    "Run `make baseline` if the change is intended.")
    if result is None:
        return
    DIFF_DIR.mkdir(parents=True, exist_ok=True)
    saved = [shutil.copy(result[key], DIFF_DIR / f"{actual.stem}-{key}.png") for key in ("actual", "diff")
             if result.get(key)]
    pytest.fail(
        f"{name} differs from tests/baseline/{name}: RMS {result['rms']:.3f} > tolerance {result['tol']}; "
        f"new image and difference saved as {', '.join(str(path) for path in saved)}. "
        "Run `make baseline` if the change is intended."
    )


def test_every_figure_has_baseline(figures):
    missing = sorted(path.name for path in figures.glob("*.png") if path.name not in BASELINES)
    if missing:
        pytest.skip(f"no baseline for {', '.join(missing)} yet; run `make baseline` to add one")
