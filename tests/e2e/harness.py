"""End-to-end harness: real StateFun 3.3.0 runtime (Flink 1.16.2 MiniCluster) + Kafka (KRaft).

Everything here binds to 127.0.0.1 and is stopped by PID when the harness exits.

Pieces (all usable without pytest; ``conftest.py`` wraps them in fixtures):

* :func:`fetch_runtime` -- fetch the jars once into a version-keyed cache outside the clone.
* :class:`RunDir` -- per-run folder; each process logs into it.
* :class:`KafkaBroker` -- single-node KRaft broker plus small kafka-python helpers.
* :class:`StatefunJob` -- ``CliFrontend run -t local`` with a module.yaml folder on the classpath;
  wait until RUNNING, savepoint + cancel, restart from a savepoint.
* :class:`FunctionServer` -- any argv (e.g. ``python -m statefun serve ...``); wait for its port,
  SIGKILL and restart it.

Command line (used by ``scripts/e2e``)::

    python -m tests.e2e.harness fetch          # warm the cache, print where it is
    python -m tests.e2e.harness up MODULE_DIR  # Kafka + StateFun with MODULE_DIR/module.yaml, until Ctrl-C
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # kafka-python is imported where used: only the tests need it
    from kafka.admin import KafkaAdminClient

STATEFUN_VERSION = "3.3.0"
FLINK_VERSION = "1.16.2"
DEFAULT_KAFKA_VERSION = "3.9.1"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

HERE = Path(__file__).resolve().parent
JVM_DIR = HERE / "jvm"
REPO_ROOT = HERE.parent.parent

HOST = "127.0.0.1"
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093
FLINK_REST_PORT = 8081
FUNCTION_PORT = 8000


T = TypeVar("T")


class HarnessError(RuntimeError):
    """Something in the e2e infrastructure failed (not the code under test)."""


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Prerequisites
# --------------------------------------------------------------------------------------


def find_java() -> str:
    """Path of the java binary: $JAVA, $JAVA_HOME/bin/java, then PATH. Fails loudly."""
    candidates: list[str] = []
    if os.environ.get("JAVA"):
        candidates.append(os.environ["JAVA"])
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.path.join(os.environ["JAVA_HOME"], "bin", "java"))
    which = shutil.which("java")
    if which:
        candidates.append(which)
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise HarnessError(
        "e2e tests need a JDK (17 recommended): no java found via $JAVA, $JAVA_HOME or PATH. "
        "Install one (e.g. `apt-get install openjdk-17-jdk-headless`) or set STATEFUN_E2E=0 to skip."
    )


def java_major_version(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    # e.g. openjdk version "17.0.15" 2025-04-15  /  "1.8.0_392"
    for line in out.splitlines():
        if "version" in line and '"' in line:
            v = line.split('"')[1]
            parts = v.split(".")
            return int(parts[1]) if parts[0] == "1" else int(parts[0].split("-")[0])
    raise HarnessError(f"cannot parse `{java} -version` output:\n{out}")


def find_maven() -> str:
    mvn = os.environ.get("MVN") or shutil.which("mvn")
    if not mvn:
        raise HarnessError(
            "e2e tests need Maven (`mvn`) to fetch the StateFun and Kafka jars once "
            "(cache is cold). Install it (e.g. `apt-get install maven`) or set STATEFUN_E2E=0 to skip."
        )
    return mvn


def port_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
            return True
        except OSError:
            return False


def ensure_ports_free(ports: Iterable[int], what: str) -> None:
    busy = [p for p in ports if port_open(p)]
    if busy:
        raise HarnessError(
            f"cannot start {what}: port(s) {busy} on {HOST} already in use "
            f"(a leftover process from an earlier run? check `ss -ltnp`)"
        )


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.25,
    check: Callable[[], None] | None = None,
) -> T:
    """Poll ``predicate`` until truthy; ``check`` may raise early (e.g. process died)."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        if check is not None:
            check()
        try:
            result = predicate()
            if result:
                return result
        except HarnessError:
            raise
        except Exception as e:  # noqa: BLE001 - predicate errors are retried until the deadline
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# Fetching the runtime into a version-keyed cache
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runtime:
    """The fetched jars. ``statefun_lib`` holds the StateFun jars, ``flink_lib`` Flink's lib/,
    ``kafka_lib`` the broker's classpath."""

    root: Path
    statefun_lib: Path
    flink_lib: Path
    kafka_lib: Path
    kafka_version: str
    statefun_variant: str  # "distribution" or "thin"
    java: str

    @property
    def job_jar(self) -> Path:
        return self.statefun_lib / f"statefun-flink-core-{STATEFUN_VERSION}.jar"

    def statefun_classpath(self) -> list[str]:
        """Jars in image order: everything sorted by file name, flink-dist last."""
        jars = sorted(
            list(self.statefun_lib.glob("*.jar")) + list(self.flink_lib.glob("*.jar")),
            key=lambda p: p.name,
        )
        dist = [j for j in jars if j.name.startswith("flink-dist")]
        rest = [j for j in jars if not j.name.startswith("flink-dist")]
        return [str(j) for j in rest + dist]


