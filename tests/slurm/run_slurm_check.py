"""Run a Snakemake workflow through Slurm and locally, and check that both give the same files.

The check installs Debian's slurm-wlm and munge if their programs are missing and
starts a single-node Slurm cluster on 127.0.0.1 (slurm_cluster.LocalCluster). It runs the
workflow with the Slurm profile in one copy of the repository and checks that every job
that is not a local rule went through Slurm. Then it stops the cluster, runs the
workflow locally in a second copy, and compares the SHA-256 of every file the two runs
wrote.

Needs root on a Debian-based machine, because it installs packages, writes
/etc/slurm/slurm.conf (backed up and put back) and starts daemons. `make test-slurm`
calls it; every option also reads an environment variable, listed in --help.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from slurm_cluster import CheckFailed, LocalCluster, ensure_packages, log_tail, run_command

log = logging.getLogger("slurm-check")

REPO_ROOT = Path(__file__).resolve().parents[2]

# Lines of Snakemake's output (snakemake 9.27.1, snakemake-executor-plugin-slurm 2.8.0).
JOB_HEADER = re.compile(r"^(localrule|rule) (\S+):$")
JOB_ID = re.compile(r"^\s+jobid: (\d+)$")
SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+)\)\.$")
RUN_ID = re.compile(r"^SLURM run ID: (\S+)$")


@dataclass
class SlurmRunLog:
    """Jobs and Slurm submissions found in the output of a Snakemake run with the Slurm executor."""

    run_id: str = ""
    # Snakemake job id -> (rule name, True if it ran as a local rule)
    jobs: dict[int, tuple[str, bool]] = field(default_factory=dict)
    # Snakemake job id -> (Slurm job id, path of the Slurm log file)
    submissions: dict[int, tuple[str, Path]] = field(default_factory=dict)


# --- parsing Snakemake's output --------------------------------------------------------


def parse_job_stats(output: str) -> Counter:
    """Return the per-rule job counts of the "Job stats" table that Snakemake prints."""
    lines = output.splitlines()
    try:
        start = lines.index("Job stats:")
    except ValueError as error:
        raise CheckFailed("the dry run printed no 'Job stats:' table") from error
    counts: Counter = Counter()
    # The table is: a header, a dashed line, one "rule count" row per rule, "total N".
    for line in lines[start + 3 :]:
        fields = line.split()
        if len(fields) != 2 or not fields[1].isdigit():
            break
        if fields[0] == "total":
            if sum(counts.values()) != int(fields[1]):
                raise CheckFailed(f"the dry run's job stats do not add up to their total {fields[1]}: {dict(counts)}")
            return counts
        counts[fields[0]] = int(fields[1])
    raise CheckFailed("the dry run's 'Job stats:' table has no 'total' row")


def parse_slurm_run(output: str) -> SlurmRunLog:
    """Collect the run ID, the jobs and the Slurm submissions from a Slurm run's output."""
    parsed = SlurmRunLog()
    header: tuple[str, bool] | None = None
    for line in output.splitlines():
        if match := RUN_ID.match(line):
            parsed.run_id = match.group(1)
        elif match := JOB_HEADER.match(line):
            header = (match.group(2), match.group(1) == "localrule")
        elif header and (match := JOB_ID.match(line)):
            parsed.jobs[int(match.group(1))] = header
            header = None
        elif match := SUBMITTED.match(line):
            parsed.submissions[int(match.group(1))] = (match.group(2), Path(match.group(3)))
    return parsed


# --- checks ----------------------------------------------------------------------------


