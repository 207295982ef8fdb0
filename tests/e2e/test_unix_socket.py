"""The greeter over a Unix socket: the real runtime's OkHttp transport against
``statefun serve --uds``, the shape of a sidecar.

The module.yaml's endpoint is ``http+unix://<folder>/functions.sock/statefun`` with the
``io.statefun.transports.v1/okhttp`` transport (the async transport has no Unix sockets);
the harness renders only loopback TCP URLs, so this one reaches the job as written.
OkHttp asks for ``POST /%2Fstatefun`` over the socket, which ``statefun serve --uds``
answers: greetings arriving prove it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import harness
from .conftest import FunctionServerFactory, StatefunJobFactory
from .test_greeter import NAMES, expected, greet_records, greetings_by_name

pytestmark = pytest.mark.e2e

GREETER = harness.REPO_ROOT / "examples" / "greeter" / "module.yaml"


@pytest.fixture
def socket_folder() -> Iterator[Path]:
    # Short: a socket path may have 107 bytes at most, and tmp_path can be longer.
    folder = Path(tempfile.mkdtemp(prefix="sf-e2e-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def unix_module(folder: Path, socket_file: Path) -> Path:
    """The greeter's module.yaml, its endpoint the socket file over the OkHttp transport."""
    module = folder / "module"
    module.mkdir()
    text = GREETER.read_text()
    old = """  urlPathTemplate: http://127.0.0.1:8000/statefun
  transport:
    type: io.statefun.transports.v1/async
    call: 30s
    connect: 5s
"""
    assert old in text, "examples/greeter/module.yaml changed: update this test"
    (module / "module.yaml").write_text(
        text.replace(
            old,
            f"""  urlPathTemplate: http+unix://{socket_file}/statefun
  transport:
    type: io.statefun.transports.v1/okhttp
    timeouts:
      call: 30s
      connect: 5s
""",
        )
    )
    return module


@pytest.mark.e2e_timeout(240)
def test_the_greeter_over_a_unix_socket(
    kafka: harness.KafkaBroker,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
    socket_folder: Path,
) -> None:
    socket_file = socket_folder / "functions.sock"
    module = unix_module(socket_folder, socket_file)
    kafka.reset_topics(["names", "greetings"])
    target = "examples.greeter.functions:functions"
    fn = function_server(
        [sys.executable, "-m", "statefun", "serve", target, "--uds", str(socket_file)],
        uds=socket_file,
    )
    job = statefun_job(module)
    kafka.produce("names", greet_records(NAMES, rounds=2))

    got = kafka.consume("greetings", count=2 * len(NAMES), timeout=90, settle=3)

    job.check_alive()
    assert greetings_by_name(got) == expected(NAMES, 1, 2), f"got {got!r}"
    log = fn.log_text()
    assert f"at http+unix://{socket_file}/statefun" in log
    # No access line per request by default, and no request failed.
    assert "aiohttp.access" not in log and "ERROR" not in log, log
    fn.stop()
    assert not socket_file.exists(), "the socket file outlived the server"
