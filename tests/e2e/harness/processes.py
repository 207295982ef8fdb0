"""Child processes and their logs: each in its own process group, logging into the run folder,
stopped by PID, whatever signals arrive meanwhile (``signals.py``); the run folder."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

from .common import HarnessError, log, owner_alive, owner_record, wait_until
from .ports import Ports
from .signals import install_sigterm_handler, shielded


def tail(path: Path | str, lines: int = 60) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"<{path} does not exist>"
    return "\n".join(data.splitlines()[-lines:])


def error_summary(path: Path | str, limit: int = 12) -> str:
    """The distinct exception lines of a log (``...Exception: msg``, ``Caused by: ...``), last first
    seen order kept: usually the root cause of a JVM failure, which a plain tail may miss."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    seen: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("at ") or stripped.startswith("..."):
            continue
        if (
            stripped.startswith("Caused by:")
            or ("Exception: " in stripped)
            or ("Error: " in stripped)
        ):
            short = stripped[:400]
            if short in seen:
                seen.remove(short)
            seen.append(short)
    return "\n".join(seen[-limit:])


_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()  # own process group: the terminal's Ctrl-C goes to us, we stop the child
    try:  # die with the harness even if it is SIGKILLed (Linux only)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # noqa: BLE001
        pass


_LIVE: dict[int, ManagedProcess] = {}
_LIVE_LOCK = threading.Lock()


