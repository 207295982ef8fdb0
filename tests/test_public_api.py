"""The public surface: one flat, sorted ``__all__`` that reports itself as ``statefun``."""

from __future__ import annotations

import subprocess
import sys
from types import FunctionType, ModuleType

import msgspec
import pytest

import statefun
import statefun.serdes


def isort_order(name: str) -> tuple[bool, bool, str]:
    """CONSTANTS, then Classes, then functions, each alphabetical (isort's ordering)."""
    return (not name.isupper(), not name[0].isupper(), name)


def public_names(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }


@pytest.mark.parametrize("module", [statefun, statefun.serdes], ids=lambda m: m.__name__)
class TestAll:
    def test_sorted(self, module: ModuleType) -> None:
        assert list(module.__all__) == sorted(module.__all__, key=isort_order)

    def test_no_duplicates(self, module: ModuleType) -> None:
        assert len(set(module.__all__)) == len(module.__all__)

    def test_equals_the_public_names(self, module: ModuleType) -> None:
        assert set(module.__all__) == public_names(module)


def test_dir_shows_only_the_public_names() -> None:
    assert dir(statefun) == sorted(statefun.__all__)


@pytest.mark.parametrize("name", statefun.__all__)
def test_public_objects_report_the_package_as_their_module(name: str) -> None:
    obj = getattr(statefun, name)
    if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
        # msgspec resolves a Struct's annotations in its own module's namespace.
        assert obj.__module__.startswith("statefun._")
        msgspec.structs.fields(obj)  # and so they resolve (Effect has none)
    elif isinstance(obj, (type, FunctionType)):
        assert obj.__module__ == "statefun"
    else:  # the primitive Types are instances
        assert type(obj).__module__ == "statefun"


def test_reprs_say_statefun() -> None:
    assert repr(statefun.Type) == "<class 'statefun.Type'>"
    assert repr(statefun.json_type).startswith("<function json_type")


def test_version() -> None:
    assert statefun.__version__ == "0.1.0"


def test_the_core_imports_no_web_framework() -> None:
    code = (
        "import sys, statefun, statefun.serdes\n"
        "heavy = sorted(m for m in ('aiohttp', 'yaml', 'hypothesis') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
