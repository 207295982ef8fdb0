"""`statefun serve --server uvicorn`: :mod:`statefun.asgi` under uvicorn, with our probes and drain.

The same contract as the aiohttp server: the probes, ``/metrics``, the OkHttp
path over a Unix socket, SIGTERM and SIGINT starting a drain (``--drain-delay``
first, later signals only logged), SIGHUP reloading TLS, and status 1 when the
grace period cut a request off. uvicorn (with httptools when installed) parses
HTTP; its own signal handling is replaced by ours, which returns a status
instead of re-raising the signal at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import signal
import socket
import ssl
from collections.abc import Callable, Generator
from datetime import timedelta
from typing import TYPE_CHECKING, cast

from .._registry import Functions
from .._unix import okhttp_path
from ..asgi import Receive, Scope, Send, make_asgi_app
from ..loader import CliError
from ._aiohttp_server import (
    announce_serving,
    log_cancelled,
    log_drain_delay,
    log_ignored,
    log_refusing,
)
from ._observability import Observability, start_metrics
from ._options import HEALTH_PATH, READY_PATH, UNWIND_SECONDS, ServeOptions
from ._sockets import Listener
from ._tls import reload

if TYPE_CHECKING:
    import uvicorn

    from ..asgi import ASGIApp

logger = logging.getLogger("statefun")

_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


class _Drain:
    """What the probes and the exit status need to know of the server's shutdown."""

    def __init__(self) -> None:
        self.signal_name = ""  # set by the first SIGTERM or SIGINT
        self.in_flight = 0
        self.cancelled = 0
        self.tasks: set[asyncio.Task[object]] = set()  # the requests' own, while they run


class _Serving:
    """What the server needs beyond uvicorn's config: what to announce, reload and drain."""

    def __init__(
        self,
        functions: Functions,
        options: ServeOptions,
        listener: Listener,
        context: ssl.SSLContext | None,
        drain: _Drain,
        announce: bool,
    ) -> None:
        self.functions = functions
        self.options = options
        self.listener = listener
        self.context = context
        self.drain = drain
        self.announce = announce


