"""Every place where the real runtime fails the job fails here too, with its reason.

The function-side cases that the SDK refuses to build (a negative delay, a
cancellation without a token, a MODIFY with another typename) are answered by
a MockTransport with crafted FromFunction bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from examples.greeter.functions import GREET, GreetRequest
from statefun import (
    STRING,
    Address,
    DefinitionError,
    Egress,
    Functions,
    Message,
    Result,
    Send,
    State,
)
from statefun._generated.request_reply_pb2 import FromFunction, ToFunction
from statefun.local import (
    DelayFailure,
    EgressFailure,
    EndpointFailure,
    LocalRuntime,
    MockTransport,
    NotIdle,
    RoutingFailure,
    StateFailure,
)
from tests.local.test_runtime import TIMER, timers

GREETER_YAML = Path(__file__).parents[2] / "examples" / "greeter" / "module.yaml"
TARGET = Address("test/crafted", "c")

Build = Callable[[FromFunction.InvocationResponse], None]


def crafted(build: Build, *, states: dict[str, str] | None = None) -> MockTransport:
    """Answers Incomplete until ``states`` (name -> typename) are registered, then ``build``'s response."""

    def answer(body: bytes) -> bytes:
        request = ToFunction.FromString(body)
        response = FromFunction()
        have = {s.state_name for s in request.invocation.state}
        missing = {name: t for name, t in (states or {}).items() if name not in have}
        if missing:
            for name, typename in missing.items():
                spec = response.incomplete_invocation_context.missing_values.add()
                spec.state_name, spec.type_typename = name, typename
        else:
            response.invocation_result.SetInParent()
            build(response.invocation_result)
        return response.SerializeToString()

    return MockTransport(answer)


def run_crafted(build: Build, *, states: dict[str, str] | None = None) -> LocalRuntime:
    runtime = LocalRuntime(transport=crafted(build, states=states))
    runtime.send(TARGET, STRING, "go")
    runtime.run_until_idle()
    return runtime


def delayed(result: FromFunction.InvocationResponse, ms: int, token: str = "") -> None:
    d = result.delayed_invocations.add()
    d.delay_in_ms = ms
    d.cancellation_token = token
    d.target.namespace, d.target.type, d.target.id = "test", "crafted", "c"
    d.argument.typename, d.argument.has_value = STRING.typename, True


# -- tiny functions -------------------------------------------------------------

misrouting = Functions()


@misrouting.bind("test/misrouting", accepts=STRING)
def misroute(state: State, msg: Message[str]) -> Result:
    if msg.value == "egress":
        return Result(state, [Egress("example/nope", STRING, "x")])
    if msg.value == "generic":
        return Result(state, [Egress("example/greets", STRING, "not a Kafka record")])
    return Result(state, [Send(Address("example/nope", "x"), STRING, "x")])


class TestRouting:
    def test_a_message_to_an_unknown_function_type(self) -> None:
        runtime = LocalRuntime(misrouting)
        runtime.send(Address("test/misrouting", "m"), STRING, "send")
        with pytest.raises(RoutingFailure) as info:
            runtime.run_until_idle()
        assert str(info.value) == (
            "Cannot find a provider for type example/nope (a message from test/misrouting id='m')"
        )

    def test_sending_to_an_unknown_function_type(self) -> None:
        runtime = LocalRuntime(misrouting)
        with pytest.raises(RoutingFailure, match="^Cannot find a provider for type example/nope"):
            runtime.send(Address("example/nope", "x"), STRING, "x")

    def test_a_function_type_no_endpoint_serves(self) -> None:
        runtime = LocalRuntime(misrouting, module=GREETER_YAML)
        with pytest.raises(
            RoutingFailure, match="^Cannot find a provider for type test/misrouting"
        ):
            runtime.send(Address("test/misrouting", "m"), STRING, "send")

    def test_an_unknown_topic(self) -> None:
        runtime = LocalRuntime(misrouting, module=GREETER_YAML)
        with pytest.raises(RoutingFailure) as info:
            runtime.ingest("nope", "Ana", b"{}")
        assert str(info.value) == (
            "No Kafka ingress in module.yaml consumes topic 'nope'"
            " (Kafka record on topic 'nope' with key 'Ana')"
        )

    def test_a_null_key(self) -> None:
        runtime = LocalRuntime(misrouting, module=GREETER_YAML)
        with pytest.raises(RoutingFailure, match="^Kafka record keys must not be null"):
            runtime.ingest("names", None, b"{}")

    def test_ingest_needs_a_module(self) -> None:
        with pytest.raises(DefinitionError, match="module="):
            LocalRuntime(misrouting).ingest("names", "Ana", b"{}")


