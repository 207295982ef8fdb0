"""The StateFun job: ``CliFrontend run -t local``, a Flink MiniCluster in one JVM."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import yaml

from .common import (
    HOST,
    JVM_DIR,
    HarnessError,
    ensure_ports_free,
    log,
    wait_until,
)
from .fetch import Runtime
from .ports import pick_port
from .processes import ManagedProcess, RunDir

LOOPBACK = ("127.0.0.1", "localhost")


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


def render_module(text: str, kafka: str, function: str) -> str:
    """``module.yaml`` with every Kafka ingress and egress ``address:`` set to ``kafka`` and the
    host and port of every loopback endpoint's ``urlPathTemplate`` set to ``function``
    (``host:port``): the files in the repo keep the documented defaults (9092, 8000) and each
    run points its job at its own ports. Endpoints elsewhere are left alone."""
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(text) if d is not None]
    for doc in docs:
        kind = str(doc.get("kind", ""))
        spec: object = doc.get("spec")
        if not isinstance(spec, dict):
            continue
        spec = cast("dict[str, object]", spec)
        if kind.startswith("io.statefun.kafka.") and "address" in spec:
            spec["address"] = kafka
        url = spec.get("urlPathTemplate")
        if kind.startswith("io.statefun.endpoints.") and isinstance(url, str):
            parts = urlsplit(url)
            if parts.hostname in LOOPBACK:
                spec["urlPathTemplate"] = urlunsplit(parts._replace(netloc=function))
    rendered: str = yaml.safe_dump_all(docs, sort_keys=False)  # pyright: ignore[reportUnknownMemberType]  # types-PyYAML leaves a parameter unknown
    return rendered


class StatefunJob:
    """The StateFun job on a local MiniCluster: ``CliFrontend run -t local`` in one JVM.

    ``module_dir`` must contain ``module.yaml``; only that file goes into the job's own
    classpath folder, so exactly one module.yaml is visible. It goes there rendered
    (:func:`render_module`) with the run's Kafka and function ports. The REST port is picked
    free for each job unless ``rest_port`` is given; every other port the MiniCluster opens is
    left to the kernel (``jvm/flink-conf.yaml.in``).
    """

    def __init__(
        self,
        runtime: Runtime,
        run: RunDir,
        module_dir: Path | str,
        savepoint: str | None = None,
        checkpoint_interval: str = "2s",
        restart_attempts: int = 3,
        rest_port: int | None = None,
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
        self.rest_port = pick_port() if rest_port is None else rest_port
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
        ports = self.run.ports
        (module / "module.yaml").write_text(
            render_module(src.read_text(), f"{HOST}:{ports.kafka}", f"{HOST}:{ports.function}")
        )
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
            heap=self.heap,
            job_name=self.job_name,
            flink_conf=self.flink_conf,
        )
        opts.update(kw)
        return StatefunJob(
            self.runtime, self.run, module_dir or self.module_dir, savepoint=savepoint, **opts
        )
