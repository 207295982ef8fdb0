"""Free ports for one harness setup, so that two runs on one machine never collide.

A port is taken from below the kernel's ephemeral range (``ip_local_port_range``): ports the
kernel hands out on its own (outgoing connections, ``bind(0)``) then never land on it, not even
while a test has killed the server that owns it, and a client retrying a dead port cannot
connect to itself. Each pick is probed by binding it and reserved machine-wide in
``$TMPDIR/statefun-e2e-ports/PORT`` (the owner's PID and start time), so a second harness
skips the ports of a live first one even when they are not bound at that moment. Reservations
go when the process exits; those of a dead owner are taken over.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import random
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .common import HOST, HarnessError, owner_alive, owner_record

FIRST_PORT = 20000  # below it sit many well-known services' defaults (8081, 9092, 5432, ...)
ATTEMPTS = 200

_random = random.SystemRandom()  # not the module's generator, which tests may seed
_mine: dict[int, Path] = {}


def reservations_dir() -> Path:
    return Path(tempfile.gettempdir()) / "statefun-e2e-ports"


def candidate_ports() -> range:
    """Ports from :data:`FIRST_PORT` up to the ephemeral range; empty if that leaves too few."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        low = int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return range(0)
    return range(FIRST_PORT, low) if low - FIRST_PORT >= 1000 else range(0)


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _kernel_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
    return port


def _reserve(port: int, folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a") as lock:
            # check and claim as one step, or two harnesses could take over one stale file
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = folder / str(port)
            with contextlib.suppress(FileNotFoundError):
                if owner_alive(path.read_text()):
                    return False
            path.write_text(owner_record())
    except OSError:
        # another user's folder or a read-only temp dir: the bind probe alone has to do
        return True
    _mine[port] = folder
    return True


def pick_port(folder: Path | None = None) -> int:
    """A port on 127.0.0.1 that is free now and that no live harness process has reserved."""
    folder = folder or reservations_dir()
    candidates = candidate_ports()
    for _ in range(ATTEMPTS):
        port = _random.choice(candidates) if candidates else _kernel_port()
        if port in _mine or not bindable(port):
            continue
        if _reserve(port, folder):
            return port
    raise HarnessError(f"no free port on {HOST} after {ATTEMPTS} tries (see `ss -ltnp`)")


def release_ports(folder: Path | None = None) -> None:
    """Drop this process's reservations, or only those in ``folder``. Called at exit: a
    reservation is never handed back earlier, since a port's process may be restarted on it."""
    mine = owner_record()
    for port, where in list(_mine.items()):
        if folder is not None and where != folder:
            continue
        path = where / str(port)
        with contextlib.suppress(OSError):
            if path.read_text() == mine:
                path.unlink()
        del _mine[port]


atexit.register(release_ports)


@dataclass(frozen=True)
class Ports:
    """The ports one run shares between its processes: the module.yaml the job gets is
    rendered with the Kafka and function ports, so they are chosen before anything starts."""

    kafka: int
    kafka_controller: int
    function: int

    @classmethod
    def pick(cls) -> Ports:
        return cls(kafka=pick_port(), kafka_controller=pick_port(), function=pick_port())
