"""Time the Snakemake pipeline from an empty output directory, several times, with GNU time.

The script first exports the committed tree (``git archive HEAD``) to
``SCRATCH/source``, so the runs measure exactly the recorded commit, whatever is
edited in the working tree meanwhile. Each run then deletes ``SCRATCH/source/run``
and, in ``SCRATCH/source`` with that copy's ``src`` first on PYTHONPATH, runs

    /usr/bin/time -v snakemake --cores CORES --configfile CONFIG --config output_dir=run

so every job runs, and the repository's own results/ and figures/ are never touched.
Snakemake's log of run i goes to ``SCRATCH/snakemake-LABEL-i.log`` and GNU time's
report to ``SCRATCH/time-LABEL-i.txt``. The summary, stored under ``--label`` in
``benchmarks/pipeline_times.json``, has the median, smallest and largest wall-clock
time and the median CPU time (user + system, summed over every job). It also has the
largest resident set of any single process, the number of jobs, each run's claim
verdicts, the load average around each run, the commit and the machine. Other labels
already in the file are kept. Until the last run ends, the finished runs are kept as
an entry of the same form in ``SCRATCH/finished-runs-LABEL.json``. A failed or
interrupted run (Ctrl-C or SIGTERM, which also stop the pipeline) leaves the output
file unchanged and that file in place, so its entry can be merged by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from machine import describe_machine

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
GNU_TIME = Path("/usr/bin/time")

# Lines of `/usr/bin/time -v` this script reads, and the key each becomes.
GNU_TIME_FIELDS = {
    "User time (seconds)": "user_s",
    "System time (seconds)": "system_s",
    "Elapsed (wall clock) time (h:mm:ss or m:ss)": "wall_s",
    "Maximum resident set size (kbytes)": "max_rss_kb",
    "Exit status": "exit_status",
}


def clock_seconds(text: str) -> float:
    """Convert GNU time's elapsed time, ``h:mm:ss`` or ``m:ss.ss``, to seconds."""
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_gnu_time(report: str) -> dict[str, float | int]:
    """Return the wall, user and system seconds, peak RSS and exit status of a ``time -v`` report."""
    values: dict[str, float | int] = {}
    for line in report.splitlines():
        label, _, value = line.strip().rpartition(": ")
        if label in GNU_TIME_FIELDS:
            key = GNU_TIME_FIELDS[label]
            values[key] = clock_seconds(value) if key == "wall_s" else float(value)
    if "exit_status" in values:
        values["exit_status"] = int(values["exit_status"])
    missing = sorted(set(GNU_TIME_FIELDS.values()) - set(values))
    if missing:
        raise ValueError(f"missing {missing} in the GNU time report; expected the output of /usr/bin/time -v")
    return values


def count_jobs(log: str) -> int:
    """Return the number of jobs of a finished Snakemake run, from its last 'N of N steps' line."""
    finished = re.findall(r"(\d+) of (\d+) steps \(100%\) done", log)
    if not finished:
        raise ValueError("missing 'N of N steps (100%) done' line in the Snakemake log; the run did not finish")
    return int(finished[-1][1])


def verdicts(output_dir: Path) -> dict[str, str]:
    """Return each claim's verdict from ``output_dir/results/claims.json``."""
    claims = json.loads((output_dir / "results" / "claims.json").read_text(encoding="utf-8"))
    return {claim["id"]: claim["verdict"] for claim in claims["claims"]}


