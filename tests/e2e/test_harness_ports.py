"""The harness's port choice, without a JVM: two setups on one machine get different ports, and
what a job is given (module.yaml, flink-conf.yaml) and a function server is started with use the
ports its run picked. The JVM side of the same claim is ``test_side_by_side.py``."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import harness
from .harness import ports
from .harness.common import owner_record

MODULES = sorted(
    [
        *(harness.REPO_ROOT / "examples").glob("*/module.yaml"),
        *(harness.HERE / "apps").glob("*/module.yaml"),
    ]
)


@pytest.fixture
def reservations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private reservation folder (via the temp dir), so the test sees only its own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield tmp_path / "statefun-e2e-ports"
    ports.release_ports(tmp_path / "statefun-e2e-ports")


def free_block(size: int) -> range:
    """``size`` consecutive bindable candidate ports: a range so narrow that two pickers would
    collide on it by chance."""
    candidates = ports.candidate_ports()
    if len(candidates) < 1000:
        pytest.skip("no port range below the ephemeral one on this machine")
    for _ in range(100):
        start = random.randrange(candidates.start, candidates.stop - size)
        block = range(start, start + size)
        if all(ports.bindable(p) for p in block):
            return block
    pytest.fail("found no block of free ports")


PICK_IN_OTHER_PROCESS = """
import json, sys
from tests.e2e.harness import ports
ports.candidate_ports = lambda: range(int(sys.argv[1]), int(sys.argv[2]))
print(json.dumps(ports.Ports.pick().__dict__), flush=True)
sys.stdin.read()  # hold the reservations until the test lets go
"""


def test_two_setups_on_one_machine_get_different_ports(
    reservations: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = free_block(6)
    monkeypatch.setattr(ports, "candidate_ports", lambda: block)
    mine = ports.Ports.pick()
    with subprocess.Popen(
        [sys.executable, "-c", PICK_IN_OTHER_PROCESS, str(block.start), str(block.stop)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=harness.REPO_ROOT,
        env={**os.environ, "TMPDIR": str(reservations.parent)},
    ) as other:
        assert other.stdin is not None and other.stdout is not None
        theirs: dict[str, int] = json.loads(other.stdout.readline())
        # the other process saw this one's reservations: together they use the block up
        assert sorted([*mine.__dict__.values(), *theirs.values()]) == list(block)
        assert sorted(p.name for p in reservations.iterdir() if p.name.isdigit()) == sorted(
            str(p) for p in block
        )
        other.stdin.close()
        assert other.wait(timeout=60) == 0
    # its reservations went with it; this process's stay
    assert sorted(int(p.name) for p in reservations.iterdir() if p.name.isdigit()) == sorted(
        mine.__dict__.values()
    )


def test_a_dead_owners_reservation_is_taken_over(
    reservations: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = free_block(1)
    monkeypatch.setattr(ports, "candidate_ports", lambda: block)
    reservations.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (reservations / str(block.start)).write_text(f"{dead.stdout.strip()} 1")
    assert ports.pick_port() == block.start
    assert (reservations / str(block.start)).read_text() == owner_record()


def test_a_bound_port_is_never_picked(reservations: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = free_block(2)
    monkeypatch.setattr(ports, "candidate_ports", lambda: block)
    with socket.socket() as busy:
        busy.bind((harness.HOST, block.start))
        busy.listen()
        assert ports.pick_port() == block.start + 1


def test_ports_stay_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = ports.candidate_ports()
    assert candidates.stop <= low
    assert candidates.start >= 1024


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.parent.name))
def test_rendered_module_points_at_the_chosen_ports(module: Path) -> None:
    original = documents(module.read_text())
    rendered = documents(
        harness.render_module(module.read_text(), "127.0.0.1:21001", "127.0.0.1:21002")
    )
    kafka = [d["spec"]["address"] for d in rendered if d["kind"].startswith("io.statefun.kafka.")]
    urls = [d["spec"]["urlPathTemplate"] for d in rendered if "urlPathTemplate" in d["spec"]]
    assert kafka and set(kafka) == {"127.0.0.1:21001"}
    assert urls == ["http://127.0.0.1:21002/statefun"]
    # nothing else changed
    for doc in rendered:
        spec = doc["spec"]
        if "address" in spec:
            spec["address"] = "127.0.0.1:9092"
        if "urlPathTemplate" in spec:
            spec["urlPathTemplate"] = "http://127.0.0.1:8000/statefun"
    assert rendered == original


def test_endpoints_elsewhere_are_left_alone() -> None:
    text = """
