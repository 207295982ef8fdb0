"""`serve`: start a `statefun serve` subprocess that is killed when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.serve.process import Served


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str) -> Served:
        served = Served(*args)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
