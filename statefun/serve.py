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
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import stat
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import msgspec

from ._errors import DefinitionError
from ._handler import DEFAULT_INVOCATION_TIMEOUT
from ._registry import Functions
from ._unix import okhttp_path, split_unix_url, unix_url
from .loader import CliError

# aiohttp is imported when serving starts: `statefun run` builds the same
# command line and should not pay for it.
if TYPE_CHECKING:
    from aiohttp import web

    from ._middleware import InvocationMiddleware, RequestMiddleware
    from .metrics import Metrics

__all__ = (
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "DEFAULT_UDS_MODE",
    "HEALTH_PATH",
    "READY_PATH",
    "JsonFormatter",
    "ServeOptions",
    "TlsOptions",
    "serve",
    "ssl_context",
)

logger = logging.getLogger("statefun")

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
_UNWIND_SECONDS = 0.5


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


def serve(functions: Functions, options: ServeOptions) -> int:
    """Serve ``functions`` until SIGTERM or SIGINT, drain, and return the exit status.

    0 when every request in flight was answered within the grace period, 1 when
    some had to be cancelled. Raises :class:`statefun.loader.CliError` for TLS
    files that cannot be used, for an address or socket file it cannot listen on,
    for options that do not go together, and for metrics or tracing without their
    packages.
    """
    _check(options)
    context = ssl_context(options.tls) if options.tls is not None else None
    extras = _Observability(options)
    try:
        return asyncio.run(_serve(functions, options, context, extras))
    finally:
        extras.close()


class _Observability:
    """The middleware ``options`` ask for, outermost first, and what to close at the end.

    Tracing wraps metrics, so that a span covers all the work of its request and
    the metrics time the handler alone.
    """

    def __init__(self, options: ServeOptions) -> None:
        self.middleware: list[RequestMiddleware | InvocationMiddleware] = []
        self.metrics: Metrics | None = None
        self._close: list[Callable[[], None]] = []
        if options.metrics or options.metrics_port is not None:
            if options.metrics_port is None and options.path == "/metrics":
                raise CliError(
                    "--path /metrics is where --metrics answers: choose another --path,"
                    " or serve the metrics on --metrics-port"
                )
            if options.metrics_port is not None and options.metrics_port == options.port != 0:
                raise CliError(
                    f"--metrics-port {options.metrics_port} is --port too: choose another"
                )
            try:
                from .metrics import Metrics
            except ImportError:
                raise CliError(
                    "--metrics needs prometheus-client (the `metrics` extra): pip install"
                    " prometheus-client, or pip install -e '.[metrics]' in the SDK's checkout"
                ) from None
            try:
                self.metrics = Metrics()
            except DefinitionError as exc:
                raise CliError(f"--metrics: {exc}") from None
            self.middleware.append(self.metrics)
        # Last: it starts the SDK's export thread, which nothing else may then fail to stop.
        if options.tracing:
            try:
                from .tracing import Tracing, configure

                self._close.append(configure())
            except ImportError:
                raise CliError(
                    "--tracing needs opentelemetry-sdk (beside opentelemetry-api, the `otel`"
                    " extra): pip install opentelemetry-sdk, or pip install -e '.[otel]'"
                    " opentelemetry-sdk in the SDK's checkout"
                ) from None
            except DefinitionError as exc:
                raise CliError(f"--tracing: {exc}") from None
            self.middleware.insert(0, Tracing())

    def close(self) -> None:
        for close in self._close:
            close()


def _scrape(metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    from aiohttp import web

    from .metrics import CONTENT_TYPE

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.scrape(), headers={"Content-Type": CONTENT_TYPE})

    return scrape


async def _start_metrics(
    metrics: Metrics | None, options: ServeOptions
) -> tuple[web.AppRunner, int] | None:
    """The ``/metrics`` site on ``metrics_port``, listening, and its port; None if not asked."""
    if metrics is None or options.metrics_port is None:
        return None
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/metrics", _scrape(metrics))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_UNWIND_SECONDS)
    await runner.setup()
    try:
        await web.TCPSite(runner, options.host, options.metrics_port).start()
    except OSError as exc:
        await runner.cleanup()
        raise CliError(
            f"cannot listen on {options.host}:{options.metrics_port} (--metrics-port):"
            f" {exc.strerror or exc}"
        ) from None
    return runner, runner.addresses[0][1]


def _check(options: ServeOptions) -> None:
    """Raise a CliError for options that do not go together."""
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
    if not 0 <= options.uds_mode <= 0o777:
        raise CliError(f"--uds-mode {options.uds_mode:o} is not a file mode (000 to 777)")


