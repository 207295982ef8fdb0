"""A registry for `statefun serve` tests whose function waits for the test to let it answer.

A message to ``test/gated`` names a folder. The function creates ``started`` in
it, waits until the test creates ``release``, then answers with one egress
record, ``released <folder>``. So a test knows a request is in flight, and keeps
it there as long as it likes, with no sleep in the test.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from statefun import STRING, Egress, Functions, Message, Result, State

# A hang guard only: a test that never releases the gate fails here instead
# of waiting for ever. Past the handler's own 30 s invocation timeout on purpose.
_GIVE_UP_SECONDS = 120.0
_POLL_SECONDS = 0.01

functions = Functions()


@functions.bind("test/gated", accepts=STRING)
async def gated(state: State, msg: Message[str]) -> Result:
    folder = Path(msg.value)
    (folder / "started").touch()
    waited = 0.0
    while not (folder / "release").exists():
        if waited > _GIVE_UP_SECONDS:
            raise TimeoutError(f"{folder / 'release'} was never created")
        await asyncio.sleep(_POLL_SECONDS)
        waited += _POLL_SECONDS
    return Result(state, [Egress("test/out", STRING, f"released {folder}")])


@functions.bind("test/pid", accepts=STRING)
def pid(state: State, msg: Message[str]) -> Result:
    """Answers ``<pid> <event loop class's module>``: which worker, on which loop.

    Given a folder, it first writes its pid to ``started`` there and blocks its
    whole event loop (a plain ``def``, sleeping) until ``release`` appears: that
    worker then accepts nothing, so any other request must be another's.
    """
    me = f"{os.getpid()} {type(asyncio.get_running_loop()).__module__}"
    if msg.value:
        folder = Path(msg.value)
        # Written whole, then renamed: the test polls for `started` and reads it at once.
        (folder / "started.tmp").write_text(me)
        (folder / "started.tmp").rename(folder / "started")
        waited = 0.0
        while not (folder / "release").exists():
            if waited > _GIVE_UP_SECONDS:
                raise TimeoutError(f"{folder / 'release'} was never created")
            time.sleep(_POLL_SECONDS)
            waited += _POLL_SECONDS
    return Result(state, [Egress("test/out", STRING, me)])
