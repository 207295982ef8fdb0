"""What ``statefun serve`` runs: a registry over HTTP or HTTPS until SIGTERM, then a drain.

:class:`ServeOptions` says where and how (bind address, path, limits, TLS, the
shutdown grace); :func:`serve` runs it and returns the exit status. The command
line (:mod:`statefun.cli`) only parses into these; its ``main`` reports the
:class:`statefun.loader.CliError` raised here for a bad option as one line.

::

    status = serve(functions, ServeOptions(port=8000, grace_period=25))  # until SIGTERM; 0

Shutdown, on SIGTERM or SIGINT: the listening socket is closed, so new
connections are refused; idle keep-alive connections are closed; requests in
flight get ``grace_period`` seconds to finish, and their answers are sent.
The status is then 0. Requests still running after the grace are cancelled,
their connections closed without an answer (the runtime retries them on
another replica), and the status is 1. A signal during the drain is logged and
otherwise ignored, so a second SIGTERM cannot cut answers short; SIGKILL stops
the process at once.

With ``drain_delay``, the drain waits that long first, serving as before while
``/readyz`` answers 503, so that load balancers stop sending new connections
before the listening socket closes.

With ``metrics``, ``GET /metrics`` answers Prometheus text (on ``metrics_port``
instead, when given: plain HTTP on the same host); with ``tracing``, each
request and invocation is an OpenTelemetry span, set up from the ``OTEL_*``
environment variables (:func:`statefun.tracing.configure`), and spans still
queued are exported before the process ends.

With TLS, SIGHUP reloads the certificate chain and key from the same files:
handshakes from then on present the new certificate, open connections keep
theirs, and files that do not load are logged and leave the old ones in use.

Besides the functions' ``path``, the server answers ``GET /healthz`` (liveness:
200 while it serves) and ``GET /readyz`` (readiness: 200, then 503 from the
first SIGTERM or SIGINT on). With ``uds``, it listens on a Unix socket file
instead of a TCP port, and also answers on the path the runtime's OkHttp
transport asks for over a socket (``/%2Fstatefun`` for ``/statefun``).

With ``workers`` above 1, this process binds the address, forks that many
workers that accept on it, and supervises them: a worker that dies is replaced,
and SIGTERM, SIGINT and SIGHUP are passed on to every worker, each of which
drains as above; the status is the worst of theirs. With ``loop="uvloop"``
every event loop is uvloop's; with ``server="uvicorn"``, uvicorn serves
:mod:`statefun.asgi` instead of aiohttp, with the same probes and drain.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Coroutine

from .._registry import Functions
from ..loader import CliError
from ._aiohttp_server import serve_until_signal
from ._logs import JsonFormatter
from ._observability import Observability
from ._options import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_UDS_MODE,
    HEALTH_PATH,
    READY_PATH,
    Loop,
    ServeOptions,
    Server,
    TlsOptions,
    check,
)
from ._sockets import Listener
from ._tls import ssl_context
from ._uvicorn_server import serve_uvicorn
from ._workers import supervise

__all__ = (
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "DEFAULT_UDS_MODE",
    "HEALTH_PATH",
    "READY_PATH",
    "JsonFormatter",
    "Loop",
    "Server",
    "ServeOptions",
    "TlsOptions",
    "serve",
    "ssl_context",
)

logger = logging.getLogger("statefun")


def serve(functions: Functions, options: ServeOptions) -> int:
    """Serve ``functions`` until SIGTERM or SIGINT, drain, and return the exit status.

    0 when every request in flight was answered within the grace period, 1 when
    some had to be cancelled. Raises :class:`statefun.loader.CliError` for TLS
    files that cannot be used, for an address or socket file it cannot listen on,
    for options that do not go together, and for metrics, tracing or uvloop
    without their packages.
    """
    check(options)
    # Loaded here, before any worker starts, so that a bad file is one error, not N.
    context = ssl_context(options.tls) if options.tls is not None else None
    if options.workers > 1:
        return supervise(functions, options, context, _serve_one)
    listener = Listener.bind(options)
    try:
        return _serve_one(functions, options, listener, context, True)
    finally:
        listener.close()


def _serve_one(
    functions: Functions,
    options: ServeOptions,
    listener: Listener,
    context: ssl.SSLContext | None,
    announce: bool,
) -> int:
    """Serve on ``listener`` in this process, on the event loop ``options`` name.

    A worker runs this after the fork, with the parent's ``context`` (its copy).
    """
    extras = Observability(options)
    try:
        serve_on = serve_uvicorn if options.server == "uvicorn" else serve_until_signal
        main = serve_on(functions, options, context, listener, extras, announce)
        return _run(options.loop, main)
    finally:
        extras.close()


def _run(loop: Loop, main: Coroutine[object, object, int]) -> int:
    if loop == "asyncio":
        return asyncio.run(main)
    try:
        import uvloop
    except ImportError:
        main.close()
        raise CliError(
            "--loop uvloop needs uvloop (the `uvloop` extra): pip install uvloop, or"
            " pip install -e '.[uvloop]' in the SDK's checkout"
        ) from None
    return uvloop.run(main)
