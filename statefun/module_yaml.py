"""``statefun module MODULE:ATTR --url URL``: module.yaml for StateFun 3.3, written from a registry.

The function types come from the :class:`statefun.Functions` registry, so the
endpoint cannot drift from the code: a function added there is in the next
generated file. With only ``--url`` the output is the endpoint documents
(``kind: io.statefun.endpoints.v2/http``); any ingress or egress option makes it
a complete module.yaml, which also declares every egress the registry's
:class:`statefun.DeadLetters` policies write to.

    statefun module examples.greeter.functions:functions --url http://127.0.0.1:8000/statefun \\
        --kafka-address 127.0.0.1:9092 --ingress names=example/person --egress example/greets

``--ingress TOPIC[:TYPENAME]=FUNCTION[,FUNCTION...]`` routes a Kafka topic (key
= id) to functions. Its records are messages of ``TYPENAME``, which every target
must accept; without ``:TYPENAME`` it is the one type the targets all accept.
The syntax has no ``>`` or ``|``, so it needs no quoting in a shell.

Shell code, like :mod:`statefun.cli`: it reads the core, and the core never
imports it. Bad input raises :class:`statefun.loader.CliError`, one line.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias
from urllib.parse import urlsplit

from ._errors import DefinitionError
from ._registry import Function, Functions
from ._typename import split_strict
from .loader import CliError, load_functions

__all__ = (
    "IngressRoute",
    "ModuleOptions",
    "add_arguments",
    "command",
    "dump_yaml",
    "module_documents",
    "module_yaml",
    "options_from",
    "parse_ingress",
)

Transport = Literal["async", "okhttp"]
StartupPosition = Literal["earliest", "latest", "group-offsets"]

TRANSPORTS: tuple[Transport, ...] = ("async", "okhttp")
STARTUP_POSITIONS: tuple[StartupPosition, ...] = ("latest", "earliest", "group-offsets")
DEFAULT_TRANSACTION_TIMEOUT = "15min"

ENDPOINT_KIND = "io.statefun.endpoints.v2/http"
KAFKA_INGRESS_KIND = "io.statefun.kafka.v1/ingress"
KAFKA_EGRESS_KIND = "io.statefun.kafka.v1/egress"
KINESIS_EGRESS_KIND = "io.statefun.kinesis.v1/egress"

# What the documents are made of: the subset of YAML the runtime's components use.
Yaml: TypeAlias = "str | int | bool | Sequence[Yaml] | Mapping[str, Yaml]"
Document = dict[str, Yaml]

# Kafka's own rule for topic names (kafka.common.internals.Topic).
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


@dataclass(frozen=True, slots=True)
class IngressRoute:
    """One ``--ingress``: records on ``topic`` go to each of ``targets`` as ``value_type``.

    ``value_type`` is ``None`` until :func:`module_documents` infers it from
    what the targets accept.
    """

    topic: str
    value_type: str | None
    targets: tuple[str, ...]

    def __str__(self) -> str:
        kind = f":{self.value_type}" if self.value_type is not None else ""
        return f"{self.topic}{kind}={','.join(self.targets)}"


@dataclass(frozen=True, slots=True)
class ModuleOptions:
    """What ``statefun module`` was asked for; see ``statefun module --help``.

    Durations are Flink's (``30s``, ``1 min``, ``15min``; a bare number is
    milliseconds), checked here and written as given.
    """

    url: str
    wildcard: bool = False
    transport: Transport = "async"
    call_timeout: str | None = None
    connect_timeout: str | None = None
    max_batch: int | None = None
    kafka_address: str | None = None
    ingress: tuple[IngressRoute, ...] = ()
    ingress_id: str | None = None
    consumer_group: str | None = None
    startup_position: StartupPosition = "latest"
    egress: tuple[str, ...] = ()
    exactly_once: bool = False
    transaction_timeout: str = DEFAULT_TRANSACTION_TIMEOUT
    kinesis_egress: tuple[str, ...] = ()
    aws_region: str | None = None

    @property
    def complete(self) -> bool:
        """Whether the output is a whole module.yaml, not only the endpoint documents."""
        return bool(self.kafka_address or self.ingress or self.egress or self.kinesis_egress)

    def argv(self, target: str) -> list[str]:
        """The ``statefun module`` command line that asks for exactly these options."""
        argv = ["statefun", "module", target, "--url", self.url]
        if self.wildcard:
            argv.append("--wildcard")
        if self.transport != "async":
            argv += ["--transport", self.transport]
        for option, value in (
            ("--call-timeout", self.call_timeout),
            ("--connect-timeout", self.connect_timeout),
            ("--max-batch", None if self.max_batch is None else str(self.max_batch)),
            ("--kafka-address", self.kafka_address),
        ):
            if value is not None:
                argv += [option, value]
        for route in self.ingress:
            argv += ["--ingress", str(route)]
        for option, value in (
            ("--ingress-id", self.ingress_id),
            ("--consumer-group", self.consumer_group),
        ):
            if value is not None:
                argv += [option, value]
        if self.startup_position != "latest":
            argv += ["--startup-position", self.startup_position]
        for egress in self.egress:
            argv += ["--egress", egress]
        if self.exactly_once:
            argv.append("--exactly-once")
        if self.transaction_timeout != DEFAULT_TRANSACTION_TIMEOUT:
            argv += ["--transaction-timeout", self.transaction_timeout]
        for egress in self.kinesis_egress:
            argv += ["--kinesis-egress", egress]
        if self.aws_region is not None:
            argv += ["--aws-region", self.aws_region]
        return argv


def parse_ingress(text: str) -> IngressRoute:
    """Read one ``--ingress TOPIC[:TYPENAME]=FUNCTION[,FUNCTION...]``, or raise CliError.

    >>> parse_ingress("cart-add:shop/Add=shop/cart")
    IngressRoute(topic='cart-add', value_type='shop/Add', targets=('shop/cart',))
    """
    usage = "expected TOPIC[:TYPENAME]=FUNCTION[,FUNCTION...], e.g. names=example/person"
    source, equals, functions = text.partition("=")
    if not equals or not source or not functions:
        raise CliError(f"--ingress {text}: {usage}")
    topic, colon, value_type = source.partition(":")
    if not _TOPIC.fullmatch(topic) or topic in (".", ".."):
        raise CliError(
            f"--ingress {text}: {topic!r} is not a Kafka topic name"
            " (1 to 249 of the letters, digits, `.`, `_` and `-`)"
        )
    if colon and not value_type:
        raise CliError(f"--ingress {text}: no typename after `:`; {usage}")
    targets = tuple(functions.split(","))
    for target in targets:
        if not target:
            raise CliError(f"--ingress {text}: an empty function type; {usage}")
        if targets.count(target) > 1:
            raise CliError(f"--ingress {text}: `{target}` is a target twice")
    return IngressRoute(topic, value_type if colon else None, targets)


def module_documents(functions: Functions, options: ModuleOptions, target: str) -> list[Document]:
    """The module.yaml components for ``functions``, in a stable order, or raise CliError.

    Endpoints first (by function type, or by namespace with ``wildcard``), then
    the Kafka ingress, then the egresses by id. ``target`` names the registry
    in error messages.
    """
    if not len(functions):
        raise CliError(f"{target} has no functions registered")
    _check_url(options.url)
    transport = _transport(options)
    documents = [
        _endpoint(pattern, transport, options) for pattern in _patterns(functions, options)
    ]
    if options.ingress:
        documents.append(_ingress(functions, options, target))
    elif options.ingress_id is not None or options.consumer_group is not None:
        raise CliError("--ingress-id and --consumer-group describe a Kafka ingress: add --ingress")
    if options.complete:
        documents += _egresses(functions, options)
    else:
        for option, given in (
            ("--exactly-once", options.exactly_once),
            ("--aws-region", options.aws_region is not None),
        ):
            if given:
                raise CliError(f"{option} describes an egress: add --egress or --kinesis-egress")
    return documents


def module_yaml(functions: Functions, options: ModuleOptions, target: str) -> str:
    """The whole output of ``statefun module``: a header comment, then the documents.

    >>> print(module_yaml(functions, ModuleOptions("http://127.0.0.1:8000/statefun"),
    ...                   "examples.greeter.functions:functions"))  # doctest: +ELLIPSIS
    # Generated by statefun-sdk from the registry; regenerate it rather than edit it:
    #   statefun module examples.greeter.functions:functions --url http://127.0.0.1:8000/statefun
    kind: io.statefun.endpoints.v2/http
    spec:
      functions: example/greeter
    ...
    """
    documents = module_documents(functions, options, target)
    header = [
        "# Generated by statefun-sdk from the registry; regenerate it rather than edit it:",
        f"#   {shlex.join(options.argv(target))}",
    ]
    header += [f"# {note}" for note in _notes(functions, options)]
    return "\n".join(header) + "\n" + dump_yaml(documents)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        valid = False
    if not valid:
        raise CliError(
            f"--url {url}: expected the http:// or https:// URL the functions are served at,"
            " e.g. http://functions:8000/statefun"
        )


def _patterns(functions: Functions, options: ModuleOptions) -> list[str]:
    types = sorted(function.typename for function in functions)
    if not options.wildcard:
        return types
    # A wildcard claims the whole namespace for this URL, types not written yet included:
    # right when one service owns the namespace, wrong when two share it, so it is asked for.
    return sorted({f"{typename.split('/')[0]}/*" for typename in types})


def _endpoint(pattern: str, transport: Document, options: ModuleOptions) -> Document:
    spec: Document = {"functions": pattern, "urlPathTemplate": options.url}
    if options.max_batch is not None:
        spec["maxNumBatchRequests"] = options.max_batch
    spec["transport"] = transport
    return {"kind": ENDPOINT_KIND, "spec": spec}


def _transport(options: ModuleOptions) -> Document:
    call = _millis("--call-timeout", options.call_timeout)
    connect = _millis("--connect-timeout", options.connect_timeout)
    if call is not None and connect is not None and connect > call:
        raise CliError(
            f"--connect-timeout {options.connect_timeout} is longer than --call-timeout"
            f" {options.call_timeout}: the call timeout bounds the whole call, connecting included"
        )
    if options.transport == "async":
        transport: Document = {"type": "io.statefun.transports.v1/async"}
        if options.call_timeout is not None:
            transport["call"] = options.call_timeout
        if options.connect_timeout is not None:
            transport["connect"] = options.connect_timeout
        return transport
    timeouts: Document = {}
    if options.call_timeout is not None:
        timeouts["call"] = options.call_timeout
    if options.connect_timeout is not None:
        timeouts["connect"] = options.connect_timeout
    # OkHttp refuses a connect, read or write timeout longer than the call's, and those
    # default to 10 s: below that each one left out would fail the job, so it gets the call's.
    if call is not None and call < 10_000 and options.call_timeout is not None:
        for key in ("connect", "read", "write"):
            timeouts.setdefault(key, options.call_timeout)
    transport = {"type": "io.statefun.transports.v1/okhttp"}
    if timeouts:
        transport["timeouts"] = timeouts
    return transport


def _ingress(functions: Functions, options: ModuleOptions, target: str) -> Document:
    if options.kafka_address is None:
        raise CliError("--ingress needs --kafka-address HOST:PORT: the Kafka the topics are on")
    routes: dict[str, Document] = {}
    for route in options.ingress:
        if route.topic in routes:
            # The runtime keeps one route per topic and would drop the first without a word.
            raise CliError(
                f"--ingress: topic {route.topic!r} is given twice; list every target once"
            )
        value_type = _value_type(functions, route, target)
        routes[route.topic] = {
            "topic": route.topic,
            "valueType": value_type,
            "targets": list(route.targets),
        }
    first = options.ingress[0].targets[0]
    ingress_id = options.ingress_id or f"{first.split('/')[0]}/ingress"
    _check_typename("--ingress-id", ingress_id)
    spec: Document = {
        "id": ingress_id,
        "address": _kafka_address(options.kafka_address),
        # The runtime refuses a Kafka ingress without a consumer group.
        "consumerGroupId": options.consumer_group or ingress_id,
        "startupPosition": {"type": options.startup_position},
        "topics": [routes[topic] for topic in sorted(routes)],
    }
    return {"kind": KAFKA_INGRESS_KIND, "spec": spec}


def _value_type(functions: Functions, route: IngressRoute, target: str) -> str:
    bound: list[Function] = []
    for function_type in route.targets:
        function = functions.get(function_type)
        if function is None:
            served = ", ".join(sorted(f.typename for f in functions))
            raise CliError(
                f"--ingress {route}: no function `{function_type}` in {target}; it has {served}"
            )
        bound.append(function)
    if route.value_type is not None:
        for function in bound:
            if route.value_type not in _accepted(function):
                raise CliError(
                    f"--ingress {route}: `{function.typename}` does not accept"
                    f" `{route.value_type}`; it accepts {', '.join(_accepted(function))}"
                )
        return route.value_type
    common = [t for t in _accepted(bound[0]) if all(t in _accepted(f) for f in bound[1:])]
    if len(common) == 1:
        return common[0]
    accepts = "; ".join(f"`{f.typename}` accepts {', '.join(_accepted(f))}" for f in bound)
    if not common:
        raise CliError(f"--ingress {route}: the targets accept no type in common: {accepts}")
    example = IngressRoute(route.topic, common[0], route.targets)
    raise CliError(
        f"--ingress {route}: which type are the records? {accepts}; name it, e.g. --ingress {example}"
    )


def _accepted(function: Function) -> list[str]:
    return [t.typename for t in function.accepts]


def _egresses(functions: Functions, options: ModuleOptions) -> list[Document]:
    kafka: dict[str, str] = {}  # egress id -> why it is declared
    kinesis: dict[str, str] = {}
    for egress in options.egress:
        kafka[_check_typename("--egress", egress)] = "--egress"
    for egress in options.kinesis_egress:
        kinesis[_check_typename("--kinesis-egress", egress)] = "--kinesis-egress"
    for function in _sorted(functions):
        policy = function.on_error
        if policy is None or (policy.topic is None and policy.stream is None):
            continue  # no policy, or a typed egress of the user's own: _notes says so
        found = kafka if policy.topic is not None else kinesis
        found.setdefault(policy.egress, f"dead letters of {function.typename}")
    both = sorted(kafka.keys() & kinesis.keys())
    if both:
        raise CliError(
            f"egress {both[0]} is both a Kafka egress ({kafka[both[0]]})"
            f" and a Kinesis one ({kinesis[both[0]]})"
        )
    if kafka and options.kafka_address is None:
        egress, why = sorted(kafka.items())[0]
        raise CliError(f"egress {egress} ({why}) is a Kafka egress: give --kafka-address HOST:PORT")
    if options.exactly_once and not kafka:
        raise CliError("--exactly-once is a Kafka egress's delivery: add --egress")
    if options.transaction_timeout != DEFAULT_TRANSACTION_TIMEOUT and not options.exactly_once:
        raise CliError(
            "--transaction-timeout is the exactly-once transactions': add --exactly-once"
        )
    _millis("--transaction-timeout", options.transaction_timeout)
    address = _kafka_address(options.kafka_address) if options.kafka_address else ""
    documents: list[Document] = []
    for egress in sorted(kafka.keys() | kinesis.keys()):
        if egress in kafka:
            delivery: Document = {"type": "at-least-once"}
            if options.exactly_once:
                delivery = {
                    "type": "exactly-once",
                    "transactionTimeout": options.transaction_timeout,
                }
            spec: Document = {"id": egress, "address": address, "deliverySemantic": delivery}
            documents.append({"kind": KAFKA_EGRESS_KIND, "spec": spec})
        else:
            spec = {"id": egress}
            if options.aws_region is not None:
                spec["awsRegion"] = {"type": "specific", "id": options.aws_region}
            documents.append({"kind": KINESIS_EGRESS_KIND, "spec": spec})
    return documents


def _notes(functions: Functions, options: ModuleOptions) -> list[str]:
    """What the generated file leaves out that a reader should know of."""
    notes: list[str] = []
    for function in _sorted(functions):
        policy = function.on_error
        if policy is None:
            continue
        if policy.topic is None and policy.stream is None:
            notes.append(
                f"Not declared: egress {policy.egress}, where {function.typename} sends its dead"
                " letters as typed values (DeadLetters without topic= or stream=)."
            )
        elif not options.complete:
            notes.append(
                f"Not declared: egress {policy.egress}, where {function.typename} sends its dead"
                " letters; with ingress or egress options the output declares it."
            )
    return notes


def _sorted(functions: Functions) -> list[Function]:
    return sorted(functions, key=lambda function: function.typename)


def _check_typename(option: str, typename: str) -> str:
    try:
        split_strict(typename, option)
    except DefinitionError as exc:
        raise CliError(str(exc)) from None
    return typename


def _kafka_address(address: str) -> str:
    for server in address.split(","):
        host, colon, port = server.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CliError(
                f"--kafka-address {address}: {server!r} is not HOST:PORT;"
                " expected HOST:PORT[,HOST:PORT...], e.g. kafka:9092"
            )
    return address


# Flink's TimeUtils.parseDuration: digits, then one of these labels (or none: milliseconds).
_DURATION = re.compile(r"\s*(\d+)\s*([^\s\d]*)\s*")
_UNIT_MILLIS = {
    **dict.fromkeys(("d", "day", "days"), 86_400_000),
    **dict.fromkeys(("h", "hour", "hours"), 3_600_000),
    **dict.fromkeys(("min", "m", "minute", "minutes"), 60_000),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1_000),
    **dict.fromkeys(("", "ms", "milli", "millis", "millisecond", "milliseconds"), 1),
}


def _millis(option: str, text: str | None) -> int | None:
    """A Flink duration in milliseconds (sub-millisecond units are refused), or raise CliError."""
    if text is None:
        return None
    match = _DURATION.fullmatch(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNIT_MILLIS:
        raise CliError(
            f"{option} {text}: expected a duration such as 30s, 500ms, 2min or 1 h"
            " (a number and one of ms, s, min, h, d)"
        )
    millis = int(match.group(1)) * _UNIT_MILLIS[unit]
    if millis == 0:
        raise CliError(f"{option} {text}: must be longer than 0")
    return millis


# --- YAML ------------------------------------------------------------------------------------
# Written here rather than by PyYAML, which is the `local` extra's: generating a file for the
# runtime needs nothing but the SDK, and the layout (key order, indentation) is ours to keep.

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:*+@,-]*(?: [A-Za-z0-9_./:*+@,-]+)*")
# Strings that start with a digit but that no YAML 1.1 reader (SnakeYAML's, in the runtime)
# takes for a number, a date or a sexagesimal: durations and IPv4 HOST:PORT addresses.
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}"
_PLAIN_DIGITS = re.compile(rf"\d+ ?[A-Za-z]+|{_IPV4}(?:,{_IPV4})*")
# Plain words YAML 1.1 reads as booleans or null.
_WORDS = {"y", "yes", "n", "no", "true", "false", "on", "off", "null"}


def dump_yaml(documents: Iterable[Mapping[str, Yaml]]) -> str:
    """Block-style YAML, ``---`` between documents; strings quoted where YAML would misread them.

    >>> print(dump_yaml([{"kind": "a/b", "spec": {"size": 1, "list": ["x", "1", "no"]}}]), end="")
    kind: a/b
    spec:
      size: 1
      list:
        - x
        - "1"
        - "no"
    """
    return "---\n".join("\n".join(_mapping(document, 0)) + "\n" for document in documents)


def _scalar(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    plain = _PLAIN.fullmatch(value) or _PLAIN_DIGITS.fullmatch(value)
    if plain and value.lower() not in _WORDS and not value.endswith(":") and ": " not in value:
        return value
    return '"' + "".join(map(_quoted, value)) + '"'


# Inside double quotes YAML folds line breaks (NEL and the Unicode separators too) and
# refuses what it deems unprintable: those are escaped, the rest of Unicode is kept.
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _quoted(char: str) -> str:
    code = ord(char)
    if char in _ESCAPES:
        return _ESCAPES[char]
    if 0x20 <= code <= 0x7E or code >= 0x10000:
        return char
    if (0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD) and char not in "\u2028\u2029\ufeff":
        return char
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _mapping(mapping: Mapping[str, Yaml], indent: int) -> list[str]:
    pad = " " * indent
    if not mapping:
        return [pad + "{}"]
    lines: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, (str, int)):
            lines.append(f"{pad}{_scalar(key)}: {_scalar(value)}")
        elif not value:
            lines.append(f"{pad}{_scalar(key)}: {'{}' if isinstance(value, Mapping) else '[]'}")
        elif isinstance(value, Mapping):
            lines.append(f"{pad}{_scalar(key)}:")
            lines += _mapping(value, indent + 2)
        else:
            lines.append(f"{pad}{_scalar(key)}:")
            lines += _sequence(value, indent + 2)
    return lines


def _sequence(items: Sequence[Yaml], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, (str, int)):
            lines.append(f"{pad}- {_scalar(item)}")
        elif not item:
            lines.append(f"{pad}- {'{}' if isinstance(item, Mapping) else '[]'}")
        elif isinstance(item, Mapping):
            # The first key on the dash's line, the others under it.
            nested = _mapping(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines += nested[1:]
        else:
            nested = _sequence(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines += nested[1:]
    return lines


# --- the command -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``statefun module`` arguments to its sub-parser."""
    parser.add_argument(
        "target",
        metavar="MODULE:ATTR",
        help="the Functions registry, e.g. examples.greeter.functions:functions",
    )
    endpoint = parser.add_argument_group("endpoint")
    endpoint.add_argument(
        "--url",
        required=True,
        help="where the runtime reaches the functions, e.g. http://functions:8000/statefun",
    )
    endpoint.add_argument(
        "--wildcard",
        action="store_true",
        help="one `NAMESPACE/*` endpoint per namespace instead of one per function type: every"
        " type of the namespace, present and future, is then sent to URL",
    )
    endpoint.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="async",
        help="the runtime's HTTP client (default async)",
    )
    endpoint.add_argument(
        "--call-timeout",
        metavar="DURATION",
        help="the whole call, retries included (runtime default 2min async, 1min okhttp)",
    )
    endpoint.add_argument(
        "--connect-timeout",
        metavar="DURATION",
        help="connecting (runtime default 20s async, 10s okhttp)",
    )
    endpoint.add_argument(
        "--max-batch",
        metavar="N",
        help="maxNumBatchRequests: messages waiting per address before backpressure"
        " (runtime default 1000; 0 for no limit)",
    )
    kafka = parser.add_argument_group("Kafka")
    kafka.add_argument("--kafka-address", metavar="HOST:PORT", help="the Kafka bootstrap servers")
    kafka.add_argument(
        "--ingress",
        action="append",
        default=[],
        metavar="TOPIC[:TYPENAME]=FUNCTION[,FUNCTION]",
        help="route a topic's records (key = id) to functions, as TYPENAME messages; without"
        " :TYPENAME, the one type the targets all accept (repeatable)",
    )
    kafka.add_argument(
        "--ingress-id",
        metavar="NAMESPACE/NAME",
        help="the ingress id (default NAMESPACE/ingress, of the first target); keep it from one"
        " deployment to the next: Flink keeps the topics' offsets under it",
    )
    kafka.add_argument(
        "--consumer-group",
        metavar="GROUP",
        help="the Kafka consumer group (default the ingress id)",
    )
    kafka.add_argument(
        "--startup-position",
        choices=STARTUP_POSITIONS,
        default="latest",
        help="where a job without a checkpoint starts reading (default latest, the runtime's:"
        " records produced before the job started are skipped)",
    )
    kafka.add_argument(
        "--egress",
        action="append",
        default=[],
        metavar="NAMESPACE/NAME",
        help="a Kafka egress (repeatable); those of DeadLetters(topic=...) are added anyway",
    )
    kafka.add_argument(
        "--exactly-once",
        action="store_true",
        help="Kafka egress records in transactions committed with each checkpoint",
    )
    kafka.add_argument(
        "--transaction-timeout",
        metavar="DURATION",
        default=DEFAULT_TRANSACTION_TIMEOUT,
        help="with --exactly-once; at most the broker's transaction.max.timeout.ms"
        f" (default {DEFAULT_TRANSACTION_TIMEOUT})",
    )
    kinesis = parser.add_argument_group("Kinesis")
    kinesis.add_argument(
        "--kinesis-egress",
        action="append",
        default=[],
        metavar="NAMESPACE/NAME",
        help="a Kinesis egress (repeatable); those of DeadLetters(stream=...) are added anyway",
    )
    kinesis.add_argument(
        "--aws-region",
        metavar="REGION",
        help="the Kinesis egresses' region (default AWS's own lookup: AWS_REGION, ...)",
    )


