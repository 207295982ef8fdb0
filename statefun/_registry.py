"""`Functions`: the registry of functions one endpoint serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ._dead_letter import DeadLetters
from ._effects import Result
from ._errors import DefinitionError
from ._message import Message
from ._spec import ValueSpec
from ._state import State
from ._type import Type, TypeUnion, members
from ._typename import split_strict

__all__ = ("Function", "Functions")

M = TypeVar("M")

# The registry holds functions of many message types; it only ever calls them
# with a Message of one of the types they declared.
AnyFunction = Callable[[State, Message[Any]], "Result | Awaitable[Result]"]


# What a function returns; a TypeVar so that the decorator keeps the exact
# return type (`async def` stays a Coroutine that `asyncio.run` accepts).
R = TypeVar("R", bound="Result | Awaitable[Result]")


class Binder(Protocol[M]):
    """The decorator :meth:`Functions.bind` returns; it gives the function back unchanged."""

    def __call__(
        self, fn: Callable[[State, Message[M]], R], /
    ) -> Callable[[State, Message[M]], R]: ...


@dataclass(frozen=True, slots=True)
class Function:
    """A registered function: its type, the function itself, what it accepts, what state it keeps.

    >>> functions.get("example/person")  # the greeter's functions
    Function(typename='example/person',
             accepts=(Type('example/GreetRequest', JsonSerde(GreetRequest)),),
             specs=(ValueSpec('visits', 'io.statefun.types/int'),), on_error=None)
    """

    typename: str
    fn: AnyFunction = field(repr=False)
    accepts: tuple[Type[Any], ...]
    specs: tuple[ValueSpec[Any], ...]
    on_error: DeadLetters | None = None


class Functions:
    """The functions one endpoint serves, by function type.

    >>> functions = Functions()
    >>> @functions.bind("example/person", accepts=GREET, specs=[VISITS])
    ... def person(state: State, msg: Message[GreetRequest]) -> Result:
    ...     ...

    Serve it with ``statefun serve my_module:functions``, or
    ``statefun.aiohttp.make_app(functions)``.
    """

    __slots__ = ("_functions", "_frozen")

    def __init__(self) -> None:
        self._functions: dict[str, Function] = {}
        self._frozen = False

    def bind(
        self,
        typename: str,
        *,
        accepts: Type[M] | TypeUnion[M],
        specs: Sequence[ValueSpec[Any]] = (),
        on_error: DeadLetters | None = None,
    ) -> Binder[M]:
        """Register the decorated function as function type ``typename``.

        Parameters
        ----------
        typename
            The function type, ``<namespace>/<name>``, as module.yaml routes it.
        accepts
            The :class:`Type` of the messages it handles, or several joined with
            ``|`` (``ADD | REMOVE``); the function then receives
            ``Message[Add | Remove]`` and may ``match`` on the value.
        specs
            The :class:`ValueSpec`\\ s of its state. The runtime is asked to
            register them on first contact; only these may be read or written.
        on_error
            What to do with a message the function cannot process. ``None`` (the
            default) fails the batch: the runtime retries it, and in the end the
            job fails. :class:`DeadLetters` sets such a message aside on an egress
            and carries on with the rest of the batch.

        The function takes ``(state, message)`` and returns a :class:`Result`;
        it may be ``async def``. It is returned unchanged, so tests call it directly.
        """
        split_strict(typename, "function typename")
        if typename in self._functions:
            raise DefinitionError(f"function `{typename}` is already registered")
        if isinstance(accepts, tuple):
            raise DefinitionError(
                f"function `{typename}`: join the accepted types with `|`"
                " (accepts=A | B), not a tuple"
            )
        if not isinstance(accepts, (Type, TypeUnion)):
            raise DefinitionError(
                f"function `{typename}`: accepts must be a statefun Type or Types joined"
                f" with `|`, got `{type(accepts).__name__}`"
            )
        accepted = members(accepts)
        if on_error is not None and not isinstance(on_error, DeadLetters):
            raise DefinitionError(
                f"function `{typename}`: on_error must be DeadLetters(...) or None,"
                f" got `{type(on_error).__name__}`"
            )
        if isinstance(specs, (ValueSpec, str)) or not isinstance(specs, Sequence):
            raise DefinitionError(
                f"function `{typename}`: specs must be a list of ValueSpecs, e.g. specs=[VISITS],"
                f" got `{type(specs).__name__}`"
            )
        spec_map: dict[str, ValueSpec[Any]] = {}
        for spec in specs:
            if not isinstance(spec, ValueSpec):
                raise DefinitionError(
                    f"function `{typename}`: specs must be ValueSpecs, got `{type(spec).__name__}`"
                )
            if spec.name in spec_map:
                raise DefinitionError(f"function `{typename}` declares state `{spec.name}` twice")
            spec_map[spec.name] = spec

        def register(fn: AnyFunction) -> AnyFunction:
            if self._frozen:
                raise DefinitionError(
                    f"cannot register `{typename}`: these functions are already being served;"
                    " register every function before serving"
                )
            if not callable(fn):
                raise DefinitionError(f"function `{typename}` must be callable, got {fn!r}")
            if typename in self._functions:
                raise DefinitionError(f"function `{typename}` is already registered")
            self._functions[typename] = Function(
                typename=typename,
                fn=fn,
                accepts=accepted,
                specs=tuple(spec_map.values()),
                on_error=on_error,
            )
            return fn

        return register  # type: ignore[return-value]

    def get(self, typename: str) -> Function | None:
        """Return the function registered as ``typename``, if any."""
        return self._functions.get(typename)

    def freeze(self) -> None:
        """Forbid further registrations; serving calls this."""
        self._frozen = True

    def __contains__(self, typename: object) -> bool:
        return typename in self._functions

    def __iter__(self) -> Iterator[Function]:
        return iter(self._functions.values())

    def __len__(self) -> int:
        return len(self._functions)

    def __repr__(self) -> str:
        return f"Functions({', '.join(self._functions)})"
