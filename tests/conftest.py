"""Settings shared by every test.

Hypothesis runs without a deadline: unit tests assert behaviour, never timing,
and a slow CI machine must not turn a correct example into a failure. A failing
example is printed with the blob that replays it (``@reproduce_failure``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("statefun", deadline=None, print_blob=True)
settings.load_profile("statefun")


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A fresh folder with a short path: a Unix socket's path may have only 107 bytes
    (Linux), which pytest's ``tmp_path`` with a long test name can exceed."""
    folder = Path(tempfile.mkdtemp(prefix="sf-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
