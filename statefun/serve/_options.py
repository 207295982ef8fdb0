"""What `statefun serve` is asked to do: :class:`ServeOptions` and its defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from .._handler import DEFAULT_INVOCATION_TIMEOUT
from ..loader import CliError

Loop = Literal["asyncio", "uvloop"]
Server = Literal["aiohttp", "uvicorn"]

DEFAULT_GRACE_PERIOD = 25.0
"""Seconds requests in flight get to finish at shutdown: inside Kubernetes' default
``terminationGracePeriodSeconds`` of 30, with room left to write the last answers."""

DEFAULT_KEEPALIVE_TIMEOUT = 75.0
"""Seconds a connection may wait for its next request, or take to send its headers.

Longer than the runtime keeps a connection idle in its pool (the async
transport's ``pool_ttl`` is 15 s, OkHttp's pool 1 min), so the server seldom
closes one the runtime is about to reuse; short enough that idle or stalled
clients give their sockets back (aiohttp's own default is an hour)."""

HEALTH_PATH = "/healthz"
"""Liveness: ``GET`` answers 200 as long as the process serves, drain included."""

READY_PATH = "/readyz"
"""Readiness: ``GET`` answers 200, and 503 from the first SIGTERM or SIGINT on."""

DEFAULT_UDS_MODE = 0o660
"""Permissions of the socket file: its owner and group may connect (connecting
needs write permission), others not, whatever the umask."""

# aiohttp's own shutdown, after the grace: it waits this long for cancelled
# requests to unwind, twice over. Small, since the process is to be gone soon
# after the grace period.
UNWIND_SECONDS = 0.5


class TlsOptions(msgspec.Struct, frozen=True, kw_only=True):
    """HTTPS, and with ``client_ca`` mutual TLS, for :class:`ServeOptions`.

    Parameters
    ----------
    cert
        PEM file with the server certificate, then any intermediates.
    key
        PEM file with its private key.
    key_password_file
        File holding the key's password, if it is encrypted (one trailing
        newline is ignored). A file, not a value, so the password never shows
        in ``ps``.
    client_ca
        PEM file with the CA certificates a client certificate must be signed
        by; when given, a client without such a certificate is refused during
        the handshake.
    """

    cert: Path
    key: Path
    key_password_file: Path | None = None
    client_ca: Path | None = None


class ServeOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How :func:`serve` serves: where, which limits, TLS, and the shutdown grace.

    >>> ServeOptions(host="0.0.0.0", grace_period=20).port
    8000

    Parameters
    ----------
    host, port
        Where to listen; port 0 picks a free one (the ``serving`` line says which).
    path
        The URL path the runtime's ``urlPathTemplate`` points at.
    max_body_size
        Largest request body in bytes (``413`` above it); the runtime's own 32 MiB.
    grace_period
        Seconds requests in flight get to finish after SIGTERM or SIGINT.
    keepalive_timeout
        Seconds a connection may stay idle, or take to send a request's headers.
    invocation_timeout
        Seconds an ``async`` function may take for one message (``500`` after);
        ``None`` for no limit.
    tls
        Serve HTTPS (and with a client CA, mutual TLS); ``None`` for plain HTTP.
    metrics
        Answer ``GET /metrics`` with Prometheus text (needs ``prometheus-client``).
    metrics_port
        Serve ``/metrics`` on this port instead, over plain HTTP (0 picks one);
        implies ``metrics``.
    tracing
        An OpenTelemetry span per request and per invocation (needs
        ``opentelemetry-sdk``), exported as the ``OTEL_*`` variables say.
    drain_delay
        Seconds to go on serving after SIGTERM or SIGINT, with ``/readyz``
        answering 503, before new connections are refused and the grace begins.
    access_log
        Log one line per request (aiohttp's access log, INFO on ``aiohttp.access``).
    uds
        Listen on this Unix socket file instead of ``host`` and ``port``; its name
        must end in ``.sock`` (the runtime's ``http+unix://`` URLs need it).
    uds_mode
        Permissions of the socket file.
    workers
        Processes serving the one address: a parent binds it, forks them, and
        starts a new one when one dies (``1``: this process serves, no parent).
    loop
        ``"asyncio"``, or ``"uvloop"`` for its faster event loop (needs ``uvloop``).
    server
        The HTTP server: ``"aiohttp"``, or ``"uvicorn"`` (needs ``uvicorn``; with
        ``httptools`` it parses HTTP in C), serving :mod:`statefun.asgi`.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    path: str = "/statefun"
    max_body_size: int = 32 * 1024 * 1024  # statefun.aiohttp.DEFAULT_MAX_BODY_SIZE
    grace_period: float = DEFAULT_GRACE_PERIOD
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    invocation_timeout: float | None = DEFAULT_INVOCATION_TIMEOUT.total_seconds()
    tls: TlsOptions | None = None
    metrics: bool = False
    metrics_port: int | None = None
    tracing: bool = False
    drain_delay: float = 0.0
    access_log: bool = False
    uds: Path | None = None
    uds_mode: int = DEFAULT_UDS_MODE
    workers: int = 1
    loop: Loop = "asyncio"
    server: Server = "aiohttp"


def check(options: ServeOptions) -> None:
    """Raise a CliError for options that do not go together."""
    if not options.path.startswith("/"):
        raise CliError(f"--path {options.path!r} must start with '/'")
    if options.max_body_size < 1:
        raise CliError(f"--max-body-size {options.max_body_size}: at least 1 byte")
    for taken, probe in ((HEALTH_PATH, "liveness"), (READY_PATH, "readiness")):
        if options.path == taken:
            raise CliError(
                f"--path {taken} is where the {probe} probe is answered: serve the functions"
                " on another path"
            )
    if options.uds is not None and options.tls is not None:
        raise CliError(
            "--uds cannot be used with --tls-cert: the runtime speaks plain HTTP over a Unix"
            " socket, even to an https+unix:// URL"
        )
    if options.metrics or options.metrics_port is not None:
        if options.metrics_port is None and options.path == "/metrics":
            raise CliError(
                "--path /metrics is where --metrics answers: choose another --path,"
                " or serve the metrics on --metrics-port"
            )
        if options.metrics_port is not None and options.metrics_port == options.port != 0:
            raise CliError(f"--metrics-port {options.metrics_port} is --port too: choose another")
    if options.workers < 1:
        raise CliError(f"--workers {options.workers}: at least 1")
    if options.loop not in ("asyncio", "uvloop"):
        raise CliError(f"--loop {options.loop!r}: asyncio or uvloop")
    if options.server not in ("aiohttp", "uvicorn"):
        raise CliError(f"--server {options.server!r}: aiohttp or uvicorn")
    if not 0 <= options.uds_mode <= 0o777:
        raise CliError(f"--uds-mode {options.uds_mode:o} is not a file mode (000 to 777)")
