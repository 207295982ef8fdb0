"""`statefun serve`'s options: defaults, bad values, and the import it keeps lazy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from statefun.aiohttp import DEFAULT_MAX_BODY_SIZE
from statefun.cli import main
from statefun.serve import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_UDS_MODE,
    ServeOptions,
)
from tests.serve.process import run_serve


def test_the_defaults() -> None:
    options = ServeOptions()
    assert (options.host, options.port, options.path) == ("127.0.0.1", 8000, "/statefun")
    assert options.max_body_size == DEFAULT_MAX_BODY_SIZE
    # Inside Kubernetes' default terminationGracePeriodSeconds of 30.
    assert (options.grace_period, DEFAULT_GRACE_PERIOD) == (25, 25)
    # Above the runtime's pool idle times (15 s async transport, 1 min OkHttp).
    assert (options.keepalive_timeout, DEFAULT_KEEPALIVE_TIMEOUT) == (75, 75)
    # Inside the runtime's call budget (1 min OkHttp, 2 min async), so a retry can succeed.
    assert options.invocation_timeout == 30
    assert options.tls is None
    # No wait before the drain, no line per request, TCP; a socket file only its
    # owner and group may connect to.
    assert (options.drain_delay, options.access_log, options.uds) == (0, False, None)
    assert options.uds_mode == DEFAULT_UDS_MODE == 0o660


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("--grace-period", "-1", "expected a number of seconds, 0 or more, got '-1'"),
        ("--grace-period", "soon", "expected a number of seconds, 0 or more, got 'soon'"),
        ("--grace-period", "nan", "expected a number of seconds, 0 or more, got 'nan'"),
        ("--keepalive-timeout", "inf", "expected a number of seconds, 0 or more, got 'inf'"),
        ("--keepalive-timeout", "0", "expected a number of seconds above 0, got '0'"),
        ("--drain-delay", "-5", "expected a number of seconds, 0 or more, got '-5'"),
    ],
)
def test_bad_seconds(
    option: str, value: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["serve", "examples.greeter.functions:functions", f"{option}={value}"])
    assert exit.value.code == 2
    assert capsys.readouterr().err.endswith(f"statefun serve: error: argument {option}: {error}\n")


def test_the_command_line_does_not_import_aiohttp() -> None:
    """`statefun run` builds the same parser: serving's imports wait until serving starts."""
    code = "import sys, statefun.cli, statefun.serve; print('aiohttp' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--path", "statefun"], "--path 'statefun' must start with '/'"),
        (["--max-body-size", "0"], "--max-body-size 0: at least 1 byte"),
        (["--server", "uvicorn", "--path", "x"], "--path 'x' must start with '/'"),
    ],
)
def test_options_the_server_cannot_use_are_one_line(args: list[str], error: str) -> None:
    done = run_serve("examples.greeter.functions:functions", *args)
    assert (done.returncode, done.stderr) == (2, f"statefun: error: {error}\n")
