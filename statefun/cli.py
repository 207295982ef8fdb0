"""The ``statefun`` command.

``statefun serve MODULE:ATTR`` serves a :class:`statefun.Functions` registry
over HTTP, the way ``uvicorn module:app`` serves an ASGI app.
``statefun run MODULE_YAML`` runs functions on the local runtime.
``statefun module MODULE:ATTR --url URL`` prints the module.yaml that routes to a
registry, ``statefun schema MODULE:ATTR`` the JSON Schema of its JSON types.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import json_schema, module_yaml
from ._handler import DEFAULT_INVOCATION_TIMEOUT
from .loader import CliError, load_functions
from .serve import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_UDS_MODE,
    HEALTH_PATH,
    READY_PATH,
    JsonFormatter,
    ServeOptions,
    TlsOptions,
    serve,
)

__all__ = ("main",)


def _serve_command(args: argparse.Namespace) -> int:
    functions = load_functions(args.target)
    if not len(functions):
        raise CliError(f"{args.target} has no functions registered")
    options = _serve_options(args)
    _configure_logging(args.log_format)
    return serve(functions, options)


def _configure_logging(log_format: str) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count}: at least 1")
    return count


def _serve_options(args: argparse.Namespace) -> ServeOptions:
    """The parsed ``statefun serve`` command line as the one value :func:`serve` takes."""
    if args.uds is not None:
        for option, value in (("--host", args.host), ("--port", args.port)):
            if value is not None:
                raise CliError(
                    f"--uds and {option} cannot be used together: a socket file has no {option[2:]}"
                )
    elif args.uds_mode is not None:
        raise CliError("--uds-mode needs --uds: it is the socket file's permissions")
    return ServeOptions(
        host="127.0.0.1" if args.host is None else args.host,
        port=8000 if args.port is None else args.port,
        path=args.path,
        max_body_size=args.max_body_size,
        grace_period=args.grace_period,
        keepalive_timeout=args.keepalive_timeout,
        invocation_timeout=args.invocation_timeout or None,
        tls=_tls_options(args),
        metrics=args.metrics or args.metrics_port is not None,
        metrics_port=args.metrics_port,
        tracing=args.tracing,
        drain_delay=args.drain_delay,
        access_log=args.access_log,
        uds=args.uds,
        uds_mode=DEFAULT_UDS_MODE if args.uds_mode is None else args.uds_mode,
        workers=args.workers,
        loop=args.loop,
        server=args.server,
    )


def _tls_options(args: argparse.Namespace) -> TlsOptions | None:
    if args.tls_cert is None and args.tls_key is None:
        for option, value in (
            ("--tls-client-ca", args.tls_client_ca),
            ("--tls-key-password-file", args.tls_key_password_file),
        ):
            if value is not None:
                raise CliError(f"{option} needs --tls-cert and --tls-key: it is part of HTTPS")
        return None
    if args.tls_cert is None or args.tls_key is None:
        given, missing = (
            ("--tls-key", "--tls-cert") if args.tls_cert is None else ("--tls-cert", "--tls-key")
        )
        raise CliError(f"{given} needs {missing} too: HTTPS takes a certificate and its key")
    return TlsOptions(
        cert=args.tls_cert,
        key=args.tls_key,
        key_password_file=args.tls_key_password_file,
        client_ca=args.tls_client_ca,
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    # aiohttp takes a keep-alive timeout of 0 as none at all: idle connections kept for ever.
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _mode(text: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o777:
        raise argparse.ArgumentTypeError(f"expected an octal file mode such as 660, got {text!r}")
    return value


def _run_command(args: argparse.Namespace) -> int:
    from .local._cli import run

    return run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statefun",
        description="Serve StateFun functions over HTTP, or run them on the local runtime.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve functions over HTTP for the StateFun runtime")
    serve.add_argument(
        "target",
        metavar="MODULE:ATTR",
        help="the Functions registry, e.g. examples.greeter.functions:functions",
    )
    # Defaults of None, so that --uds can tell them from values given.
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")
    serve.add_argument(
        "--path",
        default="/statefun",
        help=f"URL path to answer on (default /statefun; {HEALTH_PATH} and {READY_PATH} are"
        " the probes')",
    )
    serve.add_argument(
        "--uds",
        type=Path,
        metavar="PATH",
        help="listen on this Unix socket file (its name ending in .sock) instead of a host and"
        " port: for the runtime's OkHttp transport and an http+unix:// URL",
    )
    serve.add_argument(
        "--uds-mode",
        type=_mode,
        metavar="MODE",
        help=f"permissions of the --uds socket file, in octal (default {DEFAULT_UDS_MODE:o}:"
        " owner and group may connect)",
    )
    serve.add_argument(
        "--max-body-size",
        type=int,
        default=32 * 1024 * 1024,
        help="largest request body in bytes (default 32 MiB)",
    )
    serve.add_argument(
        "--grace-period",
        type=_seconds,
        default=DEFAULT_GRACE_PERIOD,
        metavar="SECONDS",
        help="on SIGTERM or SIGINT, how long requests in flight get to finish before they are"
        f" cancelled (default {DEFAULT_GRACE_PERIOD:g})",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="processes answering on the one address: a parent binds it, forks N workers and"
        " replaces any that dies (default 1: this process serves); see the README on sizing",
    )
    serve.add_argument(
        "--server",
        choices=("aiohttp", "uvicorn"),
        default="aiohttp",
        help="the HTTP server: aiohttp, or uvicorn (faster with httptools; the `uvicorn` extra)",
    )
    serve.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop: asyncio's, or uvloop's (faster; the `uvloop` extra)",
    )
    serve.add_argument(
        "--drain-delay",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help=f"on SIGTERM or SIGINT, how long to go on serving, {READY_PATH} answering 503,"
        " before new connections are refused and the grace period starts (default 0)",
    )
    serve.add_argument(
        "--keepalive-timeout",
        type=_positive_seconds,
        default=DEFAULT_KEEPALIVE_TIMEOUT,
        metavar="SECONDS",
        help="how long a connection may stay idle, or take to send a request's headers"
        f" (default {DEFAULT_KEEPALIVE_TIMEOUT:g})",
    )
    serve.add_argument(
        "--invocation-timeout",
        type=_seconds,
        default=DEFAULT_INVOCATION_TIMEOUT.total_seconds(),
        metavar="SECONDS",
        help="how long an async function may take for one message before the request is"
        " answered 500 (the runtime retries); 0 for no limit"
        f" (default {DEFAULT_INVOCATION_TIMEOUT.total_seconds():g})",
    )
    logs = serve.add_argument_group("logs")
    logs.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per request (default: none; failures are logged either way)",
    )
    logs.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines, or one JSON object per record (default text)",
    )
    tls = serve.add_argument_group("TLS")
    tls.add_argument(
        "--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this PEM certificate chain"
    )
    tls.add_argument(
        "--tls-key", type=Path, metavar="FILE", help="the PEM private key of --tls-cert"
    )
    tls.add_argument(
        "--tls-key-password-file",
        type=Path,
        metavar="FILE",
        help="file holding the password of an encrypted --tls-key",
    )
    tls.add_argument(
        "--tls-client-ca",
        type=Path,
        metavar="FILE",
        help="require a client certificate signed by a CA in this PEM file (mutual TLS)",
    )
    seen = serve.add_argument_group("metrics and tracing")
    seen.add_argument(
        "--metrics",
        action="store_true",
        help="answer GET /metrics with Prometheus text (needs prometheus-client, the `metrics`"
        " extra); set PROMETHEUS_MULTIPROC_DIR for one scrape over several processes",
    )
    seen.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve /metrics on this port instead, over plain HTTP on --host (implies --metrics)",
    )
    seen.add_argument(
        "--tracing",
        action="store_true",
        help="an OpenTelemetry span per request and per invocation, exported as the OTEL_*"
        " environment variables say (needs opentelemetry-sdk; OTEL_TRACES_EXPORTER, default otlp)",
    )
    serve.set_defaults(handler=_serve_command)

    run = commands.add_parser(
        "run", help="run functions on the local runtime, Kafka records on stdin"
    )
    try:
        from .local._cli import add_arguments
    except ImportError:  # the local runtime is not there: `statefun run` says so when used
        pass
    else:
        add_arguments(run)
    run.set_defaults(handler=_run_command)

    module = commands.add_parser(
        "module", help="print module.yaml for a registry: endpoints, Kafka ingress and egress"
    )
    module_yaml.add_arguments(module)
    module.set_defaults(handler=module_yaml.command)
    schema = commands.add_parser(
        "schema", help="print the JSON Schema of a registry's JSON message and state types"
    )
    json_schema.add_arguments(schema)
    schema.set_defaults(handler=json_schema.command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``statefun`` command; returns the exit status.

    The one place that reports errors: a :class:`statefun.loader.CliError` as one
    line, ``statefun: error: ...``, with its status (2 for bad input); any other
    exception (a function raised in ``statefun run``) with its traceback, status 1.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
        return status
    except CliError as exc:
        print(f"statefun: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the traceback, with the note that says which message caused it
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
