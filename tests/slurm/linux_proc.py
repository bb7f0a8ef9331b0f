"""Process and socket helpers that read Linux's /proc, so they need neither procps nor ss."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("slurm-check")

STOP_TIMEOUT_S = 15  # from SIGTERM until SIGKILL


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll condition until it returns True or timeout seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def process_state(pid: int) -> str | None:
    """Return the one-letter state of a process from /proc, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in brackets may contain spaces, so split after its closing bracket.
    return stat.rsplit(")", 1)[1].split()[0]


def is_running(pid: int) -> bool:
    state = process_state(pid)
    return state is not None and state not in ("Z", "X")


def pids_by_name(name: str) -> set[int]:
    """Return the PIDs of running processes whose command name (/proc/PID/comm) is name."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == name and is_running(int(entry.name)):
            pids.add(int(entry.name))
    return pids


def descendants(pid: int) -> set[int]:
    """Return the PIDs of all running descendants of a process."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def terminate(pid: int, name: str) -> bool:
    """Send SIGTERM, then SIGKILL after STOP_TIMEOUT_S; return True if the process is gone."""
    if not is_running(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if wait_until(lambda: not is_running(pid), STOP_TIMEOUT_S):
        return True
    log.error("%s (PID %d) ignored SIGTERM for %d s; sending SIGKILL", name, pid, STOP_TIMEOUT_S)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return wait_until(lambda: not is_running(pid), 5)


def stop_process(pid: int, name: str) -> bool:
    """Terminate a process and give its parent 2 s to reap it, so pgrep no longer lists it."""
    stopped = terminate(pid, name)
    if stopped:
        wait_until(lambda: process_state(pid) is None, 2)
    return stopped


def listening_addresses(pid: int) -> list[str]:
    """Return "address:port" for every TCP socket in LISTEN state that the process has open.

    Matches the socket inodes in /proc/net/tcp and /proc/net/tcp6 against the process's
    file descriptors.
    """
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])

    addresses = []
    for table, family in ((Path("/proc/net/tcp"), socket.AF_INET), (Path("/proc/net/tcp6"), socket.AF_INET6)):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A is TCP_LISTEN
                continue
            address_hex, port_hex = local.split(":")
            # The kernel prints each 32-bit word of the address in host byte order.
            raw = b"".join(int(address_hex[i : i + 8], 16).to_bytes(4, "little") for i in range(0, len(address_hex), 8))
            addresses.append(f"{socket.inet_ntop(family, raw)}:{int(port_hex, 16)}")
    return addresses
