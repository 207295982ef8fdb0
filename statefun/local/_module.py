"""module.yaml, read the way StateFun 3.x reads it (protocol.md §3).

Only what the local runtime needs is kept: which endpoint serves each function
type, how Kafka ingress topics route to functions, and which egresses exist.
Transport settings, Kafka addresses and consumer properties are read past.

>>> module = Module.load("examples/greeter/module.yaml")
>>> module.routes("names")[0].targets
('example/person',)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._errors import ModuleError

__all__ = ("Egress", "Endpoint", "IngressTopic", "Module", "parse_runtime_typename")

EgressKind = Literal["kafka", "kinesis"]

# What safe_load gives, as far as the checks below tell it apart: declared, so that an
# isinstance() narrows it to dict[Any, Any] where on a bare Any pyright has dict[Unknown, ...].
_Yaml = dict[Any, Any] | list[Any] | str | int | float | bool | None

_ENDPOINT_KINDS = ("io.statefun.endpoints.v1/http", "io.statefun.endpoints.v2/http")
_KAFKA_INGRESS = "io.statefun.kafka.v1/ingress"
_KINESIS_INGRESS = "io.statefun.kinesis.v1/ingress"
_EGRESS_KINDS: dict[str, EgressKind] = {
    "io.statefun.kafka.v1/egress": "kafka",
    "io.statefun.kinesis.v1/egress": "kinesis",
}


def parse_runtime_typename(text: str) -> tuple[str, str]:
    """Split a typename as the runtime's ``TypeName.parseFrom`` does, or raise ModuleError.

    Java's ``String.split("/")`` drops trailing empty parts and must give exactly
    two: so ``"a/b/c"``, ``"a//b"`` and ``"a/"`` are rejected, ``"/b"`` is accepted.
    """
    parts = text.split("/")
    while parts and parts[-1] == "":
        parts.pop()
    if len(parts) != 2:
        raise ModuleError(f"{text!r} is not a valid typename: it must be `<namespace>/<name>`")
    return parts[0], parts[1]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An HTTP endpoint: the function types it serves and the URL it is reached at.

    >>> Endpoint("example/*", "http://127.0.0.1:8000/statefun").serves("example/person")
    True
    """

    functions: str
    url_path_template: str
    max_num_batch_requests: int = 1000

    def serves(self, function_type: str) -> bool:
        """Whether this endpoint serves ``function_type``."""
        namespace, name = self.functions.split("/")
        if name == "*":
            return function_type.rpartition("/")[0] == namespace
        return function_type == self.functions

    def url(self, function_type: str) -> str:
        """The URL for ``function_type``: ``{function.name}`` replaced by the type's name."""
        return self.url_path_template.replace("{function.name}", function_type.rpartition("/")[2])


@dataclass(frozen=True, slots=True)
class IngressTopic:
    """One entry of a Kafka ingress's ``topics``: records on ``topic`` become messages
    of typename ``value_type`` to each of ``targets``, with the record key as id."""

    ingress: str
    topic: str
    value_type: str
    targets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Egress:
    """An egress declared in module.yaml: its id and whether it is Kafka or Kinesis."""

    id: str
    kind: EgressKind


