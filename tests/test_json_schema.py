"""`statefun schema`: JSON Schema from a registry, checked with another validator than msgspec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, cast

import jsonschema
import msgspec
import pytest
from google.protobuf.wrappers_pb2 import StringValue

from statefun import (
    DEAD_LETTER,
    INT,
    DeadLetter,
    DeadLetters,
    Functions,
    Message,
    Result,
    State,
    ValueSpec,
    custom_type,
    json_type,
    protobuf_type,
)
from statefun.cli import main
from statefun.json_schema import _components, registry_schema, type_schema
from statefun.loader import CliError

ROOT = Path(__file__).resolve().parent.parent
CART = "examples.cart.functions:functions"
GREETER = "examples.greeter.functions:functions"


def schema_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["schema", *argv]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    document: dict[str, Any] = json.loads(out)
    return document


class Validator(Protocol):
    """A jsonschema validator as these tests call it.

    types-jsonschema declares each method with a deprecated overload whose first
    argument it leaves untyped, which pyright strict reports at every call.
    """

    def is_valid(self, instance: object) -> bool: ...

    def iter_errors(self, instance: object) -> Iterator[jsonschema.ValidationError]: ...


def validator(document: dict[str, Any], typename: str) -> Validator:
    """What the module docstring tells other teams to do: the type's schema with the $defs."""
    schema = {"$defs": document["$defs"], **document["types"][typename]["schema"]}
    jsonschema.Draft202012Validator.check_schema(schema)
    return cast(Validator, jsonschema.Draft202012Validator(schema))