def check_all_jobs_went_through_slurm(
    expected: Counter, parsed: SlurmRunLog, slurm_states: dict[str, str]
) -> list[str]:
    """Return a list of problems; empty if every job that is not a local rule ran as a Slurm job.

    expected: per-rule job counts of the dry run; slurm_states: Slurm job id -> state
    as squeue lists it for the run ID.
    """
    problems = []
    ran = Counter(rule for rule, _ in parsed.jobs.values())
    if ran != expected:
        problems.append(f"jobs per rule in the Slurm run {dict(ran)} differ from the dry run {dict(expected)}")

    remote = {job: rule for job, (rule, local) in parsed.jobs.items() if not local}
    if not remote:
        problems.append("no job ran as a Slurm job: every job was a local rule")
    for job, rule in sorted(remote.items()):
        if job not in parsed.submissions:
            problems.append(f"job {job} (rule {rule}) has no 'submitted with SLURM jobid' line")
    extra = set(parsed.submissions) - set(remote)
    if extra:
        problems.append(f"Slurm jobs were submitted for Snakemake jobs that are local or unknown: {sorted(extra)}")

    slurm_ids = [slurm_id for slurm_id, _ in parsed.submissions.values()]
    if len(set(slurm_ids)) != len(slurm_ids):
        problems.append(f"Slurm job ids repeat: {sorted(slurm_ids)}")

    for job, (slurm_id, log_file) in sorted(parsed.submissions.items()):
        rule = remote.get(job, "?")
        if not log_file.is_file():
            problems.append(f"job {job} (rule {rule}): Slurm log file {log_file} is missing")
        elif f"rule_{rule}" not in log_file.parts:
            problems.append(f"job {job} (rule {rule}): Slurm log file {log_file} is not under rule_{rule}/")
        state = slurm_states.get(slurm_id)
        if state != "COMPLETED":
            problems.append(
                f"job {job} (rule {rule}): squeue lists Slurm job {slurm_id} as {state or 'missing'}, not COMPLETED"
            )
    return problems


def query_slurm_states(run_id: str) -> dict[str, str]:
    """Return Slurm job id -> state for all jobs, finished ones included, named run_id."""
    # The plugin names every job after the run ID, and the test cluster keeps finished
    # jobs in squeue for longer than the Slurm run may take.
    result = run_command(["squeue", "--noheader", "--states=all", "--format=%i|%T", f"--name={run_id}"])
    if result.returncode != 0:
        raise CheckFailed(f"squeue failed with exit code {result.returncode}: {result.stderr.strip()}")
    return dict(line.split("|", 1) for line in result.stdout.split())


def hash_outputs(run_dir: Path, sources: set[str], excludes: list[str]) -> dict[str, str]:
    """Return relative path -> SHA-256 of every file a run wrote into run_dir.

    Leaves out the copied repository files (sources), Snakemake's own .snakemake/
    directory and paths matching a glob in excludes.
    """
    digests = {}
    for path in sorted(run_dir.rglob("*")):
        relative = path.relative_to(run_dir).as_posix()
        if path.is_dir() or relative in sources or relative.split("/", 1)[0] == ".snakemake":
            continue
        if any(fnmatch.fnmatch(relative, pattern) for pattern in excludes):
            continue
        digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def compare_outputs(slurm: dict[str, str], local: dict[str, str]) -> list[str]:
    """Return a list of differences between two path -> SHA-256 maps; empty if they are equal."""
    problems = []
    for path in sorted(set(slurm) - set(local)):
        problems.append(f"{path}: written by the Slurm run only")
    for path in sorted(set(local) - set(slurm)):
        problems.append(f"{path}: written by the local run only")
    for path in sorted(set(slurm) & set(local)):
        if slurm[path] != local[path]:
            problems.append(f"{path}: contents differ (sha256 {slurm[path][:12]}… vs {local[path][:12]}…)")
    return problems


# --- running Snakemake -----------------------------------------------------------------


def copy_sources(destination: Path) -> set[str]:
    """Copy the repository's tracked and untracked, not ignored files; return their relative paths."""
    listed = run_command(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT)
    if listed.returncode != 0:
        raise CheckFailed(f"git ls-files failed in {REPO_ROOT}: {listed.stderr.strip()}")
    copied = set()
    for relative in filter(None, listed.stdout.split("\0")):
        source = REPO_ROOT / relative
        if not source.exists() and not source.is_symlink():
            continue  # deleted from the work tree but still in the index
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
        copied.add(relative)
    return copied


