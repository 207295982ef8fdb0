"""Prometheus metrics for served functions: a middleware, and the text a scrape reads.

>>> metrics = Metrics()                    # into prometheus_client's REGISTRY  # doctest: +SKIP
>>> app = make_app(functions, middleware=[metrics])                         # doctest: +SKIP
>>> metrics.scrape()[:6]                  # what GET /metrics answers          # doctest: +SKIP
b'# HELP'

``statefun serve --metrics`` does this, and answers ``GET /metrics``. Every series
is labelled by function type, never by id (one series per instance would grow
without bound); requests whose function type is not a registered one are
labelled ``unknown``:

==========================================  =========  =========================================
``statefun_requests_total``                 counter    ``function``, ``outcome``: ``ok``,
                                                       ``incomplete`` or the error
``statefun_request_duration_seconds``       histogram  ``function``: body in, answer out
``statefun_batch_size_messages``            histogram  ``function``: messages per request
``statefun_invocations_total``              counter    ``function``, ``outcome``: ``ok``,
                                                       ``dead_lettered`` or the error
``statefun_invocation_duration_seconds``    histogram  ``function``: one call of the function
``statefun_effects_total``                  counter    ``function``, ``kind``: ``message``,
                                                       ``delayed``, ``egress``
``statefun_state_read_bytes_total``         counter    ``function``
``statefun_state_written_bytes_total``      counter    ``function``
``statefun_requests_in_flight``             gauge      none
==========================================  =========  =========================================

Errors, as ``outcome``: ``malformed`` (400), ``unknown_function`` (404),
``state_mismatch``, ``bad_message`` (a message that cannot be decoded),
``function_error``, ``timeout`` (``invocation_timeout`` ran out),
``invalid_result`` and ``internal``; each is a 500 but the first two.

Several processes (one per core, sharing a port) give one scrape through
prometheus_client's multiprocess mode: set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty folder before any process starts; each then writes its numbers there, and
:meth:`Metrics.scrape` in any of them sums them all.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from time import perf_counter
from typing import TYPE_CHECKING, Protocol

from ._errors import DefinitionError, InvalidResult, InvocationFailed
from ._outcome import failure

try:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        generate_latest,
        values,
    )
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
    from prometheus_client.multiprocess import MultiProcessCollector
except ImportError:
    raise ImportError(
        "statefun.metrics needs prometheus-client (the `metrics` extra): pip install"
        " prometheus-client, or pip install -e '.[metrics]' in the SDK's checkout"
    ) from None

if TYPE_CHECKING:
    from ._effects import Result
    from ._handler import Answer
    from ._interpreter import Emitted
    from ._middleware import Invocation

__all__ = ("CONTENT_TYPE", "Metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of :meth:`Metrics.scrape`'s text."""

# A warm batch of one answers in about a hundred microseconds; the runtime gives a call
# a minute (OkHttp) or two (async transport), and the SDK an async function 30 s.
_SECONDS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
# Up to the runtime's largest batch (maxNumBatchRequests, 1000 by default).
_MESSAGES = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)

_REQUESTS = ("statefun_requests", "Requests answered, by function type and outcome.")
_REQUEST_SECONDS = (
    "statefun_request_duration_seconds",
    "Time from a request's body to its answer, by function type.",
)
_BATCH = ("statefun_batch_size_messages", "Messages per request, by function type.")
_INVOCATIONS = (
    "statefun_invocations",
    "Messages handled, by function type and outcome (ok, dead_lettered, or the error).",
)
_INVOCATION_SECONDS = (
    "statefun_invocation_duration_seconds",
    "Time of one call of a function with one message, by function type.",
)
_EFFECTS = (
    "statefun_effects",
    "Effects in answers, by function type and kind (message, delayed, egress).",
)
_READ = ("statefun_state_read_bytes", "Bytes of state values the runtime sent, by function type.")
_WRITTEN = ("statefun_state_written_bytes", "Bytes of state values written, by function type.")
_IN_FLIGHT = ("statefun_requests_in_flight", "Requests being answered.")


class _Tally:
    """One request's calls: their times, recorded once the request ends, and how they went.

    Recording a batch's times at once costs less than once per call; the counts say
    what the request middleware cannot see in an error.
    """

    __slots__ = ("ok", "raised_at", "function", "seconds")

    def __init__(self) -> None:
        self.ok = 0
        self.raised_at = -1
        self.function = ""
        self.seconds: list[float] = []


# Per request, not per Metrics: requests interleave whenever an async function awaits.
_TALLY: ContextVar[_Tally | None] = ContextVar("statefun_metrics_tally", default=None)


