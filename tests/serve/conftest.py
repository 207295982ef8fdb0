"""`serve`: start a `statefun serve` subprocess that is killed when the test ends.

It runs on ``--server aiohttp``; a test marked with `both_servers` runs twice, on
aiohttp and on uvicorn: the two must keep the same contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.serve.process import Served

SERVERS = ("aiohttp", "uvicorn")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Only the tests that start a server: the others in a marked module run once.
    if "server" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_servers"):
        metafunc.parametrize("server", SERVERS)


@pytest.fixture
def server() -> str:
    """The HTTP server under test: a module runs its tests on each with
    ``pytestmark = both_servers``."""
    return "aiohttp"


@pytest.fixture
def serve(server: str) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str) -> Served:
        served = Served(*args, *([] if server == "aiohttp" else ["--server", server]))
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