def options_from(args: argparse.Namespace) -> ModuleOptions:
    """The parsed command line as :class:`ModuleOptions`, or raise CliError."""
    max_batch: int | None = None
    if args.max_batch is not None:
        text: str = args.max_batch
        if not text.isdigit():
            raise CliError(f"--max-batch {text}: expected a whole number, 0 for no limit")
        max_batch = int(text)
    routes = tuple(parse_ingress(text) for text in args.ingress)
    return ModuleOptions(
        url=args.url,
        wildcard=args.wildcard,
        transport=args.transport,
        call_timeout=args.call_timeout,
        connect_timeout=args.connect_timeout,
        max_batch=max_batch,
        kafka_address=args.kafka_address,
        ingress=tuple(sorted(routes, key=lambda route: route.topic)),
        ingress_id=args.ingress_id,
        consumer_group=args.consumer_group,
        startup_position=args.startup_position,
        egress=tuple(sorted(set(args.egress))),
        exactly_once=args.exactly_once,
        transaction_timeout=args.transaction_timeout,
        kinesis_egress=tuple(sorted(set(args.kinesis_egress))),
        aws_region=args.aws_region,
    )


def command(args: argparse.Namespace) -> int:
    """Run ``statefun module`` with parsed ``args``: print the module.yaml, return 0."""
    options = options_from(args)
    functions = load_functions(args.target)
    sys.stdout.write(module_yaml(functions, options, args.target))
    return 0
