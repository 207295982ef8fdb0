"""Pytest fixtures for the end-to-end suite (real StateFun 3.3.0 runtime + Kafka).

Fixtures (see harness.py for the classes):

* ``e2e_runtime`` (session) -> ``harness.Runtime``: jars fetched once into the cache.
* ``e2e_run`` (session) -> ``harness.RunDir``: the per-run folder all logs go to.
* ``kafka`` (session) -> ``harness.KafkaBroker``: started once; ``kafka.reset_topics([...])``
  gives a test empty topics.
* ``statefun_job`` (function) -> factory ``(module_dir, **opts) -> StatefunJob`` (started,
  RUNNING). Every job it made is stopped after the test.
* ``function_server`` (function) -> factory ``(argv, port=8000, env=None, cwd=None, name=...)
  -> FunctionServer`` (started, port open). Stopped after the test.

When a test fails, its report gets a section naming the run folder plus the tails of the logs
of the processes that test used.

Set ``STATEFUN_E2E=0`` to skip the suite (the only way to skip it: a missing Java/Maven is an
error, not a skip).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Callable

import pytest

from . import harness

E2E_DIR = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e_timeout(seconds): wall-clock bound of one e2e test (setup+call; default 240)"
    )
    config.addinivalue_line(
        "markers", "e2e: end-to-end test against the real StateFun runtime and Kafka (slow; needs Java, Maven)"
    )
    harness.install_sigterm_handler()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = None
    if os.environ.get("STATEFUN_E2E", "").strip() == "0":
        skip = pytest.mark.skip(reason="STATEFUN_E2E=0: end-to-end tests disabled explicitly")
    for item in items:
        if E2E_DIR not in Path(str(item.fspath)).resolve().parents:
            continue
        # kafka-python 3.0 loads its protocol schemas with the deprecated
        # importlib.resources.read_text/open_text; the project's `filterwarnings = error` would
        # turn that into an error inside the test-side Kafka client. The code under test runs in
        # its own processes, so in this process deprecations only come from test tooling.
        item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))
        if skip is not None:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed and report.when in ("setup", "call", "teardown"):
        run: harness.RunDir | None = getattr(item, "_e2e_run", None)
        used: list[harness.ManagedProcess] = getattr(item, "_e2e_processes", [])
        if run is not None:
            lines = [f"e2e run folder: {run.path}"]
            seen = set()
            for p in used + list(getattr(item, "_e2e_session_processes", [])):
                if p.log_path in seen:
                    continue
                seen.add(p.log_path)
                lines.append(f"----- {p.name}: tail of {p.log_path} -----\n{harness.tail(p.log_path, 60)}")
            report.sections.append(("e2e logs", "\n".join(lines)))
    return report


DEFAULT_TEST_TIMEOUT = 240


class E2ETimeout(BaseException):
    """Raised by SIGALRM when a test exceeds its bound (a BaseException so no retry loop eats it)."""


@pytest.fixture(autouse=True)
def _e2e_time_bound(request: pytest.FixtureRequest):
    """Bound each e2e test's own setup + call in wall-clock time (session fixtures excluded)."""
    if E2E_DIR not in Path(str(request.node.fspath)).resolve().parents:
        yield
        return
    marker = request.node.get_closest_marker("e2e_timeout")
    seconds = int(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum, frame):  # noqa: ARG001
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
def e2e_run() -> harness.RunDir:
    run = harness.RunDir()
    harness.log(f"e2e run folder: {run.path}")
    yield run
    run.stop_all()


@pytest.fixture(scope="session")
def kafka(e2e_runtime: harness.Runtime, e2e_run: harness.RunDir) -> harness.KafkaBroker:
    broker = harness.KafkaBroker(e2e_runtime, e2e_run)
    try:
        broker.start()
    except harness.HarnessError as e:
        broker.stop()
        pytest.fail(f"Kafka did not start: {e}\n(run folder {e2e_run.path})", pytrace=False)
    yield broker
    broker.stop()


@pytest.fixture(autouse=True)
def _e2e_track(request: pytest.FixtureRequest) -> None:
    """Attach the run folder and used processes to the test item for the failure report."""
    item = request.node
    item._e2e_processes = []
    if "e2e_run" in request.fixturenames or "kafka" in request.fixturenames:
        item._e2e_run = request.getfixturevalue("e2e_run")
    if "kafka" in request.fixturenames:
        k = request.getfixturevalue("kafka")
        item._e2e_session_processes = [k.process] if k.process else []


@pytest.fixture
def statefun_job(
    request: pytest.FixtureRequest, e2e_runtime: harness.Runtime, e2e_run: harness.RunDir, kafka: harness.KafkaBroker
) -> Callable[..., harness.StatefunJob]:
    """Factory: ``statefun_job(module_dir, savepoint=None, checkpoint_interval="2s", ...)``.

    Returns a started job whose tasks are all RUNNING. For a restart from a savepoint use
    ``job.restart_from(path, module_dir=...)`` and then ``track(new_job.start())`` -- or just call
    the factory again with ``savepoint=path``.
    """
    jobs: list[harness.StatefunJob] = []
    request.node._e2e_run = e2e_run

    def make(module_dir, **opts) -> harness.StatefunJob:
        job = harness.StatefunJob(e2e_runtime, e2e_run, module_dir, **opts)
        jobs.append(job)
        try:
            job.start()
        finally:
            if job.process:
                request.node._e2e_processes.append(job.process)
        return job

    yield make
    for job in reversed(jobs):
        job.stop()


@pytest.fixture
def function_server(request: pytest.FixtureRequest, e2e_run: harness.RunDir) -> Callable[..., harness.FunctionServer]:
    """Factory: ``function_server(argv, port=8000, env=None, cwd=None, name="function")``.

    Returns a started server (port open). ``srv.kill()`` SIGKILLs it, ``srv.start()`` /
    ``srv.restart()`` bring it back with the same argv.
    """
    servers: list[harness.FunctionServer] = []
    request.node._e2e_run = e2e_run

    def make(argv, port: int = harness.FUNCTION_PORT, **kw) -> harness.FunctionServer:
        srv = harness.FunctionServer(e2e_run, argv, port=port, **kw)
        servers.append(srv)
        orig_start = srv.start

        def start(*a, **k):  # remember every incarnation's process for the failure report
            try:
                return orig_start(*a, **k)
            finally:
                if srv.process and srv.process not in request.node._e2e_processes:
                    request.node._e2e_processes.append(srv.process)

        srv.start = start  # type: ignore[method-assign]
        return srv.start()

    yield make
    for srv in reversed(servers):
        srv.stop()
