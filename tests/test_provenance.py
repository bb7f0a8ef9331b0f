"""The git state in every output's provenance: the commit, and -dirty only for changed source files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dspgd.pipeline import SOURCE_PATHS, git_commit

GIT = ["git", "-c", "user.name=dspgd tests", "-c", "user.email=tests@example.invalid"]


@pytest.fixture
def repository(tmp_path: Path) -> tuple[Path, str]:
    """A committed repository with a source file and a committed output file."""
    for relative, text in {"src/dspgd/solver.py": "x = 1\n", "config/config.yaml": "seed: 1\n",
                           "figures/c1.png": "pixels\n", "results/claims.json": "{}\n"}.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run([*GIT, *command], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True)
    return tmp_path, head.stdout.strip()


def test_clean_checkout_records_commit(repository):
    root, head = repository
    assert git_commit(root) == head


def test_rewritten_outputs_stay_clean(repository):
    # A default-configuration run rewrites these committed files while its jobs record provenance.
    root, head = repository
    (root / "figures" / "c1.png").write_text("new pixels\n", encoding="utf-8")
    (root / "results" / "claims.json").write_text('{"claims": []}\n', encoding="utf-8")
    assert git_commit(root) == head


def test_edited_source_is_dirty(repository):
    root, head = repository
    (root / "src" / "dspgd" / "solver.py").write_text("x = 2\n", encoding="utf-8")
    assert git_commit(root) == f"{head}-dirty"


def test_untracked_config_is_dirty(repository):
    root, head = repository
    (root / "config" / "mine.yaml").write_text("seed: 2\n", encoding="utf-8")
    assert git_commit(root) == f"{head}-dirty"


def test_directory_outside_git_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"


def test_source_paths_exist_in_repository():
    root = Path(__file__).resolve().parents[1]
    missing = [path for path in SOURCE_PATHS if not (root / path).exists()]
    assert missing == []
