"""What every part of the harness shares: versions, paths, the loopback host, errors, logging,
waiting, port probes and owner records (which process a run folder or a port belongs to)."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

STATEFUN_VERSION = "3.3.0"
FLINK_VERSION = "1.16.2"
DEFAULT_KAFKA_VERSION = "3.9.1"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

HERE = Path(__file__).resolve().parent.parent  # tests/e2e, not this package
JVM_DIR = HERE / "jvm"
REPO_ROOT = HERE.parent.parent

HOST = "127.0.0.1"


T = TypeVar("T")


class HarnessError(RuntimeError):
    """Something in the e2e infrastructure failed (not the code under test)."""


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def port_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
            return True
        except OSError:
            return False


def unix_socket_open(path: Path, timeout: float = 0.5) -> bool:
    """Whether a process accepts connections on the Unix socket file ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


def ensure_ports_free(ports: Iterable[int], what: str) -> None:
    busy = [p for p in ports if port_open(p)]
    if busy:
        raise HarnessError(
            f"cannot start {what}: port(s) {busy} on {HOST} already in use "
            f"(a leftover process from an earlier run? check `ss -ltnp`)"
        )


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.25,
    check: Callable[[], None] | None = None,
) -> T:
    """Poll ``predicate`` until truthy; ``check`` may raise early (e.g. process died)."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        if check is not None:
            check()
        try:
            result = predicate()
            if result:
                return result
        except HarnessError:
            raise
        except Exception as e:  # noqa: BLE001 - predicate errors are retried until the deadline
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22), which
    tells a live owner from an unrelated process that got its PID later."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from the last ")"
    return stat.rsplit(")", 1)[1].split()[19]


def owner_record(pid: int | None = None) -> str:
    """``"PID STARTTIME"`` of this process (or ``pid``), for :func:`owner_alive` to check later."""
    pid = os.getpid() if pid is None else pid
    return f"{pid} {_start_time(pid) or '?'}"


def owner_alive(record: str) -> bool:
    """Whether the process an :func:`owner_record` names still runs (and is the same process)."""
    try:
        pid_text, start = record.split()
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0:
        return False
    now = _start_time(pid)
    if now is not None:
        return start in ("?", now)
    if Path("/proc/self/stat").is_file():  # /proc works and has no such PID
        return False
    try:  # no /proc: PID reuse cannot be told apart, so a live PID counts as the owner
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