class JsonFormatter(logging.Formatter):
    """Formats each log record as one line of JSON: for ``statefun serve --log-format json``.

    Keys: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``; the
    record's ``statefun_*`` fields that are plain values (function, id, typename
    and error of a failed request or a dead letter); for ``aiohttp.access`` lines
    the request's fields as aiohttp names them (``remote_address``,
    ``first_request_line``, ``response_status``, ``response_size``,
    ``request_header``); and ``exception``, the traceback, when there is one.

    >>> handler = logging.StreamHandler()
    >>> handler.setFormatter(JsonFormatter())
    >>> logging.basicConfig(level=logging.INFO, handlers=[handler])
    """

    _ACCESS_FIELDS = (
        "remote_address",
        "first_request_line",
        "response_status",
        "response_size",
        "request_header",
    )

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created, timezone.utc)
        entry: dict[str, object] = {
            "time": time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        for key, value in fields.items():
            # Plain values only: an object such as a DeadLetter holds the payload.
            if key.startswith("statefun_") and isinstance(value, (str, int, float)):
                entry[key] = value
        if record.name == "aiohttp.access":
            entry.update((key, fields[key]) for key in self._ACCESS_FIELDS if key in fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return msgspec.json.encode(entry, enc_hook=str).decode()


def ssl_context(tls: TlsOptions) -> ssl.SSLContext:
    """A server-side :class:`ssl.SSLContext` for ``tls``: TLS 1.2 or later.

    Raises :class:`statefun.loader.CliError` naming the option and the file for
    a file that cannot be read, is not PEM of the right kind, a key that does not
    match the certificate, and an encrypted key without its password or with
    the wrong one.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, tls)
    if tls.client_ca is not None:
        _check_pem(tls.client_ca, "--tls-client-ca", "certificate", "-----BEGIN CERTIFICATE-----")
        try:
            context.load_verify_locations(cafile=tls.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise CliError(f"--tls-client-ca {tls.client_ca}: {_reason(exc)}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _load_chain(context: ssl.SSLContext, tls: TlsOptions) -> None:
    """Load the certificate chain and key into ``context``, or raise a CliError saying why not."""
    _check_pem(tls.cert, "--tls-cert", "certificate", "-----BEGIN CERTIFICATE-----")
    _check_pem(tls.key, "--tls-key", "private key", "PRIVATE KEY-----")
    password = None
    if tls.key_password_file is not None:
        password = _read(tls.key_password_file, "--tls-key-password-file")
        password = password[:-2] if password.endswith(b"\r\n") else password.removesuffix(b"\n")
    asked = False

    def give_password() -> bytes:
        # Without a callback, OpenSSL would prompt on the terminal for the password.
        nonlocal asked
        asked = True
        return password or b""

    try:
        context.load_cert_chain(tls.cert, tls.key, give_password)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise CliError(
                f"--tls-key {tls.key} is not the private key of the certificate in --tls-cert"
                f" {tls.cert}"
            ) from None
        if asked and password is None:
            raise CliError(
                f"--tls-key {tls.key} is encrypted: give the file holding its password with"
                " --tls-key-password-file"
            ) from None
        if asked:
            raise CliError(
                f"--tls-key {tls.key} cannot be decrypted with the password in"
                f" --tls-key-password-file {tls.key_password_file}"
            ) from None
        raise CliError(
            f"cannot load --tls-cert {tls.cert} with --tls-key {tls.key}: {_reason(exc)}"
        ) from None
    except OSError as exc:  # the file went away since it was checked
        raise CliError(f"cannot load --tls-cert {tls.cert}: {_reason(exc)}") from None


def _read(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {option} {path}: {_reason(exc)}") from None


def _check_pem(path: Path, option: str, kind: str, marker: str) -> None:
    # OpenSSL says only "PEM lib" for a file of the wrong kind: say which file, and what it lacks.
    if marker.encode() not in _read(path, option):
        begin = marker if marker.startswith("-----BEGIN") else f"-----BEGIN ... {marker}"
        raise CliError(f"{option} {path} holds no PEM {kind} (no `{begin}` line)")


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    return exc.strerror or str(exc)


class _InFlight:
    """The requests being answered, so that a drain can wait for them, then cancel the rest."""

    def __init__(self) -> None:
        self.requests: dict[asyncio.Task[object], web.BaseRequest] = {}

    async def track(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """The middleware's body: ``handler(request)``, with the request counted until answered.

        aiohttp runs each request in a task of its own, which goes on to write
        the answer after the handlers return: counted until that task ends, a
        request is in flight until its answer is sent.
        """
        task: asyncio.Task[object] | None = asyncio.current_task()
        if task is not None and task not in self.requests:
            self.requests[task] = request
            task.add_done_callback(self._forget)
        return await handler(request)

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


class _Shutdown:
    """The first SIGTERM or SIGINT starts the drain; later ones are only logged."""

    def __init__(self, in_flight: _InFlight, grace_period: float) -> None:
        self.requested = asyncio.Event()
        self.signal_name = ""
        self._in_flight = in_flight
        self._grace_period = grace_period

    def __call__(self, signal_name: str) -> None:
        if not self.requested.is_set():
            self.signal_name = signal_name
            self.requested.set()
            return
        logger.warning(
            "%s ignored: already shutting down, %d request(s) in flight get the rest"
            " of the %g s grace period (SIGKILL stops at once)",
            signal_name,
            len(self._in_flight.requests),
            self._grace_period,
        )


def _reload(context: ssl.SSLContext, tls: TlsOptions) -> None:
    # Loaded into a fresh context first: a certificate that loads with a key that
    # then fails would leave the live context with a mismatched pair.
    try:
        _load_chain(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH), tls)
        _load_chain(context, tls)
    except CliError as exc:
        logger.error("SIGHUP: kept the certificate in use: %s", exc)
        return
    logger.info("SIGHUP: reloaded --tls-cert %s and --tls-key %s", tls.cert, tls.key)


async def _start(
    functions: Functions,
    options: ServeOptions,
    context: ssl.SSLContext | None,
    in_flight: _InFlight,
    extras: _Observability,
    shutdown: _Shutdown,
) -> tuple[web.AppRunner, web.BaseSite, _SocketFile | None]:
    """Build the application, runner and site for ``options``, and start listening."""
    from aiohttp import web
    from aiohttp.log import access_logger

    from .aiohttp import make_app

    limit = options.invocation_timeout
    app = make_app(
        functions,
        path=options.path,
        max_body_size=options.max_body_size,
        invocation_timeout=None if limit is None else timedelta(seconds=limit),
        middleware=extras.middleware,
    )
    _add_routes(app, options, shutdown)
    if extras.metrics is not None and options.metrics_port is None:
        app.router.add_get("/metrics", _scrape(extras.metrics))

    @web.middleware
    async def track(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        return await in_flight.track(request, handler)

    app.middlewares.append(track)
    runner = web.AppRunner(
        app,
        keepalive_timeout=options.keepalive_timeout,
        shutdown_timeout=_UNWIND_SECONDS,
        # None: no access logger at all, so a request costs no log call.
        access_log=access_logger if options.access_log else None,
    )
    await runner.setup()
    socket_file = None
    site: web.BaseSite
    try:
        if options.uds is not None:
            socket_file = _SocketFile.bind(options.uds, options.uds_mode)
            site = web.SockSite(runner, socket_file.socket)
        else:
            site = web.TCPSite(runner, options.host, options.port, ssl_context=context)
        await site.start()
    except BaseException as exc:
        await runner.cleanup()
        if socket_file is not None:
            socket_file.remove()
        if isinstance(exc, OSError):
            where = f"--uds {options.uds}" if options.uds else f"{options.host}:{options.port}"
            raise CliError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        raise
    return runner, site, socket_file


def _add_routes(app: web.Application, options: ServeOptions, shutdown: _Shutdown) -> None:
    """Every route ``statefun serve`` adds to :func:`statefun.aiohttp.make_app`'s one."""
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
        functions = next(
            route.handler
            for route in app.router.routes()
            if route.method == "POST"
            and route.resource is not None
            and route.resource.canonical == options.path
        )
        app.router.add_post(_routed(okhttp_path(options.path)), functions)


def _routed(path: str) -> str:
    """``path`` as aiohttp's router compares it: decoded, but for ``%2F`` and ``%25``."""
    return "%2F".join("%25".join(map(unquote, part.split("%25"))) for part in path.split("%2F"))


class _SocketFile:
    """A Unix socket file this process bound: removed at exit, unless replaced since."""

    def __init__(self, path: str, sock: socket.socket) -> None:
        self.path = path
        self.socket = sock
        found = os.stat(path)
        self._identity = (found.st_dev, found.st_ino)

    @classmethod
    def bind(cls, given: Path, mode: int) -> _SocketFile:
        """Bind a socket at ``given`` with ``mode``, replacing a stale socket file there.

        Raises CliError for a name the runtime cannot use, a file that is not a
        socket, a socket another process listens on, and a path it cannot bind.
        """
        path = os.path.abspath(given)  # the runtime needs it whole; `..` taken out
        found = split_unix_url(unix_url(path, "/"))
        if found is None:
            raise CliError(
                f"--uds {given}: the file name must end in `.sock`; the runtime finds the"
                " socket in an `http+unix://` URL by that suffix"
            )
        if found[0] != path:
            raise CliError(
                f"--uds {given}: the folder {found[0]} ends in `.sock`, so the runtime would"
                " take it for the socket; put the socket where only its own name does"
            )
        _remove_stale(path, given)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Bound under a umask that leaves only the owner in, then opened up to `mode`:
        # the file is never more open than asked, not even for an instant.
        umask = os.umask(0o177)
        try:
            sock.bind(path)
        except OSError as exc:
            sock.close()
            raise CliError(f"cannot listen on --uds {given}: {exc.strerror or exc}") from None
        finally:
            os.umask(umask)
        try:
            os.chmod(path, mode)
            return cls(path, sock)
        except OSError as exc:
            sock.close()
            os.unlink(path)
            raise CliError(f"cannot set --uds-mode on {given}: {exc.strerror or exc}") from None

    def remove(self) -> None:
        """Remove the file, if it is still the one bound: a newer server's stays."""
        self.socket.close()
        try:
            found = os.stat(self.path)
            if (found.st_dev, found.st_ino) == self._identity:
                os.unlink(self.path)
        except OSError:
            pass  # already gone, or its folder too: nothing left to clean


def _remove_stale(path: str, given: Path) -> None:
    """Remove a socket file no process listens on; raise CliError for anything else there."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CliError(f"cannot listen on --uds {given}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(found.st_mode):
        raise CliError(f"--uds {given} exists and is not a socket: not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        pass  # left by a process that was killed
    except OSError as exc:
        raise CliError(f"cannot listen on --uds {given}: {exc.strerror or exc}") from None
    else:
        raise CliError(f"--uds {given}: another process is listening on it")
    finally:
        probe.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CliError(f"cannot remove the stale --uds {given}: {exc.strerror or exc}") from None
    logger.info("removed the stale socket file %s, which no process listened on", path)


async def _serve(
    functions: Functions,
    options: ServeOptions,
    context: ssl.SSLContext | None,
    extras: _Observability,
) -> int:
    in_flight = _InFlight()
    # Before listening: a SIGTERM that comes as soon as the port answers must
    # drain, not kill the process.
    shutdown = _Shutdown(in_flight, options.grace_period)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, shutdown, sig.name)
    if context is not None and options.tls is not None:
        loop.add_signal_handler(signal.SIGHUP, _reload, context, options.tls)
    runner, site, socket_file = await _start(
        functions, options, context, in_flight, extras, shutdown
    )
    try:
        metrics_site = await _start_metrics(extras.metrics, options)
    except BaseException:
        await runner.cleanup()
        if socket_file is not None:
            socket_file.remove()
        raise
    try:
        if socket_file is not None:
            where = unix_url(socket_file.path, options.path)
        else:
            port = runner.addresses[0][1]
            scheme = "https" if context is not None else "http"
            where = f"{scheme}://{options.host}:{port}{options.path}"
        mutual = " (mutual TLS)" if options.tls is not None and options.tls.client_ca else ""
        names = ", ".join(f.typename for f in functions)
        print(f"statefun: serving {names} at {where}{mutual}", flush=True)
        if metrics_site is not None:
            print(
                f"statefun: metrics at http://{options.host}:{metrics_site[1]}/metrics", flush=True
            )
        await shutdown.requested.wait()
        if options.drain_delay > 0:
            logger.info(
                "%s: %s answers 503; serving on for %g s before refusing new connections",
                shutdown.signal_name,
                READY_PATH,
                options.drain_delay,
            )
            await asyncio.sleep(options.drain_delay)
        await site.stop()
        # Requests that have just arrived get to reach the handler, so they are
        # counted as in flight rather than dropped with their idle connection.
        await asyncio.sleep(0)
        _close_connections(runner, in_flight)
        logger.info(
            "%s: refusing new connections; %d request(s) in flight get up to %g s",
            shutdown.signal_name,
            len(in_flight.requests),
            options.grace_period,
        )
        await in_flight.wait(options.grace_period)
        cancelled = in_flight.cancel()
        if cancelled:
            logger.warning(
                "cancelled %d request(s) still running after the %g s grace period;"
                " the runtime retries them",
                cancelled,
                options.grace_period,
            )
        return 1 if cancelled else 0
    finally:
        await runner.cleanup()
        if metrics_site is not None:
            await metrics_site[0].cleanup()
        if socket_file is not None:
            socket_file.remove()


def _close_connections(runner: web.AppRunner, in_flight: _InFlight) -> None:
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
