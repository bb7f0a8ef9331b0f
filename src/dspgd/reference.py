"""Reference numbers of a finished pipeline run, and their comparison on another machine.

Bytes are identical only on the same platform: another CPU, BLAS or libm rounds
differently. This module therefore reduces a finished run to named quantities,
each stored with its own tolerance, and compares a new run against them:

* ``data/<data set>/rep<r>/<array>/<moment>``: a fingerprint of every generated
  data set replicate (shape, mean, standard deviation, largest magnitude of
  ``X``, ``Y`` and ``W0``). These are compared first: if they differ, numpy's
  random stream or the data generation changed, and the results that follow
  from the data cannot be compared at all.
* ``claims/<id>/verdict``: the verdict of every claim in ``results/claims.json``.
* ``limits/<experiment>/<preconditioner>/<quantity>``: run and status counts,
  largest ``rho`` and ``dist_gd``, median and largest ``eta_spread``, median and
  largest iteration count, from every ``results/limits/*.csv``.

Quantities that sit at the numerical floor (``dist_gd`` and ``eta_spread`` of
families whose limit is ``W_GD`` or does not move with ``eta``) are rounding
noise of about 1e-12; they are stored as "below :data:`NUMERICAL_FLOOR`", never
as values. Experiments, preconditioners, data sets and claims are read from the
output directory, so new ones need no change here: a quantity that the run has
and the reference lacks is reported as not checked until the reference is
regenerated.

Usage::

    python -m dspgd.reference write quick tests/reference/quick.json   # make reference
    python -m dspgd.reference check quick tests/reference/quick.json   # exit status 1 on a mismatch
    python -m dspgd.reference environment quick tests/baseline/environment.json   # make baseline
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dspgd.claims import read_limit_tables
from dspgd.io import load_npz, write_json

__all__ = ["NUMERICAL_FLOOR", "Comparison", "compare_reference", "measure_run", "reference_from_run", "run_environment"]

FORMAT_VERSION = 1

#: Distances at or below this are rounding noise (the quick profile's floor is about 3e-12).
NUMERICAL_FLOOR = 1e-9

#: Generated data: the same stream gives the same numbers up to a few ulps of libm and LAPACK.
DATA_TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}

#: Limits converge to a relative residual of 1e-12, so O(1) summaries agree to far better than this.
LIMIT_TOLERANCE = {"rtol": 1e-6, "atol": 0.0}

#: A rounding difference can move a run's stop by one convergence check (check_every = 10 iterations
#: in both configurations); two checks plus 0.5 % leave room for that and nothing more.
ITERATION_TOLERANCE = {"rtol": 5e-3, "atol": 20.0}

#: Limit-table columns summarised per (experiment, preconditioner): (summary name, column, reduction, floor-prone).
LIMIT_SUMMARIES = (
    ("max_rho", "rho", "max", False),
    ("max_dist_gd", "dist_gd", "max", True),
    ("median_eta_spread", "eta_spread", "median", True),
    ("max_eta_spread", "eta_spread", "max", True),
    ("median_iterations", "iterations", "median", False),
    ("max_iterations", "iterations", "max", False),
)


@dataclass
class Comparison:
    """Outcome of :func:`compare_reference`.

    Attributes:
        failures: one line per quantity outside its tolerance, naming the quantity,
            the expected and the measured value.
        notes: lines that do not fail the check (a changed configuration, quantities
            that the reference does not have yet).
    """

    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _json_value(value: Any) -> Any:
    """Convert numpy scalars to JSON types and NaN to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _data_fingerprint(path: Path) -> dict[str, Any]:
    arrays = load_npz(path)
    fingerprint = {}
    for name in ("X", "Y", "W0"):
        array = np.asarray(arrays[name], dtype=np.float64)
        fingerprint[f"{name}/shape"] = list(array.shape)
        fingerprint[f"{name}/mean"] = float(array.mean())
        fingerprint[f"{name}/std"] = float(array.std())
        fingerprint[f"{name}/max_abs"] = float(np.abs(array).max())
    return fingerprint


