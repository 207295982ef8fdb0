"""LocalRuntime: batching, state, expiry, delayed messages, egress, function errors."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import pytest

from examples.greeter.functions import GREET, VISITS, GreetRequest
from examples.greeter.functions import functions as greeter
from statefun import (
    INT,
    STRING,
    Address,
    CancelDelayed,
    DefinitionError,
    Effect,
    Egress,
    Functions,
    KafkaRecord,
    KinesisRecord,
    Message,
    Result,
    Send,
    SendAfter,
    State,
    StateTypeMismatch,
    ValueSpec,
)
from statefun.local import (
    AsyncLocalRuntime,
    EgressRecord,
    EndpointFailure,
    InProcess,
    LocalRuntime,
    NotIdle,
    PendingTimer,
    RawMessage,
    RealClock,
    RoutingFailure,
    VirtualClock,
)

ANA = Address("example/person", "Ana")

# -- tiny functions ------------------------------------------------------------

recorder = Functions()
SEEN = ValueSpec("seen", INT)
CALLERS: list[tuple[str, Address | None, int]] = []


@recorder.bind("test/recorder", accepts=STRING, specs=[SEEN])
def record(state: State, msg: Message[str]) -> Result:
    """Counts messages and remembers who sent each one."""
    CALLERS.append((msg.value, msg.caller, (state.get(SEEN) or 0) + 1))
    return Result(state.set(SEEN, (state.get(SEEN) or 0) + 1))


@recorder.bind("test/forwarder", accepts=STRING)
def forward(state: State, msg: Message[str]) -> Result:
    return Result(state, [Send(Address("test/recorder", msg.target.id), STRING, msg.value)])


timers = Functions()
TIMER = Address("test/timer", "t")


@timers.bind("test/timer", accepts=STRING)
def timer(state: State, msg: Message[str]) -> Result:
    """`in:<ms>:<token>` schedules `fired:<token>` to itself; `cancel:<token>` cancels."""
    effects: list[Effect] = []
    match msg.value.split(":"):
        case ["in", ms, token]:
            delay = timedelta(milliseconds=int(ms))
            text = f"fired:{token}"
            effects.append(
                SendAfter(delay, msg.target, STRING, text, cancellation_token=token or None)
            )
        case ["cancel", token]:
            effects.append(CancelDelayed(token))
        case ["send-cancel", token]:
            effects.append(
                SendAfter(timedelta(seconds=1), msg.target, STRING, "x", cancellation_token=token)
            )
            effects.append(CancelDelayed(token))
        case ["fired", token]:
            effects.append(Egress("test/out", STRING, f"{token}"))
        case ["loop"]:
            effects.append(SendAfter(timedelta(seconds=1), msg.target, STRING, "loop"))
        case _:
            raise ValueError(f"test/timer: unknown command {msg.value!r}")
    return Result(state, effects)


@timers.bind("test/other", accepts=STRING)
def other(state: State, msg: Message[str]) -> Result:
    """Same behaviour under another function type: tokens are shared per id."""
    return timer(state, msg)


expiring = Functions()
WRITTEN = ValueSpec("written", INT, expire_after_write=timedelta(seconds=10))
CALLED = ValueSpec("called", INT, expire_after_call=timedelta(seconds=10))


@expiring.bind("test/expiring", accepts=STRING, specs=[WRITTEN, CALLED])
def expire(state: State, msg: Message[str]) -> Result:
    if msg.value == "write":
        return Result(state.set(WRITTEN, 1).set(CALLED, 1))
    return Result(state)


failing = Functions()


@failing.bind("test/failing", accepts=INT)
def fail(state: State, msg: Message[int]) -> Result:
    if msg.value == 3:
        raise ZeroDivisionError("three is right out")
    return Result(state)


@failing.bind("test/pinger", accepts=INT)
def ping(state: State, msg: Message[int]) -> Result:
    return Result(state, [Send(msg.target, INT, msg.value + 1)])


egressing = Functions()


@egressing.bind("test/egress", accepts=STRING)
def to_egress(state: State, msg: Message[str]) -> Result:
    return Result(
        state,
        [
            Egress("test/generic", STRING, msg.value),
            KafkaRecord("test/kafka", topic="t", key=None, value=msg.value),
            KinesisRecord("test/kinesis", stream="s", partition_key="p", value=msg.value),
        ],
    )


# -- the greeter -----------------------------------------------------------------


class TestGreeter:
    def test_greets_with_counts(self) -> None:
        runtime = LocalRuntime(greeter)
        for name in ["Ana", "Bob", "Ana"]:
            runtime.send(Address("example/person", name), GREET, GreetRequest(name))
        runtime.run_until_idle()
        assert runtime.kafka_records("example/greets") == [
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
        assert runtime.state(ANA, VISITS) == 2
        assert runtime.state(Address("example/person", "Eve"), VISITS) is None

    def test_state_with_another_type_is_refused(self) -> None:
        runtime = LocalRuntime(greeter)
        runtime.send(ANA, GREET, GreetRequest("Ana"))
        runtime.run_until_idle()
        with pytest.raises(StateTypeMismatch):
            runtime.state(ANA, ValueSpec("visits", STRING))

    def test_nothing_happens_before_running(self) -> None:
        runtime = LocalRuntime(greeter)
        runtime.send(ANA, GREET, GreetRequest("Ana"))
        assert runtime.egress() == []
        assert runtime.state(ANA, VISITS) is None

    def test_snapshot_holds_raw_state(self) -> None:
        runtime = LocalRuntime(greeter)
        runtime.send(ANA, GREET, GreetRequest("Ana"))
        runtime.run_until_idle()
        assert runtime.state_snapshot() == {ANA: {"visits": INT.encode(1)}}


# -- batching and callers -----------------------------------------------------------


class Spy:
    """A transport that records the batch size of every request it passes on."""

    def __init__(self, functions: Functions) -> None:
        self.inner = InProcess(functions)
        self.batches: list[tuple[str, int, int]] = []

    async def request(self, target: Address, body: bytes, /) -> bytes:
        from statefun._generated.request_reply_pb2 import ToFunction

        batch = ToFunction.FromString(body).invocation
        self.batches.append((target.id, len(batch.invocations), len(batch.state)))
        return await self.inner.request(target, body)

    async def aclose(self) -> None:
        pass


class TestBatching:
    def test_one_request_in_flight_per_address(self) -> None:
        spy = Spy(recorder)
        runtime = LocalRuntime(recorder, transport=spy)
        for value in ["a", "b", "c"]:
            runtime.send(Address("test/recorder", "r"), STRING, value)
        runtime.run_until_idle()
        # The first message goes alone (and is re-sent after the state handshake);
        # the two that arrived meanwhile form the next batch.
        assert spy.batches == [("r", 1, 0), ("r", 1, 1), ("r", 2, 1)]
        assert runtime.state(Address("test/recorder", "r"), SEEN) == 3

    def test_send_batch_is_one_request(self) -> None:
        spy = Spy(recorder)
        runtime = LocalRuntime(recorder, transport=spy)
        runtime.send_batch(Address("test/recorder", "r"), STRING, ["a", "b", "c"])
        runtime.run_until_idle()
        assert spy.batches == [("r", 3, 0), ("r", 3, 1)]

    def test_callers(self) -> None:
        CALLERS.clear()
        runtime = LocalRuntime(recorder)
        runtime.send(Address("test/recorder", "r"), STRING, "from ingress")
        runtime.send(Address("test/forwarder", "r"), STRING, "forwarded")
        runtime.send(Address("test/recorder", "r"), STRING, "as someone", caller=ANA)
        runtime.run_until_idle()
        # Every batch is sent twice on first contact (the state handshake), so
        # look at the last sighting of each message.
        last = {value: (caller, count) for value, caller, count in CALLERS}
        assert last == {
            "from ingress": (None, 1),
            "as someone": (ANA, 2),
            "forwarded": (Address("test/forwarder", "r"), 3),
        }


class TestRequest:
    """`request()`: one request now, its response applied, what it sends left queued."""

    GREETING = RawMessage(GREET.typename, GREET.encode(GreetRequest("Ana")))

    def test_applies_state_and_queues_what_it_sends(self) -> None:
        spy = Spy(greeter)
        runtime = LocalRuntime(greeter, transport=spy)
        runtime.request(ANA, [self.GREETING, self.GREETING])
        # One batch of two, re-sent once after the state handshake.
        assert spy.batches == [("Ana", 2, 0), ("Ana", 2, 1)]
        assert runtime.state(ANA, VISITS) == 2
        assert runtime.kafka_records() == []  # the greeter has not been called yet
        runtime.run_until_idle()
        assert [r.value for r in runtime.kafka_records()] == [
            b"Hello Ana! You have been seen 1 times.",
            b"Hello Ana! You have been seen 2 times.",
        ]

    def test_async(self) -> None:
        async def main() -> int | None:
            async with AsyncLocalRuntime(greeter) as runtime:
                await runtime.request(ANA, [self.GREETING])
                return runtime.state(ANA, VISITS)

        assert asyncio.run(main()) == 1

    def test_the_caller_is_passed_on(self) -> None:
        CALLERS.clear()
        runtime = LocalRuntime(recorder)
        runtime.request(
            Address("test/recorder", "r"), [RawMessage(STRING.typename, STRING.encode("x"), ANA)]
        )
        assert CALLERS[-1] == ("x", ANA, 1)

    def test_needs_a_message(self) -> None:
        with pytest.raises(DefinitionError, match=r"^request\(\): give at least one message"):
            LocalRuntime(greeter).request(ANA, [])

    def test_an_unknown_function_type(self) -> None:
        with pytest.raises(RoutingFailure, match="^Cannot find a provider for type example/nope"):
            LocalRuntime(greeter).request(Address("example/nope", "x"), [self.GREETING])

    def test_a_raw_message_decodes(self) -> None:
        assert self.GREETING.decode(GREET) == GreetRequest("Ana")
        with pytest.raises(DefinitionError, match="holds `example/GreetRequest`, not `io.statefun"):
            self.GREETING.decode(INT)


class TestEgressSince:
    def test_reads_a_growing_log_piece_by_piece(self) -> None:
        runtime = LocalRuntime(egressing)
        runtime.send(Address("test/egress", "e"), STRING, "a")
        runtime.run_until_idle()
        first = runtime.egress_since(0)
        assert first == runtime.egress() and len(first) == 3
        runtime.send(Address("test/egress", "e"), STRING, "b")
        runtime.run_until_idle()
        assert runtime.egress_since(len(first)) == runtime.egress()[3:]
        assert runtime.egress_since(6) == []

    def test_a_negative_position(self) -> None:
        with pytest.raises(DefinitionError, match="position=-1 must not be negative"):
            LocalRuntime(egressing).egress_since(-1)


# -- delayed messages -----------------------------------------------------------------


class TestDelayedMessages:
    def test_fires_after_its_delay(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "in:1000:a")
        runtime.run_until_idle()
        assert runtime.pending_timers() == [
            PendingTimer(
                timedelta(seconds=1), TIMER, STRING.typename, STRING.encode("fired:a"), TIMER, "a"
            )
        ]
        runtime.advance(timedelta(milliseconds=999))
        assert runtime.egress() == []
        runtime.advance(timedelta(milliseconds=1))
        assert runtime.egress("test/out", STRING) == ["a"]
        assert runtime.pending_timers() == []
        assert runtime.now == timedelta(seconds=1)

    def test_cancelled_never_fires(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "in:1000:a")
        runtime.send(TIMER, STRING, "cancel:a")
        runtime.send(TIMER, STRING, "in:1500:b")
        runtime.advance_until_idle()
        assert runtime.egress("test/out", STRING) == ["b"]
        assert runtime.now == timedelta(milliseconds=1500)

    def test_a_token_is_free_again_once_delivered(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "in:10:a")
        runtime.advance(timedelta(seconds=1))
        runtime.send(TIMER, STRING, "in:10:a")
        runtime.advance(timedelta(seconds=1))
        assert runtime.egress("test/out", STRING) == ["a", "a"]

    def test_cancelling_an_unknown_token_does_nothing(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "cancel:nope")
        runtime.run_until_idle()
        assert runtime.pending_timers() == []

    def test_send_then_cancel_in_one_response_cancels(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "send-cancel:a")
        runtime.run_until_idle()
        assert runtime.pending_timers() == []

    def test_tokens_are_scoped_by_sender_id_across_types(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "in:1000:a")
        runtime.run_until_idle()
        # test/other with the same id cancels test/timer's message.
        runtime.send(Address("test/other", "t"), STRING, "cancel:a")
        runtime.advance_until_idle()
        assert runtime.egress() == []

    def test_zero_delay_fires_without_advancing(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "in:0:")
        runtime.run_until_idle()
        assert runtime.egress("test/out", STRING) == [""]

    def test_timers_due_in_the_window_fire_in_order(self) -> None:
        runtime = LocalRuntime(timers)
        for ms, token in [(300, "c"), (100, "a"), (200, "b")]:
            runtime.send(TIMER, STRING, f"in:{ms}:{token}")
        runtime.advance(timedelta(seconds=1))
        assert runtime.egress("test/out", STRING) == ["a", "b", "c"]

    def test_a_timer_loop_is_not_idle(self) -> None:
        runtime = LocalRuntime(timers, max_requests=50)
        runtime.send(TIMER, STRING, "loop")
        with pytest.raises(NotIdle):
            runtime.advance_until_idle(limit=timedelta(hours=1))

    def test_advance_needs_a_virtual_clock(self) -> None:
        runtime = LocalRuntime(timers, clock=RealClock())
        with pytest.raises(DefinitionError, match="VirtualClock"):
            runtime.advance(timedelta(seconds=1))

    def test_a_virtual_clock_can_start_later(self) -> None:
        runtime = LocalRuntime(timers, clock=VirtualClock(timedelta(hours=1)))
        runtime.send(TIMER, STRING, "in:1000:a")
        runtime.run_until_idle()
        assert runtime.pending_timers()[0].due == timedelta(hours=1, seconds=1)


# -- expiry ---------------------------------------------------------------------------


class TestExpiry:
    def test_after_write_expires_even_when_called(self) -> None:
        address = Address("test/expiring", "e")
        runtime = LocalRuntime(expiring)
        runtime.send(address, STRING, "write")
        runtime.run_until_idle()
        for _ in range(3):
            runtime.advance(timedelta(seconds=4))
            runtime.send(address, STRING, "call")
            runtime.run_until_idle()
        assert runtime.now == timedelta(seconds=12)
        assert runtime.state(address, WRITTEN) is None
        assert runtime.state(address, CALLED) == 1  # every call kept it alive

    def test_after_call_expires_without_calls(self) -> None:
        address = Address("test/expiring", "e")
        runtime = LocalRuntime(expiring)
        runtime.send(address, STRING, "write")
        runtime.run_until_idle()
        runtime.advance(timedelta(milliseconds=9999))
        assert runtime.state(address, CALLED) == 1
        runtime.advance(timedelta(milliseconds=1))
        assert runtime.state(address, CALLED) is None
        assert runtime.state_snapshot() == {}


# -- egress ---------------------------------------------------------------------------


class TestEgress:
    def test_every_kind_is_captured(self) -> None:
        runtime = LocalRuntime(egressing)
        runtime.send(Address("test/egress", "x"), STRING, "hi")
        runtime.run_until_idle()
        assert runtime.egress("test/generic") == [
            EgressRecord("test/generic", STRING.typename, STRING.encode("hi"))
        ]
        assert runtime.egress("test/generic", STRING) == ["hi"]
        assert runtime.kafka_records() == [KafkaRecord("test/kafka", topic="t", value=b"hi")]
        assert runtime.kinesis_records("test/kinesis") == [
            KinesisRecord("test/kinesis", stream="s", partition_key="p", value=b"hi")
        ]
        assert len(runtime.egress()) == 3

    def test_decoding_with_another_type_is_refused(self) -> None:
        runtime = LocalRuntime(egressing)
        runtime.send(Address("test/egress", "x"), STRING, "hi")
        runtime.run_until_idle()
        with pytest.raises(
            DefinitionError, match="holds `io.statefun.types/string`, not `io.statefun.types/int`"
        ):
            runtime.egress("test/generic", INT)


# -- function errors ------------------------------------------------------------------


class TestFunctionErrors:
    def test_the_functions_own_error_is_raised_with_a_note(self) -> None:
        runtime = LocalRuntime(failing)
        runtime.send_batch(Address("test/failing", "f"), INT, [1, 2, 3, 4])
        with pytest.raises(ZeroDivisionError, match="three is right out") as info:
            runtime.run_until_idle()
        if sys.version_info >= (3, 11):
            assert info.value.__notes__ == [
                "while invoking test/failing id='f' with io.statefun.types/int (message 3 of 4)"
            ]

    def test_or_reported_as_the_runtime_sees_it(self) -> None:
        runtime = LocalRuntime(failing, raise_function_errors=False)
        runtime.send(Address("test/failing", "f"), INT, 3)
        with pytest.raises(EndpointFailure) as info:
            runtime.run_until_idle()
        assert info.value.status == 500
        assert str(info.value) == (
            "Non successful HTTP response code 500: function `test/failing` id='f' failed on"
            " `io.statefun.types/int` (message 1 of 1): ZeroDivisionError: three is right out"
            " (test/failing id='f')"
        )
        assert isinstance(info.value.__cause__.__cause__, ZeroDivisionError)  # type: ignore[union-attr]

    def test_the_failed_batch_is_sent_again(self) -> None:
        runtime = LocalRuntime(failing)
        runtime.send(Address("test/failing", "f"), INT, 3)
        for _ in range(2):  # as a restarted job would
            with pytest.raises(ZeroDivisionError):
                runtime.run_until_idle()

    def test_a_message_loop_is_not_idle(self) -> None:
        runtime = LocalRuntime(failing, max_requests=100)
        runtime.send(Address("test/pinger", "p"), INT, 0)
        with pytest.raises(NotIdle, match="after 100 requests"):
            runtime.run_until_idle()


# -- facades --------------------------------------------------------------------------


class TestFacades:
    def test_async_runtime(self) -> None:
        async def main() -> list[KafkaRecord]:
            async with AsyncLocalRuntime(greeter) as runtime:
                runtime.send(ANA, GREET, GreetRequest("Ana"))
                await runtime.run_until_idle()
                await runtime.advance(timedelta(seconds=1))
                return runtime.kafka_records()

        assert [r.value for r in asyncio.run(main())] == [b"Hello Ana! You have been seen 1 times."]

    def test_sync_runtime_inside_a_running_loop(self) -> None:
        async def main() -> int | None:
            with LocalRuntime(greeter) as runtime:
                runtime.send(ANA, GREET, GreetRequest("Ana"))
                runtime.run_until_idle()
                return runtime.state(ANA, VISITS)

        assert asyncio.run(main()) == 1

    def test_needs_something_to_run(self) -> None:
        with pytest.raises(DefinitionError, match="needs functions, a module or a transport"):
            LocalRuntime()

    def test_refuses_a_non_registry(self) -> None:
        with pytest.raises(DefinitionError, match="must be a statefun.Functions registry"):
            LocalRuntime(object())  # type: ignore[arg-type]

    def test_repr(self) -> None:
        assert repr(LocalRuntime(greeter)) == (
            "LocalRuntime(transport=InProcess(Functions(example/person, example/greeter)),"
            " clock=VirtualClock(now=datetime.timedelta(0)))"
        )
