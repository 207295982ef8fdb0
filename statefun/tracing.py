"""OpenTelemetry spans for served functions: a middleware, and the setup ``statefun serve`` uses.

>>> tracing = Tracing()              # the global TracerProvider's tracer  # doctest: +SKIP
>>> app = make_app(functions, middleware=[tracing])                     # doctest: +SKIP

Each request is a ``SERVER`` span named after its function type, and each call of
the function with one message a child span, ``invoke <function type>``; a span
the function starts itself is a child of that one. Errors are recorded on the
span that saw them (``record_exception``, status ``ERROR``, ``error.type``).
A request that is not sampled gets no invocation spans: sampling
(``OTEL_TRACES_SAMPLER``) then saves most of the cost of the ones it leaves out.

Attributes. The request-reply protocol is an RPC: the runtime calls the
function's endpoint with one ``ToFunction`` and waits for the ``FromFunction``
answer, so the request span follows OpenTelemetry's RPC conventions, as
instrumentations emit them today (``rpc.system``, ``rpc.service``). The
messaging conventions describe clients of a broker, and the FaaS ones the
platform a process runs on (``faas.name`` is a resource attribute: one function
per process, where a statefun server hosts several types), so neither fits.
The rest is in the ``statefun.`` namespace:

=============================  =================================================================
``rpc.system``                 ``statefun``
``rpc.service``                the function type (request spans)
``statefun.function.type``     the function type, ``unknown`` if it is not a registered one
``statefun.function.id``       the instance id
``statefun.batch.size``        messages in the request
``statefun.outcome``           ``ok``, ``incomplete``, or the error (the words of
                               :mod:`statefun.metrics`); on invocation spans ``ok`` or the error
``error.type``                 the error, as in ``statefun.outcome``, when there is one
``statefun.message.typename``  the message's typename (invocation spans)
``statefun.message.index``     its place in the batch, from 0
``statefun.caller.type``,      who sent it, when a function did
``statefun.caller.id``
``statefun.dead_letters``,     what the answer carries (request spans that answered ``ok``)
``statefun.effects.*``,
``statefun.state.*_bytes``
=============================  =================================================================

Trace context: the StateFun runtime sends no ``traceparent`` header (nor any
other), so there is nothing to extract, and a request span is a root span, or
the child of a span already current (an HTTP server instrumentation's).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING

from . import __version__
from ._errors import DefinitionError
from ._outcome import UNKNOWN, failure, invocation_kind
from ._text import one_line

try:
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
except ImportError:
    raise ImportError(
        "statefun.tracing needs opentelemetry-api (the `otel` extra): pip install"
        " opentelemetry-api opentelemetry-sdk, or pip install -e '.[otel]' in the SDK's checkout"
    ) from None

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from ._effects import Result
    from ._handler import Answer
    from ._middleware import Invocation

__all__ = ("Tracing", "configure")

_RPC = {"rpc.system": "statefun"}


class _Request:
    """What the invocation hook tells its request's hook, and the other way round."""

    __slots__ = ("recording", "raised_at")

    def __init__(self, recording: bool) -> None:
        # An unsampled request gets no invocation spans: under the SDK's samplers (parent-based,
        # or by trace id) its children would not be sampled either, and they cost as much.
        self.recording = recording
        # The index of the last call that raised, so that the request span can tell a message
        # that failed to decode from a function that raised.
        self.raised_at = -1


_REQUEST: ContextVar[_Request | None] = ContextVar("statefun_tracing_request", default=None)


