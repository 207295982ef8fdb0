"""Serializers: how values of each StateFun type become bytes.

One module per format, each offering a constructor that returns a ``Type[T]``:

- :mod:`statefun.serdes.primitives`: ``BOOL``, ``INT``, ``LONG``, ``FLOAT``, ``DOUBLE``, ``STRING``
- :mod:`statefun.serdes.json`: ``json_type(typename, python_type)`` (msgspec)
- :mod:`statefun.serdes.protobuf`: ``protobuf_type(message_class, namespace=...)``
- :mod:`statefun.serdes.custom`: ``custom_type(typename, encode=..., decode=...)``

Your own serde is any object with ``encode(value) -> bytes`` and
``decode(bytes) -> value`` (the :class:`Serde` protocol): ``Type(typename, serde)``.
"""

from .._type import Serde, Type, TypeUnion
from .custom import custom_type
from .json import json_type
from .primitives import BOOL, DOUBLE, FLOAT, INT, LONG, STRING
from .protobuf import protobuf_type

__all__ = (
    "BOOL",
    "DOUBLE",
    "FLOAT",
    "INT",
    "LONG",
    "STRING",
    "Serde",
    "Type",
    "TypeUnion",
    "custom_type",
    "json_type",
    "protobuf_type",
)
