"""Hatchling build hook: the editable install names a folder that holds only `statefun`.

`pip install -e .` writes a .pth naming build/editable/ (pyproject.toml's dev-mode-dirs),
and this hook puts a symlink to statefun/ there. mypy and pyright follow a plain path in a
.pth, so they see the package; and only `statefun` becomes importable, not this checkout's
tests/, examples/ or bench/, which would hide a user's own `tests` folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc, type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version != "editable":
            return
        folder = Path(self.root) / "build" / "editable"
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / "statefun"
        if not link.is_symlink():
            os.symlink(Path("..") / ".." / "statefun", link)
