"""The aiohttp adapter, over real HTTP on a loopback port."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from aiohttp import ClientSession, web

from examples.greeter.functions import GREET, GreetRequest
from examples.greeter.functions import functions as greeter_functions
from statefun import (
    INT,
    Address,
    DeadLetters,
    DefinitionError,
    Functions,
    Message,
    Permanent,
    Result,
    Send,
    State,
    ValueSpec,
)
from statefun._generated.request_reply_pb2 import FromFunction, ToFunction, TypedValue
from statefun.aiohttp import make_app
from tests.wire.builders import call, request, typed

ANA = Address("example/person", "Ana")
GREET_ANA = call(typed(GREET, GreetRequest("Ana")))


@asynccontextmanager
async def serving(app: web.Application) -> AsyncGenerator[tuple[str, ClientSession], None]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with ClientSession() as session:
            yield f"http://127.0.0.1:{port}", session
    finally:
        await runner.cleanup()


async def post(session: ClientSession, url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/octet-stream"}
    async with session.post(url, data=io.BytesIO(body), headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


def run(
    app: web.Application, body: bytes, path: str = "/statefun"
) -> tuple[int, dict[str, str], bytes]:
    async def go() -> tuple[int, dict[str, str], bytes]:
        async with serving(app) as (base, session):
            return await post(session, base + path, body)

    return asyncio.run(go())


def fresh_greeter() -> web.Application:
    return make_app(greeter_functions)


def fields(record: logging.LogRecord) -> dict[str, object]:
    """The record's structured ``extra``: its plain ``statefun_*`` values."""
    return {
        key: value
        for key, value in vars(record).items()
        if key.startswith("statefun_") and isinstance(value, str)
    }


class TestAnswers:
    def test_success_is_200_with_exactly_octet_stream(self) -> None:
        body = request(ANA, GREET_ANA, state={"visits": None})
        status, headers, answer = run(fresh_greeter(), body)
        assert status == 200
        assert headers["Content-Type"] == "application/octet-stream"
        result = FromFunction.FromString(answer).invocation_result
        assert [m.state_name for m in result.state_mutations] == ["visits"]
        assert result.outgoing_messages[0].target.id == "Ana"

    def test_incomplete_round_trip(self) -> None:
        app = fresh_greeter()

        async def go() -> None:
            async with serving(app) as (base, session):
                first = request(ANA, GREET_ANA)
                status, _, answer = await post(session, base + "/statefun", first)
                assert status == 200
                missing = FromFunction.FromString(
                    answer
                ).incomplete_invocation_context.missing_values
                assert [(m.state_name, m.type_typename) for m in missing] == [
                    ("visits", "io.statefun.types/int")
                ]
                # The runtime registers the state and sends the same batch again.
                again = request(ANA, GREET_ANA, state={"visits": None})
                status, _, answer = await post(session, base + "/statefun", again)
                assert status == 200
                mutation = FromFunction.FromString(answer).invocation_result.state_mutations[0]
                assert INT.decode(mutation.state_value.value) == 1

        asyncio.run(go())

    def test_malformed_body_is_400_with_one_line(self) -> None:
        status, _, answer = run(fresh_greeter(), b"\xff\xff not protobuf")
        assert status == 400
        text = answer.decode()
        assert text.startswith("the body is not a ToFunction protobuf message")
        assert text.count("\n") == 1 and text.endswith("\n")

    def test_empty_body_is_400(self) -> None:
        status, _, answer = run(fresh_greeter(), b"")
        assert (status, answer) == (400, b"the ToFunction message holds no invocation batch\n")

    @pytest.mark.parametrize("encoding", ["gzip", "deflate"])
    def test_a_body_that_does_not_decompress_is_400(
        self, caplog: pytest.LogCaptureFixture, encoding: str
    ) -> None:
        # Found by tests/fuzz: aiohttp raised out of request.read() and answered
        # its own 500, logging "Error handling request", then dropped the
        # connection the client would reuse. (aiohttp still logs "Unhandled
        # exception" when it drains the rest of the body; the runtime never
        # compresses a request.)
        async def go() -> tuple[int, str | None, bytes, int]:
            async with serving(fresh_greeter()) as (base, session):
                headers = {"Content-Type": "application/octet-stream"}
                headers["Content-Encoding"] = encoding
                async with session.post(base + "/statefun", data=b"garbage", headers=headers) as r:
                    status, connection, answer = (
                        r.status,
                        r.headers.get("Connection"),
                        await r.read(),
                    )
                after, _, _ = await post(session, base + "/statefun", request(ANA, GREET_ANA))
                return status, connection, answer, after

        with caplog.at_level(logging.WARNING):
            status, connection, answer, after = asyncio.run(go())
        assert (status, connection, after) == (400, "close", 200)
        assert answer.startswith(b"the request body cannot be read: ")
        assert answer.count(b"\n") == 1 and answer.endswith(b"\n")
        assert [r.getMessage() for r in caplog.records if r.name != "aiohttp.server"] == []
        assert "Error handling request" not in [r.getMessage() for r in caplog.records]

    def test_unknown_function_is_404_naming_it(self) -> None:
        body = request(Address("example/nobody", "x"), GREET_ANA)
        status, _, answer = run(fresh_greeter(), body)
        assert (status, answer) == (404, b"no function is registered for `example/nobody`\n")

    def test_get_is_405(self) -> None:
        async def go() -> int:
            async with serving(fresh_greeter()) as (base, session):
                async with session.get(base + "/statefun") as response:
                    return response.status

        assert asyncio.run(go()) == 405

    def test_body_over_the_limit_is_413(self) -> None:
        app = make_app(greeter_functions, max_body_size=1024)
        body = request(ANA, *[GREET_ANA] * 100, state={"visits": None})
        assert len(body) > 1024
        status, _, _ = run(app, body)
        assert status == 413

    def test_default_limit_accepts_the_runtimes_32_mib(self) -> None:
        big = call(typed(GREET, GreetRequest("a" * (20 * 1024 * 1024))))
        body = request(ANA, big, state={"visits": None})
        status, _, answer = run(fresh_greeter(), body)
        assert status == 200
        assert len(FromFunction.FromString(answer).invocation_result.outgoing_messages) == 1

    def test_path_is_configurable(self) -> None:
        body = request(ANA, GREET_ANA, state={"visits": None})
        status, _, _ = run(make_app(greeter_functions, path="/fn"), body, path="/fn")
        assert status == 200

    def test_bad_options_are_rejected(self) -> None:
        with pytest.raises(DefinitionError, match="must start with '/'"):
            make_app(greeter_functions, path="statefun")
        with pytest.raises(DefinitionError, match="must be positive"):
            make_app(greeter_functions, max_body_size=0)


