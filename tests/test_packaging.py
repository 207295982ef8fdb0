"""The package as users install it: from this checkout, editable or as a built wheel.

A type checker never runs import hooks. An editable install that reaches the package
through one (setuptools' default) leaves ``mypy --strict`` outside the checkout with
``Cannot find implementation or library stub for module named "statefun"`` and every
bound function untyped. So a fresh virtualenv gets the README's install command, and
mypy and pyright, both strict, check a small app in a folder of its own: it must pass,
and its copy with one wrong type must fail on exactly that line, which proves the
checkers read the package's annotations rather than treating it as ``Any``.

The checkers are this environment's, pointed at the fresh interpreter, which is how
they find packages when installed beside them. pip installs the dependencies from its
cache or the index; ``python -m build`` fetches the build backend the same way.
"""

from __future__ import annotations

import email.parser
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
WHEEL = "statefun_sdk-0.1.0-py3-none-any.whl"
SDIST = "statefun_sdk-0.1.0.tar.gz"

APP = '''\
"""A user's app: the public API only."""

from __future__ import annotations

import msgspec

from statefun import INT, Address, Functions, Message, Result, Send, State, ValueSpec, json_type


class Greet(msgspec.Struct, frozen=True):
    name: str


GREET = json_type("example/Greet", Greet)
VISITS = ValueSpec("visits", INT)

functions = Functions()


@functions.bind("example/person", accepts=GREET, specs=[VISITS])
def person(state: State, msg: Message[Greet]) -> Result:
    visits = (state.get(VISITS) or 0) + 1
    greeter = Address("example/greeter", msg.value.name)
    return Result(state.set(VISITS, visits), [Send(greeter, GREET, msg.value)])


def count(state: State) -> int:
    return state.get(VISITS) or 0
'''
GOOD_LINE = "    return Result(state.set(VISITS, visits), [Send(greeter, GREET, msg.value)])"
BAD_LINE = "    return Result(state.set(VISITS, str(visits)), [Send(greeter, GREET, msg.value)])"
# 1-based, as mypy counts; pyright's JSON counts from 0.
BAD_LINENO = APP.splitlines().index(GOOD_LINE) + 1

MYPY_ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: ")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)


if sys.version_info >= (3, 11):
    import tomllib

    def pyproject() -> dict[str, Any]:
        return tomllib.loads((ROOT / "pyproject.toml").read_text())

else:

    def pyproject() -> dict[str, Any]:
        pytest.skip("reads pyproject.toml with tomllib, new in Python 3.11")


def normalized(requirements: list[str]) -> list[tuple[str, str, str]]:
    parsed = map(Requirement, requirements)
    return sorted((canonicalize_name(r.name), str(r.specifier), str(r.marker)) for r in parsed)


def check(args: list[str], cwd: Path) -> str:
    done = run(args, cwd)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel `python -m build` builds from it (so the sdist is complete)."""
    out = tmp_path_factory.mktemp("dist")
    check([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=out)
    assert {p.name for p in out.iterdir()} == {SDIST, WHEEL}
    return out


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare virtualenv's python: nothing of this environment's site-packages is visible."""
    path = tmp_path_factory.mktemp("venv")
    check([sys.executable, "-m", "venv", str(path)], cwd=path)
    return path / "bin" / "python"


class Installed(NamedTuple):
    kind: str
    python: Path