def records(path: Path) -> list[tuple[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(line["topic"], line["value"]) for line in lines]


class TestTheCart:
    def test_every_type_is_listed_with_where_it_is_used(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        document = schema_of([CART], capsys)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(document)
        uses = {
            typename: {key: value for key, value in entry.items() if key != "schema"}
            for typename, entry in document["types"].items()
        }
        assert uses == {
            "io.statefun.sdk/DeadLetter": {"encoding": "json", "written_to": ["shop/dead-letters"]},
            "shop/Add": {"encoding": "json", "accepted_by": ["shop/cart"]},
            "shop/Checkout": {"encoding": "json", "accepted_by": ["shop/cart"]},
            "shop/Items": {
                "encoding": "json",
                "state_of": [{"function": "shop/cart", "state": "items"}],
            },
            "shop/Remove": {"encoding": "json", "accepted_by": ["shop/cart"]},
        }
        assert list(document["$defs"]) == ["Add", "Checkout", "DeadLetter", "Remove"]
        # Docstrings become descriptions, their doctests left out.
        assert document["$defs"]["DeadLetter"]["description"] == (
            "A message set aside, with everything needed to replay it.\n\n"
            "The JSON a dead-letter egress receives; ``value`` is base64 there."
        )

    def test_the_example_records_validate_and_the_one_that_is_no_add_does_not(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        document = schema_of([CART], capsys)
        topics = {"cart-add": "shop/Add", "cart-checkout": "shop/Checkout"}
        errors = [
            [error.message for error in validator(document, topics[topic]).iter_errors(value)]
            for topic, value in records(ROOT / "examples" / "cart" / "commands.jsonl")
        ]
        # The second record is the one the cart sets aside as a SerdeError; the fourth is
        # a well-formed Add that the function itself refuses (Permanent), which no schema says.
        assert errors == [[], ["'lots' is not of type 'integer'"], [], [], []]

    def test_bad_records_are_rejected(self, capsys: pytest.CaptureFixture[str]) -> None:
        document = schema_of([CART], capsys)
        add = validator(document, "shop/Add")
        assert not add.is_valid({"quantity": 2})  # no sku
        assert not add.is_valid({"sku": 7})
        assert not add.is_valid(["tea"])
        items = validator(document, "shop/Items")
        assert items.is_valid({"tea": 2})
        assert not items.is_valid({"tea": "two"})

    def test_a_real_dead_letter_validates(self, capsys: pytest.CaptureFixture[str]) -> None:
        letter = DeadLetter(
            function="shop/cart",
            id="ana",
            typename="shop/Add",
            value=b'{"sku": 1}',
            error_type="statefun.SerdeError",
            error="...",
            time=datetime(2026, 1, 2, tzinfo=timezone.utc),
        )
        wire = json.loads(DEAD_LETTER.encode(letter))
        dead = validator(schema_of([CART], capsys), "io.statefun.sdk/DeadLetter")
        assert dead.is_valid(wire)
        assert not dead.is_valid({**wire, "id": None})

    def test_one_type_standalone(self, capsys: pytest.CaptureFixture[str]) -> None:
        schema = schema_of([CART, "--type", "shop/Add"], capsys)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert (schema["$comment"], schema["$ref"], list(schema["$defs"])) == (
            "StateFun typename shop/Add",
            "#/$defs/Add",
            ["Add"],
        )
        jsonschema.validate({"sku": "tea"}, schema)
        with pytest.raises(jsonschema.ValidationError, match="'sku' is a required property"):
            jsonschema.validate({}, schema)


def test_the_greeter_names_validate(capsys: pytest.CaptureFixture[str]) -> None:
    document = schema_of([GREETER], capsys)
    greet = validator(document, "example/GreetRequest")
    names = records(ROOT / "examples" / "greeter" / "names.jsonl")
    assert [greet.is_valid(value) for _, value in names] == [True] * 3
    assert not greet.is_valid({"name": "Ana", "visits": "many"})
    assert document["types"]["io.statefun.types/int"] == {
        "encoding": "statefun-primitive",
        "protobuf": "io.statefun.sdk.types.IntWrapper",
        "description": "StateFun primitive io.statefun.types/int, not JSON: a protobuf"
        " io.statefun.sdk.types.IntWrapper (sfixed32), as every StateFun SDK writes it",
        "state_of": [{"function": "example/person", "state": "visits"}],
    }


class Point(msgspec.Struct, frozen=True):
    x: int
    y: int


NAME = custom_type("ns/Name", encode=str.encode, decode=bytes.decode)
LABEL = protobuf_type(StringValue)
POINT = json_type("ns/Point", Point)
MIXED = Functions()


@MIXED.bind(
    "ns/mixed",
    accepts=NAME | LABEL | POINT,
    specs=[ValueSpec("count", INT), ValueSpec("last", POINT)],
    on_error=DeadLetters("ns/letters"),
)
def mixed(state: State, msg: Message[str | StringValue | Point]) -> Result:
    return Result(state)


def test_types_that_are_not_json_are_listed_with_what_they_are() -> None:
    types = registry_schema(MIXED, "t:f")["types"]
    assert list(types) == [
        "io.statefun.sdk/DeadLetter",
        "io.statefun.types/int",
        "ns/Name",
        "ns/Point",
        "type.googleapis.com/google.protobuf.StringValue",
    ]
    assert types["ns/Name"] == {
        "encoding": "custom",
        "serde": "custom_type(encode=str.encode, decode=bytes.decode)",
        "description": "custom serde custom_type(encode=str.encode, decode=bytes.decode), not"
        " JSON: its bytes are whatever it writes",
        "accepted_by": ["ns/mixed"],
    }
    assert types["type.googleapis.com/google.protobuf.StringValue"] == {
        "encoding": "protobuf",
        "protobuf": "google.protobuf.StringValue",
        "description": "protobuf message google.protobuf.StringValue, binary, not JSON",
        "accepted_by": ["ns/mixed"],
    }
    assert types["ns/Point"] == {
        "encoding": "json",
        "schema": {"$ref": "#/$defs/Point"},
        "accepted_by": ["ns/mixed"],
        "state_of": [{"function": "ns/mixed", "state": "last"}],
    }
    # A typed dead-letter egress gets the same JSON as a Kafka or Kinesis one.
    assert types["io.statefun.sdk/DeadLetter"]["written_to"] == ["ns/letters"]


def test_a_type_msgspec_cannot_describe_is_said_so() -> None:
    schemas, components = _components({"ns/Thing": object, "ns/Point": Point})
    assert schemas == {
        "ns/Thing": "JSON, but msgspec has no JSON Schema for it: type <class 'object'> is not supported",
        "ns/Point": {"$ref": "#/$defs/Point"},
    }
    assert list(components) == ["Point"]


def test_one_typename_with_two_definitions_is_an_error() -> None:
    functions = Functions()
    for name, python_type in (("a", Point), ("b", dict[str, int])):

        @functions.bind(f"ns/{name}", accepts=json_type("ns/Shape", python_type))
        def fn(state: State, msg: Message[Any]) -> Result:
            return Result(state)

    with pytest.raises(CliError) as caught:
        registry_schema(functions, "t:f")
    assert str(caught.value) == (
        "typename `ns/Shape` has two definitions in t:f: Type('ns/Shape', JsonSerde(Point))"
        " (accepted by ns/a) and Type('ns/Shape', JsonSerde(dict)) (accepted by ns/b)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["examples.cart.functions:nothing"],
            "module 'examples.cart.functions' has no attribute 'nothing'",
        ),
        (
            [CART, "--type", "shop/Nothing"],
            "--type shop/Nothing: no function of examples.cart.functions:functions uses it; it uses"
            " io.statefun.sdk/DeadLetter, shop/Add, shop/Checkout, shop/Items, shop/Remove",
        ),
        (
            [GREETER, "--type", "io.statefun.types/int"],
            "--type io.statefun.types/int: StateFun primitive io.statefun.types/int, not JSON: a"
            " protobuf io.statefun.sdk.types.IntWrapper (sfixed32), as every StateFun SDK writes"
            " it: no JSON Schema",
        ),
    ],
)
def test_bad_input_is_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", *argv]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"statefun: error: {message}\n")


def test_type_schema_is_the_same_schema_as_in_the_registry_document() -> None:
    document = registry_schema(MIXED, "t:f")
    alone = type_schema(MIXED, "t:f", "ns/Point")
    assert alone["$defs"]["Point"] == document["$defs"]["Point"]


def test_the_readme_sample_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """The README folds short lists and objects onto one line; the values are the same."""
    readme = (ROOT / "README.md").read_text()
    sample = readme.split(f"`statefun schema {GREETER}` prints\n\n```json\n")[1].split("```")[0]
    assert json.loads(sample) == schema_of([GREETER], capsys)
