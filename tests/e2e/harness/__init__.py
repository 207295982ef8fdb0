"""End-to-end harness: real StateFun 3.3.0 runtime (Flink 1.16.2 MiniCluster) + Kafka (KRaft).

Everything here binds to 127.0.0.1 and is stopped by PID when the harness exits.

Pieces (all usable without pytest; ``conftest.py`` wraps them in fixtures), one module each:

* ``fetch`` -- :func:`fetch_runtime` fetches the jars once into a version-keyed cache outside
  the clone.
* ``processes`` -- :class:`RunDir`, the per-run folder each process logs into;
  :class:`ManagedProcess`. ``signals`` -- the safety net: the first SIGTERM/SIGHUP/Ctrl-C
  interrupts, later ones do not cut the stopping of the children short.
* ``kafka_broker`` -- :class:`KafkaBroker`, a single-node KRaft broker plus small kafka-python
  helpers.
* ``statefun_job`` -- :class:`StatefunJob`, ``CliFrontend run -t local`` with a module.yaml
  folder on the classpath; wait until RUNNING, savepoint + cancel, restart from a savepoint.
* ``function_server`` -- :class:`FunctionServer`, any argv (e.g. ``python -m statefun serve
  ...``); wait for its port, SIGKILL and restart it.
* ``ports`` -- :class:`Ports`: no port is fixed; each run picks free ones (``run.ports``) and
  the job gets its module.yaml rendered with them.

Command line (used by ``scripts/e2e``)::

    python -m tests.e2e.harness fetch          # warm the cache, print where it is
    python -m tests.e2e.harness up MODULE_DIR  # Kafka + StateFun with MODULE_DIR/module.yaml, until Ctrl-C
"""

from __future__ import annotations

from .common import (
    FLINK_VERSION,
    HERE,
    HOST,
    REPO_ROOT,
    STATEFUN_VERSION,
    HarnessError,
    log,
    wait_until,
)
from .fetch import Runtime, fetch_runtime
from .function_server import PORT_ARG, FunctionServer, serve_argv
from .kafka_broker import KafkaBroker, Received
from .ports import Ports, pick_port
from .processes import (
    ManagedProcess,
    RunDir,
    error_summary,
    run_until_signalled,
    stop_all_processes,
    tail,
)
from .signals import install_sigterm_handler, shielded
from .statefun_job import StatefunJob, render_module

__all__ = [
    "FLINK_VERSION",
    "HERE",
    "HOST",
    "PORT_ARG",
    "REPO_ROOT",
    "STATEFUN_VERSION",
    "FunctionServer",
    "HarnessError",
    "KafkaBroker",
    "ManagedProcess",
    "Ports",
    "Received",
    "RunDir",
    "Runtime",
    "StatefunJob",
    "error_summary",
    "fetch_runtime",
    "install_sigterm_handler",
    "log",
    "pick_port",
    "render_module",
    "run_until_signalled",
    "serve_argv",
    "shielded",
    "stop_all_processes",
    "tail",
    "wait_until",
]
