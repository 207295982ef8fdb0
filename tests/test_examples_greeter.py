"""The greeter example: called directly as pure functions, then through request bytes."""

from __future__ import annotations

from examples.greeter.functions import GREET, VISITS, GreetRequest, functions, greeter, person
from statefun import (
    Address,
    Handler,
    KafkaRecord,
    Message,
    Result,
    Send,
    State,
)
from statefun._generated.kafka_egress_pb2 import KafkaProducerRecord

from .wire.builders import answer, call, request, typed

PERSON = Address("example/person", "Ana")
GREETER = Address("example/greeter", "Ana")


class TestAsPureFunctions:
    def test_person_counts_and_asks_for_a_greeting(self) -> None:
        result = person(State.of(VISITS), Message(PERSON, GreetRequest("Ana")))
        assert result == Result(
            State.of(VISITS).set(VISITS, 1), [Send(GREETER, GREET, GreetRequest("Ana", 1))]
        )

    def test_person_adds_to_what_it_saw(self) -> None:
        result = person(State.of(VISITS).set(VISITS, 41), Message(PERSON, GreetRequest("Ana")))
        assert result.state.get(VISITS) == 42
        assert result.effects == (Send(GREETER, GREET, GreetRequest("Ana", 42)),)

    def test_greeter_writes_to_kafka(self) -> None:
        result = greeter(State.of(), Message(GREETER, GreetRequest("Ana", 2), caller=PERSON))
        assert result == Result(
            State.of(),
            [
                KafkaRecord(
                    "example/greets",
                    topic="greetings",
                    key="Ana",
                    value="Hello Ana! You have been seen 2 times.",
                )
            ],
        )


class TestRegistry:
    def test_both_functions_are_registered(self) -> None:
        assert [(f.typename, f.accepts, f.specs) for f in functions] == [
            ("example/person", (GREET,), (VISITS,)),
            ("example/greeter", (GREET,), ()),
        ]


class TestThroughTheWire:
    def test_person_round_trip(self) -> None:
        handler = Handler(functions)
        body = request(PERSON, call(typed(GREET, GreetRequest("Ana"))), state={"visits": None})
        result = answer(handler.handle_sync(body))
        [mutation] = result.state_mutations
        assert (mutation.state_name, VISITS.type.decode(mutation.state_value.value)) == (
            "visits",
            1,
        )
        [out] = result.outgoing_messages
        assert (out.target.type, out.target.id, out.argument.typename) == (
            "greeter",
            "Ana",
            "example/GreetRequest",
        )
        assert GREET.decode(out.argument.value) == GreetRequest("Ana", 1)

    def test_greeter_round_trip(self) -> None:
        handler = Handler(functions)
        body = request(GREETER, call(typed(GREET, GreetRequest("Ana", 3)), caller=PERSON))
        [egress] = answer(handler.handle_sync(body)).outgoing_egresses
        assert (egress.egress_namespace, egress.egress_type) == ("example", "greets")
        assert KafkaProducerRecord.FromString(egress.argument.value) == KafkaProducerRecord(
            topic="greetings", key="Ana", value_bytes=b"Hello Ana! You have been seen 3 times."
        )
