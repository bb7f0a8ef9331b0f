"""Start and stop a throwaway single-node Slurm cluster on 127.0.0.1.

Written for Debian bookworm's Slurm 22.05 and MUNGE 0.5.15. The cluster runs munged,
slurmctld and slurmd as root with their sockets, logs and state under one directory,
and has no accounting database. Job steps started by snakemake-executor-plugin-slurm
2.8.0 drop SLURM_CONF from their environment, so the configuration has to be at the
default path /etc/slurm/slurm.conf: LocalCluster backs up any file there and puts it
back when it stops.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from linux_proc import (
    descendants,
    is_running,
    listening_addresses,
    pids_by_name,
    process_state,
    stop_process,
    terminate,
    wait_until,
)

log = logging.getLogger("slurm-check")

SYSTEM_SLURM_CONF = Path("/etc/slurm/slurm.conf")
# First line of every slurm.conf this module writes. A file at SYSTEM_SLURM_CONF that
# starts with it is a leftover of a run that was killed before it could restore the
# original, so stop() deletes it instead of putting it back.
CONF_MARKER = "# Written by tests/slurm/slurm_cluster.py for a throwaway test cluster."

REQUIRED_BINARIES = (
    "munged",
    "munge",
    "unmunge",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
    "srun",
)
DEBIAN_PACKAGES = ("slurm-wlm", "munge")

COMMAND_TIMEOUT_S = 30  # any single Slurm or MUNGE client command
START_TIMEOUT_S = 30  # from starting a daemon until it responds
CANCEL_TIMEOUT_S = 30  # from scancel until squeue lists no unfinished job
APT_TIMEOUT_S = 900


class CheckFailed(Exception):
    """A step of the check failed; the message names the step and its log file."""


@dataclass
class Daemon:
    name: str
    pid: int
    log_file: Path


def run_command(command: list[str], timeout: float = COMMAND_TIMEOUT_S, **kwargs) -> subprocess.CompletedProcess:
    """Run a command that must finish within timeout seconds, capturing its output as text."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    except subprocess.TimeoutExpired as error:
        raise CheckFailed(f"command timed out after {timeout} s: {' '.join(command)}") from error


def log_tail(path: Path, lines: int = 15) -> str:
    """Return the last lines of a log file, or a note that it does not exist."""
    if not path.exists():
        return f"(log file {path} does not exist)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


# --- network ---------------------------------------------------------------------------


def check_port_free(port: int) -> None:
    """Raise CheckFailed if a socket already listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR ignores connections in TIME_WAIT but still fails on a listener.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise CheckFailed(
                f"port {port} on 127.0.0.1 is not free ({error.strerror}); stop the program that uses it "
                "or choose other ports with --slurmctld-port/--slurmd-port"
            ) from error


# --- packages --------------------------------------------------------------------------


def missing_binaries() -> list[str]:
    return [name for name in REQUIRED_BINARIES if shutil.which(name) is None]


def run_apt(command: list[str], apt_log: Path) -> int:
    """Run an apt-get command with its output appended to apt_log; return its exit code."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with apt_log.open("a") as output:
        try:
            return subprocess.run(
                command, stdout=output, stderr=subprocess.STDOUT, env=env, timeout=APT_TIMEOUT_S, check=False
            ).returncode
        except subprocess.TimeoutExpired as error:
            raise CheckFailed(f"{' '.join(command)} timed out after {APT_TIMEOUT_S} s; see {apt_log}") from error


