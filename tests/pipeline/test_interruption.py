"""A run killed in the middle and then resumed gives the same bytes as an uninterrupted run.

The uninterrupted run (fixture tiny_run) uses one core and the interrupted one two,
so this also checks that results do not depend on --cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from workflow_support import (
    SNAKEMAKE,
    TINY_CONFIG,
    copy_repository,
    job_environment,
    output_dir,
    run_snakemake,
    write_config,
)

from dspgd.manifest import build_manifest, compare_manifests

pytestmark = pytest.mark.pipeline

START_TIMEOUT_SECONDS = 600


def test_sigkill_then_rerun_is_byte_identical(tiny_run, tmp_path):
    copy = copy_repository(tmp_path / "copy")
    configfile = write_config(copy, TINY_CONFIG, "tiny.yaml")
    output = output_dir(copy, configfile)
    runs = output / "results" / "runs"
    process = subprocess.Popen(
        [SNAKEMAKE, "--cores", "2", "--configfile", configfile],
        cwd=copy, env=job_environment(copy), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (runs.is_dir() and any(runs.rglob("*.npz"))):
            assert process.poll() is None, f"Snakemake exited with status {process.returncode} before the first run job"
            assert time.monotonic() < deadline, f"no run job finished within {START_TIMEOUT_SECONDS} s"
            time.sleep(0.05)
    finally:
        # SIGKILL the whole process group, jobs included, as an out-of-memory killer or a lost node would.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (output / "results" / "claims.json").exists(), "the run finished before it was killed"

    # A killed Snakemake leaves its lock behind; profiles/default sets rerun-incomplete.
    run_snakemake(copy, "--unlock", "--cores", "1", "--configfile", configfile)
    run_snakemake(copy, "--cores", "2", "--configfile", configfile)

    assert compare_manifests(build_manifest(tiny_run.output), build_manifest(output)) == []
