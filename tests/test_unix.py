"""`http+unix://` URLs as the runtime's OkHttp transport reads them (StateFun 3.3's
`UnixDomainHttpEndpoint` and `DefaultHttpRequestReplyClientFactory`; protocol.md §1.6)."""

from __future__ import annotations

import pytest

from statefun._unix import okhttp_path, split_unix_url, unix_url


class TestSplit:
    # The first three are UnixDomainHttpEndpointTest's own cases.
    @pytest.mark.parametrize(
        ("url", "parts"),
        [
            ("http+unix:///some/path.sock", ("/some/path.sock", "/")),
            ("http+unix:///some/path.sock/hello", ("/some/path.sock", "/hello")),
            ("http+unix:///some/path/hello", None),
            ("https+unix:///run/f.sock/a/b/", ("/run/f.sock", "/a/b")),
            # The runtime ignores the host and reads the path, decoded.
            ("http+unix://ignored/run/f.sock/statefun", ("/run/f.sock", "/statefun")),
            ("http+unix:///run//f%20g.sock/statefun", ("/run/f g.sock", "/statefun")),
            # The first `.sock` component is the socket, even if it is a folder.
            ("http+unix:///run/a.sock/b.sock/x", ("/run/a.sock", "/b.sock/x")),
        ],
    )
    def test_socket_file_and_path(self, url: str, parts: tuple[str, str] | None) -> None:
        assert split_unix_url(url) == parts


class TestOkHttpPath:
    """OkHttp adds the path as one segment (`addPathSegment`): its slashes are encoded."""

    @pytest.mark.parametrize(
        ("path", "sent"),
        [
            ("/statefun", "/%2Fstatefun"),  # what the runtime really sent, in tests/e2e
            ("/", "/%2F"),
            ("/a/b/", "/%2Fa%2Fb"),
            ("/a b?#%", "/%2Fa%20b%3F%23%25"),
            ("/é", "/%2F%C3%A9"),
            ("/it's-[ok]", "/%2Fit's-[ok]"),
        ],
    )
    def test_the_request_path(self, path: str, sent: str) -> None:
        assert okhttp_path(path) == sent


def test_unix_url_round_trips() -> None:
    for path in ("/statefun", "/", "/a/b"):
        url = unix_url("/run/statefun/functions.sock", path)
        assert split_unix_url(url) == ("/run/statefun/functions.sock", path)
    assert unix_url("/f.sock", "/") == "http+unix:///f.sock"
