"""Fetching the runtime (StateFun, Flink and Kafka jars) once into a version-keyed cache."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .common import (
    DEFAULT_KAFKA_VERSION,
    DEPENDENCY_PLUGIN,
    FLINK_VERSION,
    JVM_DIR,
    STATEFUN_VERSION,
    HarnessError,
    log,
)
from .processes import run_command, tail


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


def _mvn_copy_deps(mvn: str, pom: Path, out: Path, m2: Path, log_file: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    run_command(
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
    run_command(
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
