"""`statefun serve --metrics`: a real scrape of a real server moves by exactly what was sent."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from examples.greeter.functions import GREET, GreetRequest
from statefun import Address
from tests.serve.process import HANG_GUARD, ROOT, Served, both_servers, run_serve
from tests.serve.test_shutdown import in_flight, post
from tests.wire.builders import call, request, typed

Serve = Callable[..., Served]
GREETER = "examples.greeter.functions:functions"
GATED = "tests.serve.gated:functions"
FN = {"function": "example/greeter"}

pytestmark = both_servers


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of GET /metrics, by name and labels."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/plain; version=")
        text = response.read().decode()
    finally:
        connection.close()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def greetings(*names: str) -> bytes:
    return request(
        Address("example/greeter", "g"), *(call(typed(GREET, GreetRequest(n, 1))) for n in names)
    )


def test_counters_move_by_what_was_sent(serve: Serve) -> None:
    served = serve(GREETER, "--metrics")
    before = scrape(served.port)
    for _ in range(3):
        assert post(served.port, greetings("Ana", "Bo"))[0] == 200
    assert post(served.port, b"\xff")[0] == 400
    after = scrape(served.port)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("statefun_requests_total", **FN, outcome="ok") == 3
    assert moved("statefun_invocations_total", **FN, outcome="ok") == 6
    assert moved("statefun_batch_size_messages_count", **FN) == 3
    assert moved("statefun_batch_size_messages_sum", **FN) == 6
    assert moved("statefun_request_duration_seconds_count", **FN) == 3
    assert moved("statefun_invocation_duration_seconds_count", **FN) == 6
    assert moved("statefun_effects_total", **FN, kind="egress") == 6
    assert moved("statefun_effects_total", **FN, kind="message") == 0
    assert moved("statefun_requests_total", function="unknown", outcome="malformed") == 1
    assert sample(after, "statefun_requests_in_flight") == 0
    # prometheus_client's default registry: the process's own metrics come along.
    assert sample(after, "process_cpu_seconds_total") > 0


def test_a_request_being_answered_is_in_flight(serve: Serve, tmp_path: Path) -> None:
    served = serve(GATED, "--metrics")
    with ThreadPoolExecutor(1) as pool:
        answer = in_flight(served, tmp_path, pool)
        assert sample(scrape(served.port), "statefun_requests_in_flight") == 1
        (tmp_path / "release").touch()
        assert answer.result(HANG_GUARD)[0] == 200
    assert sample(scrape(served.port), "statefun_requests_in_flight") == 0


def test_metrics_on_a_port_of_their_own(serve: Serve) -> None:
    served = serve(GREETER, "--metrics-port", "0")
    line = served.wait_for("statefun: metrics at ")
    port = int(line.rsplit(":", 1)[1].split("/")[0])
    assert port != served.port
    assert post(served.port, greetings("Ana"))[0] == 200
    assert sample(scrape(port), "statefun_requests_total", **FN, outcome="ok") == 1
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=HANG_GUARD)
    try:
        connection.request("GET", "/metrics")
        assert connection.getresponse().status == 404  # the serving port has /statefun alone
    finally:
        connection.close()
    served.signal(signal.SIGTERM)
    assert served.wait() == 0


def test_processes_sharing_a_folder_give_one_scrape(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `--workers` will be: each process writes its numbers, any one scrape sums them all."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    first, second = serve(GREETER, "--metrics"), serve(GREETER, "--metrics")
    for port, count in ((first.port, 2), (second.port, 3)):
        for _ in range(count):
            assert post(port, greetings("Ana", "Bo"))[0] == 200
    for served in (first, second):
        samples = scrape(served.port)
        assert sample(samples, "statefun_requests_total", **FN, outcome="ok") == 5
        assert sample(samples, "statefun_invocations_total", **FN, outcome="ok") == 10
        assert sample(samples, "statefun_batch_size_messages_sum", **FN) == 10
        assert sample(samples, "statefun_requests_in_flight") == 0


def test_path_and_ports_that_collide() -> None:
    done = run_serve(GREETER, "--metrics", "--path", "/metrics")
    assert (done.returncode, done.stderr) == (
        2,
        "statefun: error: --path /metrics is where --metrics answers: choose another --path,"
        " or serve the metrics on --metrics-port\n",
    )
    done = run_serve(GREETER, "--port", "8123", "--metrics-port", "8123")
    assert (done.returncode, done.stderr) == (
        2,
        "statefun: error: --metrics-port 8123 is --port too: choose another\n",
    )


# `statefun serve --metrics` where prometheus_client cannot be imported.
WITHOUT_PROMETHEUS = """
import sys
sys.modules["prometheus_client"] = None  # an import of it now raises ImportError
from statefun.cli import main
sys.exit(main(["serve", "examples.greeter.functions:functions", "--metrics", "--port", "0"]))
"""


def test_without_the_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PROMETHEUS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert (done.returncode, done.stderr) == (
        2,
        "statefun: error: --metrics needs prometheus-client (the `metrics` extra): pip install"
        " prometheus-client, or pip install -e '.[metrics]' in the SDK's checkout\n",
    )


def test_off_means_not_even_imported() -> None:
    """Without --metrics or --tracing, serving never imports prometheus_client or OpenTelemetry."""
    code = (
        "import sys, statefun.cli, statefun.serve, statefun.aiohttp\n"
        "from statefun.serve import ServeOptions\n"
        "from statefun.serve._observability import Observability\n"
        "assert Observability(ServeOptions()).middleware == []\n"
        "print(sorted(m for m in ('prometheus_client', 'opentelemetry') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_GUARD
    )
    assert (done.stdout, done.stderr) == ("[]\n", "")
