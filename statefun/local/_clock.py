"""Clocks: what "now" is for delayed messages and state expiry.

Time is kept in whole milliseconds since the runtime started, because the
protocol counts delays and expiry in milliseconds (``delay_in_ms``,
``expire_after_millis``).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Protocol

from .._errors import DefinitionError
from .._millis import ONE_MS

__all__ = ("Clock", "RealClock", "VirtualClock")


class Clock(Protocol):
    """Anything that tells the time in milliseconds; there is nothing to inherit."""

    def now_ms(self) -> int:
        """Milliseconds since this clock started."""
        ...


class VirtualClock:
    """A clock that only moves when told to: timers fire when you advance it.

    >>> clock = VirtualClock()
    >>> clock.advance(timedelta(seconds=2))
    >>> clock.now
    datetime.timedelta(seconds=2)

    Tests pass it to a :class:`LocalRuntime` and move it with
    ``runtime.advance(...)``, which also delivers the timers that fall due.
    """

    __slots__ = ("_ms",)

    def __init__(self, start: timedelta = timedelta(0)) -> None:
        if start < timedelta(0):
            raise DefinitionError(f"VirtualClock: start={start!r} must not be negative")
        self._ms = start // ONE_MS

    def now_ms(self) -> int:
        return self._ms

    @property
    def now(self) -> timedelta:
        """The time since the clock started."""
        return timedelta(milliseconds=self._ms)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta`` (whole milliseconds)."""
        if delta < timedelta(0):
            raise DefinitionError(f"VirtualClock.advance: delta={delta!r} must not be negative")
        self._ms += delta // ONE_MS

    def set_ms(self, ms: int) -> None:
        """Move the clock to ``ms``; it never goes back."""
        if ms > self._ms:
            self._ms = ms

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now!r})"


class RealClock:
    """Wall-clock time (monotonic) since the clock was made; ``statefun run`` uses it.

    >>> RealClock().now_ms() >= 0
    True
    """

    __slots__ = ("_start",)

    def __init__(self) -> None:
        self._start = time.monotonic()

    def now_ms(self) -> int:
        return int((time.monotonic() - self._start) * 1000)

    def __repr__(self) -> str:
        return "RealClock()"
