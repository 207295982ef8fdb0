"""module.yaml, read as StateFun 3.x reads it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from statefun.local import Module, ModuleError
from statefun.local._module import Egress, Endpoint, IngressTopic, parse_runtime_typename

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_the_greeter_module() -> None:
    assert Module.load(EXAMPLES / "greeter" / "module.yaml") == Module(
        endpoints=(Endpoint("example/*", "http://127.0.0.1:8000/statefun"),),
        topics=(
            IngressTopic("example/names", "names", "example/GreetRequest", ("example/person",)),
        ),
        egresses=(Egress("example/greets", "kafka"),),
    )


def test_the_timeouts_module() -> None:
    module = Module.load(EXAMPLES / "timeouts" / "module.yaml")
    assert module.routes("timeouts-in")[0].targets == ("example/timeouts",)
    assert module.egress("example/timeouts-out") == Egress("example/timeouts-out", "kafka")


MODULE = """
kind: io.statefun.endpoints.v2/http
spec: {functions: "a/*", urlPathTemplate: "http://x/{function.name}"}
---
kind: io.statefun.endpoints.v1/http
spec: {functions: a/special, urlPathTemplate: "http://y/", maxNumBatchRequests: 10}
---
---
kind: io.statefun.kinesis.v1/egress
spec: {id: a/stream}
---
kind: io.statefun.kinesis.v1/ingress
spec: {id: a/in}
"""


class TestEndpoints:
    module = Module.parse(MODULE)

    def test_an_exact_type_wins_over_a_namespace(self) -> None:
        assert self.module.endpoint("a/special") == Endpoint("a/special", "http://y/", 10)
        assert self.module.endpoint("a/other") == Endpoint("a/*", "http://x/{function.name}")
        assert self.module.endpoint("b/other") is None

    def test_url_template(self) -> None:
        assert Endpoint("a/*", "http://x/{function.name}").url("a/fn") == "http://x/fn"

    def test_kinesis_egress(self) -> None:
        assert self.module.egress("a/stream") == Egress("a/stream", "kinesis")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: '3.0'\nmodule: {}", "the legacy single-document format"),
        (
            "kind: io.statefun.nope/thing\nspec: {}",
            "unknown component kind `io.statefun.nope/thing`",
        ),
        (
            "kind: io.statefun.endpoints.v2/http\nspec: {functions: a/b/c, urlPathTemplate: u}",
            "'a/b/c' is not a valid typename",
        ),
        (
            "kind: io.statefun.endpoints.v2/http\nspec: {functions: 'a/b*', urlPathTemplate: u}",
            "may only use `*` as the whole name",
        ),
        (
            "kind: io.statefun.endpoints.v2/http\nspec: {functions: a/b}",
            "`urlPathTemplate` must be a non-empty string",
        ),
        (
            "kind: io.statefun.kafka.v1/ingress\nspec: {id: a/in}",
            "`topics` must be a non-empty list",
        ),
        (
            "kind: io.statefun.kafka.v1/ingress\nspec: {id: a/in, topics: [{topic: t, valueType: v, targets: [a/]}]}",
            "'a/' is not a valid typename",
        ),
        ("kind: io.statefun.kafka.v1/egress\nspec: {}", "`id` must be a non-empty string"),
        ("- just a list", "expected a mapping with `kind` and `spec`"),
        ("kind: [", "not valid YAML"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ModuleError, match=re.escape(message)):
        Module.parse(text)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModuleError, match="cannot read module file"):
        Module.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a/b", ("a", "b")), ("/b", ("", "b")), ("a.b.c/D", ("a.b.c", "D")), ("a/b/", ("a", "b"))],
)
def test_runtime_typenames(text: str, parts: tuple[str, str]) -> None:
    assert parse_runtime_typename(text) == parts


@pytest.mark.parametrize("text", ["a/b/c", "a//b", "a/", "ab", ""])
def test_runtime_typenames_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_runtime_typename(text)


def test_the_runtime_imports_yaml_and_aiohttp_only_when_used() -> None:
    code = (
        "import sys, statefun.local;"
        " print(sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'aiohttp', 'hypothesis')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_without_pyyaml_loading_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from statefun.local import Module\n"
        "try:\n    Module.parse('')\n"
        "except ImportError as e:\n    print(e)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert (
        out.strip()
        == "reading module.yaml needs PyYAML (the `local` extra): pip install pyyaml, or pip install -e '.[local]' in the SDK's checkout"
    )


def test_statefun_run_without_pyyaml_is_one_line() -> None:
    # A `statefun run` whose interpreter has no PyYAML: one line, exit 2, no traceback.
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from statefun.cli import main\n"
        f"sys.exit(main(['run', {str(EXAMPLES / 'greeter' / 'module.yaml')!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "statefun: error: reading module.yaml needs PyYAML (the `local` extra): pip install"
        " pyyaml, or pip install -e '.[local]' in the SDK's checkout\n"
    )
