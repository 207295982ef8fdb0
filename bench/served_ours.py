"""impl_ours' four functions as the attribute ``statefun serve served_ours:functions`` loads."""

from __future__ import annotations

from impl_ours import registry

functions = registry()
