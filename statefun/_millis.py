"""The protocol's unit of time: it counts delays and expiry in whole milliseconds.

``delay_in_ms`` and ``expire_after_millis`` are integers, so every ``timedelta``
becomes ``delta // ONE_MS``, sub-millisecond parts dropped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

__all__ = ("ONE_MS",)

ONE_MS: Final = timedelta(milliseconds=1)
