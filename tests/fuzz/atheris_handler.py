"""Coverage-guided fuzzing of ``Handler.answer`` with atheris (libFuzzer), where it installs.

``pip install atheris`` (a wheel exists for CPython 3.11 on x86-64 Linux; it is
not a dev dependency). Then::

    scripts/fuzz --atheris -runs=200000        # seeds from tests/fuzz/corpus.py
    .venv/bin/python -m tests.fuzz.atheris_handler crash-<sha1>   # replay a crash file

Each input must get what ``tests/fuzz/model.py`` expects; anything else raises,
and libFuzzer writes the input to ``crash-<sha1>`` in the working directory.
Coverage is of the Python code in ``statefun`` (upb, in C, is not instrumented).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import atheris  # pyright: ignore[reportMissingModuleSource]  # optional: a stub in typings/

with atheris.instrument_imports(include=["statefun"]):
    from statefun import Handler

    from .corpus import corpus
    from .model import attempt, fuzz_functions, problems

FUNCTIONS = fuzz_functions()
HANDLER = Handler(FUNCTIONS)
LOOP = asyncio.new_event_loop()


def test_one_input(data: bytes) -> None:
    got = LOOP.run_until_complete(attempt(HANDLER, data))
    problem = problems(data, got, FUNCTIONS)
    if problem is not None:
        raise AssertionError(problem) from (got if isinstance(got, Exception) else None)


def main() -> None:
    if sys.argv[1:2] == ["--write-seeds"]:
        directory = Path(sys.argv[2])
        directory.mkdir(parents=True, exist_ok=True)
        for index, seed in enumerate(corpus()):
            (directory / f"seed-{index:03}").write_bytes(seed)
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