def kafka_version() -> str:
    return os.environ.get("STATEFUN_E2E_KAFKA_VERSION", DEFAULT_KAFKA_VERSION)


def default_cache_dir(kver: str | None = None) -> Path:
    if os.environ.get("STATEFUN_E2E_CACHE"):
        return Path(os.environ["STATEFUN_E2E_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "statefun-e2e"
    return (
        base / f"statefun-{STATEFUN_VERSION}-flink-{FLINK_VERSION}-kafka-{kver or kafka_version()}"
    )


MARKER = ".complete.json"


def _run(cmd: Sequence[object], log_file: Path, timeout: float, cwd: Path | None = None) -> None:
    log(f"$ {' '.join(map(str, cmd))}")
    with open(log_file, "ab") as lf:
        lf.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        lf.flush()
        try:
            proc = subprocess.run(
                list(map(str, cmd)), stdout=lf, stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd
            )
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"command timed out after {timeout}s: {cmd}; log: {log_file}") from e
    if proc.returncode != 0:
        raise HarnessError(
            f"command failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- tail of {log_file} ---\n{tail(log_file, 40)}"
        )


def _mvn_copy_deps(mvn: str, pom: Path, out: Path, m2: Path, log_file: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            pom,
            f"-Dmaven.repo.local={m2}",
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={out}",
        ],
        log_file,
        timeout=1800,
    )


