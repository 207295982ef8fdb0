# kafka-python 3.0: the producer and consumer calls tests/e2e/harness/ makes.
from collections.abc import Sequence

from kafka.admin import KafkaAdminClient as KafkaAdminClient

class TopicPartition:
    topic: str
    partition: int
    def __init__(self, topic: str, partition: int) -> None: ...
    def __hash__(self) -> int: ...

class ConsumerRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes

class RecordMetadata:
    topic: str
    partition: int
    offset: int

class FutureRecordMetadata:
    def get(self, timeout: float | None = ...) -> RecordMetadata: ...

class KafkaProducer:
    def __init__(self, **configs: object) -> None: ...
    def send(
        self,
        topic: str,
        value: bytes | None = ...,
        key: bytes | None = ...,
        headers: Sequence[tuple[str, bytes]] | None = ...,
        partition: int | None = ...,
        timestamp_ms: int | None = ...,
    ) -> FutureRecordMetadata: ...
    def flush(self, timeout: float | None = ...) -> None: ...
    def close(self, timeout: float | None = ...) -> None: ...

class KafkaConsumer:
    def __init__(self, *topics: str, **configs: object) -> None: ...
    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    def assign(self, partitions: Sequence[TopicPartition]) -> None: ...
    def seek_to_beginning(self, *partitions: TopicPartition) -> None: ...
    def poll(
        self, timeout_ms: int = ..., max_records: int | None = ..., update_offsets: bool = ...
    ) -> dict[TopicPartition, list[ConsumerRecord]]: ...
    def close(self, autocommit: bool = ...) -> None: ...