def ensure_packages(apt_log: Path) -> None:
    """Install Debian's slurm-wlm and munge with apt-get unless all their programs are on PATH."""
    missing = missing_binaries()
    if not missing:
        log.info("Slurm and MUNGE programs found on PATH; nothing to install")
        return
    if shutil.which("apt-get") is None:
        raise CheckFailed(
            f"programs not found on PATH: {', '.join(missing)}; this machine has no apt-get, "
            f"so install Slurm and MUNGE ({' '.join(DEBIAN_PACKAGES)} on Debian) by hand"
        )

    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *DEBIAN_PACKAGES]
    log.info("programs not found on PATH: %s; running %s (log: %s)", ", ".join(missing), " ".join(install), apt_log)
    returncode = run_apt(install, apt_log)
    if returncode != 0:
        # A fresh machine may have no package lists yet; fetch them once and retry.
        log.warning("apt-get install failed with exit code %d; running apt-get update and retrying", returncode)
        run_apt(["apt-get", "update", "-q"], apt_log)
        returncode = run_apt(install, apt_log)
    if returncode != 0:
        raise CheckFailed(
            f"apt-get install {' '.join(DEBIAN_PACKAGES)} failed with exit code {returncode}; see {apt_log}"
        )

    still_missing = missing_binaries()
    if still_missing:
        raise CheckFailed(
            f"programs still not found on PATH after apt-get install: {', '.join(still_missing)}; see {apt_log}"
        )


# --- configuration ---------------------------------------------------------------------


def detect_node() -> dict[str, str]:
    """Return this machine's node parameters (NodeName, CPUs, RealMemory, ...) from `slurmd -C`."""
    result = run_command(["slurmd", "-C"])
    if result.returncode != 0:
        raise CheckFailed(f"`slurmd -C` failed with exit code {result.returncode}: {result.stderr.strip()}")
    if not result.stdout.strip():
        raise CheckFailed("`slurmd -C` printed nothing; it should print this machine's NodeName= line")
    first_line = result.stdout.splitlines()[0]
    node = dict(item.split("=", 1) for item in first_line.split())
    for key in ("NodeName", "CPUs", "RealMemory"):
        if key not in node:
            raise CheckFailed(f"`slurmd -C` printed no {key}: {first_line!r}")
    return node


def render_slurm_conf(
    state_dir: Path, node: dict[str, str], slurmctld_port: int, slurmd_port: int, min_job_age_s: int
) -> str:
    """Return a slurm.conf for one node and one partition, with every file under state_dir.

    node contains the parameters that `slurmd -C` prints. squeue lists a finished job
    for min_job_age_s seconds.
    """
    name = node["NodeName"]
    hardware = " ".join(f"{key}={value}" for key, value in node.items() if key != "NodeName")
    # Without a default, a job that requests no memory is given the whole node.
    default_mem_per_cpu = int(node["RealMemory"]) // int(node["CPUs"])
    return f"""{CONF_MARKER}
# Its daemons keep their sockets, logs and state under {state_dir}.
ClusterName=slurmcheck
SlurmctldHost={name}(127.0.0.1)
SlurmctldPort={slurmctld_port}
SlurmdPort={slurmd_port}
# Bind slurmctld and slurmd to the node's address, 127.0.0.1, instead of all addresses.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={state_dir}/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={state_dir}/slurmctld
SlurmdSpoolDir={state_dir}/slurmd
SlurmctldPidFile={state_dir}/slurmctld.pid
SlurmdPidFile={state_dir}/slurmd.pid
SlurmctldLogFile={state_dir}/log/slurmctld.log
SlurmdLogFile={state_dir}/log/slurmd.log
# No cgroups: track job processes through /proc and bind no tasks to CPUs.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# No accounting database, so sacct does not work and job states come from squeue.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={default_mem_per_cpu}
MinJobAge={min_job_age_s}
KillWait=5
ReturnToService=2
NodeName={name} NodeAddr=127.0.0.1 {hardware} State=UNKNOWN
PartitionName=debug Nodes={name} Default=YES MaxTime=INFINITE State=UP
"""


# --- the cluster -----------------------------------------------------------------------


