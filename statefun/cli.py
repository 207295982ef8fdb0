"""The ``statefun`` command.

``statefun serve MODULE:ATTR`` serves a :class:`statefun.Functions` registry
over HTTP, the way ``uvicorn module:app`` serves an ASGI app.
``statefun run MODULE_YAML`` runs functions on the local runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import traceback
from collections.abc import Sequence

from ._registry import Functions
from .loader import CliError, load_functions

__all__ = ("main",)


async def _serve(functions: Functions, host: str, port: int, path: str, max_body_size: int) -> None:
    from aiohttp import web

    from .aiohttp import make_app

    runner = web.AppRunner(make_app(functions, path=path, max_body_size=max_body_size))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        names = ", ".join(f.typename for f in functions)
        print(f"statefun: serving {names} at http://{host}:{port}{path}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def _serve_command(args: argparse.Namespace) -> int:
    functions = load_functions(args.target)
    if not len(functions):
        raise CliError(f"{args.target} has no functions registered")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_serve(functions, args.host, args.port, args.path, args.max_body_size))
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


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
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--path", default="/statefun", help="URL path to answer on (default /statefun)"
    )
    serve.add_argument(
        "--max-body-size",
        type=int,
        default=32 * 1024 * 1024,
        help="largest request body in bytes (default 32 MiB)",
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