def _fetch_flink_lib(out: Path, work: Path, log_file: Path) -> None:
    """Flink's lib/ from the PyPI sdist apache-flink-libraries (deps/lib), minus flink-table*."""
    dl = work / "pypi"
    dl.mkdir(parents=True, exist_ok=True)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-d",
            dl,
            f"apache-flink-libraries=={FLINK_VERSION}",
        ],
        log_file,
        timeout=1800,
    )
    sdists = list(dl.glob("apache-flink-libraries-*.tar.gz"))
    if len(sdists) != 1:
        raise HarnessError(f"expected one apache-flink-libraries sdist in {dl}, got {sdists}")
    out.mkdir(parents=True, exist_ok=True)
    prefix = f"apache-flink-libraries-{FLINK_VERSION}/deps/lib/"
    n = 0
    with tarfile.open(sdists[0], "r:gz") as tf:
        for member in tf:
            if not (
                member.isfile() and member.name.startswith(prefix) and member.name.endswith(".jar")
            ):
                continue
            name = member.name[len(prefix) :]
            if "/" in name or name.startswith("flink-table"):
                continue
            src = tf.extractfile(member)
            assert src is not None
            with src, open(out / name, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            n += 1
    for required in (f"flink-dist-{FLINK_VERSION}.jar", "flink-shaded-zookeeper-3.5.9.jar"):
        if not (out / required).is_file():
            raise HarnessError(f"{required} missing from the apache-flink-libraries sdist")
    shutil.rmtree(dl)
    log(f"extracted {n} Flink lib jars")


def fetch_runtime(cache_dir: Path | None = None) -> Runtime:
    """Fetch (once) StateFun, Flink and Kafka jars; returns quickly when the cache is warm.

    The cache folder is built in a temporary sibling folder and renamed into place, so an
    interrupted fetch leaves nothing that looks complete. A file lock serialises concurrent runs.
    """
    java = find_java()
    major = java_major_version(java)
    if major < 11:
        raise HarnessError(
            f"{java} is Java {major}; the e2e runtime needs Java 11+ (17 recommended)"
        )
    kver = kafka_version()
    cache = (cache_dir or default_cache_dir(kver)).resolve()

    def runtime_from(root: Path) -> Runtime:
        meta = json.loads((root / MARKER).read_text())
        return Runtime(
            root=root,
            statefun_lib=root / "statefun-lib",
            flink_lib=root / "flink-lib",
            kafka_lib=root / "kafka-lib",
            kafka_version=meta["kafka_version"],
            statefun_variant=meta["statefun_variant"],
            java=java,
        )

    if (cache / MARKER).is_file():
        return runtime_from(cache)

    cache.parent.mkdir(parents=True, exist_ok=True)
    lock_path = cache.parent / (cache.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (cache / MARKER).is_file():  # another process finished it meanwhile
            return runtime_from(cache)
        mvn = find_maven()
        t0 = time.monotonic()
        log(f"cold cache: fetching runtime jars into {cache} (several minutes, once)")
        work = Path(tempfile.mkdtemp(prefix=cache.name + ".tmp-", dir=cache.parent))
        try:
            fetch_log = work / "fetch.log"
            # Maven's own repository is shared between cache versions; Maven writes it atomically.
            m2 = Path(os.environ.get("STATEFUN_E2E_M2", cache.parent / "m2"))
            timings: dict[str, float] = {}

            t = time.monotonic()
            variant = "distribution"
            try:
                _mvn_copy_deps(
                    mvn, JVM_DIR / "statefun-libs.pom.xml", work / "statefun-lib", m2, fetch_log
                )
            except HarnessError:
                # fall back only when the artifact itself was refused, not on any Maven failure
                if "statefun-flink-distribution" not in tail(fetch_log, 30):
                    raise
                log(
                    "statefun-flink-distribution:3.3.0 not available from Maven; "
                    "falling back to thin StateFun jars"
                )
                shutil.rmtree(work / "statefun-lib", ignore_errors=True)
                variant = "thin"
                _mvn_copy_deps(
                    mvn,
                    JVM_DIR / "statefun-libs-thin.pom.xml",
                    work / "statefun-lib",
                    m2,
                    fetch_log,
                )
                # flink-dist (from PyPI) already carries Flink core/runtime/streaming: drop
                # any transitive copies so only one Flink is on the classpath.
                for j in (work / "statefun-lib").glob("*.jar"):
                    if j.name.startswith(
                        (
                            "flink-core-",
                            "flink-java-",
                            "flink-streaming-java",
                            "flink-runtime-",
                            "flink-clients",
                            "flink-optimizer",
                            "flink-rpc-",
                            "flink-annotations",
                            "flink-metrics-core",
                            "flink-shaded-",
                            "flink-file-sink-common",
                            "flink-hadoop-fs",
                            "flink-queryable-state-client",
                            "log4j-",
                            "slf4j-",
                        )
                    ):
                        j.unlink()
            timings["statefun_maven_s"] = round(time.monotonic() - t, 1)

            t = time.monotonic()
            kpom = work / "kafka-libs.pom.xml"
            kpom.write_text(
                (JVM_DIR / "kafka-libs.pom.xml").read_text().replace("@KAFKA_VERSION@", kver)
            )
            _mvn_copy_deps(mvn, kpom, work / "kafka-lib", m2, fetch_log)
            kpom.unlink()
            timings["kafka_maven_s"] = round(time.monotonic() - t, 1)

            t = time.monotonic()
            _fetch_flink_lib(work / "flink-lib", work, fetch_log)
            timings["flink_pypi_s"] = round(time.monotonic() - t, 1)

            timings["total_s"] = round(time.monotonic() - t0, 1)
            meta = {
                "statefun_version": STATEFUN_VERSION,
                "flink_version": FLINK_VERSION,
                "kafka_version": kver,
                "statefun_variant": variant,
                "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "timings": timings,
                "jars": {
                    d: sorted(p.name for p in (work / d).glob("*.jar"))
                    for d in ("statefun-lib", "flink-lib", "kafka-lib")
                },
            }
            (work / MARKER).write_text(json.dumps(meta, indent=2))
            if cache.exists():  # stale, incomplete leftover from an old layout
                shutil.rmtree(cache)
            os.rename(work, cache)
            log(
                f"runtime fetched in {timings['total_s']}s ({variant} StateFun jars, Kafka {kver}): {timings}"
            )
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return runtime_from(cache)


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------


def tail(path: Path | str, lines: int = 60) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"<{path} does not exist>"
    return "\n".join(data.splitlines()[-lines:])


def error_summary(path: Path | str, limit: int = 12) -> str:
    """The distinct exception lines of a log (``...Exception: msg``, ``Caused by: ...``), last first
    seen order kept: usually the root cause of a JVM failure, which a plain tail may miss."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    seen: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("at ") or stripped.startswith("..."):
            continue
        if (
            stripped.startswith("Caused by:")
            or ("Exception: " in stripped)
            or ("Error: " in stripped)
        ):
            short = stripped[:400]
            if short in seen:
                seen.remove(short)
            seen.append(short)
    return "\n".join(seen[-limit:])


_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()  # own process group: the terminal's Ctrl-C goes to us, we stop the child
    try:  # die with the harness even if it is SIGKILLed (Linux only)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # noqa: BLE001
        pass


_LIVE: dict[int, ManagedProcess] = {}
_LIVE_LOCK = threading.Lock()


def stop_all_processes() -> None:
    """Stop every process started by this harness that is still alive (atexit / signal safety net)."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for p in reversed(procs):
        with contextlib.suppress(Exception):
            p.stop()


atexit.register(stop_all_processes)


class ManagedProcess:
    """A child process with its own process group and a log file; stopped by PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
    ):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        if self.running:
            raise HarnessError(f"{self.name} already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as lf:
            lf.write(
                f"\n==== {time.strftime('%H:%M:%S')} start {self.name}: {' '.join(self.argv)}\n".encode()
            )
            lf.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=lf,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                preexec_fn=_child_setup,
            )
        with _LIVE_LOCK:
            _LIVE[self.proc.pid] = self
        log(f"started {self.name} (pid {self.proc.pid}), log: {self.log_path}")
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            summary = error_summary(self.log_path)
            raise HarnessError(
                f"{self.name} exited early with code {self.proc.returncode}; log {self.log_path}\n"
                + (f"--- exceptions in the log ---\n{summary}\n" if summary else "")
                + f"--- tail ---\n{tail(self.log_path, 60)}"
            )

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)  # the group we created for this child (setsid)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL right away (crash simulation) and reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            log(f"SIGKILL {self.name} (pid {self.proc.pid})")
            self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        self._forget()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.proc.pid}) ignored SIGTERM for {timeout}s: SIGKILL")
                self._signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=30)
        self._forget()
        return self.proc.returncode

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"{self.name} did not exit within {timeout}s") from e

    def _forget(self) -> None:
        if self.proc is not None:
            with _LIVE_LOCK:
                _LIVE.pop(self.proc.pid, None)

    def tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def log_offset(self) -> int:
        """Current size of the log; pass it as ``since`` to :meth:`wait_for_log`."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def wait_for_log(self, text: str, timeout: float, since: int = 0) -> str:
        """Wait until ``text`` appears in the log after byte ``since``; returns that line."""

        def find() -> str | None:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                data = f.read().decode("utf-8", "replace")
            i = data.find(text)
            if i < 0:
                return None
            start = data.rfind("\n", 0, i) + 1
            end = data.find("\n", i)
            return data[start : end if end >= 0 else None]

        return wait_until(find, timeout, f"{text!r} in {self.log_path}", interval=0.3)


class RunDir:
    """A per-run folder holding every process's log and working files.

    Default: a fresh ``statefun-e2e-run-*`` under ``$STATEFUN_E2E_RUNS`` or the temp dir.
    It is kept afterwards (logs, Kafka data, checkpoints: a few MB) so a failure can be
    inspected; only the newest ``KEEP`` such folders are kept.
    """

    KEEP = 10  # older statefun-e2e-run-* folders in the same base folder are removed

    def __init__(self, path: Path | None = None):
        if path is None:
            base = Path(os.environ.get("STATEFUN_E2E_RUNS", tempfile.gettempdir()))
            base.mkdir(parents=True, exist_ok=True)
            old = sorted(base.glob("statefun-e2e-run-*"), key=lambda p: p.name)
            for stale in old[: max(0, len(old) - (self.KEEP - 1))]:
                shutil.rmtree(stale, ignore_errors=True)
            path = Path(
                tempfile.mkdtemp(prefix=time.strftime("statefun-e2e-run-%Y%m%d-%H%M%S-"), dir=base)
            )
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.processes: list[ManagedProcess] = []
        self._counter: dict[str, int] = {}

    def unique(self, stem: str) -> Path:
        n = self._counter.get(stem, 0) + 1
        self._counter[stem] = n
        p = self.path / (stem if n == 1 else f"{stem}-{n}")
        p.mkdir(parents=True, exist_ok=True)
        return p

    def register(self, proc: ManagedProcess) -> ManagedProcess:
        self.processes.append(proc)
        return proc

    def log_files(self) -> list[Path]:
        return sorted(self.path.rglob("*.log"))

    def report(self, lines: int = 40) -> str:
        out = [f"e2e run folder: {self.path}"]
        for f in self.log_files():
            out.append(f"----- tail of {f} -----\n{tail(f, lines)}")
        return "\n".join(out)

    def stop_all(self) -> None:
        for p in reversed(self.processes):
            with contextlib.suppress(Exception):
                p.stop()


# --------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------


class KafkaBroker:
    """Single-node KRaft broker on 127.0.0.1:9092 (controller 9093) from the Maven jars."""

    def __init__(
        self,
        runtime: Runtime,
        run: RunDir,
        port: int = KAFKA_PORT,
        controller_port: int = KAFKA_CONTROLLER_PORT,
        heap: str = "512m",
    ):
        self.runtime = runtime
        self.run = run
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.dir = run.unique("kafka")
        self.process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def _java(self, *args: str, heap: str) -> list[str]:
        return [
            self.runtime.java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{JVM_DIR / 'kafka-log4j.properties'}",
            "-cp",
            str(self.runtime.kafka_lib / "*"),
            *args,
        ]

    def start(self, timeout: float = 90) -> KafkaBroker:
        ensure_ports_free([self.port, self.controller_port], "Kafka")
        t0 = time.monotonic()
        props = self.dir / "server.properties"
        props.write_text(
            (JVM_DIR / "server.properties.in")
            .read_text()
            .replace("@DATA@", str(self.dir / "data"))
            .replace("@CONTROLLER_PORT@", str(self.controller_port))
            .replace("@PORT@", str(self.port))
        )
        cluster_id = "-"
        while cluster_id.startswith(
            "-"
        ):  # "-..." would parse as an option (Kafka's own ids avoid it too)
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        _run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                "--ignore-formatted",
                heap="256m",
            ),
            self.dir / "format.log",
            timeout=120,
        )
        self.process = self.run.register(
            ManagedProcess(
                "kafka",
                self._java("kafka.Kafka", str(props), heap=self.heap),
                self.dir / "kafka.log",
            )
        ).start()
        wait_until(
            lambda: port_open(self.port), timeout, "Kafka port", check=self.process.check_alive
        )
        wait_until(
            self._ready,
            max(5.0, timeout - (time.monotonic() - t0)),
            "Kafka admin API",
            interval=0.5,
            check=self.process.check_alive,
        )
        log(
            f"Kafka {self.runtime.kafka_version} ready on {self.bootstrap} in {time.monotonic() - t0:.1f}s"
        )
        return self

    def _ready(self) -> bool:
        admin = self.admin()
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=20)

    # ---- kafka-python helpers -------------------------------------------------------

    def admin(self) -> KafkaAdminClient:
        from kafka.admin import KafkaAdminClient

        return KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            request_timeout_ms=10_000,
            client_id="statefun-e2e-admin",
        )

    def topics(self) -> set[str]:
        admin = self.admin()
        try:
            return {t for t in admin.list_topics() if not t.startswith("__")}
        finally:
            admin.close()

    def create_topics(self, names: Iterable[str], partitions: int = 1, timeout: float = 30) -> None:
        from kafka.admin import NewTopic
        from kafka.errors import TopicAlreadyExistsError

        names = list(names)
        admin = self.admin()
        try:
            for name in names:

                def create(name: str = name) -> bool:
                    try:
                        admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=10_000)
                    except TopicAlreadyExistsError:
                        pass
                    return True

                wait_until(create, timeout, f"creation of topic {name}", interval=0.5)
        finally:
            admin.close()
        # metadata is eventually consistent: wait until the topics are visible with a leader
        wait_until(
            lambda: self._have_leaders(names), timeout, f"leaders for topics {names}", interval=0.3
        )

    def _have_leaders(self, names: list[str]) -> bool:
        from kafka import KafkaConsumer

        c = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            for n in names:
                parts = c.partitions_for_topic(n)
                if not parts:
                    return False
            return True
        finally:
            c.close()

    def delete_topics(self, names: Iterable[str], timeout: float = 30) -> None:
        from kafka.errors import UnknownTopicOrPartitionError

        names = [n for n in names if n in self.topics()]
        if not names:
            return
        admin = self.admin()
        try:
            with contextlib.suppress(UnknownTopicOrPartitionError):
                admin.delete_topics(names, timeout_ms=10_000)
        finally:
            admin.close()
        wait_until(
            lambda: not (set(names) & self.topics()),
            timeout,
            f"deletion of topics {names}",
            interval=0.3,
        )

    def reset_topics(self, names: Iterable[str], partitions: int = 1, timeout: float = 60) -> None:
        """Delete (if present) and re-create topics, so a test starts from empty topics."""
        names = list(names)
        self.delete_topics(names, timeout=timeout)
        self.create_topics(names, partitions=partitions, timeout=timeout)

    def produce(
        self, topic: str, records: Iterable[tuple[bytes | str | None, bytes | str]]
    ) -> None:
        """Send ``(key, value)`` pairs (str is UTF-8 encoded) in order and flush."""
        from kafka import KafkaProducer

        def b(x: bytes | str | None) -> bytes | None:
            return x.encode("utf-8") if isinstance(x, str) else x

        p = KafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=0,
            max_in_flight_requests_per_connection=1,
        )
        try:
            for key, value in records:
                p.send(topic, key=b(key), value=b(value)).get(timeout=30)
            p.flush(timeout=30)
        finally:
            p.close(timeout=10)

    def consume(
        self,
        topic: str,
        count: int,
        timeout: float = 60,
        read_committed: bool = True,
        settle: float = 0.0,
    ) -> list[tuple[bytes | None, bytes]]:
        """Read ``topic`` from the beginning until ``count`` records arrived (or ``timeout``).

        Returns ``(key, value)`` in partition order. With ``settle`` > 0 it keeps reading that many
        seconds after reaching ``count``, so a test can assert "no extra records". On timeout it
        returns what it has (the test's assertion then shows what is missing).
        """
        return self.consume_until(
            topic, lambda recs: len(recs) >= count, timeout, read_committed, settle
        )

    def consume_until(
        self,
        topic: str,
        done: Callable[[list[tuple[bytes | None, bytes]]], bool],
        timeout: float = 60,
        read_committed: bool = True,
        settle: float = 0.0,
    ) -> list[tuple[bytes | None, bytes]]:
        records = self.consume_records(
            topic,
            lambda recs: done([(r.key, r.value) for r in recs]),
            timeout,
            read_committed,
            settle,
        )
        return [(r.key, r.value) for r in records]

    def consume_records(
        self,
        topic: str,
        done: Callable[[list[Received]], bool],
        timeout: float = 60,
        read_committed: bool = True,
        settle: float = 0.0,
    ) -> list[Received]:
        """Like :meth:`consume_until`, with each record's Kafka timestamp and arrival time."""
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed" if read_committed else "read_uncommitted",
        )
        out: list[Received] = []
        try:
            parts = wait_until(
                lambda: c.partitions_for_topic(topic), 30, f"metadata for topic {topic}"
            )
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            deadline = time.monotonic() + timeout
            settle_deadline: float | None = None
            while True:
                now = time.monotonic()
                if settle_deadline is None and done(out):
                    if settle <= 0:
                        break
                    settle_deadline = now + settle
                if settle_deadline is not None and now >= settle_deadline:
                    break
                if now >= deadline:
                    break
                batch = c.poll(timeout_ms=200)
                arrived = time.time()
                for tp in tps:
                    for m in batch.get(tp, []):
                        out.append(
                            Received(m.key, m.value, m.timestamp / 1000.0, arrived, m.offset)
                        )
        finally:
            c.close()
        return out


