"""The examples on the local runtime, and the ready-made properties on them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

import statefun.testing.strategies as sst
from examples.greeter.functions import GREET, GreetRequest
from examples.greeter.functions import functions as greeter
from examples.timeouts.functions import COMMAND, PENDING, REMINDER, Command, Reminder
from examples.timeouts.functions import functions as timeouts
from statefun import Address, KafkaRecord, Message
from statefun.local import IngressRecord, LocalRuntime, run_module
from statefun.testing.properties import (
    assert_batch_equivalent,
    assert_deterministic,
    assert_roundtrip,
)

EXAMPLES = Path(__file__).parents[2] / "examples"
JOB = Address("example/timeouts", "job-1")


def command(
    action: Literal["start", "cancel"], token: str, delay_ms: int = 1000
) -> Message[Command]:
    return Message(JOB, Command(action, token, delay_ms))


class TestGreeter:
    def test_run_module(self) -> None:
        records = [
            IngressRecord("names", name, f'{{"name": "{name}"}}') for name in ["Ana", "Bob", "Ana"]
        ]
        assert run_module(EXAMPLES / "greeter" / "module.yaml", records, functions=greeter) == [
            KafkaRecord(
                "example/greets",
                topic="greetings",
                key="Ana",
                value="Hello Ana! You have been seen 1 times.",
            ),
            KafkaRecord(
                "example/greets",
                topic="greetings",
                key="Bob",
                value="Hello Bob! You have been seen 1 times.",
            ),
            KafkaRecord(
                "example/greets",
                topic="greetings",
                key="Ana",
                value="Hello Ana! You have been seen 2 times.",
            ),
        ]

    def test_roundtrip(self) -> None:
        assert_roundtrip(GREET)

    @settings(max_examples=30)
    @given(st.lists(sst.messages(GREET, to=sst.addresses("example/person")), max_size=6))
    def test_deterministic(self, messages: list[Message[GreetRequest]]) -> None:
        assert_deterministic(greeter, GREET, messages)

    @settings(max_examples=30)
    @given(sst.addresses("example/person"), st.lists(sst.values(GREET), min_size=1, max_size=6))
    def test_batch_equivalent(self, person: Address, values: list[GreetRequest]) -> None:
        assert_batch_equivalent(greeter, GREET, [Message(person, value) for value in values])


class TestTimeouts:
    def test_only_the_uncancelled_reminder_fires_after_its_delay(self) -> None:
        runtime = LocalRuntime(timeouts, module=EXAMPLES / "timeouts" / "module.yaml")
        for line in (EXAMPLES / "timeouts" / "commands.jsonl").read_text().splitlines():
            runtime.ingest("timeouts-in", "job-1", line.split('"value": ', 1)[1][:-1])
        runtime.run_until_idle()
        assert [timer.cancellation_token for timer in runtime.pending_timers()] == ["b"]
        assert runtime.state(JOB, PENDING) == ("b",)
        runtime.advance(timedelta(milliseconds=1499))
        assert runtime.kafka_records() == []
        runtime.advance(timedelta(milliseconds=1))
        assert runtime.kafka_records() == [
            KafkaRecord(
                "example/timeouts-out",
                topic="timeouts-out",
                key="job-1",
                value=b'{"token":"b","text":"fires after 1.5 s","delay_ms":1500}',
            )
        ]
        assert runtime.state(JOB, PENDING) is None

    def test_a_second_start_with_a_pending_token_is_ignored(self) -> None:
        runtime = LocalRuntime(timeouts)
        for message in [command("start", "a"), command("start", "a", 5000)]:
            runtime.send(message.target, COMMAND, message.value)
        runtime.advance_until_idle()
        assert runtime.egress("example/timeouts-out", REMINDER) == [Reminder("a", "", 1000)]
        assert runtime.now == timedelta(seconds=1)

    def test_roundtrip(self) -> None:
        assert_roundtrip(COMMAND)
        assert_roundtrip(REMINDER)

    commands = st.builds(
        Command,
        st.sampled_from(["start", "cancel"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 5000),
    )

    @settings(max_examples=30)
    @given(st.lists(sst.messages(COMMAND, to=JOB, values=commands), max_size=8))
    def test_deterministic(self, messages: list[Message[Command]]) -> None:
        assert_deterministic(timeouts, COMMAND, messages)

    @settings(max_examples=30)
    @given(st.lists(commands, min_size=1, max_size=8))
    def test_batch_equivalent(self, values: list[Command]) -> None:
        assert_batch_equivalent(
            timeouts, COMMAND, [Message(JOB, value) for value in values], advance=timedelta(0)
        )

    def test_reminders_decode(self) -> None:
        assert REMINDER.decode(b'{"token":"a","text":"","delay_ms":1}') == Reminder("a", "", 1)
