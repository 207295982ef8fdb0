"""``DeadLetters``: a message a function can never process is set aside, the batch carries on."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from statefun import (
    DEAD_LETTER,
    INT,
    STRING,
    Address,
    DeadLetter,
    DeadLetters,
    DefinitionError,
    Egress,
    Functions,
    Handler,
    InvocationFailed,
    InvocationTimeout,
    KafkaRecord,
    KinesisRecord,
    Message,
    Permanent,
    Result,
    Send,
    SerdeError,
    State,
    ValueSpec,
    json_type,
)
from statefun._generated.kafka_egress_pb2 import KafkaProducerRecord
from statefun._generated.kinesis_egress_pb2 import KinesisEgressRecord
from statefun._generated.request_reply_pb2 import TypedValue

from .wire.builders import answer, call, request, typed


class Add(msgspec.Struct, frozen=True):
    sku: str
    quantity: int


ADD = json_type("shop/Add", Add)
ITEMS = ValueSpec("items", INT)
CART = Address("shop/cart", "u1")
CHECKOUT = Address("shop/checkout", "c9")
SINK = Address("shop/sink", "s")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
TOPIC = DeadLetters("shop/dead-letters", topic="dead-letters")


class UnknownSku(Exception):
    pass


def cart_handler(
    policy: DeadLetters | None, *, invocation_timeout: timedelta | None = None
) -> Handler:
    functions = Functions()

    @functions.bind("shop/cart", accepts=ADD, specs=[ITEMS], on_error=policy)
    def cart(state: State, msg: Message[Add]) -> Result:
        if msg.value.sku == "forbidden":
            raise Permanent("sku `forbidden` can never be sold")
        if msg.value.sku == "unknown":
            raise UnknownSku("no such sku")
        if msg.value.sku == "flaky":
            raise ConnectionError("the stock service is down")
        items = (state.get(ITEMS) or 0) + msg.value.quantity
        return Result(state.set(ITEMS, items), [Send(SINK, STRING, msg.value.sku)])

    return Handler(functions, invocation_timeout=invocation_timeout, clock=lambda: NOW)


def add(sku: str, quantity: int = 1) -> TypedValue:
    return typed(ADD, Add(sku, quantity))


def letters_in(body: bytes) -> list[DeadLetter]:
    """The dead letters a response sends to the Kafka egress, decoded."""
    out: list[DeadLetter] = []
    for egress in answer(body).outgoing_egresses:
        record = KafkaProducerRecord.FromString(egress.argument.value)
        assert record.topic == "dead-letters" and record.key == "u1"
        out.append(DEAD_LETTER.decode(record.value_bytes))
    return out


def sent(body: bytes) -> list[str]:
    return [STRING.decode(m.argument.value) for m in answer(body).outgoing_messages]


def items(body: bytes) -> int:
    [mutation] = answer(body).state_mutations
    return INT.decode(mutation.state_value.value)


class TestWhatQualifies:
    def test_an_undecodable_message_is_set_aside_and_the_batch_carries_on(self) -> None:
        bad = TypedValue(typename="shop/Add", has_value=True, value=b'{"sku": 7}')
        body = request(
            CART,
            call(add("a")),
            call(bad, caller=CHECKOUT),
            call(add("b", 2)),
            state={"items": None},
        )
        response = cart_handler(TOPIC).handle_sync(body)
        assert sent(response) == ["a", "b"]
        assert items(response) == 3
        assert letters_in(response) == [
            DeadLetter(
                function="shop/cart",
                id="u1",
                typename="shop/Add",
                value=b'{"sku": 7}',
                error_type="statefun.SerdeError",
                error="`shop/Add`: Expected `str`, got `int` - at `$.sku`",
                time=NOW,
                caller_function="shop/checkout",
                caller_id="c9",
            )
        ]

    def test_a_message_of_a_type_the_function_does_not_accept(self) -> None:
        body = request(CART, call(typed(INT, 5)), call(add("a")), state={"items": None})
        [letter] = letters_in(cart_handler(TOPIC).handle_sync(body))
        assert (letter.typename, letter.value, letter.error_type) == (
            "io.statefun.types/int",
            INT.encode(5),
            "statefun.UnknownMessageType",
        )
        assert letter.caller_function is None and letter.caller_id is None

    def test_permanent_keeps_the_state_from_before_that_message(self) -> None:
        body = request(
            CART,
            call(add("a", 2)),
            call(add("forbidden", 100)),
            call(add("b", 3)),
            state={"items": typed(INT, 10)},
        )
        response = cart_handler(TOPIC).handle_sync(body)
        assert (items(response), sent(response)) == (15, ["a", "b"])
        [letter] = letters_in(response)
        assert (letter.error_type, letter.error) == (
            "statefun.Permanent",
            "sku `forbidden` can never be sold",
        )
        assert ADD.decode(letter.value) == Add("forbidden", 100)

    def test_exception_types_the_policy_names(self) -> None:
        policy = DeadLetters("shop/dead-letters", topic="dead-letters", permanent=(UnknownSku,))
        body = request(CART, call(add("unknown")), call(add("a")), state={"items": None})
        [letter] = letters_in(cart_handler(policy).handle_sync(body))
        assert letter.error_type == "tests.test_dead_letters.UnknownSku"

    def test_any_other_error_still_fails_the_batch(self) -> None:
        policy = DeadLetters("shop/dead-letters", topic="dead-letters", permanent=(UnknownSku,))
        body = request(CART, call(add("a")), call(add("flaky")), state={"items": None})
        with pytest.raises(InvocationFailed) as info:
            cart_handler(policy).handle_sync(body)
        assert isinstance(info.value.__cause__, ConnectionError)
        assert info.value.index == 1

    def test_a_state_value_that_cannot_be_decoded_still_fails(self) -> None:
        corrupt = TypedValue(typename=INT.typename, has_value=True, value=b"\x0d\x01")
        body = request(CART, call(add("a")), state={"items": corrupt})
        with pytest.raises(InvocationFailed) as info:
            cart_handler(TOPIC).handle_sync(body)
        assert isinstance(info.value.__cause__, SerdeError)

    def test_without_a_policy_every_one_fails_the_batch(self) -> None:
        for bad in (
            call(TypedValue(typename="shop/Add", has_value=True, value=b"[")),
            call(typed(INT, 1)),
            call(add("forbidden")),
        ):
            with pytest.raises(InvocationFailed):
                cart_handler(None).handle_sync(request(CART, bad, state={"items": None}))

    def test_the_answer_lists_them(self) -> None:
        body = request(CART, call(typed(INT, 1)), call(add("forbidden")), state={"items": None})
        result = asyncio.run(cart_handler(TOPIC).answer(body))
        assert (result.outcome, result.function, result.id, result.batch_size) == (
            "ok",
            "shop/cart",
            "u1",
            2,
        )
        assert [letter.error_type for letter in result.dead_letters] == [
            "statefun.UnknownMessageType",
            "statefun.Permanent",
        ]
        assert letters_in(result.body) == list(result.dead_letters)


class TestWhereTheyGo:
    LETTER = DeadLetter(
        function="shop/cart",
        id="u1",
        typename="shop/Add",
        value=b"\xff",
        error_type="statefun.SerdeError",
        error="bad",
        time=NOW,
    )

    def test_a_kafka_topic_keyed_by_the_target_id(self) -> None:
        assert TOPIC.effect(self.LETTER) == KafkaRecord(
            "shop/dead-letters",
            topic="dead-letters",
            key="u1",
            value=DEAD_LETTER.encode(self.LETTER),
        )

    def test_a_kinesis_stream(self) -> None:
        policy = DeadLetters("shop/dead-letters", stream="dead-letters")
        assert policy.effect(self.LETTER) == KinesisRecord(
            "shop/dead-letters",
            stream="dead-letters",
            partition_key="u1",
            value=DEAD_LETTER.encode(self.LETTER),
        )

    def test_a_kinesis_stream_for_an_empty_id_is_keyed_by_the_function(self) -> None:
        # Found by tests/fuzz: the runtime sends id "" for a Kafka record with an
        # empty key, and the empty partition key failed the whole request.
        policy = DeadLetters("shop/dead-letters", stream="dead-letters")
        letter = msgspec.structs.replace(self.LETTER, id="")
        assert policy.effect(letter) == KinesisRecord(
            "shop/dead-letters",
            stream="dead-letters",
            partition_key="shop/cart",
            value=DEAD_LETTER.encode(letter),
        )
        bad = TypedValue(typename="shop/Add", has_value=True, value=b"{")
        body = request(Address("shop/cart", ""), call(bad), state={"items": None})
        [egress] = answer(cart_handler(policy).handle_sync(body)).outgoing_egresses
        record = KinesisEgressRecord.FromString(egress.argument.value)
        assert (record.stream, record.partition_key) == ("dead-letters", "shop/cart")
        assert DEAD_LETTER.decode(record.value_bytes).id == ""

    def test_a_typed_egress(self) -> None:
        policy = DeadLetters("shop/dead-letters")
        assert policy.effect(self.LETTER) == Egress("shop/dead-letters", DEAD_LETTER, self.LETTER)

    def test_the_json_carries_the_bytes_as_base64_and_the_time_in_utc(self) -> None:
        assert msgspec.json.decode(DEAD_LETTER.encode(self.LETTER)) == {
            "function": "shop/cart",
            "id": "u1",
            "typename": "shop/Add",
            "value": "/w==",
            "error_type": "statefun.SerdeError",
            "error": "bad",
            "time": "2026-12-01T12:00:00Z",
            "caller_function": None,
            "caller_id": None,
        }


class TestDefinition:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            (
                {"egress": "no-slash"},
                "DeadLetters egress id 'no-slash' is not a valid typename:"
                " expected `<namespace>/<name>`",
            ),
            (
                {"egress": "a/b", "topic": "t", "stream": "s"},
                "DeadLetters: give a Kafka `topic` or a Kinesis `stream`, not both",
            ),
            ({"egress": "a/b", "topic": ""}, "DeadLetters: `topic` must be a non-empty `str`"),
            (
                {"egress": "a/b", "permanent": [KeyError]},
                "DeadLetters: `permanent` must be a tuple of exception classes, got [<class"
                " 'KeyError'>]",
            ),
        ],
    )
    def test_refused(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(DefinitionError) as info:
            DeadLetters(**kwargs)  # type: ignore[arg-type]
        assert str(info.value) == message

    def test_a_value(self) -> None:
        assert DeadLetters("a/b", topic="t") == DeadLetters("a/b", topic="t")
        assert DeadLetters("a/b", topic="t") != DeadLetters("a/b", stream="t")
        assert repr(DeadLetters("a/b", topic="t", permanent=(KeyError,))) == (
            "DeadLetters('a/b', topic='t', permanent=(KeyError,))"
        )
        with pytest.raises(AttributeError):
            TOPIC.topic = "other"

    def test_bind_takes_only_a_policy(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Functions().bind("shop/cart", accepts=ADD, on_error="dead-letter")  # type: ignore[arg-type]
        assert str(info.value) == (
            "function `shop/cart`: on_error must be DeadLetters(...) or None, got `str`"
        )


class TestInvocationTimeout:
    def slow_handler(self, seconds: float, raises: bool = False) -> Handler:
        functions = Functions()

        @functions.bind("shop/slow", accepts=INT)
        async def slow(state: State, msg: Message[int]) -> Result:
            if raises:
                raise TimeoutError("the stock service timed out")
            await asyncio.sleep(seconds)
            return Result(state)

        return Handler(functions, invocation_timeout=timedelta(milliseconds=50))

    def test_a_slow_async_function_fails_the_request_naming_where(self) -> None:
        # A sleep of an hour against a limit of 50 ms: the outcome does not depend on speed.
        handler = self.slow_handler(3600)
        body = request(Address("shop/slow", "s1"), call(typed(INT, 1)), call(typed(INT, 2)))
        with pytest.raises(InvocationFailed) as info:
            asyncio.run(handler.handle(body))
        assert str(info.value) == (
            "function `shop/slow` id='s1' failed on `io.statefun.types/int` (message 1 of 2):"
            " InvocationTimeout: function `shop/slow` did not finish within 0.05 s"
            " (invocation_timeout)"
        )
        assert isinstance(info.value.__cause__, InvocationTimeout)

    def test_a_timeout_the_function_raises_itself_is_its_own(self) -> None:
        handler = self.slow_handler(0, raises=True)
        with pytest.raises(InvocationFailed) as info:
            asyncio.run(handler.handle(request(Address("shop/slow", "s1"), call(typed(INT, 1)))))
        assert type(info.value.__cause__) is TimeoutError

    def test_a_timeout_is_never_a_dead_letter(self) -> None:
        functions = Functions()

        @functions.bind("shop/slow", accepts=INT, on_error=TOPIC)
        async def slow(state: State, msg: Message[int]) -> Result:
            await asyncio.sleep(3600)
            return Result(state)

        handler = Handler(functions, invocation_timeout=timedelta(milliseconds=10))
        with pytest.raises(InvocationFailed):
            asyncio.run(handler.handle(request(Address("shop/slow", "s"), call(typed(INT, 1)))))

    def test_must_be_positive(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Handler(Functions(), invocation_timeout=timedelta(0))
        assert str(info.value) == (
            "invocation_timeout=datetime.timedelta(0) must be a positive timedelta or None"
        )


def test_a_dead_letter_names_its_target_and_caller() -> None:
    letter = DeadLetter(
        function="shop/cart",
        id="u1",
        typename="shop/Add",
        value=b"{}",
        error_type="x.Y",
        error="",
        time=NOW,
        caller_function="shop/checkout",
        caller_id="c9",
    )
    assert (letter.target, letter.caller) == (CART, CHECKOUT)
    assert msgspec.structs.replace(letter, caller_function=None, caller_id=None).caller is None
