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

With ``metrics``, ``GET /metrics`` answers Prometheus text (on ``metrics_port``
instead, when given: plain HTTP on the same host); with ``tracing``, each
request and invocation is an OpenTelemetry span, set up from the ``OTEL_*``
environment variables (:func:`statefun.tracing.configure`), and spans still
queued are exported before the process ends.

With TLS, SIGHUP reloads the certificate chain and key from the same files:
handshakes from then on present the new certificate, open connections keep
theirs, and files that do not load are logged and leave the old ones in use.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ._errors import DefinitionError
from ._handler import DEFAULT_INVOCATION_TIMEOUT
from ._registry import Functions
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


def serve(functions: Functions, options: ServeOptions) -> int:
    """Serve ``functions`` until SIGTERM or SIGINT, drain, and return the exit status.

    0 when every request in flight was answered within the grace period, 1 when
    some had to be cancelled. Raises :class:`statefun.loader.CliError` for TLS
    files that cannot be used, for an address it cannot listen on, and for
    metrics or tracing without their packages.
    """
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
) -> tuple[web.AppRunner, web.TCPSite]:
    """Build the application, runner and site for ``options``, and start listening."""
    from aiohttp import web

    from .aiohttp import make_app

    limit = options.invocation_timeout
    app = make_app(
        functions,
        path=options.path,
        max_body_size=options.max_body_size,
        invocation_timeout=None if limit is None else timedelta(seconds=limit),
        middleware=extras.middleware,
    )
    if extras.metrics is not None and options.metrics_port is None:
        app.router.add_get("/metrics", _scrape(extras.metrics))

    @web.middleware
    async def track(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        return await in_flight.track(request, handler)

    app.middlewares.append(track)
    runner = web.AppRunner(
        app, keepalive_timeout=options.keepalive_timeout, shutdown_timeout=_UNWIND_SECONDS
    )
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port, ssl_context=context)
    try:
        await site.start()
    except BaseException as exc:
        await runner.cleanup()
        if isinstance(exc, OSError):
            raise CliError(
                f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}"
            ) from None
        raise
    return runner, site


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
    runner, site = await _start(functions, options, context, in_flight, extras)
    try:
        metrics_site = await _start_metrics(extras.metrics, options)
    except BaseException:
        await runner.cleanup()
        raise
    try:
        port = runner.addresses[0][1]
        scheme = "https" if context is not None else "http"
        mutual = " (mutual TLS)" if options.tls is not None and options.tls.client_ca else ""
        names = ", ".join(f.typename for f in functions)
        print(
            f"statefun: serving {names} at {scheme}://{options.host}:{port}{options.path}{mutual}",
            flush=True,
        )
        if metrics_site is not None:
            print(
                f"statefun: metrics at http://{options.host}:{metrics_site[1]}/metrics", flush=True
            )
        await shutdown.requested.wait()
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
