"""The ``statefun`` command.

``statefun serve MODULE:ATTR`` serves a :class:`statefun.Functions` registry
over HTTP, the way ``uvicorn module:app`` serves an ASGI app.
``statefun run MODULE_YAML`` runs functions on the local runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from ._registry import Functions

__all__ = ("load_functions", "main")


class CliError(Exception):
    """A problem with the command line, reported as one line and exit status 2."""


def load_functions(target: str) -> Functions:
    """Import ``module.path:attribute`` and return the Functions registry it names."""
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise CliError(
            f"expected MODULE:ATTRIBUTE (e.g. examples.greeter.functions:functions), got {target!r}"
        )
    # Like uvicorn: modules in the working directory are importable.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CliError(f"cannot import module {module_name!r}: {exc}") from None
        raise
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise CliError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(value, Functions):
        raise CliError(
            f"{target} is a {type(value).__name__}, expected a statefun.Functions registry"
        )
    return value


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
        prog="statefun", description=__doc__.split("\n\n")[0] if __doc__ else None
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
    """Run the ``statefun`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
        return status
    except CliError as exc:
        print(f"statefun: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
