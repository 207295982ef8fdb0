"""module.yaml from ``statefun module``, run by the real StateFun 3.3 runtime as it was printed.

The harness normally rewrites each job's module.yaml for the run's ports, through PyYAML
(``render_module``), so the JVM would read PyYAML's text instead of ours. Here the file is
generated for the run's ports, and the job is given it byte for byte: the YAML the runtime
parses (SnakeYAML, then Jackson) is the generator's own. That the generator's output for the
documented 8000 and 9092 renders to the same documents is checked too, without a JVM.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from examples.cart.functions import RECEIPT, Receipt
from statefun import DEAD_LETTER

from . import harness
from .conftest import FunctionServerFactory, StatefunJobFactory
from .harness import statefun_job as job_module
from .test_greeter import expected, greet_records, greetings_by_name

pytestmark = pytest.mark.e2e

GREETER = "examples.greeter.functions:functions"
CART = "examples.cart.functions:functions"


def statefun_module(target: str, *argv: str) -> str:
    """What ``statefun module TARGET ARGV...`` prints, run as users run it."""
    done = subprocess.run(
        [sys.executable, "-m", "statefun", "module", target, *argv],
        cwd=harness.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


def documents(text: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def module_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "module"
    folder.mkdir()
    (folder / "module.yaml").write_text(text)
    return folder


def run_ports(run: harness.RunDir) -> tuple[str, str]:
    """The function URL and the Kafka address of this run."""
    ports = run.ports
    return f"http://{harness.HOST}:{ports.function}/statefun", f"{harness.HOST}:{ports.kafka}"


@pytest.fixture
def verbatim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs get their module.yaml as written, once it is known to point at this run already."""

    def render(text: str, kafka: str, function: str) -> str:
        assert documents(harness.render_module(text, kafka, function)) == documents(text)
        return text

    monkeypatch.setattr(job_module, "render_module", render)


@pytest.mark.e2e_timeout(180)
@pytest.mark.usefixtures("verbatim")
def test_the_generated_module_runs_the_greeter(
    kafka: harness.KafkaBroker,
    e2e_run: harness.RunDir,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
    tmp_path: Path,
) -> None:
    options = [
        *("--ingress", "names=example/person", "--egress", "example/greets"),
        *("--startup-position", "earliest", "--call-timeout", "30s"),
    ]
    url, address = run_ports(e2e_run)
    text = statefun_module(GREETER, "--url", url, "--kafka-address", address, *options)
    # The command as the README gives it, with the documented ports, is the same module.
    documented = statefun_module(
        GREETER,
        "--url",
        "http://127.0.0.1:8000/statefun",
        "--kafka-address",
        "127.0.0.1:9092",
        *options,
    )
    function = url.split("/")[2]
    assert documents(harness.render_module(documented, address, function)) == documents(text)

    kafka.reset_topics(["names", "greetings"])
    function_server(harness.serve_argv(GREETER))
    job = statefun_job(module_dir(tmp_path, text))
    kafka.produce("names", greet_records(["Ana", "Bo"], rounds=2))

    got = kafka.consume("greetings", count=4, timeout=90, settle=3)
    job.check_alive()
    assert greetings_by_name(got) == expected(["Ana", "Bo"], 1, 2), f"got {got!r}"


@pytest.mark.e2e_timeout(240)
@pytest.mark.usefixtures("verbatim")
def test_the_generated_module_runs_the_cart_with_okhttp_exactly_once_and_dead_letters(
    kafka: harness.KafkaBroker,
    e2e_run: harness.RunDir,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
    tmp_path: Path,
) -> None:
    """The other transport (with the timeouts a short call needs), three routes of one function,
    exactly-once egress and the dead-letter egress, found in the registry and never named."""
    url, address = run_ports(e2e_run)
    text = statefun_module(
        CART,
        *("--url", url, "--kafka-address", address, "--transport", "okhttp"),
        *("--call-timeout", "5s", "--connect-timeout", "2s", "--max-batch", "100"),
        *(
            "--ingress",
            "cart-add:shop/Add=shop/cart",
            "--ingress",
            "cart-remove:shop/Remove=shop/cart",
        ),
        *("--ingress", "cart-checkout:shop/Checkout=shop/cart", "--consumer-group", "cart-e2e"),
        *("--startup-position", "earliest", "--egress", "shop/receipts", "--exactly-once"),
    )
    assert "shop/dead-letters" in [doc["spec"]["id"] for doc in documents(text)[2:]]

    kafka.reset_topics(["cart-add", "cart-remove", "cart-checkout", "receipts", "dead-letters"])
    function_server(harness.serve_argv(CART))
    job = statefun_job(module_dir(tmp_path, text), restart_attempts=0)
    kafka.produce(
        "cart-add",
        [
            ("ana", json.dumps({"sku": "tea", "quantity": 2})),
            ("ana", json.dumps({"sku": "cake"})),
            ("ana", json.dumps({"sku": "tea", "quantity": "lots"})),  # not an Add
        ],
    )
    # Topics are separate streams: check out once the last add, the bad one, is set aside.
    letters = kafka.consume("dead-letters", count=1, timeout=90)
    assert [DEAD_LETTER.decode(value).value for _, value in letters] == [
        b'{"sku": "tea", "quantity": "lots"}'
    ]
    kafka.produce("cart-checkout", [("ana", "{}")])

    receipts = kafka.consume("receipts", count=1, timeout=90, settle=3)
    letters = kafka.consume("dead-letters", count=1, timeout=10, settle=2)
    job.check_alive()
    assert job.process is not None
    assert "RESTARTING" not in job.process.log_path.read_text(errors="replace")
    # read_committed: exactly-once egress shows each record once, when its checkpoint is done.
    assert [RECEIPT.decode(value) for _, value in receipts] == [
        Receipt("ana", {"tea": 2, "cake": 1})
    ]
    assert len(letters) == 1
