"""The parsing and summary of benchmarks/time_pipeline.py, on recorded GNU time and Snakemake output."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import time_pipeline  # noqa: E402

REPORT = """\
\tCommand being timed: ".venv/bin/snakemake --cores 2 --configfile config/quick.yaml"
\tUser time (seconds): 88.65
\tSystem time (seconds): 9.49
\tPercent of CPU this job got: 184%
\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:53.21
\tMaximum resident set size (kbytes): 208508
\tExit status: 0
"""


def test_gnu_time_report_is_parsed():
    values = time_pipeline.parse_gnu_time(REPORT)
    assert values == {"user_s": 88.65, "system_s": 9.49, "wall_s": 53.21, "max_rss_kb": 208508.0, "exit_status": 0}


@pytest.mark.parametrize(("text", "seconds"), [("0:53.21", 53.21), ("7:01.50", 421.5), ("1:02:03", 3723.0)])
def test_elapsed_time_formats(text, seconds):
    assert time_pipeline.clock_seconds(text) == pytest.approx(seconds)


def test_report_without_time_lines_is_refused():
    with pytest.raises(ValueError, match="missing .*wall_s"):
        time_pipeline.parse_gnu_time(REPORT.replace("Elapsed", "Spent"))


def test_job_count_comes_from_the_last_progress_line():
    log = "5 of 91 steps (5%) done\n91 of 91 steps (100%) done\nComplete log(s): x\n"
    assert time_pipeline.count_jobs(log) == 91
    with pytest.raises(ValueError, match="did not finish"):
        time_pipeline.count_jobs("5 of 91 steps (5%) done\n")


def test_summary_median_and_claim_flag():
    def run(wall, verdict="pass"):
        return {"wall_s": wall, "user_s": 2 * wall, "system_s": 1.0, "max_rss_kb": 1024.0 * wall,
                "jobs": 91, "verdicts": {"C1": "pass", "C2": verdict}}

    summary = time_pipeline.summarize([run(60.0), run(50.0), run(100.0)])
    assert (summary["median_wall_s"], summary["min_wall_s"], summary["max_wall_s"]) == (60.0, 50.0, 100.0)
    assert summary["median_cpu_s"] == 121.0
    assert summary["max_rss_mb"] == 100.0
    assert summary["all_claims_pass"] is True
    assert time_pipeline.summarize([run(60.0), run(50.0, verdict="fail")])["all_claims_pass"] is False


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--runs", "0"], "invalid --runs 0"),
        (["--cores", "0"], "invalid --cores 0"),
        (["--config", "/etc/hostname"], "invalid --config /etc/hostname"),
        (["--config", "../config/quick.yaml"], "invalid --config ../config/quick.yaml"),
        (["--config", "config/missing.yaml"], "invalid --config config/missing.yaml"),
        (["--scratch", "."], "invalid --scratch ."),
        (["--scratch", "/tmp/scratch"], "invalid --scratch /tmp/scratch"),
        (["--label", ""], "invalid --label ''"),
        (["--label", "a/b"], "invalid --label 'a/b'"),
    ],
)
def test_bad_arguments_are_rejected(arguments, message, capsys):
    with pytest.raises(SystemExit):
        time_pipeline.parse_arguments(arguments)
    assert message in capsys.readouterr().err


def test_unusable_output_is_rejected_before_any_run(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{"label": ', encoding="utf-8")
    for output, message in [(tmp_path / "missing" / "times.json", "not found"),
                            (broken, "not a readable JSON file")]:
        with pytest.raises(SystemExit):
            time_pipeline.parse_arguments(["--config", "config/quick.yaml", "--output", str(output)])
        assert message in capsys.readouterr().err


def test_sigterm_stops_whole_process_group(tmp_path):
    # The child shell records its process group, which is also the group of the sleep it starts.
    group_file = tmp_path / "group"
    program = (
        "import signal, sys\n"
        f"sys.path.insert(0, {str(Path(time_pipeline.__file__).parent)!r})\n"
        "import time_pipeline\n"
        "signal.signal(signal.SIGTERM, time_pipeline.stop_on_sigterm)\n"
        "try:\n"
        f"    time_pipeline.run_in_own_group(['sh', '-c', 'echo $$ > {group_file}; sleep 60 & wait'])\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(3)\n"
    )
    timer = subprocess.Popen([sys.executable, "-c", program])
    deadline = time.monotonic() + 30
    while not (group_file.exists() and group_file.read_text().strip()):
        assert time.monotonic() < deadline, "the child shell never started"
        time.sleep(0.05)
    group = int(group_file.read_text())

    timer.send_signal(signal.SIGTERM)
    assert timer.wait(timeout=60) == 3
    # A killed process may stay a zombie until PID 1 reaps it; only running members count.
    time.sleep(0.5)
    assert living_members(group) == []


def living_members(group: int) -> list[str]:
    """Return the ps lines of the processes of ``group`` that are not zombies."""
    table = subprocess.run(["ps", "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True, check=True)
    members = [line.split(None, 3) for line in table.stdout.splitlines()]
    return [" ".join(fields) for fields in members if int(fields[1]) == group and not fields[2].startswith("Z")]