class TestEgress:
    def test_an_unknown_egress(self) -> None:
        functions = Functions()
        functions.bind("example/misrouting", accepts=STRING)(misroute)
        runtime = LocalRuntime(functions, module=GREETER_YAML)
        runtime.send(Address("example/misrouting", "m"), STRING, "egress")
        with pytest.raises(EgressFailure) as info:
            runtime.run_until_idle()
        assert str(info.value) == "Unknown egress example/nope (from example/misrouting id='m')"

    def test_a_generic_record_to_a_kafka_egress(self) -> None:
        functions = Functions()
        functions.bind("example/misrouting", accepts=STRING)(misroute)
        runtime = LocalRuntime(functions, module=GREETER_YAML)
        runtime.send(Address("example/misrouting", "m"), STRING, "generic")
        with pytest.raises(EgressFailure) as info:
            runtime.run_until_idle()
        assert str(info.value) == (
            "The generic Kafka egress expects only messages of type"
            " type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord,"
            " got io.statefun.types/string (egress example/greets from example/misrouting id='m')"
        )


class TestDelayedMessages:
    def test_a_negative_delay(self) -> None:
        with pytest.raises(DelayFailure) as info:
            run_crafted(lambda result: delayed(result, -1000))
        assert str(info.value) == (
            "A delayed message must have a non-negative delay, got -1000 ms (test/crafted id='c')"
        )

    def test_a_cancellation_without_a_token(self) -> None:
        def build(result: FromFunction.InvocationResponse) -> None:
            result.delayed_invocations.add().is_cancellation_request = True

        with pytest.raises(DelayFailure) as info:
            run_crafted(build)
        assert str(info.value) == (
            "Can not handle a cancellation request without a cancellation token. (test/crafted id='c')"
        )

    def test_a_token_already_pending(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "in:1000:a")
        runtime.send(TIMER, STRING, "in:2000:a")
        with pytest.raises(DelayFailure) as info:
            runtime.run_until_idle()
        assert str(info.value) == (
            "Trying to associate a message with cancellation token 'a', but a message with that"
            " token is already pending for id 't' (test/timer id='t')"
        )

    def test_a_token_pending_for_the_same_id_under_another_type(self) -> None:
        runtime = LocalRuntime(timers)
        runtime.send(TIMER, STRING, "in:1000:a")
        runtime.send(Address("test/other", "t"), STRING, "in:1000:a")
        with pytest.raises(DelayFailure, match="already pending for id 't'"):
            runtime.run_until_idle()

    def test_a_token_twice_in_one_crafted_response(self) -> None:
        def build(result: FromFunction.InvocationResponse) -> None:
            delayed(result, 10, "a")
            delayed(result, 10, "a")

        with pytest.raises(DelayFailure, match="cancellation token 'a'"):
            run_crafted(build)


