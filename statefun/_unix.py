"""``http+unix://`` endpoint URLs, read the way the runtime's OkHttp transport reads them.

StateFun 3.3 (``UnixDomainHttpEndpoint``, ``DefaultHttpRequestReplyClientFactory``) takes
``http+unix:///run/statefun/functions.sock/statefun`` apart at the first path component
that ends in ``.sock``: the socket file is the path up to it, the rest (``/`` when nothing
follows) is the HTTP path. OkHttp then adds that rest as *one* path segment, so its
slashes are percent-encoded: the request line reads ``POST /%2Fstatefun``, with
``Host: unused``. ``https+unix://`` is read the same way and is plain HTTP too: the
factory builds an ``http`` URL for either scheme.

>>> split_unix_url("http+unix:///run/statefun/functions.sock/statefun")
('/run/statefun/functions.sock', '/statefun')
>>> okhttp_path("/statefun")
'/%2Fstatefun'
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

__all__ = ("UNIX_SCHEMES", "okhttp_path", "split_unix_url", "unix_url")

UNIX_SCHEMES = ("http+unix", "https+unix")

# OkHttp 3.14's PATH_SEGMENT_ENCODE_SET, plus `%` (the segment is not taken as encoded).
_ENCODED = frozenset(' "<>^`{}|/\\?#%')


def split_unix_url(url: str) -> tuple[str, str] | None:
    """The socket file and the HTTP path of an ``http+unix://`` URL; ``None`` without a ``.sock``.

    The host part is ignored, as the runtime ignores it; the path is decoded first,
    as Java's ``URI.getPath`` does.
    """
    names = [name for name in unquote(urlsplit(url).path).split("/") if name]
    for index, name in enumerate(names):
        if name.endswith(".sock"):
            return "/" + "/".join(names[: index + 1]), "/" + "/".join(names[index + 1 :])
    return None


def okhttp_path(path: str) -> str:
    """The request path OkHttp sends for the HTTP path ``path`` of an ``http+unix://`` URL.

    ``path`` as :func:`split_unix_url` gives it (``/`` + the components after the
    socket file); a trailing slash is dropped, as the runtime drops it.
    """
    segment = "/" + "/".join(name for name in path.split("/") if name)
    return "/" + "".join(_encode(char) for char in segment)


def unix_url(socket_file: str, path: str) -> str:
    """The ``http+unix://`` URL at which the runtime reaches ``path`` on ``socket_file``.

    >>> unix_url("/run/statefun/functions.sock", "/statefun")
    'http+unix:///run/statefun/functions.sock/statefun'
    """
    return f"http+unix://{socket_file}{'' if path == '/' else path}"


def _encode(char: str) -> str:
    if char in _ENCODED or not " " <= char < "\x7f":
        return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return char