class _Routes:
    """The functions' ASGI app, with what `statefun serve` answers beside it."""

    def __init__(
        self, app: ASGIApp, options: ServeOptions, drain: _Drain, extras: Observability
    ) -> None:
        self.app = app
        self.drain = drain
        self.path = options.path
        # OkHttp asks for `/%2Fstatefun` over a Unix socket: see statefun._unix.
        self.okhttp = okhttp_path(options.path).encode() if options.uds is not None else None
        self.metrics = extras.metrics if options.metrics_port is None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path")
        if path in (HEALTH_PATH, READY_PATH) or (path == "/metrics" and self.metrics):
            await self._probe(str(path), scope, send)
            return
        if self.okhttp is not None and scope.get("raw_path") == self.okhttp:
            scope = {**scope, "path": self.path, "raw_path": self.path.encode()}
        self.drain.in_flight += 1
        task: asyncio.Task[object] | None = asyncio.current_task()
        if task is not None:
            self.drain.tasks.add(task)
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            # Cut off after the grace period. uvicorn would log the cancellation as an
            # application error and answer 500; a 503 says what happened, and the
            # runtime retries it as it would a closed connection.
            self.drain.cancelled += 1
            body = b"shutting down: cancelled after the grace period\n"
            headers = [*_TEXT, (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            self.drain.in_flight -= 1
            if task is not None:
                self.drain.tasks.discard(task)

    async def _probe(self, path: str, scope: Scope, send: Send) -> None:
        method = scope.get("method")
        if method not in ("GET", "HEAD"):
            status, headers, body = 405, [*_TEXT, (b"allow", b"GET, HEAD")], b""
        elif path == "/metrics" and self.metrics is not None:
            from ..metrics import CONTENT_TYPE

            status, headers, body = 200, [(b"content-type", CONTENT_TYPE.encode())], b""
            body = self.metrics.scrape()
        elif path == READY_PATH and self.drain.signal_name:
            status, headers, body = 503, _TEXT, b"shutting down\n"
        else:
            status, headers, body = 200, _TEXT, b"ok\n" if path == HEALTH_PATH else b"ready\n"
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


async def serve_uvicorn(
    functions: Functions,
    options: ServeOptions,
    context: ssl.SSLContext | None,
    listener: Listener,
    extras: Observability,
    announce: bool,
) -> int:
    """Serve on ``listener`` under uvicorn until SIGTERM or SIGINT, drain, return the status."""
    try:
        import uvicorn
    except ImportError:
        raise CliError(
            "--server uvicorn needs uvicorn (the `uvicorn` extra): pip install uvicorn httptools,"
            " or pip install -e '.[uvicorn]' in the SDK's checkout"
        ) from None
    limit = options.invocation_timeout
    app = make_asgi_app(
        functions,
        path=options.path,
        max_body_size=options.max_body_size,
        invocation_timeout=None if limit is None else timedelta(seconds=limit),
        middleware=extras.middleware,
    )
    drain = _Drain()
    config = uvicorn.Config(
        _Routes(app, options, drain, extras),
        http=_http_parser(),
        ws="none",
        lifespan="off",
        interface="asgi3",
        loop="none",  # ours: options.loop, set up before this runs
        log_config=None,  # the process's logging, as `statefun serve` set it up
        access_log=options.access_log,
        server_header=False,
        # Typed int by uvicorn, used as seconds by asyncio, which takes fractions too.
        timeout_keep_alive=cast(int, options.keepalive_timeout),
        timeout_graceful_shutdown=cast(int, options.grace_period),
    )
    config.load()
    config.ssl = context  # ours: TLS 1.2 or later, and reloaded on SIGHUP
    # uvicorn's own lifecycle lines at INFO would say what ours say already.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    serving = _Serving(functions, options, listener, context, drain, announce)
    server = _server_class()(config, serving)
    metrics_site = await start_metrics(extras.metrics, listener.metrics)
    try:
        await server.serve(sockets=[listener.socket])
    finally:
        if metrics_site is not None:
            await metrics_site.cleanup()
    if drain.tasks:
        # Cancelled by uvicorn at the end of the grace, and not yet unwound: let them,
        # so that each is answered and counted.
        await asyncio.wait(set(drain.tasks), timeout=UNWIND_SECONDS)
    if drain.cancelled:
        log_cancelled(drain.cancelled, options.grace_period)
        return 1
    return 0


def _http_parser() -> str:
    # httptools parses in C; h11, which uvicorn always has, in Python.
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def _server_class() -> Callable[[uvicorn.Config, _Serving], uvicorn.Server]:
    # Defined when asked for: uvicorn is an optional extra.
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, with the drain of `statefun serve` in place of its signals."""

        def __init__(self, config: uvicorn.Config, serving: _Serving) -> None:
            super().__init__(config)
            self._serving = serving
            self._options = serving.options
            self._drain = serving.drain

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig.name)
            tls, context = self._options.tls, self._serving.context
            if context is not None and tls is not None:
                loop.add_signal_handler(signal.SIGHUP, reload, context, tls)
            # A worker starts with these blocked (statefun.serve._workers).
            signal.pthread_sigmask(
                signal.SIG_UNBLOCK, (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
            )
            try:
                yield
            finally:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            serving = self._serving
            if serving.announce and self.started:
                announce_serving(serving.functions, serving.options, serving.listener)

        def _on_signal(self, name: str) -> None:
            options = self._options
            if self._drain.signal_name:
                log_ignored(name, self._drain.in_flight, options.grace_period)
                return
            self._drain.signal_name = name
            if options.drain_delay > 0:
                log_drain_delay(name, options.drain_delay)
                asyncio.get_running_loop().call_later(options.drain_delay, self._exit)
            else:
                self._exit()

        def _exit(self) -> None:
            self.should_exit = True  # uvicorn's main loop sees it within 0.1 s

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # Closed before saying so, as the aiohttp server does: from the log line on,
            # a connection is refused. uvicorn closes them again, which does nothing.
            for listening in self.servers:
                listening.close()
            log_refusing(self._drain.signal_name, self._drain.in_flight, self._options.grace_period)
            await super().shutdown(sockets=sockets)

    return Server