@dataclass(frozen=True)
class Received:
    """One consumed record: ``timestamp`` is the record's Kafka timestamp and ``arrived`` the
    consumer's wall clock when it was polled (both in seconds since the epoch)."""

    key: bytes | None
    value: bytes
    timestamp: float
    arrived: float
    offset: int


# --------------------------------------------------------------------------------------
# StateFun job (Flink CLI, local MiniCluster)
# --------------------------------------------------------------------------------------


def http_json(
    method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 10
) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    result: dict[str, Any] = json.loads(raw) if raw else {}
    return result


class StatefunJob:
    """The StateFun job on a local MiniCluster: ``CliFrontend run -t local`` in one JVM.

    ``module_dir`` must contain ``module.yaml``; only that file is copied into the job's own
    classpath folder, so exactly one module.yaml is visible.
    """

    def __init__(
        self,
        runtime: Runtime,
        run: RunDir,
        module_dir: Path | str,
        savepoint: str | None = None,
        checkpoint_interval: str = "2s",
        restart_attempts: int = 3,
        rest_port: int = FLINK_REST_PORT,
        heap: str = "1g",
        job_name: str = "statefun-e2e",
        flink_conf: dict[str, str] | None = None,
        allow_non_restored_state: bool = False,
    ):
        self.runtime = runtime
        self.run = run
        self.module_dir = Path(module_dir)
        self.savepoint = savepoint
        self.checkpoint_interval = checkpoint_interval
        self.restart_attempts = restart_attempts
        self.rest_port = rest_port
        self.heap = heap
        self.job_name = job_name
        self.flink_conf = dict(flink_conf or {})
        self.allow_non_restored_state = allow_non_restored_state
        self.dir = run.unique("statefun")
        self.process: ManagedProcess | None = None
        self.job_id: str | None = None

    @property
    def rest(self) -> str:
        return f"http://{HOST}:{self.rest_port}"

    def _prepare(self) -> list[str]:
        src = self.module_dir / "module.yaml"
        if not src.is_file():
            raise HarnessError(f"no module.yaml in {self.module_dir}")
        module = self.dir / "module"
        module.mkdir(exist_ok=True)
        shutil.copyfile(src, module / "module.yaml")
        conf = self.dir / "conf"
        conf.mkdir(exist_ok=True)
        for sub in ("tmp", "checkpoints", "savepoints", "plugins"):
            (self.dir / sub).mkdir(exist_ok=True)
        text = (
            (JVM_DIR / "flink-conf.yaml.in")
            .read_text()
            .replace("@WORK@", str(self.dir))
            .replace("@CHECKPOINT_INTERVAL@", self.checkpoint_interval)
            .replace("@RESTART_ATTEMPTS@", str(self.restart_attempts))
            .replace("@REST_PORT@", str(self.rest_port))
            .replace("@JOB_NAME@", self.job_name)
        )
        if self.flink_conf:
            text += "\n# per-test overrides\n" + "".join(
                f"{k}: {v}\n" for k, v in self.flink_conf.items()
            )
        (conf / "flink-conf.yaml").write_text(text)
        shutil.copyfile(JVM_DIR / "log4j-console.properties", conf / "log4j-console.properties")
        cp = ":".join(self.runtime.statefun_classpath() + [str(module)])
        argv = [
            self.runtime.java,
            f"@{JVM_DIR / 'jdk17.opts'}",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            f"-Dlog4j.configurationFile=file:{conf / 'log4j-console.properties'}",
            "-cp",
            cp,
            "org.apache.flink.client.cli.CliFrontend",
            "run",
            "-t",
            "local",
        ]
        if self.savepoint:
            argv += ["-s", self.savepoint]
            if self.allow_non_restored_state:
                argv += ["--allowNonRestoredState"]
        argv += [
            "-c",
            "org.apache.flink.statefun.flink.core.StatefulFunctionsJob",
            str(self.runtime.job_jar),
        ]
        return argv

    def start(self, timeout: float = 120) -> StatefunJob:
        ensure_ports_free([self.rest_port], "the StateFun job (Flink REST)")
        argv = self._prepare()
        env = dict(os.environ)
        env["FLINK_CONF_DIR"] = str(self.dir / "conf")
        env["FLINK_PLUGINS_DIR"] = str(self.dir / "plugins")
        t0 = time.monotonic()
        self.process = self.run.register(
            ManagedProcess("statefun", argv, self.dir / "statefun.log", env=env)
        )
        self.process.start()
        try:
            self.job_id = wait_until(
                self._running_job,
                timeout,
                "the StateFun job to be RUNNING",
                interval=0.5,
                check=self.process.check_alive,
            )
        except HarnessError as e:
            raise HarnessError(
                f"{e}\n--- tail of {self.process.log_path} ---\n{self.process.tail(80)}"
            ) from None
        log(
            f"StateFun job {self.job_id} RUNNING after {time.monotonic() - t0:.1f}s"
            + (f" (restored from {self.savepoint})" if self.savepoint else "")
        )
        return self

    def _running_job(self) -> str | None:
        jobs = http_json("GET", f"{self.rest}/jobs/overview", timeout=5).get("jobs", [])
        for j in jobs:
            if j.get("state") == "RUNNING":
                # all tasks deployed and running, not only the job
                tasks = j.get("tasks", {})
                if tasks and tasks.get("running", 0) == tasks.get("total", -1):
                    return str(j["jid"])
        return None

    def state(self) -> str | None:
        if not self.job_id:
            return None
        state = http_json("GET", f"{self.rest}/jobs/{self.job_id}", timeout=5).get("state")
        return str(state) if state is not None else None

    def check_alive(self) -> None:
        """Raise with the log tail if the JVM died (e.g. the job failed for good)."""
        if self.process:
            self.process.check_alive()

    def wait_for_log(self, text: str, timeout: float = 60, since: int = 0) -> str:
        """Wait until the job's log shows ``text`` (e.g. ``"Connection refused"``)."""
        assert self.process
        return self.process.wait_for_log(text, timeout, since)

    def log_offset(self) -> int:
        return self.process.log_offset() if self.process else 0

    def checkpoints(self) -> dict[str, Any]:
        return http_json("GET", f"{self.rest}/jobs/{self.job_id}/checkpoints", timeout=5)

    def completed_checkpoints(self) -> int:
        return int(self.checkpoints().get("counts", {}).get("completed", 0))

    def wait_for_checkpoint(self, timeout: float = 60) -> int:
        """Wait until one more checkpoint than now has completed; returns the new count."""
        start = self.completed_checkpoints()
        return wait_until(
            lambda: (n := self.completed_checkpoints()) > start and n,
            timeout,
            "a completed checkpoint",
            interval=0.5,
            check=self.check_alive,
        )

    def _savepoint_from_log(self) -> str | None:
        """The MiniCluster may shut down (REST gone) right after cancel/stop; the JobMaster log
        line "Savepoint stored in <path>." still names the savepoint."""
        assert self.process
        text = self.process.log_path.read_text(errors="replace")
        marker = "Savepoint stored in "
        i = text.rfind(marker)
        if i < 0:
            return None
        rest = text[i + len(marker) :].split()[0]
        return rest.rstrip(".")

    def _await_savepoint(self, url: str, timeout: float) -> str:
        def done() -> str | None:
            try:
                r = http_json("GET", url, timeout=5)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if self.process and not self.process.running:
                    path = self._savepoint_from_log()
                    if path:
                        return path
                    raise HarnessError(
                        f"the StateFun JVM exited before the savepoint completed; "
                        f"log {self.process.log_path}:\n{self.process.tail(80)}"
                    ) from exc
                raise
            if r.get("status", {}).get("id") != "COMPLETED":
                return None
            op = r.get("operation", {})
            if "failure-cause" in op:
                raise HarnessError(f"savepoint failed: {json.dumps(op['failure-cause'])[:4000]}")
            return str(op["location"])

        return wait_until(done, timeout, "the savepoint", interval=0.2)

    def cancel_with_savepoint(self, timeout: float = 120) -> str:
        """Savepoint + cancel (REST ``POST /jobs/<id>/savepoints``, ``cancel-job: true``).

        Waits for the JVM to exit and returns the savepoint path (``file:/...``) for
        ``StatefunJob(..., savepoint=path)``.

        Stop-with-savepoint (``POST /jobs/<id>/stop``, ``flink stop``) is deliberately not
        offered: with StateFun 3.3 on Flink 1.16 the legacy Kafka source task fails during the
        stop (``Handover$ClosedException``), the savepoint fails and the job restarts.
        """
        assert self.job_id and self.process
        target = self.dir / "savepoints"
        trig = http_json(
            "POST",
            f"{self.rest}/jobs/{self.job_id}/savepoints",
            {"target-directory": f"file://{target}", "cancel-job": True},
        )
        path = self._await_savepoint(
            f"{self.rest}/jobs/{self.job_id}/savepoints/{trig['request-id']}", timeout
        )
        log(f"savepoint {path}; job cancelled")
        self._wait_exit(timeout)
        return path

    def _wait_exit(self, timeout: float) -> None:
        assert self.process
        try:
            self.process.wait(timeout)
        except HarnessError:
            log("CLI JVM still alive after the job ended: stopping it")
            self.process.stop()
        # the REST port must be free before a restart binds it again
        wait_until(lambda: not port_open(self.rest_port), 30, "Flink REST port to close")
        self._drop_tmp()

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=20)
        self._drop_tmp()

    def _drop_tmp(self) -> None:
        # io.tmp.dirs holds ~36 MB of extracted jars (akka RPC) per JVM: not worth keeping
        if self.process is None or not self.process.running:
            shutil.rmtree(self.dir / "tmp", ignore_errors=True)

    def restart_from(
        self, savepoint: str, module_dir: Path | str | None = None, **kw: Any
    ) -> StatefunJob:
        """A new job (new folder, new JVM) restored from ``savepoint``, optionally with another module."""
        opts: dict[str, Any] = dict(
            checkpoint_interval=self.checkpoint_interval,
            restart_attempts=self.restart_attempts,
            rest_port=self.rest_port,
            heap=self.heap,
            job_name=self.job_name,
            flink_conf=self.flink_conf,
        )
        opts.update(kw)
        return StatefunJob(
            self.runtime, self.run, module_dir or self.module_dir, savepoint=savepoint, **opts
        )


