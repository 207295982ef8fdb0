"""A registry for log tests: every way a request can fail, each with a secret in its data.

Tests send the secret in message payloads and state values; the server's log
must name what failed (function, id, typename, error) and never the secret.
"""

from __future__ import annotations

import msgspec

from statefun import (
    STRING,
    DeadLetters,
    Functions,
    Message,
    Permanent,
    Result,
    State,
    ValueSpec,
    json_type,
)

SECRET = "hunter2-do-not-log"


class Profile(msgspec.Struct, frozen=True):
    pin: int


PROFILE = json_type("test/Profile", Profile)
TOKEN = ValueSpec("token", STRING)
SAVED = ValueSpec("saved", PROFILE)

functions = Functions()


@functions.bind("test/secretive", accepts=STRING, specs=[TOKEN, SAVED])
def secretive(state: State, msg: Message[str]) -> Result:
    """Reads its state (the secret token), then fails on every message."""
    if msg.value == "read saved":
        state.get(SAVED)  # a state value that does not decode
    if state.get(TOKEN) is None:
        return Result(state)
    raise RuntimeError("refused the message")


@functions.bind("test/profile", accepts=PROFILE)
def profile(state: State, msg: Message[Profile]) -> Result:
    """Never runs in these tests: its messages do not decode."""
    return Result(state)


@functions.bind(
    "test/picky", accepts=STRING, on_error=DeadLetters("test/dead-letters", topic="dead")
)
def picky(state: State, msg: Message[str]) -> Result:
    """Sets every message aside as a dead letter."""
    raise Permanent("not this one")
