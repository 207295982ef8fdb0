"""The signal safety net: SIGTERM, SIGHUP and Ctrl-C become one KeyboardInterrupt, so that
fixtures and ``finally`` blocks stop the children; every further signal is ignored.

``timeout`` sends SIGTERM (and a CI runner or a user may send a second), and stopping the JVMs
takes seconds. Were each signal a KeyboardInterrupt, the second would break out of the loop
stopping them, leaving the rest to ``PR_SET_PDEATHSIG``'s SIGKILL: no clean Kafka shutdown,
no final log lines. So only the first signal interrupts, and stopping code runs
:func:`shielded`: a first signal that arrives inside is raised only when it is done.
SIGKILL still ends everything at once.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
from collections.abc import Generator
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

_stopping = False  # a signal has asked this process to stop
_shield_depth = 0
_deferred: str | None = None  # the interrupt a shielded block owes once it is done


def _say(msg: str) -> None:
    # os.write, not print: the handler may run in the middle of a print to stderr
    with contextlib.suppress(OSError):
        os.write(2, f"[e2e {time.strftime('%H:%M:%S')}] {msg}\n".encode())


def _on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    global _stopping, _deferred
    name = signal.Signals(signum).name
    if _stopping:
        _say(f"{name} ignored: already stopping the processes this run started (SIGKILL forces)")
        return
    _stopping = True
    if _shield_depth:
        _deferred = name
        _say(f"{name}: stopping once the processes being stopped have exited")
        return
    raise KeyboardInterrupt(name)


@contextlib.contextmanager
def shielded() -> Generator[None, None, None]:
    """Run the block to its end even if a signal arrives; the interrupt comes afterwards."""
    global _shield_depth, _deferred
    _shield_depth += 1
    try:
        yield
    finally:
        _shield_depth -= 1
        if _shield_depth == 0 and _deferred is not None:
            name, _deferred = _deferred, None
            raise KeyboardInterrupt(name)


def _ignore_while_exiting() -> None:
    # Python's finalization puts SIG_DFL back in place of a Python handler (not of SIG_IGN):
    # one more SIGTERM then would kill a process that has stopped everything cleanly.
    if _stopping:
        for s in SIGNALS:
            with contextlib.suppress(Exception):
                signal.signal(s, signal.SIG_IGN)


# registered before processes.py registers stop_all_processes, so it runs after it
atexit.register(_ignore_while_exiting)


def install_sigterm_handler() -> None:
    """Handle SIGTERM, SIGHUP and SIGINT as described above, where nobody else handles them."""
    if threading.current_thread() is not threading.main_thread():
        return
    for s in SIGNALS:
        with contextlib.suppress(Exception):
            if signal.getsignal(s) in (signal.SIG_DFL, signal.default_int_handler, None):
                signal.signal(s, _on_signal)