def stop_all_processes() -> None:
    """Stop every process started by this harness that is still alive (atexit / signal safety net)."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    with shielded():
        for p in reversed(procs):
            with contextlib.suppress(Exception):
                p.stop()


atexit.register(stop_all_processes)


class ManagedProcess:
    """A child process with its own process group and a log file; stopped by PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
    ):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        if self.running:
            raise HarnessError(f"{self.name} already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as lf:
            lf.write(
                f"\n==== {time.strftime('%H:%M:%S')} start {self.name}: {' '.join(self.argv)}\n".encode()
            )
            lf.flush()
            # an interrupt between the fork and the bookkeeping would leave a child no one stops
            with shielded():
                self.proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=lf,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.cwd,
                    preexec_fn=_child_setup,
                )
                with _LIVE_LOCK:
                    _LIVE[self.proc.pid] = self
        log(f"started {self.name} (pid {self.proc.pid}), log: {self.log_path}")
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            summary = error_summary(self.log_path)
            raise HarnessError(
                f"{self.name} exited early with code {self.proc.returncode}; log {self.log_path}\n"
                + (f"--- exceptions in the log ---\n{summary}\n" if summary else "")
                + f"--- tail ---\n{tail(self.log_path, 60)}"
            )

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)  # the group we created for this child (setsid)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL right away (crash simulation) and reap."""
        if self.proc is None:
            return
        with shielded():
            if self.proc.poll() is None:
                log(f"SIGKILL {self.name} (pid {self.proc.pid})")
                self._signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
            self._forget()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        with shielded():
            if self.proc.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    log(
                        f"{self.name} (pid {self.proc.pid}) ignored SIGTERM for {timeout}s: SIGKILL"
                    )
                    self._signal(signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(timeout=30)
            self._forget()
        return self.proc.returncode

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"{self.name} did not exit within {timeout}s") from e

    def _forget(self) -> None:
        if self.proc is not None:
            with _LIVE_LOCK:
                _LIVE.pop(self.proc.pid, None)

    def tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def log_offset(self) -> int:
        """Current size of the log; pass it as ``since`` to :meth:`wait_for_log`."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def wait_for_log(self, text: str, timeout: float, since: int = 0) -> str:
        """Wait until ``text`` appears in the log after byte ``since``; returns that line."""

        def find() -> str | None:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                data = f.read().decode("utf-8", "replace")
            i = data.find(text)
            if i < 0:
                return None
            start = data.rfind("\n", 0, i) + 1
            end = data.find("\n", i)
            return data[start : end if end >= 0 else None]

        return wait_until(find, timeout, f"{text!r} in {self.log_path}", interval=0.3)


RUN_PREFIX = "statefun-e2e-run-"
OWNER_FILE = "owner.pid"
KEEP_DAYS = 3.0


def runs_base() -> Path:
    return Path(os.environ.get("STATEFUN_E2E_RUNS", tempfile.gettempdir()))


def prune_runs(base: Path, keep_days: float = KEEP_DAYS, now: float | None = None) -> list[Path]:
    """Remove the ``statefun-e2e-run-*`` folders in ``base`` untouched for ``keep_days`` whose
    owner (``owner.pid``) is gone; returns them. A folder whose owner still runs is never
    removed, however old: runs share the base folder, and one must not delete another's logs.
    """
    cutoff = (time.time() if now is None else now) - keep_days * 86400
    removed: list[Path] = []
    for folder in sorted(base.glob(RUN_PREFIX + "*")):
        try:
            if not folder.is_dir() or folder.stat().st_mtime > cutoff:
                continue
            try:
                owner = (folder / OWNER_FILE).read_text()
            except FileNotFoundError:  # a folder from before owners were recorded
                owner = ""
        except OSError:
            continue
        if owner and owner_alive(owner):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


class RunDir:
    """A per-run folder holding every process's log and working files.

    Default: a fresh ``statefun-e2e-run-*`` under ``$STATEFUN_E2E_RUNS`` or the temp dir.
    It is kept afterwards (logs, Kafka data, checkpoints: a few MB) so a failure can be
    inspected. It records its owner (this process's PID and start time) in ``owner.pid``;
    creating a run removes only folders of runs that ended more than :data:`KEEP_DAYS` ago
    (:func:`prune_runs`), never one another live run is using.
    """

    def __init__(self, path: Path | None = None):
        if path is None:
            base = runs_base()
            base.mkdir(parents=True, exist_ok=True)
            prune_runs(base)
            path = Path(
                tempfile.mkdtemp(prefix=time.strftime(RUN_PREFIX + "%Y%m%d-%H%M%S-"), dir=base)
            )
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / OWNER_FILE).write_text(owner_record())
        self.processes: list[ManagedProcess] = []
        self._counter: dict[str, int] = {}

    @cached_property
    def ports(self) -> Ports:
        """This run's Kafka, Kafka controller and function ports, picked free on first use."""
        return Ports.pick()

    def unique(self, stem: str) -> Path:
        n = self._counter.get(stem, 0) + 1
        self._counter[stem] = n
        p = self.path / (stem if n == 1 else f"{stem}-{n}")
        p.mkdir(parents=True, exist_ok=True)
        return p

    def register(self, proc: ManagedProcess) -> ManagedProcess:
        self.processes.append(proc)
        return proc

    def log_files(self) -> list[Path]:
        return sorted(self.path.rglob("*.log"))

    def report(self, lines: int = 40) -> str:
        out = [f"e2e run folder: {self.path}"]
        for f in self.log_files():
            out.append(f"----- tail of {f} -----\n{tail(f, lines)}")
        return "\n".join(out)

    def stop_all(self) -> None:
        """Stop every process of this run by PID, newest first, to the end."""
        with shielded():
            for p in reversed(self.processes):
                with contextlib.suppress(Exception):
                    p.stop()


def run_until_signalled(run: RunDir, start: Callable[[], Callable[[], None]]) -> int:
    """``up``'s life: ``start()`` the processes (it returns a liveness check, called every
    second) and keep them until Ctrl-C or SIGTERM; then stop all of ``run``'s, by PID."""
    install_sigterm_handler()
    try:
        check = start()
        while True:
            check()
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        run.stop_all()


def run_command(
    cmd: Sequence[object], log_file: Path, timeout: float, cwd: Path | None = None
) -> None:
    log(f"$ {' '.join(map(str, cmd))}")
    with open(log_file, "ab") as lf:
        lf.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        lf.flush()
        try:
            proc = subprocess.run(
                list(map(str, cmd)), stdout=lf, stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd
            )
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"command timed out after {timeout}s: {cmd}; log: {log_file}") from e
    if proc.returncode != 0:
        raise HarnessError(
            f"command failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- tail of {log_file} ---\n{tail(log_file, 40)}"
        )
