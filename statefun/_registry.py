"""`Functions`: the registry of functions one endpoint serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, overload

from ._effects import Result
from ._errors import DefinitionError
from ._message import Message
from ._spec import ValueSpec
from ._state import State
from ._type import Type
from ._typename import split_strict

__all__ = ("Function", "Functions")

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
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
    """A registered function: its type, what it accepts, what state it keeps."""

    typename: str
    fn: AnyFunction = field(repr=False)
    accepts: tuple[Type[Any], ...]
    specs: tuple[ValueSpec[Any], ...]
    # typename -> Type, for the decoding of every incoming message
    types: dict[str, Type[Any]] = field(repr=False, compare=False)
    spec_map: dict[str, ValueSpec[Any]] = field(repr=False, compare=False)
    # missing spec names -> serialized IncompleteInvocationContext
    incomplete_cache: dict[tuple[str, ...], bytes] = field(repr=False, compare=False)


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

    @overload
    def bind(
        self, typename: str, *, accepts: Type[A], specs: Sequence[ValueSpec[Any]] = ()
    ) -> Binder[A]: ...

    @overload
    def bind(
        self, typename: str, *, accepts: tuple[Type[A]], specs: Sequence[ValueSpec[Any]] = ()
    ) -> Binder[A]: ...

    @overload
    def bind(
        self,
        typename: str,
        *,
        accepts: tuple[Type[A], Type[B]],
        specs: Sequence[ValueSpec[Any]] = (),
    ) -> Binder[A | B]: ...

    @overload
    def bind(
        self,
        typename: str,
        *,
        accepts: tuple[Type[A], Type[B], Type[C]],
        specs: Sequence[ValueSpec[Any]] = (),
    ) -> Binder[A | B | C]: ...

    @overload
    def bind(
        self,
        typename: str,
        *,
        accepts: tuple[Type[A], Type[B], Type[C], Type[D]],
        specs: Sequence[ValueSpec[Any]] = (),
    ) -> Binder[A | B | C | D]: ...

    def bind(
        self,
        typename: str,
        *,
        accepts: Type[Any] | tuple[Type[Any], ...],
        specs: Sequence[ValueSpec[Any]] = (),
    ) -> Binder[Any]:
        """Register the decorated function as function type ``typename``.

        Parameters
        ----------
        typename
            The function type, ``<namespace>/<name>``, as module.yaml routes it.
        accepts
            The :class:`Type` of the messages it handles, or a tuple of them; the
            function then receives ``Message[A | B]`` and may ``match`` on the value.
        specs
            The :class:`ValueSpec`\\ s of its state. The runtime is asked to
            register them on first contact; only these may be read or written.

        The function takes ``(state, message)`` and returns a :class:`Result`;
        it may be ``async def``. It is returned unchanged, so tests call it directly.
        """
        split_strict(typename, "function typename")
        if typename in self._functions:
            raise DefinitionError(f"function `{typename}` is already registered")
        accepted = accepts if isinstance(accepts, tuple) else (accepts,)
        if not accepted:
            raise DefinitionError(f"function `{typename}`: `accepts` needs at least one Type")
        types: dict[str, Type[Any]] = {}
        for t in accepted:
            if not isinstance(t, Type):
                raise DefinitionError(
                    f"function `{typename}`: accepts must hold statefun Types,"
                    f" got `{type(t).__name__}`"
                )
            if t.typename in types:
                raise DefinitionError(f"function `{typename}` accepts `{t.typename}` twice")
            types[t.typename] = t
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
                types=types,
                spec_map=spec_map,
                incomplete_cache={},
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