@dataclass(frozen=True, slots=True)
class Module:
    """The parts of a module.yaml the local runtime uses.

    Build one with :meth:`load` (a path) or :meth:`parse` (YAML text).
    """

    endpoints: tuple[Endpoint, ...] = ()
    topics: tuple[IngressTopic, ...] = ()
    egresses: tuple[Egress, ...] = ()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Module:
        """Read the module.yaml at ``path``."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModuleError(
                f"cannot read module file {os.fspath(path)!r}: {exc.strerror or exc}"
            ) from None
        return cls.parse(text, source=os.fspath(path))

    @classmethod
    def parse(cls, text: str, *, source: str = "<module.yaml>") -> Module:
        """Read module.yaml text: one component (``kind`` + ``spec``) per YAML document."""
        yaml = _import_yaml()
        try:
            documents: list[_Yaml] = [doc for doc in yaml.safe_load_all(text) if doc is not None]
        except yaml.YAMLError as exc:
            raise ModuleError(f"{source}: not valid YAML: {exc}") from None
        if len(documents) == 1 and isinstance(documents[0], dict) and "version" in documents[0]:
            raise ModuleError(
                f"{source}: the legacy single-document format (`version: ...`) is not supported"
                " by the local runtime; write one `kind:`/`spec:` document per component"
            )
        endpoints: list[Endpoint] = []
        topics: list[IngressTopic] = []
        egresses: list[Egress] = []
        for number, document in enumerate(documents, start=1):
            where = f"{source}, document {number}"
            if not isinstance(document, dict) or "kind" not in document:
                raise ModuleError(f"{where}: expected a mapping with `kind` and `spec`")
            kind = _text(document, "kind", where)
            _typename(kind, "kind", where)
            spec: _Yaml = document.get("spec")
            if not isinstance(spec, dict):
                raise ModuleError(f"{where}: `spec` must be a mapping")
            if kind in _ENDPOINT_KINDS:
                endpoints.append(_endpoint(spec, where))
            elif kind == _KAFKA_INGRESS:
                topics.extend(_kafka_topics(spec, where))
            elif kind == _KINESIS_INGRESS:
                _typename(_text(spec, "id", where), "id", where)  # routed by stream: not simulated
            elif kind in _EGRESS_KINDS:
                egress_id = _text(spec, "id", where)
                _typename(egress_id, "id", where)
                egresses.append(Egress(egress_id, _EGRESS_KINDS[kind]))
            else:
                raise ModuleError(f"{where}: unknown component kind `{kind}`")
        return cls(tuple(endpoints), tuple(topics), tuple(egresses))

    def endpoint(self, function_type: str) -> Endpoint | None:
        """The endpoint serving ``function_type``: an exact ``functions`` entry first,
        then a ``namespace/*`` one."""
        for endpoint in self.endpoints:
            if endpoint.functions == function_type:
                return endpoint
        for endpoint in self.endpoints:
            if endpoint.serves(function_type):
                return endpoint
        return None

    def routes(self, topic: str) -> tuple[IngressTopic, ...]:
        """Every ingress entry that consumes ``topic``."""
        return tuple(route for route in self.topics if route.topic == topic)

    def egress(self, egress_id: str) -> Egress | None:
        """The egress declared with id ``egress_id``, if any."""
        for egress in self.egresses:
            if egress.id == egress_id:
                return egress
        return None


def _import_yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise ImportError(
            "reading module.yaml needs PyYAML (the `local` extra): pip install pyyaml, or pip install -e '.[local]' in the SDK's checkout"
        ) from None
    return yaml


def _text(mapping: Mapping[str, Any], key: str, where: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise ModuleError(f"{where}: `{key}` must be a non-empty string, got {value!r}")
    return value


def _typename(text: str, key: str, where: str) -> tuple[str, str]:
    try:
        return parse_runtime_typename(text)
    except ValueError as exc:
        raise ModuleError(f"{where}: `{key}`: {exc}") from None


def _endpoint(spec: Mapping[str, Any], where: str) -> Endpoint:
    functions = _text(spec, "functions", where)
    namespace, name = _typename(functions, "functions", where)
    if "*" in namespace or ("*" in name and name != "*"):
        raise ModuleError(
            f"{where}: `functions` may only use `*` as the whole name, got {functions!r}"
        )
    url = _text(spec, "urlPathTemplate", where)
    batch = spec.get("maxNumBatchRequests", 1000)
    if not isinstance(batch, int) or isinstance(batch, bool):
        raise ModuleError(f"{where}: `maxNumBatchRequests` must be an integer, got {batch!r}")
    return Endpoint(f"{namespace}/{name}", url, batch)


def _kafka_topics(spec: Mapping[str, Any], where: str) -> list[IngressTopic]:
    ingress = _text(spec, "id", where)
    _typename(ingress, "id", where)
    entries: _Yaml = spec.get("topics")
    if not isinstance(entries, list) or not entries:
        raise ModuleError(f"{where}: `topics` must be a non-empty list")
    routes: list[IngressTopic] = []
    entry: _Yaml
    for entry in entries:
        if not isinstance(entry, dict):
            raise ModuleError(f"{where}: each of `topics` must be a mapping, got {entry!r}")
        topic = _text(entry, "topic", where)
        value_type = _text(entry, "valueType", where)
        targets: _Yaml = entry.get("targets")
        if not isinstance(targets, list) or not targets:
            raise ModuleError(f"{where}: topic {topic!r}: `targets` must be a non-empty list")
        for target in targets:
            if not isinstance(target, str):
                raise ModuleError(f"{where}: topic {topic!r}: target {target!r} must be a string")
            _typename(target, "targets", where)
        routes.append(IngressTopic(ingress, topic, value_type, tuple(targets)))
    return routes
