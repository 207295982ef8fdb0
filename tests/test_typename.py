"""Typename checks (protocol.md §6.6): lenient for message types, strict where the runtime parses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statefun import DefinitionError, InvalidTypeName
from statefun._typename import split, split_strict

PART = st.text(alphabet=st.characters(blacklist_characters="/"), min_size=1, max_size=10)


class TestSplit:
    def test_splits_at_the_last_slash(self) -> None:
        assert split("a/b/c") == ("a/b", "c")
        assert split("example/greeter") == ("example", "greeter")

    @given(st.lists(PART, min_size=1, max_size=3), PART)
    def test_any_namespace_and_name(self, namespace_parts: list[str], name: str) -> None:
        namespace = "/".join(namespace_parts)
        assert split(f"{namespace}/{name}") == (namespace, name)

    @pytest.mark.parametrize(
        ("typename", "reason"),
        [
            ("", "expected `<namespace>/<name>`"),
            ("greeter", "expected `<namespace>/<name>`"),
            ("/greeter", "namespace and name must both be non-empty"),
            ("example/", "namespace and name must both be non-empty"),
            ("/", "namespace and name must both be non-empty"),
        ],
    )
    def test_refused(self, typename: str, reason: str) -> None:
        with pytest.raises(InvalidTypeName) as info:
            split(typename, "function typename")
        assert (
            str(info.value) == f"function typename {typename!r} is not a valid typename: {reason}"
        )
        assert (info.value.what, info.value.typename, info.value.reason) == (
            "function typename",
            typename,
            reason,
        )

    def test_not_a_string(self) -> None:
        with pytest.raises(InvalidTypeName) as info:
            split(b"a/b")  # type: ignore[arg-type]
        assert (
            str(info.value)
            == "typename b'a/b' is not a valid typename: expected `str`, got `bytes`"
        )

    def test_is_a_value_error(self) -> None:
        assert issubclass(InvalidTypeName, DefinitionError)
        assert issubclass(InvalidTypeName, ValueError)


class TestSplitStrict:
    """The runtime's ``TypeName.parseFrom``: ``split("/")`` must give exactly two parts."""

    @given(PART, PART)
    def test_one_slash(self, namespace: str, name: str) -> None:
        assert split_strict(f"{namespace}/{name}") == (namespace, name)

    @pytest.mark.parametrize("typename", ["a/b/c", "a//b", "a///b"])
    def test_more_slashes(self, typename: str) -> None:
        with pytest.raises(InvalidTypeName) as info:
            split_strict(typename, "Egress id")
        assert str(info.value) == (
            f"Egress id {typename!r} is not a valid typename: the runtime needs exactly one `/` here"
        )

    def test_runs_the_lenient_checks_first(self) -> None:
        with pytest.raises(InvalidTypeName) as info:
            split_strict("a/")
        assert info.value.reason == "namespace and name must both be non-empty"
