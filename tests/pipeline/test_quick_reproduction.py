"""The quick profile, run once per session (fixture quick_run): verdicts, reference numbers, provenance.

The run uses a DISPLAY with no X server behind it and turns FutureWarning into an
error in every job, so it also shows that the pipeline runs headless and clean.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from workflow_support import REPOSITORY

from dspgd.io import file_sha256, load_npz
from dspgd.reference import compare_reference, measure_run

pytestmark = pytest.mark.pipeline

REFERENCE = REPOSITORY / "tests" / "reference" / "quick.json"
PROVENANCE_KEYS = {"config", "config_sha256", "seeds", "versions", "blas", "git_commit"}


def test_paper_claims_pass(quick_run):
    claims = json.loads((quick_run.output / "results" / "claims.json").read_text(encoding="utf-8"))["claims"]
    verdicts = {claim["id"]: claim["verdict"] for claim in claims if not claim.get("extension")}

    assert verdicts, "claims.json lists no claim of the paper"
    assert verdicts == dict.fromkeys(verdicts, "pass")


def test_every_claim_and_extension_passes(quick_run):
    claims = json.loads((quick_run.output / "results" / "claims.json").read_text(encoding="utf-8"))["claims"]
    verdicts = {claim["id"]: claim["verdict"] for claim in claims}

    assert sorted(verdicts) == ["C1", "C2", "C3", "C4", "E1", "E2", "E3", "E4"]
    for claim_id, verdict in verdicts.items():
        assert verdict == "pass", f"{claim_id} is {verdict} in the quick profile"


def test_every_claim_figure_exists(quick_run):
    claims = json.loads((quick_run.output / "results" / "claims.json").read_text(encoding="utf-8"))["claims"]
    for claim in claims:
        assert claim["figures"], f"{claim['id']} lists no figure"
        for path in claim["figures"]:
            # Figure paths in claims.json are relative to where Snakemake ran.
            figure = quick_run.copy / path
            assert figure.is_file(), f"{claim['id']}: missing figure {path}"
            assert figure.stat().st_size > 1000, f"{claim['id']}: figure {path} is nearly empty"


def test_run_matches_reference_numbers(quick_run):
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    result = compare_reference(reference, measure_run(quick_run.output))

    assert result.passed, "quick run does not reproduce tests/reference/quick.json:\n" + "\n".join(result.failures)


def test_npz_files_record_provenance(quick_run):
    paths = sorted((quick_run.output / "results").rglob("*.npz"))

    assert paths
    for path in paths:
        record = json.loads(str(load_npz(path)["provenance"]))
        assert PROVENANCE_KEYS <= record.keys(), f"{path.name}: provenance lacks {PROVENANCE_KEYS - record.keys()}"
        assert record["seeds"] is not None, f"{path}: provenance records no seed"


def test_tables_have_provenance_sidecars(quick_run):
    tables = sorted((quick_run.output / "results").rglob("*.csv"))

    assert tables
    for table in tables:
        sidecar = table.with_suffix(".provenance.json")
        assert sidecar.is_file(), f"{table} has no {sidecar.name}"
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        assert PROVENANCE_KEYS <= record.keys(), f"{sidecar.name}: provenance lacks {PROVENANCE_KEYS - record.keys()}"
        assert record["seeds"], f"{sidecar}: provenance records no seed"


def test_claims_record_provenance(quick_run):
    record = json.loads((quick_run.output / "results" / "claims.json").read_text(encoding="utf-8"))["provenance"]

    assert PROVENANCE_KEYS <= record.keys()
    assert record["seeds"] is not None


def test_png_figures_record_input_hashes(quick_run):
    paths = sorted((quick_run.output / "figures").glob("*.png"))

    assert paths
    for path in paths:
        with Image.open(path) as image:
            text = dict(image.text)
        assert "Software" not in text, f"{path.name} names the software version"
        assert "Description" in text, f"{path.name} has no provenance; pass figure_provenance(snakemake) to save_figure"
        record = json.loads(text["Description"])
        assert PROVENANCE_KEYS <= record.keys()
        assert record["inputs"], f"{path.name} lists no input"
        for input_path, digest in record["inputs"].items():
            assert file_sha256(quick_run.copy / input_path) == digest, f"{path.name}: hash of {input_path} differs"


def test_pdf_figures_have_no_dates(quick_run):
    paths = sorted((quick_run.output / "figures").glob("*.pdf"))

    assert paths
    for path in paths:
        content = path.read_bytes()
        assert b"/CreationDate" not in content, f"{path.name} records its creation date"
        assert b"/ModDate" not in content, f"{path.name} records a modification date"
        assert b"/Subject" in content, f"{path.name} has no provenance in its Subject field"


def test_jobs_report_no_font_fallback(quick_run):
    logs = "\n".join(path.read_text(encoding="utf-8") for path in sorted((quick_run.output / "logs").rglob("*.log")))
    output = quick_run.console + logs

    assert "findfont" not in output, "matplotlib fell back from DejaVu Sans to another font"
    assert "missing from font" not in output, "a glyph is missing from DejaVu Sans"


def test_outputs_have_no_partial_files(quick_run):
    leftovers = [path for path in Path(quick_run.output).rglob("*.partial")]

    assert leftovers == []
