"""Start, watch and stop the local cloud's processes.

Every service runs in its own process group (a new session), so stopping it
means signalling the group: that also reaches worker processes the service
forked itself (gunicorn workers, PostgreSQL back ends).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class NotReady(RuntimeError):
    """A service did not become ready before its deadline."""


def start(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start argv detached in a new session; return its pid (= its pgid)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def run(argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
        timeout: float = 120.0) -> None:
    """Run argv to completion, output appended to log_path; raise on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        result = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None, timeout=timeout, check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed with exit status {result.returncode}; see {log_path}")


def alive(pid: int | None) -> bool:
    """True when pid runs and is not a zombie."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The state field follows the parenthesised command name.
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in (b"Z", b"X")


def group_members(pgid: int) -> list[int]:
    """Pids of live processes in process group pgid."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def stop_group(pgid: int | None, grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Signal a process group, then SIGKILL whatever outlives the grace period."""
    if not pgid:
        return
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return
    if wait_until(lambda: not group_members(pgid), grace, raise_on_timeout=False):
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_until(lambda: not group_members(pgid), 5.0, raise_on_timeout=False)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02,
               what: str = "condition", raise_on_timeout: bool = True) -> bool:
    """Poll predicate until true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            if raise_on_timeout:
                raise NotReady(f"{what} not reached within {timeout:.0f} s")
            return False
        time.sleep(interval)


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(host: str, port: int, path: str = "/", timeout: float = 2.0) -> int | None:
    """HTTP status of GET path, or None when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def wait_http(name: str, host: str, port: int, path: str, pid: int, log: Path,
              timeout: float = 60.0) -> None:
    """Wait until GET path answers below 500, failing early if the process died."""
    def ready() -> bool:
        if not alive(pid):
            raise NotReady(f"{name} exited during start; see {log}")
        status = http_status(host, port, path, timeout=1.0)
        return status is not None and status < 500

    wait_until(ready, timeout, interval=0.05, what=f"{name} answering on {host}:{port}")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 when gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (FileNotFoundError, ProcessLookupError):
        return 0


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def pids_mentioning(text: str) -> list[int]:
    """Live pids whose command line contains text (e.g. a state dir path)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and text in cmdline(int(entry)):
            if alive(int(entry)):
                found.append(int(entry))
    return found


def venv_bin(name: str) -> str:
    """A console script installed next to the running interpreter."""
    return str(Path(sys.executable).parent / name)


def kill(pid: int) -> None:
    """SIGKILL one process, ignoring one that is already gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
