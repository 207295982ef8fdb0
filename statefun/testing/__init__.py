"""Testing helpers for StateFun functions, on the local runtime.

- :mod:`statefun.testing.pytest_plugin`: the ``statefun_runtime`` fixture
  (loaded by pytest automatically once ``statefun-sdk`` is installed); its
  type is :class:`RuntimeFactory`, exported here for annotations.
- :mod:`statefun.testing.strategies`: Hypothesis strategies for addresses,
  typenames, values and messages (needs the ``testing`` extra).
- :mod:`statefun.testing.properties`: ready-made properties: serde round trip,
  determinism, batch equivalence.

This package imports nothing heavy itself: each module loads what it needs.
"""

from ._factory import RuntimeFactory

__all__ = ("RuntimeFactory",)
