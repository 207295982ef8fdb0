"""Testing helpers for StateFun functions, on the local runtime.

- :mod:`statefun.testing.pytest_plugin`: the ``statefun_runtime`` fixture
  (loaded by pytest automatically once ``statefun-sdk`` is installed).
- :mod:`statefun.testing.strategies`: Hypothesis strategies for addresses,
  typenames, values and messages (needs ``pip install 'statefun-sdk[testing]'``).
- :mod:`statefun.testing.properties`: ready-made properties: serde round trip,
  determinism, batch equivalence.

This package imports nothing heavy itself: each module loads what it needs.
"""

__all__ = ()
