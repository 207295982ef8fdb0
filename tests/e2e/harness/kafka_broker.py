"""The single-node KRaft Kafka broker and the test side's kafka-python helpers."""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .common import (
    HOST,
    JVM_DIR,
    ensure_ports_free,
    log,
    port_open,
    wait_until,
)
from .fetch import Runtime
from .processes import ManagedProcess, RunDir, run_command

if TYPE_CHECKING:  # kafka-python is imported where used: only the tests need it
    from kafka.admin import KafkaAdminClient


class KafkaBroker:
    """Single-node KRaft broker on 127.0.0.1 from the Maven jars; its ports default to the
    run's (``run.ports``), which the job's module.yaml is rendered with."""

    def __init__(
        self,
        runtime: Runtime,
        run: RunDir,
        port: int | None = None,
        controller_port: int | None = None,
        heap: str = "512m",
    ):
        self.runtime = runtime
        self.run = run
        self.port = run.ports.kafka if port is None else port
        self.controller_port = (
            run.ports.kafka_controller if controller_port is None else controller_port
        )
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
        run_command(
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
