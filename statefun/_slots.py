"""Fast construction of immutable slotted values on the hot path."""

from __future__ import annotations

from collections.abc import Callable


def slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    """Return the setter of slot ``name`` of ``cls``.

    Values such as Message and State refuse assignment (a frozen dataclass
    routes its own ``__init__`` through ``object.__setattr__`` for that reason).
    Setting through the slot descriptor skips the refusal at half the cost;
    the SDK uses it only to build values it has already checked.
    """
    setter: Callable[[object, object], None] = vars(cls)[name].__set__
    return setter


def slot_setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    """Return the setters of slots ``names`` of ``cls``, in that order."""
    return tuple(slot_setter(cls, name) for name in names)