# --------------------------------------------------------------------------------------
# Function server
# --------------------------------------------------------------------------------------


def serve_argv(target: str) -> list[str]:
    """The command line of ``statefun serve TARGET`` where the runtime's module.yaml expects it."""
    return [
        sys.executable,
        "-m",
        "statefun",
        "serve",
        target,
        "--host",
        HOST,
        "--port",
        str(FUNCTION_PORT),
        "--path",
        "/statefun",
    ]


class FunctionServer:
    """A function server process (argv given by the test) serving on ``host:port``."""

    def __init__(
        self,
        run: RunDir,
        argv: Sequence[str],
        port: int = FUNCTION_PORT,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
        name: str = "function",
    ):
        self.run = run
        self.argv = list(argv)
        self.port = port
        self.name = name
        self.cwd = Path(cwd) if cwd else REPO_ROOT
        base_env = dict(os.environ)
        pp = base_env.get("PYTHONPATH")
        base_env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + pp if pp else "")
        base_env["PYTHONUNBUFFERED"] = "1"
        base_env.update(env or {})
        self.env = base_env
        self.dir = run.unique(name)
        self.process: ManagedProcess | None = None
        self.starts = 0

    def start(self, timeout: float = 30) -> FunctionServer:
        ensure_ports_free([self.port], f"the function server {self.name}")
        self.starts += 1
        self.process = self.run.register(
            ManagedProcess(
                self.name, self.argv, self.dir / f"{self.name}.log", env=self.env, cwd=self.cwd
            )
        ).start()
        t0 = time.monotonic()
        wait_until(
            lambda: port_open(self.port),
            timeout,
            f"{self.name} on port {self.port}",
            interval=0.1,
            check=self.process.check_alive,
        )
        log(f"{self.name} listening on {HOST}:{self.port} after {time.monotonic() - t0:.1f}s")
        return self

    def kill(self) -> None:
        """SIGKILL (crash) and wait until the port is free."""
        if self.process:
            self.process.kill()
        wait_until(lambda: not port_open(self.port), 15, f"port {self.port} to close")

    def restart(self, timeout: float = 30) -> FunctionServer:
        self.kill()
        return self.start(timeout)

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=10)

    def check_alive(self) -> None:
        if self.process:
            self.process.check_alive()

    def log_text(self) -> str:
        return self.process.log_path.read_text(errors="replace") if self.process else ""