class Tracing:
    """A middleware that makes a span of each request, and a child span of each invocation.

    >>> from opentelemetry.sdk.trace import TracerProvider      # doctest: +SKIP
    >>> handler = Handler(functions, middleware=[Tracing(TracerProvider())])  # doctest: +SKIP

    Parameters
    ----------
    tracer_provider
        Where the spans go; the global one (``trace.set_tracer_provider``) when
        ``None``, even one set after this is made. Without an SDK provider the
        spans are OpenTelemetry's no-op ones, which cost next to nothing.
    """

    __slots__ = ("tracer",)

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("statefun", __version__, tracer_provider=tracer_provider)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def request(self, body: bytes, proceed: Callable[[bytes], Awaitable[Answer]]) -> Answer:
        """Answer ``body`` inside a ``SERVER`` span named after its function type."""
        with self.tracer.start_as_current_span(
            UNKNOWN,
            kind=SpanKind.SERVER,
            attributes=_RPC,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            request = _Request(span.is_recording())
            token = _REQUEST.set(request)
            try:
                answer = await proceed(body)
            except Exception as exc:
                if request.recording:
                    _request_failed(span, body, exc, request.raised_at)
                raise
            finally:
                _REQUEST.reset(token)
            if request.recording:
                _answered(span, answer)
            return answer

    async def invocation(
        self, call: Invocation, proceed: Callable[[Invocation], Awaitable[Result]]
    ) -> Result:
        """Call the function inside a span of its own, the request span's child."""
        request = _REQUEST.get()
        if request is not None and not request.recording:
            return await proceed(call)
        function = call.function
        with self.tracer.start_as_current_span(
            f"invoke {function}", record_exception=False, set_status_on_exception=False
        ) as span:
            recording = span.is_recording()
            if recording:
                message = call.message
                span.set_attributes(
                    {
                        "statefun.function.type": function,
                        "statefun.function.id": message.target.id,
                        "statefun.message.typename": message.typename,
                        "statefun.message.index": call.index,
                        "statefun.batch.size": call.batch_size,
                    }
                )
                caller = message.caller
                if caller is not None:
                    span.set_attributes(
                        {"statefun.caller.type": caller.typename, "statefun.caller.id": caller.id}
                    )
            try:
                result = await proceed(call)
            except Exception as exc:
                if request is not None:
                    request.raised_at = call.index
                if recording:
                    _record(span, exc, invocation_kind(exc), f"{type(exc).__name__}: {exc}")
                raise
            if recording:
                span.set_attribute("statefun.outcome", "ok")
            return result


def _answered(span: Span, answer: Answer) -> None:
    span.update_name(answer.function)
    emitted = answer.emitted
    span.set_attributes(
        {
            "rpc.service": answer.function,
            "statefun.function.type": answer.function,
            "statefun.function.id": answer.id,
            "statefun.batch.size": answer.batch_size,
            "statefun.outcome": answer.outcome,
        }
    )
    if answer.outcome == "ok":
        span.set_attributes(
            {
                "statefun.dead_letters": len(answer.dead_letters),
                "statefun.effects.messages": emitted.messages,
                "statefun.effects.delayed": emitted.delayed,
                "statefun.effects.egress": emitted.egress,
                "statefun.state.read_bytes": answer.state_read,
                "statefun.state.written_bytes": emitted.state_written,
            }
        )


def _request_failed(span: Span, body: bytes, exc: Exception, raised_at: int) -> None:
    index = getattr(exc, "index", None)
    what = failure(exc, body, function_raised=index is not None and index == raised_at)
    span.set_attribute("statefun.function.type", what.function)
    if what.function != UNKNOWN:
        span.update_name(what.function)
        span.set_attribute("rpc.service", what.function)
    if what.id is not None:
        span.set_attribute("statefun.function.id", what.id)
    if what.batch_size is not None:
        span.set_attribute("statefun.batch.size", what.batch_size)
    _record(span, exc, what.kind, str(exc))


def _record(span: Span, exc: Exception, kind: str, description: str) -> None:
    span.set_attributes({"statefun.outcome": kind, "error.type": kind})
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, one_line(description)))


def configure() -> Callable[[], None]:
    """Set up OpenTelemetry's SDK from the standard ``OTEL_*`` environment variables.

    What ``statefun serve --tracing`` calls before it serves. Unless a global
    TracerProvider is set already (by ``opentelemetry-instrument``, or your own
    code), it makes the SDK's the global one: ``OTEL_SERVICE_NAME`` and
    ``OTEL_RESOURCE_ATTRIBUTES`` name the resource, ``OTEL_TRACES_SAMPLER`` (and
    ``_ARG``) sample, and each exporter ``OTEL_TRACES_EXPORTER`` names (``otlp``
    by default, ``otlp_proto_http``, ``console``, ``none``; comma-separated)
    gets a batch span processor, configured by its own ``OTEL_EXPORTER_*`` and
    ``OTEL_BSP_*`` variables. ``OTEL_SDK_DISABLED=true`` leaves tracing off.

    Returns what to call at shutdown: it exports the spans still queued, then
    stops the provider (nothing, for a provider that was not set up here).
    Raises :class:`ImportError` without ``opentelemetry-sdk``, and
    :class:`statefun.DefinitionError` for an exporter name that no installed
    package provides.
    """
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return _nothing
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return _nothing
    try:
        from opentelemetry.sdk.trace import SpanProcessor
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ImportError(
            "tracing needs opentelemetry-sdk to export spans: pip install opentelemetry-sdk"
            " (and an exporter, e.g. opentelemetry-exporter-otlp-proto-http)"
        ) from None
    processors: list[SpanProcessor] = [BatchSpanProcessor(exporter()) for exporter in _exporters()]
    provider = SdkTracerProvider()  # reads the resource, sampler and limits from OTEL_*
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider.shutdown


def _exporters() -> list[Callable[[], SpanExporter]]:
    from importlib.metadata import entry_points

    setting = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    names = [name.strip() for name in setting.split(",") if name.strip()]
    if names == ["none"]:
        return []
    found: list[Callable[[], SpanExporter]] = []
    for name in names:
        points = entry_points(group="opentelemetry_traces_exporter", name=name)
        if not points:
            default = "" if "OTEL_TRACES_EXPORTER" in os.environ else " (the default)"
            raise DefinitionError(
                f"OTEL_TRACES_EXPORTER={setting}{default}: no installed package provides the"
                f" span exporter `{name}`; for OTLP over HTTP, pip install"
                " opentelemetry-exporter-otlp-proto-http and set"
                " OTEL_TRACES_EXPORTER=otlp_proto_http (`otlp` is gRPC:"
                " opentelemetry-exporter-otlp-proto-grpc); `console` prints spans, `none`"
                " exports nothing"
            )
        found.append(next(iter(points)).load())
    return found


def _nothing() -> None:
    pass