COUNT = ValueSpec("count", INT)


def failing_functions() -> Functions:
    functions = Functions()

    @functions.bind("test/fails", accepts=INT, specs=[COUNT])
    def fails(state: State, msg: Message[int]) -> Result:
        if msg.value == 3:
            raise RuntimeError("three is not allowed")
        return Result(
            state.set(COUNT, msg.value), [Send(Address("test/fails", "other"), INT, msg.value)]
        )

    return functions


class TestFunctionErrors:
    def test_a_raising_function_is_500_and_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        body = request(
            Address("test/fails", "id-7"),
            *[call(typed(INT, n)) for n in (1, 2, 3, 4)],
            state={"count": None},
        )
        with caplog.at_level(logging.ERROR, logger="statefun"):
            status, _, answer = run(make_app(failing_functions()), body)
        assert status == 500
        # Nothing of the batch is emitted: the body is a reason, not a FromFunction.
        assert answer == (
            b"function `test/fails` id='id-7' failed on `io.statefun.types/int` (message 3 of 4):"
            b" RuntimeError: three is not allowed\n"
        )
        records = [r for r in caplog.records if r.name == "statefun"]
        assert len(records) == 1
        record = records[0]
        message = record.getMessage()
        assert "test/fails" in message and "id-7" in message and "io.statefun.types/int" in message
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], RuntimeError)
        assert str(record.exc_info[1]) == "three is not allowed"
        # The same facts as fields, for structured logs (statefun serve --log-format json).
        assert fields(record) == {
            "statefun_function": "test/fails",
            "statefun_id": "id-7",
            "statefun_typename": "io.statefun.types/int",
            "statefun_error": "RuntimeError: three is not allowed",
        }