def run_snakemake(arguments: list[str], cwd: Path, log_file: Path, timeout: float) -> str:
    """Run Snakemake in cwd with its output in log_file; return that output or raise CheckFailed.

    On timeout or interruption, sends SIGINT to Snakemake's process group and SIGKILL
    60 s later. Snakemake cancels its Slurm jobs on SIGINT, whereas on SIGTERM it waits
    for the running ones to finish.
    """
    command = [str(Path(sys.executable).parent / "snakemake"), *arguments]
    log.info("running in %s: %s", cwd, shlex.join(command))
    with log_file.open("w") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.error("Snakemake timed out after %d s; stopping it", timeout)
            interrupt(process)
            raise CheckFailed(
                f"Snakemake timed out after {timeout} s; raise --timeout if the workflow needs longer. Log: {log_file}"
            ) from None
        except BaseException:
            log.error("stopping Snakemake (PID %d)", process.pid)
            interrupt(process)
            raise
    text = log_file.read_text(errors="replace")
    if process.returncode != 0:
        raise CheckFailed(
            f"Snakemake exited with code {process.returncode}. Log: {log_file}\n"
            f"--- last lines ---\n{log_tail(log_file, 30)}"
        )
    return text


def interrupt(process: subprocess.Popen) -> None:
    """Send SIGINT to a process group started by run_snakemake, and SIGKILL after 60 s."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    except ProcessLookupError:
        return  # the whole group has exited already
    except subprocess.TimeoutExpired:
        log.error("Snakemake (PID %d) still runs 60 s after SIGINT; sending SIGKILL", process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def workflow_arguments(snakefile: str, configfile: str | None, extra: list[str]) -> list[str]:
    arguments = ["--snakefile", snakefile]
    if configfile:
        arguments += ["--configfile", configfile]
    return arguments + extra


def path_in_copy(path: Path) -> str:
    """Return path relative to the repository root if it lies inside it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(resolved)


# --- command line ----------------------------------------------------------------------


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Relative paths are taken from the current directory.",
    )
    parser.add_argument(
        "--snakefile",
        type=Path,
        default=Path(env("SLURM_CHECK_SNAKEFILE", "Snakefile")),
        help="workflow to run (env SLURM_CHECK_SNAKEFILE; default: Snakefile)",
    )
    parser.add_argument(
        "--configfile",
        default=env("SLURM_CHECK_CONFIGFILE", "config/quick.yaml"),
        help="configuration passed as --configfile to both runs, '' for none "
        "(env SLURM_CHECK_CONFIGFILE; default: config/quick.yaml)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=Path(env("SLURM_CHECK_PROFILE", "workflow/profiles/slurm")),
        help="Snakemake profile directory for the Slurm run "
        "(env SLURM_CHECK_PROFILE; default: workflow/profiles/slurm)",
    )
    parser.add_argument(
        "--snakemake-args",
        default=env("SLURM_CHECK_SNAKEMAKE_ARGS", ""),
        help="extra arguments for both runs, such as targets or --config KEY=VALUE, split like a shell "
        "(env SLURM_CHECK_SNAKEMAKE_ARGS)",
    )

    parser.add_argument(
        "--exclude",
        default=env("SLURM_CHECK_EXCLUDE", "logs/* */logs/*"),
        help="space-separated globs of written files to leave out of the comparison, relative to the run "
        "directory; the default leaves out log and benchmark files, whose lines carry times "
        "(env SLURM_CHECK_EXCLUDE)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=int(env("SLURM_CHECK_TIMEOUT", "1800")),
        help="seconds each Snakemake run may take before it is stopped (env SLURM_CHECK_TIMEOUT; default: 1800)",
    )
    parser.add_argument(
        "--cores",
        type=int,
        default=int(env("SLURM_CHECK_CORES", str(os.cpu_count() or 1))),
        help="--cores of the local run (env SLURM_CHECK_CORES; default: all CPUs)",
    )

    parser.add_argument(
        "--slurmctld-port",
        type=int,
        default=int(env("SLURM_CHECK_SLURMCTLD_PORT", "6817")),
        help="TCP port of slurmctld on 127.0.0.1 (env SLURM_CHECK_SLURMCTLD_PORT; default: 6817)",
    )
    parser.add_argument(
        "--slurmd-port",
        type=int,
        default=int(env("SLURM_CHECK_SLURMD_PORT", "6818")),
        help="TCP port of slurmd on 127.0.0.1 (env SLURM_CHECK_SLURMD_PORT; default: 6818)",
    )

    parser.add_argument(
        "--keep-tmp",
        action="store_true",
        default=env("SLURM_CHECK_KEEP_TMP", "") not in ("", "0"),
        help="keep the temporary directory after a pass too; after a failure it is always kept "
        "(env SLURM_CHECK_KEEP_TMP=1)",
    )
    return parser.parse_args(argv)


