"""Text from a request, made safe to put in one line of an answer or a log record."""

from __future__ import annotations

__all__ = ("one_line",)

# Control characters (C0, DEL, C1) and the two Unicode line separators: anything
# that would end a line, or hide as one, in an HTTP body, a terminal or a log.
# Lone surrogates too, which cannot be encoded as UTF-8 at all.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPES = {
    code: _NAMED.get(chr(code), f"\\x{code:02x}") for code in (*range(0x20), *range(0x7F, 0xA0))
}
_ESCAPES.update({code: f"\\u{code:04x}" for code in (0x2028, 0x2029, *range(0xD800, 0xE000))})


def one_line(text: str) -> str:
    """``text`` with every line break and control character written as an escape.

    Printable text, non-ASCII letters included, is left as it is:

    >>> one_line("shop/Add\\nERROR forged")
    'shop/Add\\\\nERROR forged'
    >>> one_line("café")
    'café'
    """
    return text.translate(_ESCAPES)