class TestConcurrentRequests:
    def test_a_small_request_and_a_huge_batch_are_both_answered(self) -> None:
        # Which finishes first is the event loop's business (tests/test_handler.py
        # checks the turns a huge batch gives away); over HTTP, both must be right.
        functions = Functions()

        @functions.bind("test/count", accepts=INT, specs=[COUNT])
        def count(state: State, msg: Message[int]) -> Result:
            return Result(state.set(COUNT, (state.get(COUNT) or 0) + msg.value))

        one = call(typed(INT, 1))
        huge = request(Address("test/count", "big"), *[one] * 10_000, state={"count": None})
        small = request(Address("test/count", "small"), one, state={"count": None})

        async def go() -> list[int | None]:
            async with serving(make_app(functions)) as (base, session):
                answers = await asyncio.gather(
                    post(session, base + "/statefun", huge),
                    post(session, base + "/statefun", small),
                )
            counts: list[int | None] = []
            for status, _, body in answers:
                assert status == 200
                [mutation] = FromFunction.FromString(body).invocation_result.state_mutations
                counts.append(INT.decode(mutation.state_value.value))
            return counts

        assert asyncio.run(go()) == [10_000, 1]


class TestUnknownMessageType:
    def test_is_500_naming_function_typename_and_accepted_types(self) -> None:
        body = request(ANA, call(typed(INT, 7)), state={"visits": None})
        status, _, answer = run(fresh_greeter(), body)
        assert (status, answer.decode()) == (
            500,
            "function `example/person` id='Ana' failed on `io.statefun.types/int`"
            " (message 1 of 1): UnknownMessageType: function `example/person` cannot handle"
            " `io.statefun.types/int`; it accepts `example/GreetRequest`\n",
        )


