# kafka-python 3.0: the admin calls tests/e2e/harness/ makes.
from collections.abc import Sequence

class NewTopic:
    name: str
    def __init__(
        self,
        name: str,
        num_partitions: int = ...,
        replication_factor: int = ...,
        replica_assignments: dict[int, list[int]] | None = ...,
        topic_configs: dict[str, str] | None = ...,
    ) -> None: ...

class KafkaAdminClient:
    def __init__(self, **configs: object) -> None: ...
    def list_topics(self) -> list[str]: ...
    def create_topics(
        self,
        new_topics: Sequence[NewTopic],
        timeout_ms: int | None = ...,
        validate_only: bool = ...,
        raise_errors: bool = ...,
        wait_for_metadata: bool = ...,
    ) -> object: ...
    def delete_topics(
        self, topics: Sequence[str], timeout_ms: int | None = ..., raise_errors: bool = ...
    ) -> object: ...
    def close(self) -> None: ...
