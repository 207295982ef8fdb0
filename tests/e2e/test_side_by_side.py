"""Two harness setups on one machine run side by side: a second run folder gets its own ports,
and its Kafka broker runs next to the session's, each with its own records. (The port choice
itself is unit-tested in ``test_harness_ports.py``.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import harness

pytestmark = pytest.mark.e2e


@pytest.fixture
def second_broker(
    e2e_runtime: harness.Runtime, tmp_path: Path
) -> Iterator[tuple[harness.RunDir, harness.KafkaBroker]]:
    run = harness.RunDir(tmp_path / "second-run")
    broker = harness.KafkaBroker(e2e_runtime, run)
    try:
        yield run, broker.start()
    finally:
        run.stop_all()


@pytest.mark.e2e_timeout(180)
def test_two_kafka_brokers_run_at_once(
    e2e_run: harness.RunDir,
    kafka: harness.KafkaBroker,
    second_broker: tuple[harness.RunDir, harness.KafkaBroker],
) -> None:
    run, other = second_broker
    first_ports = {kafka.port, kafka.controller_port, e2e_run.ports.function}
    second_ports = {other.port, other.controller_port, run.ports.function}
    assert len(first_ports | second_ports) == 6, (e2e_run.ports, run.ports)

    topic = f"side-by-side-{uuid.uuid4().hex[:8]}"
    for broker, value in ((kafka, "first"), (other, "second")):
        broker.create_topics([topic])
        broker.produce(topic, [("k", value)])
    assert kafka.consume(topic, count=1, timeout=30, settle=1) == [(b"k", b"first")]
    assert other.consume(topic, count=1, timeout=30, settle=1) == [(b"k", b"second")]
    kafka.delete_topics([topic])
