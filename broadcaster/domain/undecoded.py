"""Text that no UTF-8 store or wire takes: bytes that were not UTF-8, and lone surrogates.

Python decodes a command line (and the CSV files we read) with ``surrogateescape``: a
byte that cannot start a UTF-8 character, such as 0xE9 (é in Windows-1252 and Latin-1),
becomes the lone surrogate U+DCE9 instead of an error. Such text cannot be stored, sent
or published, so each entrance refuses it by name before it goes anywhere.
"""

import re

_ESCAPED = re.compile("[\udc80-\udcff]")
# Any lone surrogate: JSON may carry one ("\\ud800"), and UTF-7 decodes each half of a pair on its own.
_SURROGATE = re.compile("[\ud800-\udfff]")


def undecoded_byte(text: str) -> int | None:
    """The first byte of ``text`` that was not UTF-8, or None."""
    if text.isascii():  # a flag on the string, not a scan: the usual case costs nothing
        return None
    found = _ESCAPED.search(text)
    return ord(found.group()) - 0xDC00 if found else None


def has_lone_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, as a decoder does with a byte it cannot read."""
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text
