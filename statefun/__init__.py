"""Pure, typed stateful functions for Apache Flink StateFun 3.x.

A function is ``(state, message) -> Result(new_state, effects)``::

    from statefun import INT, Address, Functions, Message, Result, Send, State, ValueSpec, json_type

    functions = Functions()
    VISITS = ValueSpec("visits", INT)

    @functions.bind("example/person", accepts=GREET, specs=[VISITS])  # accepts=A | B for several
    def person(state: State, msg: Message[GreetRequest]) -> Result:
        visits = (state.get(VISITS) or 0) + 1
        return Result(state.set(VISITS, visits), [Send(Address("example/greeter", msg.value.name), GREET, ...)])

Serve with ``statefun serve module:functions``; test by calling the function.
"""

from ._address import Address
from ._dead_letter import DEAD_LETTER, DeadLetter, DeadLetters
from ._effects import (
    CancelDelayed,
    Effect,
    Egress,
    KafkaRecord,
    KinesisRecord,
    Result,
    Send,
    SendAfter,
)
from ._errors import (
    DefinitionError,
    EventLoopRequired,
    InvalidResult,
    InvalidTypeName,
    InvocationFailed,
    InvocationTimeout,
    MalformedRequest,
    Permanent,
    RequestError,
    SerdeError,
    StateError,
    StatefunError,
    StateTypeMismatch,
    UndeclaredState,
    UnknownFunction,
    UnknownMessageType,
)
from ._handler import Answer, Handler
from ._message import Message
from ._registry import Function, Functions
from ._spec import ValueSpec
from ._state import State
from ._type import Serde, Type, TypeUnion
from .serdes import BOOL, DOUBLE, FLOAT, INT, LONG, STRING, custom_type, json_type, protobuf_type

__all__ = (
    "BOOL",
    "DEAD_LETTER",
    "DOUBLE",
    "FLOAT",
    "INT",
    "LONG",
    "STRING",
    "Address",
    "Answer",
    "CancelDelayed",
    "DeadLetter",
    "DeadLetters",
    "DefinitionError",
    "Effect",
    "Egress",
    "EventLoopRequired",
    "Function",
    "Functions",
    "Handler",
    "InvalidResult",
    "InvalidTypeName",
    "InvocationFailed",
    "InvocationTimeout",
    "KafkaRecord",
    "KinesisRecord",
    "MalformedRequest",
    "Message",
    "Permanent",
    "RequestError",
    "Result",
    "Send",
    "SendAfter",
    "Serde",
    "SerdeError",
    "State",
    "StateError",
    "StateTypeMismatch",
    "StatefunError",
    "Type",
    "TypeUnion",
    "UndeclaredState",
    "UnknownFunction",
    "UnknownMessageType",
    "ValueSpec",
    "custom_type",
    "json_type",
    "protobuf_type",
)

__version__ = "0.1.0"


def _claim_public_names() -> None:
    # Reprs and tracebacks say `statefun.Address`, not `statefun._address.Address`;
    # the same for the type constructors (`statefun.json_type`), as httpx does.
    from types import FunctionType

    for name in __all__:
        obj = globals()[name]
        if isinstance(obj, (type, FunctionType)):
            try:
                obj.__module__ = __name__
            except (AttributeError, TypeError):
                pass


# In a function, the loop leaves no variable in the module to delete afterwards (a `del`
# that pyright cannot prove bound: the loop might not have run).
_claim_public_names()
del _claim_public_names


def __dir__() -> tuple[str, ...]:
    return __all__
