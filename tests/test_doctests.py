"""Every ``>>>`` example in the package's docstrings runs, and prints what it shows.

Each module of ``statefun`` (the generated protobuf code aside) is searched for
doctests, which run against the module's own globals plus a namespace shared by
all of them (:func:`namespace`): the public names of ``statefun`` and
``statefun.local``, the README's greeter (``GREET``, ``GreetRequest``,
``VISITS``, ``functions``...), ``timedelta`` and ``msgspec``. A docstring that
needs a runtime finds a fresh ``LocalRuntime(functions)`` as ``runtime``;
anything else it uses (the cart, the timeouts example), it imports or defines.
They run in the checkout's root, so ``"examples/greeter/module.yaml"`` is found.

``statefun/__init__.py`` sets ``__module__`` of the public classes and functions
to ``statefun`` (``statefun.local`` does the same), which is where doctest's
finder looks to decide whether an object belongs to the module it searches: by
itself it would skip ``Address`` in ``statefun._address`` and run it under
``statefun`` instead. :class:`Finder` decides by where the source defines the
object, and the number of examples found in each module must equal the number
of ``>>>`` lines in its source, so none is missed.
"""

from __future__ import annotations

import ast
import doctest
import functools
import importlib
import inspect
import pkgutil
import re
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import msgspec
import pytest
from hypothesis.errors import NonInteractiveExampleWarning

import examples.greeter.functions as greeter
import statefun
import statefun.local

ROOT = Path(__file__).parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# Not imported: `python -m statefun` runs the CLI on import.
SKIPPED = {"statefun.__main__"}


def module_names(package: ModuleType = statefun) -> Iterator[str]:
    """``package`` and every module under it, the generated code left out."""
    yield package.__name__
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        if info.name.endswith("._generated") or info.name in SKIPPED:
            continue
        if info.ispkg:
            yield from module_names(importlib.import_module(info.name))
        else:
            yield info.name


MODULES = sorted(module_names())


@functools.cache
def owners() -> dict[int, str]:
    """The module each top-level class and function of the package is defined in, by id."""
    owner: dict[int, str] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for node in ast.parse(inspect.getsource(module)).body:
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name in vars(module):  # not a helper deleted after use
                owner[id(vars(module)[node.name])] = name
    return owner


class Finder(doctest.DocTestFinder):
    """A DocTestFinder that takes each object from the module whose source defines it."""

    def __init__(self, owner: dict[int, str]) -> None:
        super().__init__(exclude_empty=True)
        self._owner = owner

    def _from_module(self, module: ModuleType | None, obj: object) -> bool:
        # Called for each class and function of the module, and for each method,
        # property and nested class of a class already taken.
        if module is None:
            return True
        if id(obj) in self._owner:
            return self._owner[id(obj)] == module.__name__
        if isinstance(obj, property):
            return True
        # An import, or a member that only kept its own __module__.
        return getattr(obj, "__module__", None) == module.__name__


def namespace() -> dict[str, object]:
    """The names every docstring may use without defining them."""
    names: dict[str, object] = {name: getattr(statefun, name) for name in statefun.__all__}
    names.update({name: getattr(statefun.local, name) for name in statefun.local.__all__})
    names.update(timedelta=timedelta, msgspec=msgspec)
    for name in ("GREET", "VISITS", "GreetRequest", "functions", "greeter", "person"):
        names[name] = getattr(greeter, name)
    return names


def find(module: ModuleType) -> list[doctest.DocTest]:
    # The module's own names win: `Egress` in statefun.local._module is its egress spec.
    globs = {**namespace(), **vars(module)}
    tests = Finder(owners()).find(module, module.__name__, module=module, globs=globs)
    return sorted(tests, key=lambda test: test.lineno or 0)


def prompts(module: ModuleType) -> int:
    """How many ``>>>`` lines the module's source has."""
    return len(re.findall(r"^\s*>>>", inspect.getsource(module), re.MULTILINE))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(name)
    tests = find(module)
    assert sum(len(test.examples) for test in tests) == prompts(module)
    monkeypatch.chdir(ROOT)  # the examples name files as the README does: examples/...
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in tests:
        with statefun.local.LocalRuntime(greeter.functions) as runtime:
            test.globs["runtime"] = runtime
            with warnings.catch_warnings():
                # .example() is for the REPL, and says so outside one.
                warnings.simplefilter("ignore", NonInteractiveExampleWarning)
                runner.run(test, out=report.append, clear_globs=True)
    assert runner.failures == 0, "".join(report)


def test_the_examples_are_many() -> None:
    found = {
        name: sum(len(t.examples) for t in find(importlib.import_module(name))) for name in MODULES
    }
    assert sum(found.values()) >= 100
    assert sum(1 for count in found.values() if count) >= 20
