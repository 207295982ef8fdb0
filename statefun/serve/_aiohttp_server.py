"""`statefun serve` on aiohttp: one process's server, its probes, and the drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote

from .._registry import Functions
from .._unix import okhttp_path
from ._observability import Observability, scrape, start_metrics
from ._options import HEALTH_PATH, READY_PATH, UNWIND_SECONDS, ServeOptions
from ._sockets import Listener
from ._tls import reload

# aiohttp is imported when serving starts: `statefun run` builds the same
# command line and should not pay for it.
if TYPE_CHECKING:
    from aiohttp import web

logger = logging.getLogger("statefun")


# The drain's log lines, one wording for every server.


def log_ignored(signal_name: str, in_flight: int, grace_period: float) -> None:
    logger.warning(
        "%s ignored: already shutting down, %d request(s) in flight get the rest"
        " of the %g s grace period (SIGKILL stops at once)",
        signal_name,
        in_flight,
        grace_period,
    )


def log_drain_delay(signal_name: str, delay: float) -> None:
    logger.info(
        "%s: %s answers 503; serving on for %g s before refusing new connections",
        signal_name,
        READY_PATH,
        delay,
    )


def log_refusing(signal_name: str, in_flight: int, grace_period: float) -> None:
    logger.info(
        "%s: refusing new connections; %d request(s) in flight get up to %g s",
        signal_name,
        in_flight,
        grace_period,
    )


def log_cancelled(cancelled: int, grace_period: float) -> None:
    logger.warning(
        "cancelled %d request(s) still running after the %g s grace period;"
        " the runtime retries them",
        cancelled,
        grace_period,
    )


def announce_serving(functions: Functions, options: ServeOptions, listener: Listener) -> None:
    """Print the ``serving`` line (and the metrics' line): where the runtime can reach us."""
    mutual = " (mutual TLS)" if options.tls is not None and options.tls.client_ca else ""
    workers = f" ({options.workers} workers)" if options.workers > 1 else ""
    names = ", ".join(f.typename for f in functions)
    print(f"statefun: serving {names} at {listener.where}{mutual}{workers}", flush=True)
    if listener.metrics_where is not None:
        print(f"statefun: metrics at {listener.metrics_where}", flush=True)


class InFlight:
    """The requests being answered, so that a drain can wait for them, then cancel the rest."""

    def __init__(self) -> None:
        self.requests: dict[asyncio.Task[object], web.BaseRequest] = {}

    def tracked(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """``handler``, with each request counted until its answer is sent.

        aiohttp runs each request in a task of its own, which goes on to write
        the answer after the handler returns: counted until that task ends, a
        request is in flight until its answer is sent. A wrapped route handler,
        not an aiohttp middleware, whose chain aiohttp builds anew per request.
        """
        requests = self.requests
        forget = self._forget

        async def track(request: web.Request) -> web.StreamResponse:
            task: asyncio.Task[object] | None = asyncio.current_task()
            if task is not None and task not in requests:
                requests[task] = request
                task.add_done_callback(forget)
            return await handler(request)

        return track

    def _forget(self, task: asyncio.Task[object]) -> None:
        del self.requests[task]

    async def wait(self, seconds: float) -> None:
        """Return once no request is in flight, or after ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        # Loop, since a request already read from a kept-alive connection may
        # still reach the handler after the drain began.
        while self.requests and (left := deadline - loop.time()) > 0:
            await asyncio.wait(list(self.requests), timeout=left)

    def cancel(self) -> int:
        """Cancel every request still in flight; return how many there were."""
        for task in self.requests:
            task.cancel()
        return len(self.requests)


class Shutdown:
    """The first SIGTERM or SIGINT starts the drain; later ones are only logged."""

    def __init__(self, in_flight: InFlight, grace_period: float) -> None:
        self.requested = asyncio.Event()
        self.signal_name = ""
        self._in_flight = in_flight
        self._grace_period = grace_period

    def __call__(self, signal_name: str) -> None:
        if not self.requested.is_set():
            self.signal_name = signal_name
            self.requested.set()
            return
        log_ignored(signal_name, len(self._in_flight.requests), self._grace_period)


async def _start(
    functions: Functions,
    options: ServeOptions,
    context: ssl.SSLContext | None,
    listener: Listener,
    in_flight: InFlight,
    extras: Observability,
    shutdown: Shutdown,
) -> tuple[web.AppRunner, web.BaseSite]:
    """Build the application and runner for ``options``, and accept on ``listener``."""
    from aiohttp import web
    from aiohttp.log import access_logger

    from ..aiohttp import make_handler

    limit = options.invocation_timeout
    app = web.Application(client_max_size=options.max_body_size)
    functions_handler = make_handler(
        functions,
        invocation_timeout=None if limit is None else timedelta(seconds=limit),
        middleware=extras.middleware,
    )
    tracked = in_flight.tracked(functions_handler)
    app.router.add_post(options.path, tracked)
    _add_routes(app, options, shutdown, tracked)
    if extras.metrics is not None and options.metrics_port is None:
        app.router.add_get("/metrics", scrape(extras.metrics))
    runner = web.AppRunner(
        app,
        keepalive_timeout=options.keepalive_timeout,
        shutdown_timeout=UNWIND_SECONDS,
        # None: no access logger at all, so a request costs no log call.
        access_log=access_logger if options.access_log else None,
    )
    await runner.setup()
    site = web.SockSite(runner, listener.socket, ssl_context=context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site


def _add_routes(
    app: web.Application,
    options: ServeOptions,
    shutdown: Shutdown,
    functions: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> None:
    """The probes, and the path OkHttp asks for over a Unix socket, beside the functions'."""
    from aiohttp import web

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        if shutdown.requested.is_set():
            return web.Response(status=503, text="shutting down\n")
        return web.Response(text="ready\n")

    app.router.add_get(HEALTH_PATH, healthz)
    app.router.add_get(READY_PATH, readyz)
    if options.uds is not None:
        # OkHttp asks for `/%2Fstatefun` over a Unix socket: see statefun._unix.
        app.router.add_post(_routed(okhttp_path(options.path)), functions)


def _routed(path: str) -> str:
    """``path`` as aiohttp's router compares it: decoded, but for ``%2F`` and ``%25``."""
    return "%2F".join("%25".join(map(unquote, part.split("%25"))) for part in path.split("%2F"))


async def serve_until_signal(
    functions: Functions,
    options: ServeOptions,
    context: ssl.SSLContext | None,
    listener: Listener,
    extras: Observability,
    announce: bool,
) -> int:
    """Serve until SIGTERM or SIGINT, drain, and return the exit status (0, or 1 if cancelled).

    ``announce``: print the ``serving`` line, which a parent of workers prints instead.
    """
    in_flight = InFlight()
    # Before listening: a SIGTERM that comes as soon as the port answers must
    # drain, not kill the process.
    shutdown = Shutdown(in_flight, options.grace_period)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, shutdown, sig.name)
    if context is not None and options.tls is not None:
        loop.add_signal_handler(signal.SIGHUP, reload, context, options.tls)
    # A worker starts with these blocked (statefun.serve._workers): one sent before
    # now was held, and reaches the handlers just installed.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    runner, site = await _start(functions, options, context, listener, in_flight, extras, shutdown)
    try:
        metrics_site = await start_metrics(extras.metrics, listener.metrics)
    except BaseException:
        await runner.cleanup()
        raise
    try:
        if announce:
            announce_serving(functions, options, listener)
        await shutdown.requested.wait()
        if options.drain_delay > 0:
            log_drain_delay(shutdown.signal_name, options.drain_delay)
            await asyncio.sleep(options.drain_delay)
        await site.stop()
        # Requests that have just arrived get to reach the handler, so they are
        # counted as in flight rather than dropped with their idle connection.
        await asyncio.sleep(0)
        _close_connections(runner, in_flight)
        log_refusing(shutdown.signal_name, len(in_flight.requests), options.grace_period)
        await in_flight.wait(options.grace_period)
        cancelled = in_flight.cancel()
        if cancelled:
            log_cancelled(cancelled, options.grace_period)
        return 1 if cancelled else 0
    finally:
        await runner.cleanup()
        if metrics_site is not None:
            await metrics_site.cleanup()


def _close_connections(runner: web.AppRunner, in_flight: InFlight) -> None:
    """Close idle connections now, and the others once their answer is sent.

    aiohttp's own shutdown would leave an idle keep-alive connection open but
    deaf until the end, so a request the runtime sends on it would wait out the
    whole grace period instead of failing over to another replica at once.
    """
    if runner.server is None:  # pragma: no cover - set up in _start
        return
    busy = {request.protocol for request in in_flight.requests.values()}
    for connection in runner.server.connections:
        if connection in busy:
            connection.close()
        else:
            connection.force_close()
