"""The missing-state handshake after a restart from a savepoint (issue 3, test 6).

``e2e/counter`` (``tests/e2e/apps/handshake``) counts notes. Version 1 declares ``count``;
the job is cancelled with a savepoint and restored, now with version 2 of the function server,
which also declares ``notes``.

protocol.md §1.10: the runtime keeps the registered states in memory only, so the first
request after the restore carries no state at all; the SDK must answer
``IncompleteInvocationContext`` listing both specs, and the runtime then registers them
(``count`` comes back from the savepoint by name, ``notes`` is new) and re-sends the batch.
Shown three ways: the count continues, the new spec is written and read back, and the
function server's request log (``E2E-HANDSHAKE`` lines, see ``server.py``) shows the
handshake.
"""

from __future__ import annotations

import json
import sys
import uuid

import pytest

from statefun import STRING

from . import harness
from .apps.handshake.functions import OUT, REPORT, Report
from .apps.handshake.server import MARK
from .conftest import FunctionServerFactory, StatefunJobFactory

pytestmark = pytest.mark.e2e

MODULE = harness.HERE / "apps" / "handshake"
SERVE = [
    sys.executable,
    "-m",
    "tests.e2e.apps.handshake.server",
    "--port",
    harness.PORT_ARG,
]
IN = "e2e-counter-in"


def handshakes(server: harness.FunctionServer, key: str) -> list[dict[str, object]]:
    """The server's request log for ``key``, in order."""
    out: list[dict[str, object]] = []
    for line in server.log_text().splitlines():
        if line.startswith(MARK + " "):
            entry: dict[str, object] = json.loads(line[len(MARK) + 1 :])
            if str(entry["target"]).endswith("/" + key):
                out.append(entry)
    return out


@pytest.mark.e2e_timeout(240)
def test_state_survives_a_restore_and_new_specs_are_registered(
    kafka: harness.KafkaBroker,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
) -> None:
    kafka.reset_topics([IN, OUT])
    key = f"counter-{uuid.uuid4().hex[:8]}"

    def reports(count: int) -> list[Report]:
        got = kafka.consume(OUT, count=count, timeout=60, settle=1)
        return [REPORT.decode(v) for k, v in got if k == key.encode()]

    # version 1: one spec
    v1 = function_server(SERVE, env={"E2E_HANDSHAKE_VERSION": "1"}, name="function-v1")
    job = statefun_job(MODULE)
    kafka.produce(IN, [(key, STRING.encode("a")), (key, STRING.encode("b"))])
    assert reports(2) == [Report(1, 1, None), Report(1, 2, None)]
    first = handshakes(v1, key)[0]
    assert (first["states"], first["missing"]) == ({}, ["count"]), first

    # savepoint, cancel; version 2 (one more spec) behind the restored job
    savepoint = job.cancel_with_savepoint()
    v1.stop()
    v2 = function_server(SERVE, env={"E2E_HANDSHAKE_VERSION": "2"}, name="function-v2")
    restored = statefun_job(MODULE, savepoint=savepoint)
    kafka.produce(IN, [(key, STRING.encode("c")), (key, STRING.encode("d"))])
    got = reports(4)
    restored.check_alive()

    # the count continues from the savepoint; the new spec is written, then read back
    assert got == [
        Report(1, 1, None),
        Report(1, 2, None),
        Report(2, 3, ["c"]),
        Report(2, 4, ["c", "d"]),
    ], got

    # the handshake, as the version-2 server saw it
    log = handshakes(v2, key)
    assert len(log) >= 2, log
    incomplete, retried = log[0], log[1]
    assert incomplete["states"] == {}, (
        f"the first request after the restore carried states: {incomplete}"
    )
    assert incomplete["missing"] == ["count", "notes"], incomplete
    assert retried["states"] == {"count": True, "notes": False}, (
        retried
    )  # count restored, notes new
    assert retried["missing"] == [] and retried["mutations"], retried
    assert retried["invocations"] == incomplete["invocations"], "the retry re-sends the same batch"
    assert all(entry["missing"] == [] for entry in log[1:]), log
