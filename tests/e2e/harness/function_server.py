"""The function server under test: any command line, waited for on its port."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .common import (
    HOST,
    REPO_ROOT,
    ensure_ports_free,
    log,
    port_open,
    unix_socket_open,
    wait_until,
)
from .processes import ManagedProcess, RunDir

# In a FunctionServer's argv this becomes its port: the port is the run's, picked when the run
# starts, while test modules build their command lines at import time.
PORT_ARG = "{port}"


def serve_argv(target: str) -> list[str]:
    """The command line of ``statefun serve TARGET`` where the runtime's module.yaml expects it
    (the port is :data:`PORT_ARG`, filled in by :class:`FunctionServer`)."""
    return [
        sys.executable,
        "-m",
        "statefun",
        "serve",
        target,
        "--host",
        HOST,
        "--port",
        PORT_ARG,
        "--path",
        "/statefun",
    ]


class FunctionServer:
    """A function server process (argv given by the test) serving on ``127.0.0.1:port``.

    ``port`` defaults to the run's function port, the one the job's module.yaml is rendered
    with; :data:`PORT_ARG` anywhere in ``argv`` is replaced by it. With ``uds`` (a server
    started with ``--uds`` that path), the server is waited for on that socket file instead.
    """

    def __init__(
        self,
        run: RunDir,
        argv: Sequence[str],
        port: int | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
        name: str = "function",
        uds: Path | str | None = None,
    ):
        self.run = run
        self.uds = Path(uds) if uds is not None else None
        self.port = run.ports.function if port is None else port
        self.argv = [str(a).replace(PORT_ARG, str(self.port)) for a in argv]
        self.name = name
        self.cwd = Path(cwd) if cwd else REPO_ROOT
        base_env = dict(os.environ)
        pp = base_env.get("PYTHONPATH")
        base_env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + pp if pp else "")
        base_env["PYTHONUNBUFFERED"] = "1"
        base_env.update(env or {})
        self.env = base_env
        self.dir = run.unique(name)
        self.process: ManagedProcess | None = None
        self.starts = 0

    def start(self, timeout: float = 30) -> FunctionServer:
        if self.uds is None:
            ensure_ports_free([self.port], f"the function server {self.name}")
        self.starts += 1
        self.process = self.run.register(
            ManagedProcess(
                self.name, self.argv, self.dir / f"{self.name}.log", env=self.env, cwd=self.cwd
            )
        ).start()
        t0 = time.monotonic()
        wait_until(
            self._listening,
            timeout,
            f"{self.name} on {self._where()}",
            interval=0.1,
            check=self.process.check_alive,
        )
        log(f"{self.name} listening on {self._where()} after {time.monotonic() - t0:.1f}s")
        return self

    def _listening(self) -> bool:
        return unix_socket_open(self.uds) if self.uds is not None else port_open(self.port)

    def _where(self) -> str:
        return str(self.uds) if self.uds is not None else f"{HOST}:{self.port}"

    def kill(self) -> None:
        """SIGKILL (crash) and wait until the port is free."""
        if self.process:
            self.process.kill()
        wait_until(lambda: not self._listening(), 15, f"{self._where()} to close")

    def restart(self, timeout: float = 30) -> FunctionServer:
        self.kill()
        return self.start(timeout)

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=10)

    def check_alive(self) -> None:
        if self.process:
            self.process.check_alive()

    def log_text(self) -> str:
        return self.process.log_path.read_text(errors="replace") if self.process else ""
