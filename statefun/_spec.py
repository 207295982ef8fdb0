"""`ValueSpec[T]`: a named, typed piece of persisted state."""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta
from typing import Generic, Literal, ParamSpec, Protocol, TypeVar

from ._errors import DefinitionError
from ._millis import ONE_MS
from ._type import Decoder, Encoder, Type
from ._typename import split_strict

__all__ = ("ReadableSpec", "ValueSpec", "WritableSpec")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ExpireMode = Literal["none", "after_write", "after_call"]


# ValueSpec is invariant, as set() must be strict. Reading goes through a
# covariant view instead, so `x: object = state.get(COUNT)` and f"{state.get(COUNT)}"
# type-check: inferring T from that wider context must not make ValueSpec[int]
# a mismatch. Writing goes through the encoder's parameters (see _type.Encoder).


class ReadableSpec(Protocol[T_co]):
    """A :class:`ValueSpec` as ``State.get`` sees it: a ``ValueSpec[int]`` reads as an ``object``."""

    @property
    def name(self) -> str:
        """The state's name."""
        ...

    @property
    def type(self) -> Decoder[T_co]:
        """What decodes its values."""
        ...


class WritableSpec(Protocol[P]):
    """A :class:`ValueSpec` as ``State.set`` sees it: through what its encoder takes."""

    @property
    def name(self) -> str:
        """The state's name."""
        ...

    @property
    def type(self) -> Encoder[P]:
        """What encodes its values."""
        ...


@dataclass(frozen=True, slots=True, repr=False)
class ValueSpec(Generic[T]):
    """Declares one state value of a function: its name, type and expiry.

    >>> VISITS = ValueSpec("visits", INT)                       # ValueSpec[int]
    >>> SEEN = ValueSpec("seen", STRING, expire_after_write=timedelta(days=1))

    Parameters
    ----------
    name
        An identifier: a letter or ``_``, then letters, digits or ``_``.
    type
        The state's :class:`Type`; its typename must have exactly one ``/``,
        because the runtime parses state types strictly.
    expire_after_write
        Drop the value this long after it was last written.
    expire_after_call
        Drop the value this long after the function was last called for this
        address (the runtime reads every state on every call).
    """

    name: str
    type: Type[T]
    _: KW_ONLY
    expire_after_write: timedelta | None = None
    expire_after_call: timedelta | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise DefinitionError(
                f"ValueSpec name {self.name!r} must be an identifier:"
                " a letter or `_`, then letters, digits or `_`"
            )
        if not isinstance(self.type, Type):
            raise DefinitionError(
                f"ValueSpec `{self.name}`: `type` must be a statefun Type,"
                f" got `{type(self.type).__name__}`"
            )
        split_strict(self.type.typename, f"ValueSpec `{self.name}` type")
        if self.expire_after_write is not None and self.expire_after_call is not None:
            raise DefinitionError(
                f"ValueSpec `{self.name}`: set `expire_after_write` or `expire_after_call`, not both"
            )
        for option in ("expire_after_write", "expire_after_call"):
            value = getattr(self, option)
            if value is None:
                continue
            if not isinstance(value, timedelta):
                raise DefinitionError(
                    f"ValueSpec `{self.name}`: {option} must be a timedelta,"
                    f" got `{type(value).__name__}`"
                )
            if value < ONE_MS:
                raise DefinitionError(
                    f"ValueSpec `{self.name}`: {option}={value!r} must be at least 1 millisecond;"
                    " leave it out for no expiry"
                )

    def __repr__(self) -> str:
        options = "".join(
            f", {option}={getattr(self, option)!r}"
            for option in ("expire_after_write", "expire_after_call")
            if getattr(self, option) is not None
        )
        return f"ValueSpec({self.name!r}, {self.type.typename!r}{options})"

    @property
    def expire_mode(self) -> ExpireMode:
        """``"none"``, ``"after_write"`` or ``"after_call"``."""
        if self.expire_after_write is not None:
            return "after_write"
        if self.expire_after_call is not None:
            return "after_call"
        return "none"

    @property
    def expire_after_millis(self) -> int:
        """The expiry in whole milliseconds, 0 when there is none."""
        delay = self.expire_after_write or self.expire_after_call
        return 0 if delay is None else delay // ONE_MS