kind: io.statefun.endpoints.v2/http
spec:
  functions: remote/*
  urlPathTemplate: https://functions.example.com:8443/{function.name}
---
kind: io.statefun.endpoints.v2/http
spec:
  functions: local/*
  urlPathTemplate: http://localhost:8000/{function.name}
---
kind: io.statefun.endpoints.v2/http
spec:
  functions: sidecar/*
  urlPathTemplate: http+unix:///run/statefun/functions.sock/statefun
"""
    urls = [
        d["spec"]["urlPathTemplate"]
        for d in documents(harness.render_module(text, "127.0.0.1:1", "127.0.0.1:2"))
    ]
    assert urls == [
        "https://functions.example.com:8443/{function.name}",
        "http://127.0.0.1:2/{function.name}",
        "http+unix:///run/statefun/functions.sock/statefun",
    ]


def fake_runtime(root: Path) -> harness.Runtime:
    for sub in ("statefun-lib", "flink-lib", "kafka-lib"):
        (root / sub).mkdir(parents=True)
    return harness.Runtime(
        root=root,
        statefun_lib=root / "statefun-lib",
        flink_lib=root / "flink-lib",
        kafka_lib=root / "kafka-lib",
        kafka_version="3.9.1",
        statefun_variant="distribution",
        java="java",
    )


def test_what_a_run_starts_uses_the_runs_ports(tmp_path: Path, reservations: Path) -> None:
    run = harness.RunDir(tmp_path / "run")
    rt = fake_runtime(tmp_path / "rt")
    kafka = harness.KafkaBroker(rt, run)
    fn = harness.FunctionServer(run, harness.serve_argv("examples.greeter.functions:functions"))
    job = harness.StatefunJob(rt, run, harness.REPO_ROOT / "examples" / "greeter")
    job._prepare()

    p = run.ports
    assert len({p.kafka, p.kafka_controller, p.function, job.rest_port}) == 4
    assert (kafka.port, kafka.controller_port) == (p.kafka, p.kafka_controller)
    assert fn.argv[fn.argv.index("--port") + 1] == str(p.function)
    module = documents((job.dir / "module" / "module.yaml").read_text())
    assert {d["spec"]["address"] for d in module if "address" in d["spec"]} == {
        f"127.0.0.1:{p.kafka}"
    }
    assert module[0]["spec"]["urlPathTemplate"] == f"http://127.0.0.1:{p.function}/statefun"
    # Flink: REST on the picked port, every other port left to the kernel, all on loopback
    conf = yaml.safe_load((job.dir / "conf" / "flink-conf.yaml").read_text())
    assert conf["rest.port"] == job.rest_port
    assert {k: v for k, v in conf.items() if k.endswith(".port") and k != "rest.port"} == {
        "blob.server.port": 0,
        "jobmanager.rpc.port": 0,
        "taskmanager.rpc.port": 0,
        "taskmanager.data.port": 0,
        "metrics.internal.query-service.port": 0,
    }
    assert {
        k: v
        for k, v in conf.items()
        if k.endswith((".address", ".bind-address", ".bind-host", ".host"))
    } == dict.fromkeys(
        [
            "rest.address",
            "rest.bind-address",
            "jobmanager.rpc.address",
            "jobmanager.bind-host",
            "taskmanager.bind-host",
            "taskmanager.host",
        ],
        "127.0.0.1",
    )
    # a job restored from a savepoint gets a port of its own
    assert job.restart_from("file:/nowhere").rest_port != job.rest_port
