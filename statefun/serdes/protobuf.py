"""Protobuf message types, named like ``google.protobuf.Any`` type URLs.

>>> from google.protobuf.wrappers_pb2 import StringValue
>>> protobuf_type(StringValue).typename
'type.googleapis.com/google.protobuf.StringValue'
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

from google.protobuf.message import Message as _ProtoMessage

from .._type import Type

__all__ = ("protobuf_type",)

M = TypeVar("M", bound=_ProtoMessage)

ANY_NAMESPACE = "type.googleapis.com"


class ProtobufSerde(Generic[M]):
    """Serializes one generated protobuf message class; equal when the class is."""

    __slots__ = ("message_class",)

    def __init__(self, message_class: type[M]) -> None:
        self.message_class = message_class

    def encode(self, value: M, /) -> bytes:
        if not isinstance(value, self.message_class):
            raise TypeError(
                f"expected `{self.message_class.DESCRIPTOR.full_name}`,"
                f" got `{type(value).__name__}`"
            )
        return value.SerializeToString()

    def decode(self, data: bytes, /) -> M:
        return self.message_class.FromString(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProtobufSerde):
            return False
        # isinstance() gives pyright ProtobufSerde[Unknown], mypy [Any]; the bound suits both.
        return self.message_class is cast("ProtobufSerde[_ProtoMessage]", other).message_class

    def __hash__(self) -> int:
        return hash(self.message_class)

    def __repr__(self) -> str:
        return f"ProtobufSerde({self.message_class.DESCRIPTOR.full_name})"


def protobuf_type(message_class: type[M], *, namespace: str = ANY_NAMESPACE) -> Type[M]:
    """Return a :class:`Type` for a generated protobuf message class.

    The typename is ``<namespace>/<full message name>``; the default namespace
    makes it the type URL a ``google.protobuf.Any`` would carry.

    Parameters
    ----------
    message_class
        A generated message class, e.g. ``my_pb2.Order``.
    namespace
        Replaces ``type.googleapis.com`` in the typename.
    """
    full_name = message_class.DESCRIPTOR.full_name
    return Type(f"{namespace}/{full_name}", ProtobufSerde(message_class))
