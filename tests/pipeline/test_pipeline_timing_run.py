"""benchmarks/time_pipeline.py end to end: the tiny configuration, timed once in a committed copy of the repository.

The copy is its own git repository, so the script's export of HEAD, its GNU time
run and the JSON it writes are all exercised without touching this checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from workflow_support import REPOSITORY, TINY_CONFIG, copy_repository, planned_jobs, write_config

pytestmark = pytest.mark.pipeline

GIT = ["git", "-c", "user.name=dspgd tests", "-c", "user.email=tests@example.invalid"]


@pytest.fixture(scope="module")
def timed(tmp_path_factory):
    copy = copy_repository(tmp_path_factory.mktemp("timing") / "repository")
    shutil.copytree(REPOSITORY / "benchmarks", copy / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    configfile = write_config(copy, TINY_CONFIG, "tiny.yaml")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run([*GIT, *command], cwd=copy, check=True)
    jobs = len(planned_jobs(copy, configfile))
    output = copy / "times.json"
    finished = subprocess.run(
        [sys.executable, "benchmarks/time_pipeline.py", "--config", configfile, "--runs", "1", "--cores", "1",
         "--label", "tiny", "--output", str(output)],
        cwd=copy, capture_output=True, text=True, timeout=900,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return copy, json.loads(output.read_text(encoding="utf-8"))["tiny"], jobs


def test_timing_records_one_run(timed):
    _, entry, jobs = timed
    assert entry["summary"]["runs"] == 1
    assert entry["summary"]["jobs"] == [jobs]
    assert entry["summary"]["median_wall_s"] == entry["per_run"][0]["wall_s"] > 0
    assert entry["per_run"][0]["exit_status"] == 0
    assert entry["summary"]["max_rss_mb"] > 10


def test_timing_names_commit_and_verdicts(timed):
    copy, entry, _ = timed
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=copy, capture_output=True, text=True, check=True)
    assert entry["source"]["git_commit"] == head.stdout.strip()
    assert entry["source"]["tracked_files_modified"] is False
    assert set(entry["per_run"][0]["verdicts"]) >= {"C1", "C2", "C3", "C4"}


def test_timing_leaves_checkout_outputs_alone(timed):
    copy, _, _ = timed
    assert (copy / "bench-pipeline" / "source" / "run" / "results" / "claims.json").is_file()
    assert not (copy / "out").exists()
    assert not (copy / "results").exists()