# --------------------------------------------------------------------------------------
# Signal safety net and CLI
# --------------------------------------------------------------------------------------


def install_sigterm_handler() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so fixtures/finally blocks stop the children."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: object) -> None:  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(Exception):
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                signal.signal(s, handler)


def _main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tests.e2e.harness")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="fetch the runtime jars into the cache (no-op when warm)")
    up = sub.add_parser("up", help="run Kafka + the StateFun job until Ctrl-C")
    up.add_argument("module_dir", help="folder containing module.yaml")
    up.add_argument("--topics", default="", help="comma-separated topics to create first")
    up.add_argument("--function", default=None, help="function server command line (shell-split)")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    rt = fetch_runtime()
    log(
        f"runtime at {rt.root} (statefun {rt.statefun_variant}, kafka {rt.kafka_version}), "
        f"{time.monotonic() - t0:.1f}s"
    )
    if args.cmd == "fetch":
        print(rt.root)
        return 0

    install_sigterm_handler()
    run = RunDir()
    try:
        kafka = KafkaBroker(rt, run).start()
        if args.topics:
            kafka.create_topics([t for t in args.topics.split(",") if t])
        if args.function:
            import shlex

            FunctionServer(run, shlex.split(args.function)).start()
        job = StatefunJob(rt, run, args.module_dir).start()
        log(
            f"up: Kafka {kafka.bootstrap}, Flink REST {job.rest}, logs in {run.path}; Ctrl-C to stop"
        )
        while True:
            job.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        run.stop_all()


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
