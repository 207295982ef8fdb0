"""`statefun serve --workers N` and `--loop uvloop`: one address, N processes, one drain."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from statefun import STRING, Address
from tests.serve.process import Served, both_servers, run_serve, wait_until
from tests.serve.test_metrics import sample, scrape
from tests.serve.test_shutdown import cut_off, gated_request, post, released
from tests.wire.builders import call, request, typed

Serve = Callable[..., Served]
GATED = "tests.serve.gated:functions"
GREETER = "examples.greeter.functions:functions"

pytestmark = both_servers


def who(port: int, folder: str = "") -> tuple[int, str]:
    """The pid of the worker that answered ``test/pid``, and its event loop's module."""
    status, body = post(port, request(Address("test/pid", "p"), call(typed(STRING, folder))))
    assert status == 200, body
    [answer] = released(body)
    pid, loop = answer.split()
    return int(pid), loop


def workers_of(parent: int) -> set[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {int(pid) for pid in children}


def blocked_worker(
    served: Served, gate: Path, pool: ThreadPoolExecutor
) -> tuple[int, Future[tuple[int, str]]]:
    """A worker busy in a plain ``def`` that holds its event loop; its pid, and the answer to come."""
    gate.mkdir()
    answer = pool.submit(who, served.port, str(gate))
    wait_until((gate / "started").exists, "a worker starting the blocking function")
    return int((gate / "started").read_text().split()[0]), answer


def test_two_workers_answer_on_one_port_while_one_is_busy(serve: Serve, tmp_path: Path) -> None:
    served = serve(GATED, "--workers", "2")
    assert served.output[-1].rstrip().endswith("/statefun (2 workers)")
    wait_until(lambda: len(workers_of(served.process.pid)) == 2, "two workers running")
    with ThreadPoolExecutor(1) as pool:
        busy, held = blocked_worker(served, tmp_path / "gate", pool)
        # That worker's loop is blocked: only the other one can take this connection.
        other, loop = who(served.port)
        assert other != busy
        assert {busy, other} == workers_of(served.process.pid)
        assert loop == "asyncio.unix_events"
        (tmp_path / "gate" / "release").touch()
        assert held.result()[0] == busy


def test_a_worker_that_dies_is_replaced(serve: Serve) -> None:
    served = serve(GATED, "--workers", "2")
    wait_until(lambda: len(workers_of(served.process.pid)) == 2, "two workers running")
    first = workers_of(served.process.pid)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    line = served.wait_for(f"(pid {victim}) was killed by SIGKILL; starting another")
    assert "ERROR" in line or "starting another" in line
    wait_until(
        lambda: len(now := workers_of(served.process.pid)) == 2 and victim not in now,
        "a new worker in the dead one's place",
    )
    assert who(served.port)[0] in workers_of(served.process.pid)


def test_sigterm_drains_every_worker_and_the_status_is_theirs(serve: Serve, tmp_path: Path) -> None:
    served = serve(GATED, "--workers", "2")
    wait_until(lambda: len(workers_of(served.process.pid)) == 2, "two workers running")
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(post, served.port, gated_request(tmp_path))
        wait_until((tmp_path / "started").exists, "the gated function starting")
        served.signal(signal.SIGTERM)
        # Each worker drains on its own: both say so, one with the request in flight.
        served.wait_for("request(s) in flight get up to")
        served.wait_for("request(s) in flight get up to")
        (tmp_path / "release").touch()
        status, body = answer.result()
    assert (status, released(body)) == (200, [f"released {tmp_path}"])
    assert served.wait() == 0


def test_a_request_cut_off_in_one_worker_makes_the_status_1(
    serve: Serve, server: str, tmp_path: Path
) -> None:
    served = serve(GATED, "--workers", "2", "--grace-period", "0.1")
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(post, served.port, gated_request(tmp_path))
        wait_until((tmp_path / "started").exists, "the gated function starting")
        served.signal(signal.SIGTERM)
        assert served.wait() == 1
        cut_off(answer, server)
    assert any("cancelled 1 request(s)" in line for line in served.output)


def test_metrics_count_the_requests_of_every_worker(serve: Serve, tmp_path: Path) -> None:
    served = serve(GATED, "--workers", "2", "--metrics")
    wait_until(lambda: len(workers_of(served.process.pid)) == 2, "two workers running")
    with ThreadPoolExecutor(1) as pool:
        # One request held in one worker, so some land in the other for sure.
        busy, held = blocked_worker(served, tmp_path / "gate", pool)
        answered_by = [who(served.port)[0] for _ in range(5)]
        assert busy not in answered_by
        (tmp_path / "gate" / "release").touch()
        held.result()
    answered_by.append(busy)
    fn = {"function": "test/pid", "outcome": "ok"}
    # Each scrape, whichever worker answers it, sums all of them.
    for _ in range(3):
        assert sample(scrape(served.port), "statefun_requests_total", **fn) == 6


def test_uvloop_is_the_loop_of_every_worker(serve: Serve) -> None:
    served = serve(GATED, "--loop", "uvloop")
    assert who(served.port)[1] == "uvloop"
    with_workers = serve(GATED, "--loop", "uvloop", "--workers", "2")
    assert who(with_workers.port)[1] == "uvloop"


def test_a_socket_file_is_the_parents_to_remove(serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "functions.sock"
    served = serve(GATED, "--uds", str(path), "--workers", "2")
    wait_until(lambda: len(workers_of(served.process.pid)) == 2, "two workers running")
    os.kill(min(workers_of(served.process.pid)), signal.SIGKILL)
    served.wait_for("starting another")
    assert path.exists()
    served.signal(signal.SIGTERM)
    assert served.wait() == 0
    assert not path.exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--workers", "0"], "argument --workers: 0: at least 1"),
        (["--workers", "two"], "argument --workers: 'two' is not a whole number"),
        (
            ["--loop", "trio"],
            "argument --loop: invalid choice: 'trio' (choose from 'asyncio', 'uvloop')",
        ),
    ],
)
def test_bad_values_are_one_line(args: list[str], error: str) -> None:
    done = run_serve(GREETER, *args)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith(f"statefun serve: error: {error}")
