"""The drivers' one rule: each record is delivered and run until idle before the next.

``statefun run`` and :func:`run_module` follow it, and so does a LocalRuntime
that calls ``ingest()`` then ``run_until_idle()`` per record: the same records
give the same egress, in the same order, through all three. ``ingest()`` alone
only queues, so records queued together may become one batch.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from examples.greeter.functions import functions as greeter
from examples.timeouts.functions import functions as timeouts
from statefun import Functions, KafkaRecord
from statefun.cli import main
from statefun.local import IngressRecord, LocalRuntime, run_module

ROOT = Path(__file__).parents[2]
GREETER = ("examples/greeter/module.yaml", "examples.greeter.functions:functions", greeter)
TIMEOUTS = ("examples/timeouts/module.yaml", "examples.timeouts.functions:functions", timeouts)

# Ana twice, then Bob: queued together, Ana's second record joins the batch
# behind her first, and Bob's greeting overtakes it.
NAMES = [IngressRecord("names", name, f'{{"name": "{name}"}}') for name in ["Ana", "Ana", "Bob"]]
COMMANDS = [
    IngressRecord("timeouts-in", "job-1", json.dumps(line["value"]))
    for line in map(
        json.loads, (ROOT / "examples/timeouts/commands.jsonl").read_text().splitlines()
    )
]


def as_line(record: object) -> dict[str, Any]:
    assert isinstance(record, KafkaRecord)
    return {
        "egress": record.egress,
        "topic": record.topic,
        "key": record.key,
        "value": record.value.decode("utf-8"),
    }


def through_statefun_run(
    module: str,
    target: str,
    records: list[IngressRecord],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> list[dict[str, Any]]:
    stdin = "".join(
        json.dumps({"topic": r.topic, "key": r.key, "text": r.value.decode()}) + "\n"
        for r in records
    )
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["run", module, "--functions", target, "--virtual-clock"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def record_by_record(
    module: str, functions: Functions, records: list[IngressRecord]
) -> list[dict[str, Any]]:
    runtime = LocalRuntime(functions, module=ROOT / module)
    for record in records:
        runtime.ingest(record.topic, record.key, record.value)
        runtime.run_until_idle()
    runtime.advance_until_idle()
    return [as_line(r) for r in runtime.kafka_records()]


@pytest.mark.parametrize(
    ("example", "records"), [(GREETER, NAMES), (TIMEOUTS, COMMANDS)], ids=["greeter", "timeouts"]
)
def test_the_same_records_give_the_same_egress_through_every_driver(
    example: tuple[str, str, Functions],
    records: list[IngressRecord],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module, target, functions = example
    by_hand = record_by_record(module, functions, records)
    assert by_hand  # each example egresses something
    assert [as_line(r) for r in run_module(ROOT / module, records, functions=functions)] == by_hand
    assert through_statefun_run(module, target, records, monkeypatch, capsys) == by_hand


def greetings(runtime_records: list[KafkaRecord]) -> list[str]:
    return [r.value.decode() for r in runtime_records]


def test_each_record_runs_until_idle_before_the_next() -> None:
    out = run_module(ROOT / GREETER[0], NAMES, functions=greeter)
    assert greetings([r for r in out if isinstance(r, KafkaRecord)]) == [
        "Hello Ana! You have been seen 1 times.",
        "Hello Ana! You have been seen 2 times.",
        "Hello Bob! You have been seen 1 times.",
    ]


def test_records_queued_together_may_become_one_batch() -> None:
    """The stepping API's own rule: ingest() queues, and the runtime batches what waits."""
    runtime = LocalRuntime(greeter, module=ROOT / GREETER[0])
    for record in NAMES:
        runtime.ingest(record.topic, record.key, record.value)
    runtime.run_until_idle()
    assert greetings(runtime.kafka_records()) == [
        "Hello Ana! You have been seen 1 times.",
        "Hello Bob! You have been seen 1 times.",
        "Hello Ana! You have been seen 2 times.",
    ]