class TestResultErrors:
    def test_a_result_that_cannot_be_encoded_is_500_naming_the_batch(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        functions = Functions()

        @functions.bind("test/overflow", accepts=INT)
        def overflow(state: State, msg: Message[int]) -> Result:
            # INT is 32-bit: the SDK can only find out when it encodes the value.
            return Result(state, [Send(Address("test/overflow", "x"), INT, 2**40)])

        body = request(Address("test/overflow", "id-9"), call(typed(INT, 1)), call(typed(INT, 2)))
        with caplog.at_level(logging.ERROR, logger="statefun"):
            status, _, answer = run(make_app(functions), body)
        assert status == 500
        assert answer == (
            b"function `test/overflow` id='id-9': the results of a batch of 2 messages cannot be"
            b" sent: Send to `test/overflow` id='x': `io.statefun.types/int`: cannot encode a"
            b" `int`: the value is outside the 32-bit range; use LONG\n"
        )
        [record] = [r for r in caplog.records if r.name == "statefun"]
        assert record.exc_info is not None
        assert type(record.exc_info[1]).__name__ == "SerdeError"
        # A batch's results: no one message to blame, so no typename.
        assert fields(record) == {
            "statefun_function": "test/overflow",
            "statefun_id": "id-9",
            "statefun_error": "SerdeError: Send to `test/overflow` id='x':"
            " `io.statefun.types/int`: cannot encode a `int`: the value is outside the 32-bit"
            " range; use LONG",
        }


class TestStateStoredUnderAnotherType:
    def test_is_500_logged_once_as_itself(self, caplog: pytest.LogCaptureFixture) -> None:
        # Found by tests/fuzz: it reached the last resort for SDK bugs ("failed to
        # answer a request"); it is the deployment's mistake, answered on purpose.
        stored = TypedValue(typename="io.statefun.types/long\nX", has_value=True, value=b"")
        body = request(Address("test/fails", "id-7"), call(typed(INT, 1)), state={"count": stored})
        with caplog.at_level(logging.ERROR, logger="statefun"):
            status, _, answer = run(make_app(failing_functions()), body)
        expected = (
            "state `count` is stored as `io.statefun.types/long\\nX` but its ValueSpec says"
            " `io.statefun.types/int`; a registered state cannot change type, use a new state name"
        )
        assert (status, answer.decode()) == (500, expected + "\n")
        [record] = [r for r in caplog.records if r.name == "statefun"]
        assert record.getMessage() == expected
        assert fields(record) == {"statefun_state": "count", "statefun_error": expected}


class TestTextFromTheRequestStaysOnOneLine:
    """A typename or id from the request cannot split an answer or a log record."""

    FORGED = "example/GreetRequest\nERROR statefun: forged line"

    def test_an_unknown_function_type(self) -> None:
        target = Address("example/person", "Ana")
        body = request(target, GREET_ANA)
        raw = ToFunction.FromString(body)
        raw.invocation.target.type = "person\r\nX-Injected: 1"
        status, _, answer = run(fresh_greeter(), raw.SerializeToString())
        assert (status, answer) == (
            404,
            b"no function is registered for `example/person\\r\\nX-Injected: 1`\n",
        )

    def test_an_unknown_message_type_is_one_line_in_the_body_and_the_log(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        argument = TypedValue(typename=self.FORGED, has_value=True, value=b"{}")
        body = request(Address("example/person", "Ana\n2"), call(argument), state={"visits": None})
        with caplog.at_level(logging.ERROR, logger="statefun"):
            status, _, answer = run(fresh_greeter(), body)
        expected = (
            "function `example/person` id='Ana\\n2' failed on"
            " `example/GreetRequest\\nERROR statefun: forged line` (message 1 of 1):"
            " UnknownMessageType: function `example/person` cannot handle"
            " `example/GreetRequest\\nERROR statefun: forged line`;"
            " it accepts `example/GreetRequest`"
        )
        assert (status, answer.decode()) == (500, expected + "\n")
        [record] = [r for r in caplog.records if r.name == "statefun"]
        assert record.getMessage() == expected

    def test_a_function_error_with_a_multiline_message(self) -> None:
        functions = Functions()

        @functions.bind("test/multiline", accepts=INT)
        def multiline(state: State, msg: Message[int]) -> Result:
            raise ValueError("first line\nsecond line\u2028third")

        status, _, answer = run(
            make_app(functions), request(Address("test/multiline", "m"), call(typed(INT, 1)))
        )
        assert status == 500
        assert answer.count(b"\n") == 1 and answer.endswith(b"\n")
        assert b"first line\\nsecond line\\u2028third" in answer


class TestDeadLettersAndTimeouts:
    def test_a_dead_letter_is_logged_once_without_its_payload(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        functions = Functions()

        @functions.bind(
            "test/picky",
            accepts=INT,
            on_error=DeadLetters("test/dead", topic="dead"),
        )
        def picky(state: State, msg: Message[int]) -> Result:
            if msg.value == 13:
                raise Permanent("13 is unlucky")
            return Result(state)

        secret = TypedValue(typename="test/Secret", has_value=True, value=b"password=hunter2")
        body = request(Address("test/picky", "p"), call(typed(INT, 13)), call(secret))
        with caplog.at_level(logging.WARNING, logger="statefun"):
            status, _, answer = run(make_app(functions), body)
        assert status == 200
        assert len(FromFunction.FromString(answer).invocation_result.outgoing_egresses) == 2
        messages = [r.getMessage() for r in caplog.records if r.name == "statefun"]
        assert messages == [
            "dead letter: function `test/picky` id='p' message `io.statefun.types/int`"
            " (5 bytes): statefun.Permanent: 13 is unlucky",
            "dead letter: function `test/picky` id='p' message `test/Secret` (16 bytes):"
            " statefun.UnknownMessageType: function `test/picky` cannot handle `test/Secret`;"
            " it accepts `io.statefun.types/int`",
        ]
        assert all("hunter2" not in m for m in messages)
        records = [r for r in caplog.records if r.name == "statefun"]
        assert [fields(r) for r in records] == [
            {
                "statefun_function": "test/picky",
                "statefun_id": "p",
                "statefun_typename": "io.statefun.types/int",
                "statefun_error": "statefun.Permanent: 13 is unlucky",
            },
            {
                "statefun_function": "test/picky",
                "statefun_id": "p",
                "statefun_typename": "test/Secret",
                "statefun_error": "statefun.UnknownMessageType: function `test/picky` cannot"
                " handle `test/Secret`; it accepts `io.statefun.types/int`",
            },
        ]

    def test_a_slow_async_function_is_a_500_naming_function_id_and_message(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        functions = Functions()

        @functions.bind("test/slow", accepts=INT)
        async def slow(state: State, msg: Message[int]) -> Result:
            await asyncio.sleep(3600)
            return Result(state)

        app = make_app(functions, invocation_timeout=timedelta(milliseconds=20))
        with caplog.at_level(logging.ERROR, logger="statefun"):
            status, _, answer = run(app, request(Address("test/slow", "s7"), call(typed(INT, 1))))
        expected = (
            "function `test/slow` id='s7' failed on `io.statefun.types/int` (message 1 of 1):"
            " InvocationTimeout: function `test/slow` did not finish within 0.02 s"
            " (invocation_timeout)"
        )
        assert (status, answer.decode()) == (500, expected + "\n")
        assert [r.getMessage() for r in caplog.records if r.name == "statefun"] == [expected]