def _limit_summaries(table: pd.DataFrame) -> dict[str, tuple[Any, bool]]:
    summaries: dict[str, tuple[Any, bool]] = {}
    for (experiment, label), group in table.groupby(["experiment", "preconditioner"], sort=True):
        prefix = f"limits/{experiment}/{label}"
        summaries[f"{prefix}/runs"] = (len(group), False)
        counts = group["status"].value_counts().sort_index()
        summaries[f"{prefix}/status_counts"] = ({str(key): int(value) for key, value in counts.items()}, False)
        for name, column, reduction, floor_prone in LIMIT_SUMMARIES:
            value = group[column].max() if reduction == "max" else group[column].median()
            summaries[f"{prefix}/{name}"] = (_json_value(value), floor_prone)
    return summaries


def _read_claims(root: Path) -> dict[str, Any]:
    claims_path = root / "results" / "claims.json"
    if not claims_path.is_file():
        raise FileNotFoundError(f"{claims_path} not found; run the pipeline to the end before comparing it")
    return json.loads(claims_path.read_text(encoding="utf-8"))


def run_environment(output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the versions, BLAS libraries and platform that the run in ``output_dir`` recorded in claims.json.

    Two runs with equal environments give byte-identical outputs; runs with
    different ones agree only within the tolerances of a reference.
    """
    provenance = _read_claims(Path(output_dir)).get("provenance", {})
    return {key: provenance.get(key) for key in ("versions", "blas", "platform")}


def measure_run(output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the quantities of a finished run in ``output_dir``.

    Returns ``{"environment", "config_sha256", "data", "claims", "limits"}``: the
    run's :func:`run_environment`, its configuration hash, the data fingerprints, the
    verdicts, and the limit summaries as ``{name: (value, floor_prone)}``.

    Raises:
        FileNotFoundError: if the run has no claims.json, limit table or data file.
    """
    root = Path(output_dir)
    report = _read_claims(root)
    tables = sorted((root / "results" / "limits").glob("*.csv"))
    data_files = sorted((root / "results" / "data").glob("*/rep*.npz"))
    if not tables or not data_files:
        raise FileNotFoundError(f"no limit tables or data files under {root / 'results'}; is the run complete?")

    data = {}
    for path in data_files:
        for name, value in _data_fingerprint(path).items():
            data[f"data/{path.parent.name}/{path.stem}/{name}"] = value
    table = read_limit_tables(tables)
    return {
        "environment": run_environment(root),
        "config_sha256": report.get("provenance", {}).get("config_sha256"),
        "data": data,
        "claims": {f"claims/{claim['id']}/verdict": claim["verdict"] for claim in report["claims"]},
        "limits": _limit_summaries(table),
    }


def _tolerance_of(name: str, value: Any, floor_prone: bool) -> dict[str, Any]:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return {"exact": True}
    if name.startswith("data/"):
        return dict(DATA_TOLERANCE)
    if floor_prone and value <= NUMERICAL_FLOOR:
        return {"below": NUMERICAL_FLOOR}
    if name.endswith("_iterations"):
        return dict(ITERATION_TOLERANCE)
    if name.endswith("/runs"):
        return {"exact": True}
    return dict(LIMIT_TOLERANCE)


def reference_from_run(output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Build the reference document of a finished run: every quantity with its tolerance."""
    measured = measure_run(output_dir)
    quantities = {}
    for name, value in {**measured["data"], **measured["claims"]}.items():
        quantities[name] = {"value": value, **_tolerance_of(name, value, False)}
    for name, (value, floor_prone) in measured["limits"].items():
        quantities[name] = {"value": value, **_tolerance_of(name, value, floor_prone)}
    return {
        "format": FORMAT_VERSION,
        "regenerate": "make reference",
        "environment": measured["environment"],
        "config_sha256": measured["config_sha256"],
        "quantities": quantities,
    }


def _mismatch(name: str, entry: Mapping[str, Any], measured: Any) -> str | None:
    """Return a failure line if ``measured`` is outside the tolerance of the reference ``entry``."""
    expected = entry["value"]
    if "below" in entry:
        if isinstance(measured, int | float) and measured <= entry["below"]:
            return None
        return (
            f"{name}: expected at most {entry['below']:g} (numerical floor; reference {expected:.3g}), "
            f"measured {measured!r}"
        )
    if entry.get("exact"):
        return None if measured == expected else f"{name}: expected {expected!r}, measured {measured!r}"
    if expected is None or measured is None:
        return None if expected is measured else f"{name}: expected {expected!r}, measured {measured!r}"
    allowed = entry.get("atol", 0.0) + entry.get("rtol", 0.0) * abs(expected)
    if abs(measured - expected) <= allowed:
        return None
    return (
        f"{name}: expected {expected!r}, measured {measured!r} "
        f"(difference {abs(measured - expected):.3g} exceeds the tolerance {allowed:.3g})"
    )


def _compare_group(reference: Mapping[str, Any], measured: Mapping[str, Any], prefix: str, result: Comparison) -> None:
    expected_names = [name for name in reference if name.startswith(prefix)]
    for name in expected_names:
        if name not in measured:
            result.failures.append(f"{name}: expected {reference[name]['value']!r}, missing from the run")
            continue
        line = _mismatch(name, reference[name], measured[name])
        if line is not None:
            result.failures.append(line)
    unchecked = sorted(name for name in measured if name not in reference)
    if unchecked:
        result.notes.append(
            f"{len(unchecked)} quantities are not in the reference and were not checked (regenerate it with "
            f"`make reference` once they are final), e.g. {', '.join(unchecked[:3])}"
        )


def _numpy_version(environment: Mapping[str, Any] | None) -> str:
    return str(((environment or {}).get("versions") or {}).get("numpy", "unknown"))


def compare_reference(reference: Mapping[str, Any], measured: Mapping[str, Any]) -> Comparison:
    """Compare :func:`measure_run` output with a reference document from :func:`reference_from_run`.

    The data fingerprints are compared first. When they differ, the results are
    not compared, and the first failure states that the generated data changed.
    """
    result = Comparison()
    if reference.get("format") != FORMAT_VERSION:
        result.failures.append(
            f"reference format {reference.get('format')!r} is not the supported {FORMAT_VERSION}; "
            "regenerate it with `make reference`"
        )
        return result
    quantities = reference["quantities"]
    if measured["config_sha256"] != reference.get("config_sha256"):
        result.notes.append(
            f"the run's configuration (sha256 {measured['config_sha256']}) differs from the reference's "
            f"({reference.get('config_sha256')}); regenerate the reference with `make reference` "
            "if the change is intended"
        )

    if measured["environment"] != reference.get("environment"):
        result.notes.append(
            "the run's versions, BLAS or platform differ from the reference's, so its outputs are not byte-identical "
            "to the reference run's; quantities are compared within their tolerances"
        )

    data = Comparison()
    _compare_group(quantities, measured["data"], "data/", data)
    if data.failures:
        numpy_here, numpy_there = _numpy_version(measured["environment"]), _numpy_version(reference.get("environment"))
        if numpy_here != numpy_there:
            headline = (
                f"numpy random stream changed (numpy {numpy_here}, reference made with {numpy_there}) — data differ"
            )
        else:
            headline = (
                f"generated data differ although numpy is the reference's version ({numpy_here}): "
                "the data generation code, its configuration or a bundled data set changed"
            )
        result.failures += [headline + "; results were not compared, since they follow from the data", *data.failures]
        result.notes += data.notes
        return result

    result.notes += data.notes
    _compare_group(quantities, measured["claims"], "claims/", result)
    limits = {name: value for name, (value, _) in measured["limits"].items()}
    _compare_group(quantities, limits, "limits/", result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dspgd.reference",
        description="Write the reference numbers of a finished run, or check a finished run against them.",
    )
    parser.add_argument("command", choices=("write", "check", "environment"),
                        help="write a reference file, check a run against one, or write the run's environment")
    parser.add_argument("output_dir", help="output directory of a finished run, e.g. quick")
    parser.add_argument("reference", help="reference (or environment) file, e.g. tests/reference/quick.json")
    args = parser.parse_args(argv)

    if args.command == "environment":
        write_json(args.reference, run_environment(args.output_dir))
        print(f"wrote the environment of {args.output_dir} to {args.reference}")
        return 0

    if args.command == "write":
        document = reference_from_run(args.output_dir)
        write_json(args.reference, document)
        print(f"wrote {len(document['quantities'])} reference quantities of {args.output_dir} to {args.reference}")
        return 0

    reference = json.loads(Path(args.reference).read_text(encoding="utf-8"))
    result = compare_reference(reference, measure_run(args.output_dir))
    for line in result.notes:
        print(f"note: {line}", flush=True)
    if result.failures:
        summary = f"{args.output_dir} does not reproduce {args.reference}: {len(result.failures)} failure(s)"
        print(summary, file=sys.stderr)
        for line in result.failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{args.output_dir} reproduces all {len(reference['quantities'])} quantities of {args.reference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