class LocalCluster:
    """A single-node Slurm cluster whose daemons this process starts and stops by PID.

    Use it as a context manager. Entering starts munged, slurmctld and slurmd and waits
    until the node is idle. Leaving cancels every job, stops the daemons and restores
    /etc/slurm/slurm.conf, also after an error or a signal that raises an exception.
    """

    def __init__(self, state_dir: Path, slurmctld_port: int = 6817, slurmd_port: int = 6818, min_job_age_s: int = 3600):
        self.state_dir = state_dir
        self.slurmctld_port = slurmctld_port
        self.slurmd_port = slurmd_port
        self.min_job_age_s = min_job_age_s
        self.previous_slurm_conf_env: str | None = None
        self.daemons: list[Daemon] = []
        self.node_name = ""
        self.conf_backup = state_dir / "etc-slurm-slurm.conf.orig"
        self.conf_installed = False
        self.created_conf_dir = False
        self.slurmstepd_before: set[int] = set()
        self.stop_errors: list[str] = []

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- start ---

    def check_preconditions(self) -> None:
        """Raise CheckFailed if Slurm daemons already run or a port is taken."""
        # Another slurmctld or slurmd would read the slurm.conf this check writes.
        for name in ("slurmctld", "slurmd", "slurmstepd"):
            pids = pids_by_name(name)
            if pids:
                raise CheckFailed(
                    f"{name} is already running (PID {', '.join(map(str, sorted(pids)))}); this check replaces "
                    f"{SYSTEM_SLURM_CONF} and starts its own daemons, so stop the running ones first"
                )
        if self.slurmctld_port == self.slurmd_port:
            raise CheckFailed(f"slurmctld and slurmd need different ports, but both are {self.slurmd_port}")
        for port in (self.slurmctld_port, self.slurmd_port):
            check_port_free(port)

    def start(self) -> None:
        started = time.monotonic()
        self.check_preconditions()

        self.state_dir.chmod(0o755)  # munged rejects a socket directory that others cannot enter
        for sub in ("munge", "slurmctld", "slurmd", "log"):
            (self.state_dir / sub).mkdir(mode=0o755, exist_ok=True)
        self.previous_slurm_conf_env = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(SYSTEM_SLURM_CONF)
        self.slurmstepd_before = pids_by_name("slurmstepd")

        self._start_munged()
        node = detect_node()
        self.node_name = node["NodeName"]
        conf = render_slurm_conf(self.state_dir, node, self.slurmctld_port, self.slurmd_port, self.min_job_age_s)
        self._install_conf(conf)
        self._start_slurmctld()
        self._start_slurmd()
        self._check_loopback_only()
        log.info(
            "cluster is up in %.1f s: node %s (CPUs=%s, RealMemory=%s MB), slurmctld on 127.0.0.1:%d",
            time.monotonic() - started,
            self.node_name,
            node["CPUs"],
            node["RealMemory"],
            self.slurmctld_port,
        )

    def _daemon_failed(self, name: str, log_file: Path, problem: str) -> CheckFailed:
        return CheckFailed(
            f"{name} {problem}. Log file: {log_file}\n--- last lines of {log_file} ---\n{log_tail(log_file)}"
        )

    def _wait_for_pid_file(self, name: str, pid_file: Path, log_file: Path) -> Daemon:
        """Wait until a daemon that forked into the background has written its PID file."""

        def pid_file_ready() -> bool:
            try:
                return is_running(int(pid_file.read_text().strip()))
            except (FileNotFoundError, ValueError):
                pass
            # The daemon forks into the background before the start command returns, so
            # from then on some process of that name runs until the daemon exits.
            if not pids_by_name(name):
                raise self._daemon_failed(name, log_file, "exited right after it started")
            return False

        if not wait_until(pid_file_ready, START_TIMEOUT_S):
            raise self._daemon_failed(
                name, log_file, f"did not write a live PID to {pid_file} within {START_TIMEOUT_S} s"
            )
        daemon = Daemon(name, int(pid_file.read_text().strip()), log_file)
        self.daemons.append(daemon)
        log.info("started %s (PID %d, log %s)", name, daemon.pid, log_file)
        return daemon

    def _start_munged(self) -> None:
        munge_dir = self.state_dir / "munge"
        key_file = munge_dir / "munge.key"
        key_file.write_bytes(os.urandom(1024))
        key_file.chmod(0o600)
        socket_path = munge_dir / "munge.socket"
        log_file = self.state_dir / "log" / "munged.log"
        command = [
            "munged",
            f"--key-file={key_file}",
            f"--socket={socket_path}",
            f"--pid-file={munge_dir / 'munged.pid'}",
            f"--log-file={log_file}",
            f"--seed-file={munge_dir / 'munged.seed'}",
        ]
        result = run_command(command, timeout=START_TIMEOUT_S)
        if result.returncode != 0:
            raise self._daemon_failed(
                "munged", log_file, f"exited with code {result.returncode}: {result.stderr.strip()}"
            )
        self._wait_for_pid_file("munged", munge_dir / "munged.pid", log_file)

        credential = run_command(["munge", "-n", "-S", str(socket_path)])
        decoded = run_command(["unmunge", "-S", str(socket_path)], input=credential.stdout)
        if credential.returncode != 0 or decoded.returncode != 0:
            raise self._daemon_failed(
                "munged",
                log_file,
                f"runs but does not encode and decode a credential: {credential.stderr}{decoded.stderr}".strip(),
            )

    def _install_conf(self, text: str) -> None:
        (self.state_dir / "slurm.conf").write_text(text)
        if SYSTEM_SLURM_CONF.exists():
            shutil.copy2(SYSTEM_SLURM_CONF, self.conf_backup)
            if SYSTEM_SLURM_CONF.read_text(errors="replace").startswith(CONF_MARKER):
                log.warning("%s is a leftover of an earlier, killed check; it is deleted on exit", SYSTEM_SLURM_CONF)
                self.conf_backup.unlink()
            else:
                log.info("backed up %s to %s; it is put back on exit", SYSTEM_SLURM_CONF, self.conf_backup)
        elif not SYSTEM_SLURM_CONF.parent.exists():
            SYSTEM_SLURM_CONF.parent.mkdir(parents=True)
            self.created_conf_dir = True
        self.conf_installed = True
        SYSTEM_SLURM_CONF.write_text(text)
        log.info("wrote %s (copy: %s)", SYSTEM_SLURM_CONF, self.state_dir / "slurm.conf")

    def _start_slurmctld(self) -> None:
        log_file = self.state_dir / "log" / "slurmctld.log"
        # -c: start without the job and node state of an earlier run.
        result = run_command(["slurmctld", "-c"], timeout=START_TIMEOUT_S)
        if result.returncode != 0:
            raise self._daemon_failed(
                "slurmctld", log_file, f"exited with code {result.returncode}: {result.stderr.strip()}"
            )
        daemon = self._wait_for_pid_file("slurmctld", self.state_dir / "slurmctld.pid", log_file)

        def answers() -> bool:
            if not is_running(daemon.pid):
                raise self._daemon_failed("slurmctld", log_file, f"(PID {daemon.pid}) exited after it started")
            ping = run_command(["scontrol", "ping"])
            return ping.returncode == 0 and "UP" in ping.stdout

        if not wait_until(answers, START_TIMEOUT_S, interval=0.5):
            raise self._daemon_failed(
                "slurmctld", log_file, f"(PID {daemon.pid}) does not answer `scontrol ping` after {START_TIMEOUT_S} s"
            )

    def _start_slurmd(self) -> None:
        log_file = self.state_dir / "log" / "slurmd.log"
        result = run_command(["slurmd", "-c"], timeout=START_TIMEOUT_S)
        if result.returncode != 0:
            raise self._daemon_failed(
                "slurmd", log_file, f"exited with code {result.returncode}: {result.stderr.strip()}"
            )
        daemon = self._wait_for_pid_file("slurmd", self.state_dir / "slurmd.pid", log_file)

        state = ""

        def node_idle() -> bool:
            nonlocal state
            if not is_running(daemon.pid):
                raise self._daemon_failed("slurmd", log_file, f"(PID {daemon.pid}) exited after it started")
            result = run_command(["sinfo", "--noheader", "--Node", f"--nodes={self.node_name}", "--format=%T"])
            state = result.stdout.strip()
            return state == "idle"

        if not wait_until(node_idle, START_TIMEOUT_S, interval=0.5):
            details = run_command(["scontrol", "show", "node", self.node_name]).stdout.strip()
            raise self._daemon_failed(
                "slurmd",
                log_file,
                f"(PID {daemon.pid}) did not register: node {self.node_name} is in state {state or 'unknown'!r} "
                f"after {START_TIMEOUT_S} s\n--- scontrol show node ---\n{details}",
            )

    def _check_loopback_only(self) -> None:
        for daemon in self.daemons:
            addresses = listening_addresses(daemon.pid)
            outside = [address for address in addresses if not address.startswith(("127.", "::1:"))]
            if outside:
                raise self._daemon_failed(
                    daemon.name, daemon.log_file, f"listens on {', '.join(outside)}, not only on 127.0.0.1"
                )
            if addresses:
                log.info("%s listens on %s", daemon.name, ", ".join(addresses))

    # --- stop ---

    def cancel_all_jobs(self) -> None:
        """Cancel every pending or running job and wait until none is left."""
        slurmctld = next((d for d in self.daemons if d.name == "slurmctld"), None)
        if slurmctld is None or not is_running(slurmctld.pid):
            return

        def unfinished_jobs() -> list[str]:
            # Without --states, squeue lists only jobs that are not finished.
            return run_command(["squeue", "--noheader", "--format=%i"]).stdout.split()

        active = unfinished_jobs()
        if not active:
            return
        log.info("cancelling %d unfinished Slurm jobs: %s", len(active), " ".join(active))
        run_command(["scancel", "--full", *active])
        if not wait_until(lambda: not unfinished_jobs(), CANCEL_TIMEOUT_S, 0.5):
            self._stop_error(
                f"Slurm jobs {' '.join(unfinished_jobs())} still unfinished {CANCEL_TIMEOUT_S} s after scancel"
            )

    def stop(self) -> None:
        """Cancel all jobs, stop every daemon this object started and restore slurm.conf.

        Never raises for a daemon that will not stop: it logs the error, records it in
        stop_errors and goes on, so that the other daemons and the configuration are
        still cleaned up.
        """
        try:
            try:
                self.cancel_all_jobs()
            except CheckFailed as error:
                self._stop_error(f"cancelling jobs failed: {error}")

            # slurmd first, so that no new job step starts; munged last, because slurmd
            # and slurmctld authenticate through it until they exit.
            order = {"slurmd": 0, "slurmctld": 1, "munged": 2}
            for daemon in sorted(self.daemons, key=lambda d: order[d.name]):
                if terminate(daemon.pid, daemon.name):
                    log.info("stopped %s (PID %d)", daemon.name, daemon.pid)
                else:
                    self._stop_error(f"{daemon.name} (PID {daemon.pid}) is still running after SIGKILL")
                if daemon.name == "slurmd":
                    self._kill_stray_job_steps()
            # Give the daemons' parent, usually PID 1, time to reap them, so pgrep no longer lists them.
            wait_until(lambda: all(process_state(d.pid) is None for d in self.daemons), 3)
            self.daemons = []
        finally:
            self._restore_conf()
            if self.previous_slurm_conf_env is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = self.previous_slurm_conf_env

    def _kill_stray_job_steps(self) -> None:
        # A job step survives slurmd; any slurmstepd that started after this cluster did is ours.
        for pid in sorted(pids_by_name("slurmstepd") - self.slurmstepd_before):
            self._stop_error(f"slurmstepd (PID {pid}) still ran after slurmd stopped; killing it and its processes")
            for child in sorted(descendants(pid)):
                stop_process(child, f"job process of slurmstepd {pid}")
            stop_process(pid, "slurmstepd")

    def _restore_conf(self) -> None:
        if not self.conf_installed:
            return
        if self.conf_backup.exists():
            shutil.copy2(self.conf_backup, SYSTEM_SLURM_CONF)
            log.info("restored %s from %s", SYSTEM_SLURM_CONF, self.conf_backup)
        else:
            SYSTEM_SLURM_CONF.unlink(missing_ok=True)
            log.info("removed %s; this check found no original to put back", SYSTEM_SLURM_CONF)
            if self.created_conf_dir and not any(SYSTEM_SLURM_CONF.parent.iterdir()):
                SYSTEM_SLURM_CONF.parent.rmdir()
        self.conf_installed = False

    def _stop_error(self, message: str) -> None:
        log.error(message)
        self.stop_errors.append(message)