@pytest.fixture(scope="module", params=["editable", "wheel"])
def installed(request: pytest.FixtureRequest, venv: Path) -> Installed:
    """The venv's python with the package installed the way the README says."""
    pip = [str(venv), "-m", "pip", "--disable-pip-version-check", "-q"]
    check([*pip, "uninstall", "-y", "statefun-sdk"], cwd=ROOT)
    if request.param == "editable":
        check([*pip, "install", "-e", ".[local]"], cwd=ROOT)
    else:
        dist: Path = request.getfixturevalue("dist")
        check([*pip, "install", f"{dist / WHEEL}[local]"], cwd=dist)
    return Installed(request.param, venv)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the checkout with the app, its broken twin and a strict pyright config."""
    path = tmp_path_factory.mktemp("app")
    (path / "app.py").write_text(APP)
    (path / "bad.py").write_text(APP.replace(GOOD_LINE, BAD_LINE))
    (path / "pyrightconfig.json").write_text(
        json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.10"})
    )
    return path


def test_the_broken_twin_differs_in_one_line() -> None:
    assert APP.count(GOOD_LINE) == 1
    assert APP.replace(GOOD_LINE, BAD_LINE).splitlines()[BAD_LINENO - 1] == BAD_LINE


def test_mypy_strict_sees_the_installed_types(installed: Installed, app: Path) -> None:
    done = run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file=",
            "--strict",
            "--python-executable",
            str(installed.python),
            "--cache-dir",
            str(app / f".mypy_cache-{installed.kind}"),
            "--no-pretty",
            "--no-color-output",
            "--no-error-summary",
            "app.py",
            "bad.py",
        ],
        app,
    )
    errors = [
        (m["file"], int(m["line"])) if (m := MYPY_ERROR.match(line)) else line
        for line in done.stdout.splitlines()
    ]
    assert (errors, done.stderr) == ([("bad.py", BAD_LINENO)], ""), done.stdout


def test_pyright_strict_sees_the_installed_types(installed: Installed, app: Path) -> None:
    done = run(
        [
            sys.executable,
            "-m",
            "pyright",
            "--outputjson",
            "--pythonpath",
            str(installed.python),
            "app.py",
            "bad.py",
        ],
        app,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    diagnostics = report["generalDiagnostics"]
    where = [(Path(d["file"]).name, d["range"]["start"]["line"] + 1) for d in diagnostics]
    assert where == [("bad.py", BAD_LINENO)], diagnostics


def test_no_install_exposes_the_checkouts_other_folders(installed: Installed, app: Path) -> None:
    # The editable .pth names src-editable/ (a symlink to statefun/ only), not the checkout:
    # a user's own `tests` folder must not be hidden by ours.
    probe = "import importlib.util as u; print([m for m in ('tests', 'examples', 'bench') if u.find_spec(m)])"
    assert check([str(installed.python), "-c", probe], cwd=app) == "[]\n"


def test_a_users_own_tests_folder_wins(installed: Installed, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "helpers.py").write_text("HELPER = 'mine'\n")
    probe = "from tests.helpers import HELPER; import statefun; print(HELPER)"
    assert check([str(installed.python), "-c", probe], cwd=project) == "mine\n"


def test_the_wheel_holds_the_package_and_nothing_else(dist: Path) -> None:
    with zipfile.ZipFile(dist / WHEEL) as wheel:
        names = set(wheel.namelist())
    package = {name for name in names if name.startswith("statefun/")}
    assert names - package == {
        f"statefun_sdk-0.1.0.dist-info/{name}"
        for name in ("METADATA", "WHEEL", "RECORD", "entry_points.txt")
    }
    on_disk = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "statefun").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert package == on_disk
    assert {"statefun/py.typed", "statefun/_generated/request_reply_pb2.pyi"} <= package


def test_the_wheel_keeps_what_pyproject_declares(dist: Path) -> None:
    project = pyproject()["project"]
    with zipfile.ZipFile(dist / WHEEL) as wheel:
        metadata = email.parser.Parser().parsestr(
            wheel.read("statefun_sdk-0.1.0.dist-info/METADATA").decode()
        )
        entry_points = wheel.read("statefun_sdk-0.1.0.dist-info/entry_points.txt").decode()
    assert metadata["Name"] == project["name"]
    assert metadata["Requires-Python"] == project["requires-python"]
    extras = project["optional-dependencies"]
    assert sorted(metadata.get_all("Provides-Extra") or []) == sorted(extras)
    declared = [
        *project["dependencies"],
        *(f'{dep}; extra == "{extra}"' for extra, deps in extras.items() for dep in deps),
    ]
    # Backends may reorder requirements and their specifiers (`<8,>=3.20`).
    assert normalized(metadata.get_all("Requires-Dist") or []) == normalized(declared)
    assert "[console_scripts]\nstatefun = statefun.cli:main\n" in entry_points
    assert "[pytest11]\nstatefun = statefun.testing.pytest_plugin\n" in entry_points


def test_the_sdist_holds_the_sources_and_tests(dist: Path) -> None:
    with tarfile.open(dist / SDIST) as sdist:
        names = {name.partition("/")[2] for name in sdist.getnames()}
    tops = {name.partition("/")[0] for name in names if name}
    assert tops == {
        "PKG-INFO",
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "statefun",
        "tests",
        "examples",
        "typings",
        "protos",
        "scripts",
    }
