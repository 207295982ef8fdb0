# atheris 3.0: the calls tests/fuzz/atheris_handler.py makes.
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

def instrument_imports(
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    enable_loader_override: bool = True,
) -> AbstractContextManager[object]: ...
def Setup(argv: Sequence[str], test_one_input: Callable[[bytes], None]) -> list[str]: ...
def Fuzz() -> None: ...
