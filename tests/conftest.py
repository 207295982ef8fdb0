"""Settings shared by every test.

Hypothesis runs without a deadline: unit tests assert behaviour, never timing,
and a slow CI machine must not turn a correct example into a failure. A failing
example is printed with the blob that replays it (``@reproduce_failure``).
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("statefun", deadline=None, print_blob=True)
settings.load_profile("statefun")
