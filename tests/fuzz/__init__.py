"""Fuzzing the handler with bad input: structured (Hypothesis) and mutated bytes.

``model.py`` says what each request must get; ``test_*.py`` run a few seconds of
each in the suite; ``mutate.py`` is also the command for long runs (``scripts/fuzz``).
"""
