"""Tests of the parts of the Slurm check that need neither root nor Slurm.

`make test-slurm` runs the whole check against a real cluster; these tests cover its
parsing, comparison and /proc helpers so that `make test` catches a regression early.
"""

import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

# The check is a set of scripts, not a package: import them from their directory.
sys.path.insert(0, str(Path(__file__).parent))

from linux_proc import (  # noqa: E402
    descendants,
    is_running,
    listening_addresses,
    pids_by_name,
    stop_process,
    wait_until,
)
from run_slurm_check import (  # noqa: E402
    SlurmRunLog,
    check_all_jobs_went_through_slurm,
    compare_outputs,
    hash_outputs,
    parse_job_stats,
    parse_slurm_run,
)
from slurm_cluster import render_slurm_conf  # noqa: E402

TOY = Path(__file__).parent / "toy"
TOY_JOBS = Counter({"draw": 3, "square": 3, "summary": 1, "all": 1})

# Excerpt of a real run of the toy workflow (snakemake 9.27.1, plugin 2.8.0).
SLURM_RUN_OUTPUT = """\
Building DAG of jobs...
SLURM run ID: 55d25129-c663-42a2-b553-33b33bdbaed7
[Fri Dec  4 20:16:17 2026]
rule draw:
    output: toy-results/draws/seed2.txt
    jobid: 5
    wildcards: seed=2
Job 5 has been submitted with SLURM jobid 4 (log: {root}/rule_draw/2/4.log).
[Fri Dec  4 20:16:57 2026]
rule summary:
    input: toy-results/squares/seed1.txt
    output: toy-results/summary.json
    jobid: 1
Job 1 has been submitted with SLURM jobid 10 (log: {root}/rule_summary/10.log).
[Fri Dec  4 20:17:07 2026]
localrule all:
    input: toy-results/summary.json
    jobid: 0
"""


def test_parse_job_stats_of_toy_dry_run(tmp_path):
    snakemake = Path(sys.executable).parent / "snakemake"
    result = subprocess.run(
        [snakemake, "--snakefile", TOY / "Snakefile", "--configfile", TOY / "config.yaml", "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert parse_job_stats(result.stdout + result.stderr) == TOY_JOBS


def test_parse_slurm_run_collects_jobs(tmp_path):
    parsed = parse_slurm_run(SLURM_RUN_OUTPUT.format(root=tmp_path))
    assert parsed.run_id == "55d25129-c663-42a2-b553-33b33bdbaed7"
    assert parsed.jobs == {5: ("draw", False), 1: ("summary", False), 0: ("all", True)}
    assert parsed.submissions == {
        5: ("4", tmp_path / "rule_draw/2/4.log"),
        1: ("10", tmp_path / "rule_summary/10.log"),
    }


def write_logs(parsed: SlurmRunLog) -> None:
    for _, log_file in parsed.submissions.values():
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text("log\n")


def test_check_jobs_accepts_complete_run(tmp_path):
    parsed = parse_slurm_run(SLURM_RUN_OUTPUT.format(root=tmp_path))
    write_logs(parsed)
    expected = Counter({"draw": 1, "summary": 1, "all": 1})
    states = {"4": "COMPLETED", "10": "COMPLETED"}
    assert check_all_jobs_went_through_slurm(expected, parsed, states) == []


def test_check_jobs_flags_each_problem(tmp_path):
    parsed = parse_slurm_run(SLURM_RUN_OUTPUT.format(root=tmp_path))
    write_logs(parsed)
    del parsed.submissions[1]  # summary ran without a Slurm submission
    parsed.submissions[5][1].unlink()  # draw's Slurm log file is gone
    expected = Counter({"draw": 2, "summary": 1, "all": 1})
    problems = check_all_jobs_went_through_slurm(expected, parsed, {"4": "FAILED"})
    assert any("differ from the dry run" in problem for problem in problems)
    assert any("job 1 (rule summary) has no 'submitted" in problem for problem in problems)
    assert any("rule_draw/2/4.log is missing" in problem for problem in problems)
    assert any("Slurm job 4 as FAILED" in problem for problem in problems)
    assert len(problems) == 4


def test_check_jobs_rejects_all_local_run():
    parsed = SlurmRunLog(run_id="x", jobs={0: ("all", True)})
    problems = check_all_jobs_went_through_slurm(Counter({"all": 1}), parsed, {})
    assert problems == ["no job ran as a Slurm job: every job was a local rule"]


def test_hash_outputs_skips_sources_and_excludes(tmp_path):
    for relative in ("Snakefile", "out/a.txt", "out/b.log", ".snakemake/log/x.log"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(relative)
    digests = hash_outputs(tmp_path, sources={"Snakefile"}, excludes=["*.log"])
    assert list(digests) == ["out/a.txt"]


def test_compare_outputs_names_each_difference():
    slurm = {"same": "1", "changed": "2", "slurm-only": "3"}
    local = {"same": "1", "changed": "9", "local-only": "4"}
    problems = compare_outputs(slurm, local)
    assert problems == [
        "slurm-only: written by the Slurm run only",
        "local-only: written by the local run only",
        "changed: contents differ (sha256 2… vs 9…)",
    ]


def test_slurm_conf_uses_loopback_and_memory_default(tmp_path):
    node = {"NodeName": "vm", "CPUs": "2", "RealMemory": "24105"}
    conf = render_slurm_conf(tmp_path, node, 6817, 6818, 3600)
    lines = conf.splitlines()
    assert "SlurmctldHost=vm(127.0.0.1)" in lines
    assert "NodeName=vm NodeAddr=127.0.0.1 CPUs=2 RealMemory=24105 State=UNKNOWN" in lines
    assert "DefMemPerCPU=12052" in lines
    assert "MinJobAge=3600" in lines
    assert f"AuthInfo=socket={tmp_path}/munge/munge.socket" in lines


def test_listening_addresses_finds_own_socket():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert f"127.0.0.1:{port}" in listening_addresses(os.getpid())


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_process_helpers_find_and_stop_child():
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & wait"])
    try:
        # Right after exec, /proc/PID/comm may still show the parent's name for a moment.
        assert wait_until(lambda: shell.pid in pids_by_name("sh"), timeout=10)
        assert wait_until(lambda: descendants(shell.pid), timeout=10)
        children = descendants(shell.pid)
        assert len(children) == 1
        sleeper = children.pop()
        assert stop_process(sleeper, "sleep")
        assert not is_running(sleeper)
        shell.wait(timeout=10)
    finally:
        shell.kill()
        shell.wait(timeout=10)
