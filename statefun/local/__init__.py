"""The local runtime: develop and test StateFun functions without Flink, Kafka or Docker.

An in-process implementation of the runtime side of the remote-function
protocol (per-address state and batching, delayed messages on a virtual clock,
egress capture), which fails loudly wherever Apache Flink StateFun would fail
the job. It is a development and test tool: production stays on Apache Flink
StateFun.

>>> from statefun.local import LocalRuntime
>>> runtime = LocalRuntime(functions)
>>> runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
>>> runtime.run_until_idle()
>>> runtime.kafka_records("example/greets")
[KafkaRecord(egress='example/greets', topic='greetings', value=b'Hello Ana! ...', key='Ana')]

From the shell: ``statefun run module.yaml --functions my.module:functions``.
"""

from ._clock import Clock, RealClock, VirtualClock
from ._errors import (
    DelayFailure,
    EgressFailure,
    EndpointFailure,
    ModuleError,
    NotIdle,
    RoutingFailure,
    RuntimeFailure,
    StateFailure,
)
from ._module import Module
from ._records import EgressRecord, IngressRecord, PendingTimer, RawMessage
from ._runtime import EPOCH, AsyncLocalRuntime, LocalRuntime, run_module
from ._transport import HttpTransport, InProcess, MockTransport, Transport

__all__ = (
    "EPOCH",
    "AsyncLocalRuntime",
    "Clock",
    "DelayFailure",
    "EgressFailure",
    "EgressRecord",
    "EndpointFailure",
    "HttpTransport",
    "InProcess",
    "IngressRecord",
    "LocalRuntime",
    "MockTransport",
    "Module",
    "ModuleError",
    "NotIdle",
    "PendingTimer",
    "RawMessage",
    "RealClock",
    "RoutingFailure",
    "RuntimeFailure",
    "StateFailure",
    "Transport",
    "VirtualClock",
    "run_module",
)

# Reprs and tracebacks say `statefun.local.LocalRuntime`, not `statefun.local._runtime...`.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        try:
            _obj.__module__ = __name__
        except (AttributeError, TypeError):
            pass
# __all__ is not empty, so the loop ran; pyright cannot tell.
del _name, _obj  # pyright: ignore[reportPossiblyUnboundVariable]


def __dir__() -> tuple[str, ...]:
    return __all__
