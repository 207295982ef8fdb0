"""The greeter example: two pure functions, served with

    statefun serve examples.greeter.functions:functions

``example/person`` counts how often each name was seen and asks
``example/greeter`` to greet it; the greeter writes the greeting to Kafka.
"""

from __future__ import annotations

import msgspec

from statefun import (
    INT,
    Address,
    Functions,
    KafkaRecord,
    Message,
    Result,
    Send,
    State,
    ValueSpec,
    json_type,
)


class GreetRequest(msgspec.Struct, frozen=True):
    """Who to greet, and how often they have been seen."""

    name: str
    visits: int = 0


GREET = json_type("example/GreetRequest", GreetRequest)
VISITS = ValueSpec("visits", INT)

functions = Functions()


@functions.bind("example/person", accepts=GREET, specs=[VISITS])
def person(state: State, msg: Message[GreetRequest]) -> Result:
    """Count one more visit and pass the name on to the greeter."""
    name = msg.value.name
    visits = (state.get(VISITS) or 0) + 1
    greeter = Address("example/greeter", name)
    return Result(state.set(VISITS, visits), [Send(greeter, GREET, GreetRequest(name, visits))])


@functions.bind("example/greeter", accepts=GREET)
def greeter(state: State, msg: Message[GreetRequest]) -> Result:
    """Write the greeting to the `greetings` topic, keyed by name."""
    name, visits = msg.value.name, msg.value.visits
    text = f"Hello {name}! You have been seen {visits} times."
    return Result(state, [KafkaRecord("example/greets", topic="greetings", key=name, value=text)])