def source_version(snakemake: Path) -> dict[str, Any]:
    """Return the repository's commit, whether tracked files differ from it, and Snakemake's version."""
    def output(command: list[str]) -> str:
        return subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, check=True).stdout.strip()

    return {
        "git_commit": output(["git", "rev-parse", "HEAD"]),
        "tracked_files_modified": bool(output(["git", "status", "--porcelain", "--untracked-files=no"])),
        "snakemake": output([str(snakemake), "--version"]),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the median, smallest and largest wall time, the median CPU time and the largest RSS."""
    walls = [run["wall_s"] for run in runs]
    cpus = [run["user_s"] + run["system_s"] for run in runs]
    return {
        "runs": len(runs),
        "median_wall_s": statistics.median(walls),
        "min_wall_s": min(walls),
        "max_wall_s": max(walls),
        "median_cpu_s": statistics.median(cpus),
        "max_rss_mb": max(run["max_rss_kb"] for run in runs) / 1024,
        "jobs": sorted({run["jobs"] for run in runs}),
        "all_claims_pass": all(set(run["verdicts"].values()) == {"pass"} for run in runs),
    }


def export_commit(source: Path) -> None:
    """Replace ``source`` with the files of the commit at HEAD."""
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=REPOSITORY, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)


class RunFailed(Exception):
    """A timed pipeline run ended with a non-zero exit status."""


def stop_on_sigterm(signum: int, frame: Any) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so both stop the pipeline and keep the finished runs."""
    raise KeyboardInterrupt


def run_in_own_group(command: list[str], **options: Any) -> int:
    """Run ``command`` in a new process group and return its exit status.

    On KeyboardInterrupt the whole group (GNU time, Snakemake and its jobs) gets
    SIGTERM, then SIGKILL after 30 s, so no job outlives this script.
    """
    process = subprocess.Popen(command, start_new_session=True, **options)
    try:
        return process.wait()
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        raise


def time_one_run(index: int, arguments: argparse.Namespace, snakemake: Path) -> dict[str, Any]:
    """Run the pipeline once from an empty output directory under GNU time and return its record."""
    scratch = REPOSITORY / arguments.scratch
    source = scratch / "source"
    shutil.rmtree(source / "run", ignore_errors=True)
    report = scratch / f"time-{arguments.label}-{index}.txt"
    log = scratch / f"snakemake-{arguments.label}-{index}.log"
    command = [
        str(GNU_TIME), "-v", "-o", str(report),
        str(snakemake), "--cores", str(arguments.cores), "--configfile", str(arguments.config),
        "--config", "output_dir=run",
    ]
    # The copy's own package, not the editable install of the working tree, runs the jobs.
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(source / "src"),
                                                                            os.environ.get("PYTHONPATH")])))

    load_before = os.getloadavg()
    with log.open("w", encoding="utf-8") as log_file:
        status = run_in_own_group(command, cwd=source, env=environment, stdout=log_file, stderr=subprocess.STDOUT)
    if status != 0:
        raise RunFailed(f"run {index} failed with exit status {status}; see {log}")

    record = parse_gnu_time(report.read_text(encoding="utf-8"))
    record.update({
        "jobs": count_jobs(log.read_text(encoding="utf-8")),
        "verdicts": verdicts(source / "run"),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    })
    print(f"run {index}: {record['wall_s']:.1f} s wall, {record['user_s'] + record['system_s']:.1f} s CPU, "
          f"{record['max_rss_kb'] / 1024:.0f} MB, {record['jobs']} jobs, load before {load_before[0]:.2f}",
          flush=True)
    return record


def partial_path(arguments: argparse.Namespace) -> Path:
    """Return the file with the finished runs of this label. It stays after a failed or interrupted run."""
    return REPOSITORY / arguments.scratch / f"finished-runs-{arguments.label}.json"


