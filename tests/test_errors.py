"""The error tree of ``statefun._errors``, as its module docstring draws it."""

from __future__ import annotations

import pytest

from statefun import (
    DefinitionError,
    EventLoopRequired,
    InvalidResult,
    InvalidTypeName,
    InvocationFailed,
    MalformedRequest,
    RequestError,
    SerdeError,
    StateError,
    StatefunError,
    StateTypeMismatch,
    UndeclaredState,
    UnknownFunction,
    UnknownMessageType,
)

TREE: list[tuple[type[Exception], tuple[type[Exception], ...]]] = [
    (DefinitionError, (StatefunError, ValueError)),
    (InvalidTypeName, (DefinitionError,)),
    (SerdeError, (StatefunError, ValueError)),
    (StateError, (StatefunError,)),
    (UndeclaredState, (StateError, LookupError)),
    (StateTypeMismatch, (StateError, TypeError)),
    (UnknownMessageType, (StatefunError, TypeError)),
    (RequestError, (StatefunError,)),
    (MalformedRequest, (RequestError, ValueError)),
    (UnknownFunction, (RequestError, LookupError)),
    (InvocationFailed, (StatefunError,)),
    (InvalidResult, (StatefunError,)),
    (EventLoopRequired, (StatefunError, RuntimeError)),
]


@pytest.mark.parametrize(("error", "parents"), TREE, ids=[e.__name__ for e, _ in TREE])
def test_each_error_subclasses_what_the_tree_says(
    error: type[Exception], parents: tuple[type[Exception], ...]
) -> None:
    assert error.__bases__ == parents


@pytest.mark.parametrize(("error", "parents"), TREE, ids=[e.__name__ for e, _ in TREE])
def test_each_error_says_when_it_is_raised(
    error: type[Exception], parents: tuple[type[Exception], ...]
) -> None:
    assert error.__doc__ and error.__doc__.strip()


def test_request_errors_carry_an_http_status() -> None:
    assert (RequestError.status, MalformedRequest.status, UnknownFunction.status) == (400, 400, 404)


def test_lookup_errors_do_not_quote_their_message() -> None:
    # KeyError would print repr(message); LookupError subclasses print it plainly.
    assert str(UnknownFunction("a/b")) == "no function is registered for `a/b`"
    assert str(UndeclaredState("x", ())) == (
        "state `x` is not declared by this function (declared: none); add its ValueSpec to `specs=`"
    )