def validate_inputs(arguments: argparse.Namespace) -> None:
    if os.geteuid() != 0:
        raise CheckFailed(
            "this check must run as root: it installs packages, writes /etc/slurm/slurm.conf and starts Slurm daemons"
        )
    if not arguments.snakefile.is_file():
        raise CheckFailed(
            f"Snakefile not found: {arguments.snakefile.resolve()}. To check the toy workflow instead, run "
            "make test-slurm SLURM_CHECK_SNAKEFILE=tests/slurm/toy/Snakefile "
            "SLURM_CHECK_CONFIGFILE=tests/slurm/toy/config.yaml"
        )
    if arguments.configfile and not Path(arguments.configfile).is_file():
        raise CheckFailed(f"config file not found: {Path(arguments.configfile).resolve()}; pass '' for none")
    if not (arguments.profile / "config.yaml").is_file():
        raise CheckFailed(f"profile not found: {arguments.profile.resolve() / 'config.yaml'} does not exist")
    if not (Path(sys.executable).parent / "snakemake").exists():
        raise CheckFailed(
            f"snakemake not found next to {sys.executable}; run `make .venv/.installed` and use .venv/bin/python"
        )


# --- main ------------------------------------------------------------------------------


def check(arguments: argparse.Namespace, tmp: Path, timings: dict[str, float]) -> str:
    """Run every step of the check; return a one-line summary or raise CheckFailed."""
    extra = shlex.split(arguments.snakemake_args)
    excludes = arguments.exclude.split()
    configfile = path_in_copy(Path(arguments.configfile)) if arguments.configfile else None
    workflow = workflow_arguments(path_in_copy(arguments.snakefile), configfile, extra)

    # squeue must still list the first job when the Slurm run ends, for the cross-check.
    min_job_age_s = max(3600, arguments.timeout + 600)
    cluster = LocalCluster(tmp, arguments.slurmctld_port, arguments.slurmd_port, min_job_age_s)
    cluster.check_preconditions()

    started = time.monotonic()
    ensure_packages(tmp / "apt-get.log")
    timings["install packages"] = time.monotonic() - started

    slurm_dir, local_dir = tmp / "slurm-run", tmp / "local-run"
    sources = copy_sources(slurm_dir)
    copy_sources(local_dir)

    started = time.monotonic()
    dry_run = run_snakemake([*workflow, "--dry-run"], slurm_dir, tmp / "snakemake-dry-run.log", arguments.timeout)
    expected = parse_job_stats(dry_run)
    timings["dry run"] = time.monotonic() - started
    log.info("dry run: %d jobs %s", sum(expected.values()), dict(expected))

    started = time.monotonic()
    with cluster:
        timings["start cluster"] = time.monotonic() - started

        started = time.monotonic()
        # Keep the Slurm log of every job, not only of failed ones, to check that each exists.
        profile = ["--profile", str(arguments.profile.resolve()), "--slurm-keep-successful-logs"]
        output = run_snakemake([*profile, *workflow], slurm_dir, tmp / "snakemake-slurm.log", arguments.timeout)
        timings["Slurm run"] = time.monotonic() - started

        parsed = parse_slurm_run(output)
        if not parsed.run_id:
            raise CheckFailed(
                "the Slurm run printed no 'SLURM run ID' line, so it did not use the Slurm executor. "
                f"Log: {tmp / 'snakemake-slurm.log'}"
            )
        problems = check_all_jobs_went_through_slurm(expected, parsed, query_slurm_states(parsed.run_id))
        if problems:
            raise CheckFailed("not every job went through Slurm:\n  " + "\n  ".join(problems))
        local_jobs = sum(1 for _, local in parsed.jobs.values() if local)
        log.info(
            "all %d non-local jobs ran as Slurm jobs %s and completed; %d local-rule jobs ran on the host",
            len(parsed.submissions),
            sorted(int(s) for s, _ in parsed.submissions.values()),
            local_jobs,
        )

        started = time.monotonic()
    if cluster.stop_errors:
        raise CheckFailed("the cluster did not stop cleanly:\n  " + "\n  ".join(cluster.stop_errors))
    timings["stop cluster"] = time.monotonic() - started

    started = time.monotonic()
    run_snakemake(
        [*workflow, "--cores", str(arguments.cores)], local_dir, tmp / "snakemake-local.log", arguments.timeout
    )
    timings["local run"] = time.monotonic() - started

    slurm_outputs = hash_outputs(slurm_dir, sources, excludes)
    local_outputs = hash_outputs(local_dir, sources, excludes)
    for name, digests in (("slurm-run", slurm_outputs), ("local-run", local_outputs)):
        (tmp / f"{name}.sha256").write_text("".join(f"{digest}  {path}\n" for path, digest in digests.items()))
    if not slurm_outputs:
        raise CheckFailed(f"the Slurm run wrote no files outside .snakemake/ in {slurm_dir}; nothing to compare")
    differences = compare_outputs(slurm_outputs, local_outputs)
    if differences:
        raise CheckFailed(
            "the Slurm and local runs wrote different files "
            f"(lists: {tmp}/slurm-run.sha256, {tmp}/local-run.sha256):\n  "
            + "\n  ".join(differences[:20])
            + (f"\n  … and {len(differences) - 20} more" if len(differences) > 20 else "")
        )
    return (
        f"{len(parsed.submissions)} Slurm jobs completed; {len(slurm_outputs)} output files identical to the local run"
    )


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    arguments = parse_arguments(argv)

    # Turn SIGTERM and SIGHUP into exceptions, so the cluster is stopped on the way out.
    def raise_exit(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)
    signal.signal(signal.SIGHUP, raise_exit)

    try:
        validate_inputs(arguments)
    except CheckFailed as error:
        log.error("FAILED: %s", error)
        return 1

    tmp = Path(tempfile.mkdtemp(prefix="slurm-check-"))
    log.info("daemon logs, state and run directories: %s", tmp)
    timings: dict[str, float] = {}
    started = time.monotonic()
    try:
        summary = check(arguments, tmp, timings)
    except CheckFailed as error:
        log.error("FAILED: %s", error)
        log.error("daemon logs, state and run directories kept in %s", tmp)
        return 1
    except BaseException:
        log.error("interrupted; daemon logs, state and run directories kept in %s", tmp)
        raise
    timings["total"] = time.monotonic() - started
    for step, seconds in timings.items():
        log.info("time %-16s %6.1f s", step, seconds)
    log.info("PASSED: %s", summary)
    if arguments.keep_tmp:
        log.info("kept %s", tmp)
    else:
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
