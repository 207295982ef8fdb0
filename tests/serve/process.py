"""`statefun serve` as users run it: a subprocess on a loopback port, read line by line.

Every wait here is a hang guard, never a measurement: it only bounds how long a
broken server can hold the suite up, and is generous for a loaded machine.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
HANG_GUARD = 60.0


both_servers = pytest.mark.both_servers
"""Run each test that uses the ``serve`` fixture on each ``--server`` (tests/serve/conftest.py)."""


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail after the hang guard saying ``what`` never happened."""
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {HANG_GUARD:g} s")
        time.sleep(0.01)


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    """``statefun serve ARGS`` run to its end: for command lines it refuses."""
    return subprocess.run(
        [sys.executable, "-m", "statefun", "serve", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )


class Served:
    """``statefun serve ARGS --port 0``, started and waited for; ``port`` is the one it chose.

    With ``--uds PATH`` among ``ARGS`` it gets no ``--port``: ``socket_file`` is then
    the file the serving line names, and ``port`` is 0.
    """

    def __init__(self, *args: str) -> None:
        listen = [] if "--uds" in args else ["--port", "0"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "statefun", "serve", *args, *listen],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            serving = self.wait_for("statefun: serving ")
        except BaseException:
            self.stop()
            raise
        self.socket_file = ""
        self.port = 0
        unix = re.search(r"http\+unix://(\S+?\.sock)", serving)
        if unix is not None:
            self.socket_file = unix.group(1)
            return
        found = re.search(r"https?://[^:]+:(\d+)/", serving)
        assert found is not None, serving
        self.port = int(found.group(1))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, text: str) -> str:
        """The next line of output that contains ``text``; fails if the process ends first."""
        deadline = time.monotonic() + HANG_GUARD
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise AssertionError(
                    f"no line with {text!r} within {HANG_GUARD:g} s; output:\n{''.join(self.output)}"
                ) from None
            if line is None:
                self._lines.put(None)  # later waits fail the same way
                raise AssertionError(
                    f"statefun serve ended before printing {text!r}; output:\n{''.join(self.output)}"
                )
            self.output.append(line)
            if text in line:
                return line

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self) -> int:
        """The exit status, once the process has ended and all its output has been read."""
        status = self.process.wait(HANG_GUARD)
        while (line := self._lines.get(timeout=HANG_GUARD)) is not None:
            self.output.append(line)
        self._lines.put(None)
        return status

    def stop(self) -> None:
        """Kill the process if it still runs: the end of every test, passed or failed."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(HANG_GUARD)
        self._reader.join(HANG_GUARD)  # it reads until the end of the output: then it is closed
        if self.process.stdout is not None:
            self.process.stdout.close()
