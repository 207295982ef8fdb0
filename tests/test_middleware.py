"""Middleware: request and invocation hooks around the handler, and what an Answer counts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from statefun import (
    INT,
    STRING,
    Address,
    Answer,
    DefinitionError,
    Emitted,
    Functions,
    Handler,
    Invocation,
    InvocationFailed,
    KafkaRecord,
    Message,
    Result,
    Send,
    SendAfter,
    State,
    UnknownFunction,
    ValueSpec,
)

from .wire.builders import answer, call, request, typed

COUNT = ValueSpec("count", INT)
SELF = Address("test/count", "c1")
PEER = Address("test/peer", "p")


def counting() -> Functions:
    functions = Functions()

    @functions.bind("test/count", accepts=INT, specs=[COUNT])
    def count(state: State, msg: Message[int]) -> Result:
        total = (state.get(COUNT) or 0) + msg.value
        return Result(
            state.set(COUNT, total),
            [
                Send(PEER, INT, total),
                SendAfter(timedelta(seconds=1), PEER, INT, total),
                KafkaRecord("test/out", topic="t", value=b"x"),
            ],
        )

    return functions


class Recorder:
    """Both hooks, writing down what it sees, in order, under a name."""

    def __init__(self, name: str, seen: list[str]) -> None:
        self.name = name
        self.seen = seen

    async def request(self, body: bytes, proceed: Callable[[bytes], Awaitable[Answer]]) -> Answer:
        self.seen.append(f"{self.name} request in ({len(body)} bytes)")
        try:
            result = await proceed(body)
        except Exception as exc:
            self.seen.append(f"{self.name} request raised {type(exc).__name__}")
            raise
        self.seen.append(f"{self.name} request out: {result.function} {result.outcome}")
        return result

    async def invocation(
        self, call: Invocation, proceed: Callable[[Invocation], Awaitable[Result]]
    ) -> Result:
        self.seen.append(
            f"{self.name} invocation {call.function} {call.message.value!r}"
            f" {call.index + 1}/{call.batch_size}"
        )
        result = await proceed(call)
        self.seen.append(f"{self.name} result with {len(result.effects)} effects")
        return result


BODY = request(SELF, call(typed(INT, 2)), call(typed(INT, 3)), state={"count": typed(INT, 10)})


class TestOrderAndWhatTheySee:
    def test_outermost_first_around_requests_and_each_invocation(self) -> None:
        seen: list[str] = []
        handler = Handler(counting(), middleware=[Recorder("a", seen), Recorder("b", seen)])
        result = answer(handler.handle_sync(BODY))
        assert INT.decode(result.state_mutations[0].state_value.value) == 15
        assert seen == [
            f"a request in ({len(BODY)} bytes)",
            f"b request in ({len(BODY)} bytes)",
            "a invocation test/count 2 1/2",
            "b invocation test/count 2 1/2",
            "b result with 3 effects",
            "a result with 3 effects",
            "a invocation test/count 3 2/2",
            "b invocation test/count 3 2/2",
            "b result with 3 effects",
            "a result with 3 effects",
            "b request out: test/count ok",
            "a request out: test/count ok",
        ]

    def test_the_same_answer_with_and_without_middleware(self) -> None:
        plain = Handler(counting()).handle_sync(BODY)
        wrapped = Handler(counting(), middleware=[Recorder("a", [])]).handle_sync(BODY)
        assert wrapped == plain

    def test_an_invocation_never_carries_the_state(self) -> None:
        assert "state" not in Invocation.__struct_fields__

    def test_errors_pass_through_the_request_middleware(self) -> None:
        seen: list[str] = []
        handler = Handler(counting(), middleware=[Recorder("a", seen)])
        with pytest.raises(UnknownFunction):
            handler.handle_sync(request(Address("test/nope", "x"), call(typed(INT, 1))))
        assert seen[-1] == "a request raised UnknownFunction"

    def test_async_functions_and_the_event_loop(self) -> None:
        functions = Functions()

        @functions.bind("test/later", accepts=STRING)
        async def later(state: State, msg: Message[str]) -> Result:
            await asyncio.sleep(0)
            return Result(state, [Send(PEER, STRING, msg.value.upper())])

        seen: list[str] = []
        handler = Handler(functions, middleware=[Recorder("a", seen)])
        body = request(Address("test/later", "l"), call(typed(STRING, "hi")))
        result = answer(asyncio.run(handler.handle(body)))
        assert STRING.decode(result.outgoing_messages[0].argument.value) == "HI"
        assert "a result with 1 effects" in seen


class TestWhatMiddlewareMayDo:
    def test_replace_a_result(self) -> None:
        class Silence:
            async def invocation(
                self, call: Invocation, proceed: Callable[[Invocation], Awaitable[Result]]
            ) -> Result:
                result = await proceed(call)
                return Result(result.state)  # drop the effects, keep the state

        result = answer(Handler(counting(), middleware=[Silence()]).handle_sync(BODY))
        assert list(result.outgoing_messages) == [] and len(result.state_mutations) == 1

    def test_returning_something_else_fails_the_batch(self) -> None:
        class Broken:
            async def invocation(
                self, call: Invocation, proceed: Callable[[Invocation], Awaitable[Result]]
            ) -> Result:
                return "oops"  # type: ignore[return-value]

        with pytest.raises(InvocationFailed) as info:
            Handler(counting(), middleware=[Broken()]).handle_sync(BODY)
        assert str(info.value.__cause__) == (
            "an invocation middleware returned `str` for function `test/count`;"
            " it must return the Result that proceed() gave, or another"
        )

    def test_an_object_with_neither_hook(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Handler(counting(), middleware=[object()])  # type: ignore[list-item]
        assert str(info.value).endswith(
            "has neither an async `request(body, proceed)` nor an async"
            " `invocation(call, proceed)` method"
        )


class TestWhatAnAnswerCounts:
    def test_effects_and_state_bytes(self) -> None:
        result = asyncio.run(Handler(counting()).answer(BODY))
        assert result.emitted == Emitted(messages=2, delayed=2, egress=2, state_written=5)
        assert result.state_read == 5  # INT 10: a tag byte and four bytes

    def test_an_incomplete_answer_counts_nothing(self) -> None:
        body = request(SELF, call(typed(INT, 2)))
        result = asyncio.run(Handler(counting()).answer(body))
        assert (result.outcome, result.emitted, result.state_read) == (
            "incomplete",
            Emitted(0, 0, 0, 0),
            0,
        )