def read_results(path: Path) -> dict[str, Any]:
    """Return the recorded measurements in ``path``, or an empty record if the file does not exist."""
    if not path.exists():
        return {}
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--output {path} is not a readable JSON file ({error}); "
                         "fix or move it, or pass another --output") from error
    if not isinstance(results, dict):
        raise ValueError(f"--output {path} contains a JSON {type(results).__name__}, expected an object of labels; "
                         "pass another --output")
    return results


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"),
                        help="configuration file committed at HEAD, relative to the repository "
                             "(default config/config.yaml)")
    parser.add_argument("--cores", type=int, default=os.cpu_count(),
                        help="Snakemake's --cores (default: this machine's logical cores)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the summary is their median (default 3)")
    parser.add_argument("--label", help="name of this measurement in the output file (default: CONFIG-coresN)")
    parser.add_argument("--scratch", type=Path, default=Path("bench-pipeline"),
                        help="directory, relative to the repository, for the exported commit, the runs' "
                             "outputs and the logs (default bench-pipeline; its source/ is replaced)")
    parser.add_argument("--output", type=Path, default=HERE / "pipeline_times.json",
                        help="JSON file to update; other labels in it are kept "
                             "(default benchmarks/pipeline_times.json)")
    arguments = parser.parse_args(argv)

    if arguments.runs < 1:
        parser.error(f"invalid --runs {arguments.runs}; expected a positive integer (3 or more for a median)")
    if arguments.cores < 1:
        parser.error(f"invalid --cores {arguments.cores}; expected a positive integer")
    config = arguments.config
    if config.is_absolute() or ".." in config.parts or not (REPOSITORY / config).is_file():
        parser.error(f"invalid --config {config}; expected a file inside the repository, relative to its "
                     "root and committed, such as config/quick.yaml")
    scratch = arguments.scratch
    if scratch.is_absolute() or ".." in scratch.parts or (REPOSITORY / scratch).resolve() == REPOSITORY:
        parser.error(f"invalid --scratch {arguments.scratch}; expected a subdirectory of the repository "
                     "such as bench-pipeline, whose source/ this script replaces")

    if arguments.label is None:
        arguments.label = f"{arguments.config.stem}-cores{arguments.cores}"
    if not re.fullmatch(r"[\w.-]+", arguments.label):
        parser.error(f"invalid --label {arguments.label!r}; expected letters, digits, '.', '_' or '-'")

    if not arguments.output.parent.is_dir():
        parser.error(f"invalid --output {arguments.output}: directory {arguments.output.parent} not found; "
                     "create it or pass another path")
    try:
        read_results(arguments.output)
    except ValueError as error:
        parser.error(str(error))
    if not GNU_TIME.is_file():
        parser.error(f"{GNU_TIME} not found; install GNU time (Debian and Ubuntu: apt-get install time)")
    return arguments


def build_entry(arguments: argparse.Namespace, runs: list[dict[str, Any]], version: dict[str, Any],
                machine: dict[str, Any]) -> dict[str, Any]:
    """Return the record of one label: command, timer, summary, every run, commit and machine."""
    return {
        "command": f"snakemake --cores {arguments.cores} --configfile {arguments.config} --config output_dir=run",
        "timer": f"{GNU_TIME} -v",
        "summary": summarize(runs),
        "per_run": runs,
        "source": version,
        "machine": machine,
    }


def write_json_atomically(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON through a temporary file renamed into place."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    snakemake = Path(sys.executable).with_name("snakemake")
    if not snakemake.is_file():
        raise SystemExit(f"{snakemake} not found; run this script with the Python of the project's "
                         "environment (make bench-pipeline sets it up)")

    source = REPOSITORY / arguments.scratch / "source"
    export_commit(source)
    if not (source / arguments.config).is_file():
        raise SystemExit(f"--config {arguments.config} is not in the commit at HEAD; commit it first, "
                         "because the timed runs use the committed files")
    version = source_version(snakemake)
    if version["tracked_files_modified"]:
        print("note: tracked files differ from HEAD; the runs time HEAD without those changes", flush=True)
    machine = describe_machine()

    partial = partial_path(arguments)
    scratch = REPOSITORY / arguments.scratch
    for stale in [partial, *scratch.glob(f"time-{arguments.label}-*.txt"),
                  *scratch.glob(f"snakemake-{arguments.label}-*.log")]:
        stale.unlink(missing_ok=True)

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    runs: list[dict[str, Any]] = []
    try:
        for index in range(1, arguments.runs + 1):
            runs.append(time_one_run(index, arguments, snakemake))
            write_json_atomically(partial, {arguments.label: build_entry(arguments, runs, version, machine)})
    except (KeyboardInterrupt, RunFailed) as error:
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
        finished_runs = f"the {len(runs)} finished run(s) are in {partial}" if runs else "no run had finished"
        raise SystemExit(f"{reason}. {arguments.output} is unchanged, and {finished_runs}.") from None

    entry = build_entry(arguments, runs, version, machine)
    results = read_results(arguments.output)
    results[arguments.label] = entry
    write_json_atomically(arguments.output, dict(sorted(results.items())))
    partial.unlink()

    summary = entry["summary"]
    print(f"{arguments.label}: median {summary['median_wall_s']:.1f} s wall "
          f"(range {summary['min_wall_s']:.1f}-{summary['max_wall_s']:.1f}), "
          f"median {summary['median_cpu_s']:.1f} s CPU, largest process {summary['max_rss_mb']:.0f} MB, "
          f"{summary['runs']} runs; wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
