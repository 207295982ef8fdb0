"""Pytest fixtures for the end-to-end suite (real StateFun 3.3.0 runtime + Kafka).

Fixtures (see the harness package for the classes):

* ``e2e_runtime`` (session) -> ``harness.Runtime``: jars fetched once into the cache.
* ``e2e_run`` (session) -> ``harness.RunDir``: the per-run folder all logs go to.
* ``kafka`` (session) -> ``harness.KafkaBroker``: started once; ``kafka.reset_topics([...])``
  gives a test empty topics.
* ``statefun_job`` (function) -> factory ``(module_dir, **opts) -> StatefunJob`` (started,
  all tasks RUNNING). Every job it made is stopped after the test.
* ``function_server`` (function) -> factory ``(argv, port=None, env=None, cwd=None, name=...)
  -> FunctionServer`` (started, port open). Stopped after the test. The port is the run's
  function port (the one every job's module.yaml is rendered with); ``harness.PORT_ARG`` in
  argv stands for it.
* ``module_statefun_job`` / ``module_function_server`` (module): the same factories, but what
  they start lives until the test module ends, so several tests share one job (start-up costs
  10-15 s). Tests sharing a job keep apart by using their own ids (Kafka keys).

Every e2e test is bounded in wall-clock time (setup + call): 240 s, or
``@pytest.mark.e2e_timeout(seconds)``. When a test fails, its report gets an "e2e logs" section
naming the run folder, with the tails of the logs of Kafka and of every process the test started.

Set ``STATEFUN_E2E=0`` to skip the suite (the only way to skip it: a missing Java/Maven is an
error, not a skip).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from . import harness

E2E_DIR = Path(__file__).resolve().parent
DEFAULT_TEST_TIMEOUT = 240

StatefunJobFactory = Callable[..., harness.StatefunJob]
FunctionServerFactory = Callable[..., harness.FunctionServer]


def _is_e2e(item: pytest.Item) -> bool:
    """An e2e-marked test of this folder; the harness's own unit tests here (ports, run
    folders, signals) need no JVM, so they run, strict about warnings, in every run."""
    in_here = E2E_DIR in Path(str(item.path)).resolve().parents
    return in_here and item.get_closest_marker("e2e") is not None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "e2e: end-to-end test against the real StateFun runtime and Kafka (slow; needs Java, Maven)",
    )
    config.addinivalue_line(
        "markers",
        "e2e_timeout(seconds): wall-clock bound of one e2e test (setup + call; default 240)",
    )
    harness.install_sigterm_handler()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = None
    if os.environ.get("STATEFUN_E2E", "").strip() == "0":
        skip = pytest.mark.skip(reason="STATEFUN_E2E=0: end-to-end tests disabled explicitly")
    for item in items:
        if not _is_e2e(item):
            continue
        # kafka-python 3.0 loads its protocol schemas with the deprecated
        # importlib.resources.read_text/open_text; the project's `filterwarnings = error` would
        # turn that into an error inside the test-side Kafka client. The code under test runs in
        # its own processes, so in this process deprecations only come from test tooling.
        item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))
        # kafka-python can drop a socket without closing it when a connection attempt races a
        # broker or job restart; the garbage collector's ResourceWarning then surfaces in a
        # random later test. Only unclosed sockets are let through: they belong to that client
        # (the SDK under test runs in other processes), and every other warning stays an error.
        item.add_marker(
            pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
        )
        item.add_marker(
            pytest.mark.filterwarnings(
                "ignore:Exception ignored in. <socket.socket"
                ":pytest.PytestUnraisableExceptionWarning"
            )
        )
        if skip is not None:
            item.add_marker(skip)


_RUN_KEY = pytest.StashKey[harness.RunDir]()
_FIRST_PROC_KEY = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report = yield
    run = item.stash.get(_RUN_KEY, None)
    if report.failed and run is not None:
        first = item.stash.get(_FIRST_PROC_KEY, 0)
        # Kafka, processes still running (e.g. a module-scoped job), and those this test started
        procs = [p for p in run.processes if p.name == "kafka"]
        procs += [p for p in run.processes[:first] if p.running] + run.processes[first:]
        lines = [f"e2e run folder: {run.path}"]
        seen: set[Path] = set()
        for p in procs:
            if p.log_path in seen:
                continue
            seen.add(p.log_path)
            summary = harness.error_summary(p.log_path)
            if summary:
                lines.append(f"----- {p.name}: exceptions in {p.log_path} -----\n{summary}")
            lines.append(
                f"----- {p.name}: tail of {p.log_path} -----\n{harness.tail(p.log_path, 60)}"
            )
        report.sections.append(("e2e logs", "\n".join(lines)))
    return report


class E2ETimeout(BaseException):
    """Raised by SIGALRM when a test exceeds its bound (a BaseException so no retry loop eats it)."""


@pytest.fixture(autouse=True)
def _e2e_time_bound(request: pytest.FixtureRequest) -> Generator[None, None, None]:
    """Bound each e2e test's own setup + call in wall-clock time (session fixtures excluded)."""
    marker = request.node.get_closest_marker("e2e_timeout")
    seconds = int(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        raise E2ETimeout(f"e2e test exceeded its {seconds}s bound")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def e2e_runtime() -> harness.Runtime:
    try:
        return harness.fetch_runtime()
    except harness.HarnessError as e:
        pytest.fail(f"e2e runtime unavailable: {e}", pytrace=False)


@pytest.fixture(scope="session")
def e2e_run() -> Generator[harness.RunDir, None, None]:
    run = harness.RunDir()
    harness.log(f"e2e run folder: {run.path}")
    yield run
    run.stop_all()


@pytest.fixture(autouse=True)
def _e2e_track(request: pytest.FixtureRequest) -> None:
    """Remember the run folder and which processes this test started, for the failure report."""
    if "e2e_run" in request.fixturenames:
        run: harness.RunDir = request.getfixturevalue("e2e_run")
        request.node.stash[_RUN_KEY] = run
        request.node.stash[_FIRST_PROC_KEY] = len(run.processes)


@pytest.fixture(scope="session")
def kafka(
    e2e_runtime: harness.Runtime, e2e_run: harness.RunDir
) -> Generator[harness.KafkaBroker, None, None]:
    broker = harness.KafkaBroker(e2e_runtime, e2e_run)
    try:
        broker.start()
    except harness.HarnessError as e:
        broker.stop()
        pytest.fail(f"Kafka did not start: {e}\n(run folder {e2e_run.path})", pytrace=False)
    yield broker
    broker.stop()


def _job_factory(
    runtime: harness.Runtime, run: harness.RunDir
) -> Generator[StatefunJobFactory, None, None]:
    jobs: list[harness.StatefunJob] = []

    def make(module_dir: str | Path, **opts: Any) -> harness.StatefunJob:
        job = harness.StatefunJob(runtime, run, module_dir, **opts)
        jobs.append(job)
        return job.start()

    yield make
    for job in reversed(jobs):
        job.stop()


def _server_factory(run: harness.RunDir) -> Generator[FunctionServerFactory, None, None]:
    servers: list[harness.FunctionServer] = []

    def make(argv: Sequence[str], port: int | None = None, **kw: Any) -> harness.FunctionServer:
        srv = harness.FunctionServer(run, argv, port=port, **kw)
        servers.append(srv)
        return srv.start()

    yield make
    for srv in reversed(servers):
        srv.stop()


@pytest.fixture
def statefun_job(
    e2e_runtime: harness.Runtime, e2e_run: harness.RunDir, kafka: harness.KafkaBroker
) -> Generator[StatefunJobFactory, None, None]:
    """Factory: ``statefun_job(module_dir, savepoint=None, checkpoint_interval="2s", ...)``.

    Returns a started job whose tasks are all RUNNING (keyword options: see
    ``harness.StatefunJob``). To restore, call it again with ``savepoint=path`` (path from
    ``job.cancel_with_savepoint()``), with the same or another module folder.
    """
    yield from _job_factory(e2e_runtime, e2e_run)


@pytest.fixture
def function_server(e2e_run: harness.RunDir) -> Generator[FunctionServerFactory, None, None]:
    """Factory: ``function_server(argv, port=None, env=None, cwd=None, name="function")``.

    Returns a started server (port open). ``srv.kill()`` SIGKILLs it, ``srv.start()`` /
    ``srv.restart()`` bring it back with the same argv. Runs in the repo root with the repo on
    PYTHONPATH unless ``cwd``/``env`` say otherwise.
    """
    yield from _server_factory(e2e_run)


@pytest.fixture(scope="module")
def module_statefun_job(
    e2e_runtime: harness.Runtime, e2e_run: harness.RunDir, kafka: harness.KafkaBroker
) -> Generator[StatefunJobFactory, None, None]:
    """``statefun_job`` whose jobs live until the test module ends (for a module-scoped fixture)."""
    yield from _job_factory(e2e_runtime, e2e_run)


@pytest.fixture(scope="module")
def module_function_server(e2e_run: harness.RunDir) -> Generator[FunctionServerFactory, None, None]:
    """``function_server`` whose servers live until the test module ends."""
    yield from _server_factory(e2e_run)
