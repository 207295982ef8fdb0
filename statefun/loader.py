"""What the ``statefun`` commands share: finding a registry by ``MODULE:ATTR``, and their error.

A leaf of the shell: :mod:`statefun.cli` (``main``, ``statefun serve``) and the
``statefun run`` command of :mod:`statefun.local` both import it, and it imports
neither, so the two commands never import each other. ``main`` alone turns a
:class:`CliError` into one line on stderr and an exit status.

>>> load_functions("examples.greeter.functions:functions")
Functions(example/person, example/greeter)
"""

from __future__ import annotations

import importlib
import os
import sys

from ._errors import StatefunError
from ._registry import Functions

__all__ = ("CliError", "load_functions")


class CliError(StatefunError):
    """Raised for what a ``statefun`` command reports as ``statefun: error: <message>``.

    Used for a bad command line, module, registry or input line (``status`` 2, the
    default), and for a ``statefun run`` that the runtime would fail (``status`` 1).
    """

    def __init__(self, message: str, *, status: int = 2) -> None:
        self.status = status
        super().__init__(message)


def load_functions(target: str) -> Functions:
    """Import ``module.path:attribute`` and return the :class:`statefun.Functions` it names.

    Like uvicorn, modules in the working directory are importable. Raises
    :class:`CliError` for a target that is not ``MODULE:ATTR``, a module that
    cannot be imported (missing, or raising ``ImportError`` itself), a missing
    attribute, or an attribute that is not a registry.
    """
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise CliError(
            f"expected MODULE:ATTRIBUTE (e.g. examples.greeter.functions:functions), got {target!r}"
        )
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and _is_part_of(exc.name, module_name):
            raise CliError(f"cannot import module {module_name!r}: {exc}") from None
        # The module exists but an import inside it fails: a problem to fix
        # there, named with where it happened.
        raise CliError(
            f"module {module_name!r} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise CliError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(value, Functions):
        raise CliError(
            f"{target} is a {type(value).__name__}, expected a statefun.Functions registry"
        )
    return value


def _is_part_of(missing: str | None, module_name: str) -> bool:
    """Whether the module that was not found is ``module_name`` or one of its parents."""
    return missing is not None and (module_name == missing or module_name.startswith(missing + "."))
