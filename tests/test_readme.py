"""Every Python block of README.md is a module: type-checked strictly, and run.

A block is written to a file of its own; mypy --strict and pyright strict must
find nothing in it, and pytest runs it (importing it runs its code, and its
``test_*`` functions run as tests). So the README cannot show code that does
not work, or that a user's type checker would reject.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[int, str]]:
    """(line number, code) of each ```python block, in order."""
    text = README.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m["code"]) for m in BLOCK.finditer(text)]


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("readme")
    paths: list[Path] = []
    for line, code in blocks():
        path = folder / f"readme_line_{line}.py"
        path.write_text(code)
        paths.append(path)
    return paths


def test_the_readme_has_its_blocks() -> None:
    found = blocks()
    assert len(found) >= 5
    assert all(code.strip() for _, code in found)


def test_mypy_strict_accepts_every_block(modules: list[Path]) -> None:
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--no-incremental",
            "--hide-error-context",
            *map(str, modules),
        ]
    )
    assert (stdout if status else "", stderr) == ("", "")


def test_pyright_strict_accepts_every_block(modules: list[Path]) -> None:
    pyright = Path(sys.executable).with_name("pyright")
    if not pyright.exists():
        pytest.fail(f"pyright is not installed beside {sys.executable}: pip install -e '.[dev]'")
    config = modules[0].parent / "pyrightconfig.json"
    config.write_text(
        '{"typeCheckingMode": "strict", "pythonVersion": "3.10",'
        f' "extraPaths": ["{ROOT}"], "reportPrivateUsage": false}}'
    )
    done = subprocess.run(
        [
            str(pyright),
            "--pythonpath",
            sys.executable,
            "--project",
            str(config),
            *map(str, modules),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_block_runs(modules: list[Path]) -> None:
    tests = sum(len(re.findall(r"^def test_", p.read_text(), re.MULTILINE)) for p in modules)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "--rootdir",
            str(modules[0].parent),
            *map(str, modules),
        ],
        cwd=ROOT,  # the blocks use examples/ and its module.yaml files
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{tests} passed" in done.stdout, done.stdout