class TestState:
    def test_modify_with_another_typename(self) -> None:
        def build(result: FromFunction.InvocationResponse) -> None:
            mutation = result.state_mutations.add()
            mutation.mutation_type = FromFunction.PersistedValueMutation.MODIFY
            mutation.state_name = "seen"
            mutation.state_value.typename = "io.statefun.types/long"
            mutation.state_value.has_value = True

        with pytest.raises(StateFailure) as info:
            run_crafted(build, states={"seen": "io.statefun.types/int"})
        assert str(info.value) == (
            "State `seen` is registered with type `io.statefun.types/int`, but was modified"
            " with type `io.statefun.types/long` (test/crafted id='c')"
        )

    def test_a_mutation_of_a_state_never_registered(self) -> None:
        def build(result: FromFunction.InvocationResponse) -> None:
            result.state_mutations.add().state_name = "ghost"

        with pytest.raises(StateFailure) as info:
            run_crafted(build)
        assert (
            str(info.value) == "Accessing a non-existing function state ghost (test/crafted id='c')"
        )

    def test_an_incomplete_context_that_registers_nothing(self) -> None:
        def answer(body: bytes) -> bytes:
            response = FromFunction()
            response.incomplete_invocation_context.SetInParent()
            return response.SerializeToString()

        runtime = LocalRuntime(transport=MockTransport(answer))
        runtime.send(TARGET, STRING, "go")
        with pytest.raises(StateFailure, match="would re-send the same batch forever"):
            runtime.run_until_idle()

    def test_registering_a_state_again_with_another_type(self) -> None:
        calls: list[bytes] = []

        def answer(body: bytes) -> bytes:
            calls.append(body)
            response = FromFunction()
            spec = response.incomplete_invocation_context.missing_values.add()
            spec.state_name = "seen"
            spec.type_typename = f"test/Type{len(calls)}"
            return response.SerializeToString()

        runtime = LocalRuntime(transport=MockTransport(answer))
        runtime.send(TARGET, STRING, "go")
        with pytest.raises(StateFailure) as info:
            runtime.run_until_idle()
        assert str(info.value) == (
            "State `seen` is registered with type `test/Type1`, and cannot be registered again"
            " with type `test/Type2` (test/crafted id='c')"
        )

    def test_an_endpoint_that_keeps_inventing_states(self) -> None:
        names = iter(range(1000))

        def answer(body: bytes) -> bytes:
            response = FromFunction()
            spec = response.incomplete_invocation_context.missing_values.add()
            spec.state_name, spec.type_typename = f"s{next(names)}", "test/Type"
            return response.SerializeToString()

        runtime = LocalRuntime(transport=MockTransport(answer), max_requests=20)
        runtime.send(TARGET, STRING, "go")
        with pytest.raises(NotIdle, match="answered IncompleteInvocationContext 20 times"):
            runtime.run_until_idle()

    def test_a_state_type_the_runtime_cannot_parse(self) -> None:
        with pytest.raises(
            StateFailure, match="State `seen` has an invalid type: 'a/b/c' is not a valid typename"
        ):
            run_crafted(lambda result: None, states={"seen": "a/b/c"})


class TestEndpoint:
    def test_bytes_that_are_not_a_response(self) -> None:
        runtime = LocalRuntime(transport=MockTransport(lambda body: b"\xff\xff\xff"))
        runtime.send(TARGET, STRING, "go")
        with pytest.raises(EndpointFailure, match=r"^Unable to parse a Protobuf message"):
            runtime.run_until_idle()

    def test_an_empty_body_is_an_empty_response(self) -> None:
        runtime = LocalRuntime(transport=MockTransport(lambda body: b""))
        runtime.send(TARGET, STRING, "go")
        runtime.run_until_idle()
        assert runtime.egress() == []

    def test_an_unknown_function_in_process_is_a_404(self) -> None:
        runtime = LocalRuntime(Functions(), module=GREETER_YAML)
        runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
        with pytest.raises(EndpointFailure) as info:
            runtime.run_until_idle()
        assert info.value.status == 404
        assert str(info.value) == (
            "Non successful HTTP response code 404: no function is registered for `example/person`"
            " (example/person id='Ana')"
        )


class TestNothingIsApplied:
    def test_a_failing_response_leaves_no_trace(self) -> None:
        def build(result: FromFunction.InvocationResponse) -> None:
            out = result.outgoing_egresses.add()
            out.egress_namespace, out.egress_type = "test", "out"
            delayed(result, 10, "a")
            delayed(result, -1)

        runtime = LocalRuntime(transport=crafted(build))
        runtime.send(TARGET, STRING, "go")
        with pytest.raises(DelayFailure):
            runtime.run_until_idle()
        assert runtime.egress() == []
        assert runtime.pending_timers() == []
