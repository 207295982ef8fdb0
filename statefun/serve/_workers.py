"""`statefun serve --workers N`: a parent that binds once, forks N servers and keeps N alive.

The parent binds the address (:class:`Listener`), so every worker accepts on
the one socket and the kernel spreads connections among them; it serves no
request itself. It passes SIGTERM, SIGINT and SIGHUP on to every worker, and
starts a new worker when one dies before shutdown. Each worker drains on its
own, as a single ``statefun serve`` does; the parent returns the worst status.

Metrics across workers use prometheus_client's multiprocess mode: without a
``PROMETHEUS_MULTIPROC_DIR`` of the user's, the parent makes a temporary one
before any worker imports prometheus_client, and removes it at the end. Any
worker's ``/metrics`` then answers for all of them.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import ssl
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from types import FrameType

from .._registry import Functions
from ..loader import CliError
from ._aiohttp_server import announce_serving
from ._options import ServeOptions
from ._sockets import Listener

logger = logging.getLogger("statefun")

ServeOne = Callable[[Functions, ServeOptions, Listener, "ssl.SSLContext | None", bool], int]

# The signals a worker acts on: passed on to every worker.
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

# A worker's status for "could not start": every worker would fail the same way.
_CANNOT_START = 2

# A worker that dies this soon after its start is replaced only after this long,
# so that one that cannot run does not become a busy loop of forks.
_RESTART_PAUSE = 1.0


def supervise(
    functions: Functions,
    options: ServeOptions,
    context: ssl.SSLContext | None,
    serve_one: ServeOne,
) -> int:
    """Fork ``options.workers`` workers running ``serve_one``; return the worst status."""
    metrics_dir = _metrics_dir(options)
    listener = Listener.bind(options)
    workers: dict[int, tuple[int, float]] = {}  # pid -> (slot, start time)
    stopping: list[str] = []  # the first signal's name, once one came
    statuses: list[int] = []

    parent = os.getpid()

    def start(slot: int) -> None:
        # Forked with the signals blocked: one that comes before the worker's event loop
        # has its handlers waits for them (serve_until_signal unblocks), instead of
        # killing a worker that had not begun.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
        pid = os.fork()
        if pid == 0:  # the worker: serve, then leave without the parent's cleanup
            os._exit(_worker(functions, options, listener, context, serve_one, slot, parent))
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        workers[pid] = (slot, time.monotonic())

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP and options.tls is None:
            return  # only TLS reloads on SIGHUP; to a plain worker it would be death
        if signum != signal.SIGHUP and not stopping:
            stopping.append(signal.Signals(signum).name)
        for pid in workers:
            _kill(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        for slot in range(options.workers):
            start(slot)
        announce_serving(functions, options, listener)
        while workers:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:  # pragma: no cover - every worker is in `workers`
                break
            slot, started = workers.pop(pid)
            status = os.waitstatus_to_exitcode(wait_status)
            if metrics_dir is not None:
                _mark_dead(pid, metrics_dir)
            if stopping:
                statuses.append(status)
                continue
            if status == _CANNOT_START:
                # It said why on stderr; the others would fail alike: stop them.
                statuses.append(status)
                stopping.append("a worker that could not start")
                for other in workers:
                    _kill(other, signal.SIGTERM)
                continue
            logger.error("worker %d (pid %d) %s; starting another", slot, pid, _describe(status))
            if time.monotonic() - started < _RESTART_PAUSE:
                time.sleep(_RESTART_PAUSE)
            if not stopping:
                start(slot)
        return max((1 if s < 0 else s for s in statuses), default=0)
    finally:
        for pid in workers:  # only after an error of the parent's own
            _kill(pid, signal.SIGTERM)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _worker(
    functions: Functions,
    options: ServeOptions,
    listener: Listener,
    context: ssl.SSLContext | None,
    serve_one: ServeOne,
    slot: int,
    parent: int,
) -> int:
    """The body of a forked worker; its exit status."""
    for sig in _FORWARDED:
        signal.signal(sig, signal.SIG_DFL)
    _die_with_parent(parent)
    try:
        # The socket file is the parent's to remove: a worker only closes its copy.
        listener.socket_file = None
        return serve_one(functions, options, listener, context, False)
    except CliError as exc:
        print(f"statefun: error: worker {slot}: {exc}", file=sys.stderr, flush=True)
        return _CANNOT_START
    except BaseException:
        traceback.print_exc()
        return 70  # EX_SOFTWARE
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _metrics_dir(options: ServeOptions) -> str | None:
    """The multiprocess folder this parent makes for its workers' metrics, if it must."""
    if not (options.metrics or options.metrics_port is not None):
        return None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None  # the user's: theirs to keep or clear
    if "prometheus_client" in sys.modules:
        raise CliError(
            "--workers with --metrics: prometheus_client was imported before serving, so the"
            " workers cannot share their numbers; set PROMETHEUS_MULTIPROC_DIR before it is"
        )
    path = tempfile.mkdtemp(prefix="statefun-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def _mark_dead(pid: int, path: str) -> None:
    """Drop a dead worker's live gauges (in flight) from the sums; keep its counters."""
    try:
        from prometheus_client import multiprocess
    except ImportError:  # pragma: no cover - the workers said so already
        return
    multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def _die_with_parent(parent: int) -> None:
    """Ask Linux for a SIGTERM (a drain) should the parent die: no worker outlives it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    except (OSError, AttributeError):  # pragma: no cover - no prctl: nothing to ask
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass  # exited; os.wait() will say so


def _describe(status: int) -> str:
    if status < 0:
        return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"
