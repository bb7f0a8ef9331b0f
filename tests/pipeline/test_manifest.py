"""SHA-256 manifests of output directories (dspgd.manifest)."""

from __future__ import annotations

import pytest

from dspgd.manifest import build_manifest, compare_manifests, format_manifest, main, parse_manifest


@pytest.fixture
def output(tmp_path):
    root = tmp_path / "out"
    (root / "results").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / "results" / "table.csv").write_text("a,b\n1,2\n")
    (root / "results" / ".table.csv.abc.partial").write_text("a,")
    (root / "logs" / "job.log").write_text("2026-01-01 12:00:00 INFO start\n")
    return root


def test_manifest_skips_logs_keeps_hidden_files(output):
    assert sorted(build_manifest(output)) == ["results/.table.csv.abc.partial", "results/table.csv"]


def test_manifest_round_trips_through_text(output):
    manifest = build_manifest(output)

    assert parse_manifest(format_manifest(manifest)) == manifest


def test_compare_names_every_difference():
    expected = {"a": "0" * 64, "b": "1" * 64, "c": "2" * 64}
    actual = {"a": "0" * 64, "b": "f" * 64, "d": "3" * 64}

    assert compare_manifests(expected, actual) == [
        "bytes differ: b",
        "missing in the second run: c",
        "only in the second run: d",
    ]


def test_parse_rejects_invalid_line():
    with pytest.raises(ValueError, match="line 1 is invalid"):
        parse_manifest("not a checksum line\n")


def test_check_ignores_logs_finds_change(output, tmp_path, capsys):
    manifest = tmp_path / "out.sha256"
    assert main(["write", str(output), str(manifest)]) == 0
    (output / "logs" / "job.log").write_text("2026-01-02 08:00:00 INFO start\n")
    assert main(["check", str(output), str(manifest)]) == 0

    (output / "results" / "table.csv").write_text("a,b\n1,3\n")

    assert main(["check", str(output), str(manifest)]) == 1
    assert "bytes differ: results/table.csv" in capsys.readouterr().err