class _Stats(Protocol):
    """One function type's numbers, wherever they are kept."""

    def request(self, outcome: str, seconds: float, batch_size: int | None) -> None: ...

    def invoked(self, outcome: str, count: int) -> None: ...

    def invocations_took(self, seconds: list[float]) -> None: ...

    def emitted(self, emitted: Emitted, read: int) -> None: ...


class _Sink(Protocol):
    def function(self, name: str) -> _Stats: ...

    def enter(self) -> None: ...

    def leave(self) -> None: ...


class Metrics:
    """A middleware that counts requests, invocations, effects and state bytes, for Prometheus.

    >>> metrics = Metrics(CollectorRegistry())                 # doctest: +SKIP
    >>> handler = Handler(functions, middleware=[metrics])     # doctest: +SKIP

    Parameters
    ----------
    registry
        Where the metrics are registered; prometheus_client's default
        ``REGISTRY`` (with its process and platform metrics) when ``None``. One
        ``Metrics`` per registry. Unused when ``PROMETHEUS_MULTIPROC_DIR`` is
        set: the numbers then go to that folder's files, and :meth:`scrape`
        reads every process's.
    """

    __slots__ = ("registry", "directory", "_sink")

    registry: CollectorRegistry
    """The registry :meth:`scrape` renders (a fresh one over the folder in multiprocess mode)."""
    directory: str | None
    """``PROMETHEUS_MULTIPROC_DIR`` when this process shares its numbers, else ``None``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        if self.directory is not None:
            if not os.path.isdir(self.directory):
                raise DefinitionError(
                    f"PROMETHEUS_MULTIPROC_DIR={self.directory!r} is not a folder: create it"
                    " (empty) before the processes start"
                )
            self.registry = CollectorRegistry()
            # Its __init__ has no annotations in prometheus_client.
            MultiProcessCollector(self.registry, path=self.directory)  # type: ignore[no-untyped-call]
            self._sink: _Sink = _shared_sink()
            return
        self.registry = REGISTRY if registry is None else registry
        sink = _LocalSink()
        try:
            self.registry.register(sink)
        except ValueError:
            raise DefinitionError(
                "this registry already holds statefun's metrics: one Metrics per registry"
                " (pass Metrics(CollectorRegistry()) for another)"
            ) from None
        self._sink = sink

    def __repr__(self) -> str:
        where = f"directory={self.directory!r}" if self.directory else f"{self.registry!r}"
        return f"{type(self).__name__}({where})"

    def scrape(self) -> bytes:
        """The Prometheus text of every metric: this registry's, or all processes' in the folder."""
        return generate_latest(self.registry)

    async def request(self, body: bytes, proceed: Callable[[bytes], Awaitable[Answer]]) -> Answer:
        """Count one request: its outcome, time, batch, the effects and state bytes of its answer."""
        sink = self._sink
        sink.enter()
        tally = _Tally()
        token = _TALLY.set(tally)
        start = perf_counter()
        try:
            answer = await proceed(body)
        except Exception as exc:
            self._failed(body, exc, perf_counter() - start, tally)
            raise
        finally:
            _TALLY.reset(token)
            sink.leave()
            if tally.seconds:
                sink.function(tally.function).invocations_took(tally.seconds)
        stats = sink.function(answer.function)
        size = answer.batch_size
        stats.request(answer.outcome, perf_counter() - start, size)
        if answer.outcome == "ok":
            dead = len(answer.dead_letters)
            stats.invoked("ok", size - dead)
            stats.invoked("dead_lettered", dead)
            stats.emitted(answer.emitted, answer.state_read)
        return answer

    async def invocation(
        self, call: Invocation, proceed: Callable[[Invocation], Awaitable[Result]]
    ) -> Result:
        """Time one call of the function; the request middleware counts its outcome."""
        start = perf_counter()
        try:
            result = await proceed(call)
        except Exception:
            self._took(call, perf_counter() - start).raised_at = call.index
            raise
        self._took(call, perf_counter() - start).ok += 1
        return result

    def _took(self, call: Invocation, seconds: float) -> _Tally:
        tally = _TALLY.get()
        if tally is None:  # a call outside this middleware's request hook: a tally of its own
            self._sink.function(call.function).invocations_took([seconds])
            return _Tally()
        tally.function = call.function
        tally.seconds.append(seconds)
        return tally

    def _failed(self, body: bytes, exc: Exception, seconds: float, tally: _Tally) -> None:
        if isinstance(exc, InvocationFailed):
            what = failure(exc, body, function_raised=tally.raised_at == exc.index)
            stats = self._sink.function(what.function)
            # Before the failing message, each one either returned or was set aside.
            stats.invoked("ok", tally.ok)
            stats.invoked("dead_lettered", exc.index - tally.ok)
            stats.invoked(what.kind, 1)
        else:
            what = failure(exc, body, function_raised=False)
            stats = self._sink.function(what.function)
            if isinstance(exc, InvalidResult):  # every message was handled; the answer failed
                stats.invoked("ok", tally.ok)
                stats.invoked("dead_lettered", exc.batch_size - tally.ok)
        stats.request(what.kind, seconds, what.batch_size)


class _Buckets:
    """A histogram kept as plain numbers: a fraction of prometheus_client's cost per observation."""

    __slots__ = ("bounds", "les", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        # As prometheus_client writes `le` (Go's float format: repr, for these bounds).
        self.les = (*map(repr, bounds), "+Inf")
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bound's bucket (`le`).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def observe_all(self, values: list[float]) -> None:
        counts = self.counts
        bounds = self.bounds
        for value in values:
            counts[bisect_left(bounds, value)] += 1
        self.sum += sum(values)

    def add_to(self, family: HistogramMetricFamily, labels: list[str]) -> None:
        counts = list(self.counts)  # a scrape from another thread sees one moment
        cumulative: list[tuple[str, float]] = []
        total = 0
        for le, count in zip(self.les, counts, strict=True):
            total += count
            cumulative.append((le, total))
        family.add_metric(labels, cumulative, self.sum)


class _Local:
    """One function type's numbers in this process, rendered at scrape time."""

    __slots__ = (
        "requests",
        "invocations",
        "request_seconds",
        "batch",
        "invocation_seconds",
        "messages",
        "delayed",
        "egress",
        "read",
        "written",
    )

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.invocations: dict[str, int] = {}
        self.request_seconds = _Buckets(_SECONDS)
        self.batch = _Buckets(_MESSAGES)
        self.invocation_seconds = _Buckets(_SECONDS)
        self.messages = 0
        self.delayed = 0
        self.egress = 0
        self.read = 0
        self.written = 0

    def request(self, outcome: str, seconds: float, batch_size: int | None) -> None:
        self.requests[outcome] = self.requests.get(outcome, 0) + 1
        self.request_seconds.observe(seconds)
        if batch_size is not None:
            self.batch.observe(batch_size)

    def invoked(self, outcome: str, count: int) -> None:
        if count:
            self.invocations[outcome] = self.invocations.get(outcome, 0) + count

    def invocations_took(self, seconds: list[float]) -> None:
        self.invocation_seconds.observe_all(seconds)

    def emitted(self, emitted: Emitted, read: int) -> None:
        self.messages += emitted.messages
        self.delayed += emitted.delayed
        self.egress += emitted.egress
        self.read += read
        self.written += emitted.state_written


def _families() -> tuple[
    CounterMetricFamily,
    HistogramMetricFamily,
    HistogramMetricFamily,
    CounterMetricFamily,
    HistogramMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    GaugeMetricFamily,
]:
    function = ["function"]
    return (
        CounterMetricFamily(*_REQUESTS, labels=["function", "outcome"]),
        HistogramMetricFamily(*_REQUEST_SECONDS, labels=function),
        HistogramMetricFamily(*_BATCH, labels=function),
        CounterMetricFamily(*_INVOCATIONS, labels=["function", "outcome"]),
        HistogramMetricFamily(*_INVOCATION_SECONDS, labels=function),
        CounterMetricFamily(*_EFFECTS, labels=["function", "kind"]),
        CounterMetricFamily(*_READ, labels=function),
        CounterMetricFamily(*_WRITTEN, labels=function),
        GaugeMetricFamily(*_IN_FLIGHT),
    )


class _LocalSink:
    """This process's numbers, and the prometheus_client collector that renders them."""

    __slots__ = ("functions", "in_flight")

    def __init__(self) -> None:
        self.functions: dict[str, _Local] = {}
        self.in_flight = 0

    def function(self, name: str) -> _Local:
        stats = self.functions.get(name)
        if stats is None:
            stats = self.functions[name] = _Local()
        return stats

    def enter(self) -> None:
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1

    def describe(self) -> Iterable[Metric]:
        """The families, without samples: what the registry checks for duplicate names."""
        return _families()

    def collect(self) -> Iterator[Metric]:
        """Every family, with a sample per function type seen."""
        families = _families()
        requests, request_seconds, batch, invocations, invocation_seconds = families[:5]
        effects, read, written, in_flight = families[5:]
        # A copy: a scrape may come from another thread (prometheus_client's own server).
        for name, stats in list(self.functions.items()):
            labels = [name]
            for outcome, count in list(stats.requests.items()):
                requests.add_metric([name, outcome], count)
            stats.request_seconds.add_to(request_seconds, labels)
            stats.batch.add_to(batch, labels)
            for outcome, count in list(stats.invocations.items()):
                invocations.add_metric([name, outcome], count)
            stats.invocation_seconds.add_to(invocation_seconds, labels)
            effects.add_metric([name, "message"], stats.messages)
            effects.add_metric([name, "delayed"], stats.delayed)
            effects.add_metric([name, "egress"], stats.egress)
            read.add_metric(labels, stats.read)
            written.add_metric(labels, stats.written)
        in_flight.add_metric([], self.in_flight)
        return iter(families)


class _Shared:
    """One function type's numbers in prometheus_client's files, which every process writes."""

    __slots__ = ("_sink", "_name", "_requests", "_invocations", "_children")

    def __init__(self, sink: _SharedSink, name: str) -> None:
        self._sink = sink
        self._name = name
        self._requests: dict[str, Counter] = {}
        self._invocations: dict[str, Counter] = {}
        self._children = (
            sink.request_seconds.labels(name),
            sink.batch.labels(name),
            sink.invocation_seconds.labels(name),
            sink.effects.labels(name, "message"),
            sink.effects.labels(name, "delayed"),
            sink.effects.labels(name, "egress"),
            sink.read.labels(name),
            sink.written.labels(name),
        )

    def request(self, outcome: str, seconds: float, batch_size: int | None) -> None:
        counter = self._requests.get(outcome)
        if counter is None:
            counter = self._requests[outcome] = self._sink.requests.labels(self._name, outcome)
        counter.inc()
        self._children[0].observe(seconds)
        if batch_size is not None:
            self._children[1].observe(batch_size)

    def invoked(self, outcome: str, count: int) -> None:
        if count:
            counter = self._invocations.get(outcome)
            if counter is None:
                counter = self._invocations[outcome] = self._sink.invocations.labels(
                    self._name, outcome
                )
            counter.inc(count)

    def invocations_took(self, seconds: list[float]) -> None:
        observe = self._children[2].observe
        for each in seconds:
            observe(each)

    def emitted(self, emitted: Emitted, read: int) -> None:
        children = self._children
        for child, amount in zip(
            children[3:],
            (emitted.messages, emitted.delayed, emitted.egress, read, emitted.state_written),
            strict=True,
        ):
            if amount:
                child.inc(amount)


class _SharedSink:
    """prometheus_client's own metrics, whose values live in PROMETHEUS_MULTIPROC_DIR's files."""

    def __init__(self) -> None:
        # Not registered anywhere: the scrape reads the files, every process's at once.
        function = ["function"]
        self.requests = Counter(*_REQUESTS, ["function", "outcome"], registry=None)
        self.request_seconds = Histogram(
            *_REQUEST_SECONDS, function, registry=None, buckets=_SECONDS
        )
        self.batch = Histogram(*_BATCH, function, registry=None, buckets=_MESSAGES)
        self.invocations = Counter(*_INVOCATIONS, ["function", "outcome"], registry=None)
        self.invocation_seconds = Histogram(
            *_INVOCATION_SECONDS, function, registry=None, buckets=_SECONDS
        )
        self.effects = Counter(*_EFFECTS, ["function", "kind"], registry=None)
        self.read = Counter(*_READ, function, registry=None)
        self.written = Counter(*_WRITTEN, function, registry=None)
        # Summed over the processes alive; a process's file goes when mark_process_dead is called.
        self.in_flight = Gauge(*_IN_FLIGHT, registry=None, multiprocess_mode="livesum")
        self.functions: dict[str, _Shared] = {}

    def function(self, name: str) -> _Shared:
        stats = self.functions.get(name)
        if stats is None:
            stats = self.functions[name] = _Shared(self, name)
        return stats

    def enter(self) -> None:
        self.in_flight.inc()

    def leave(self) -> None:
        self.in_flight.dec()


_SHARED: list[_SharedSink] = []


def _shared_sink() -> _SharedSink:
    # One per process: two sets of metrics with the same names would overwrite each
    # other's values in the same files.
    if not _SHARED:
        if values.ValueClass is values.MutexValue:
            raise DefinitionError(
                "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported, so"
                " this process keeps its numbers to itself: set it before the process starts"
            )
        _SHARED.append(_SharedSink())
    return _SHARED[0]
