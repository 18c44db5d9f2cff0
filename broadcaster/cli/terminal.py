"""Text from outside, shown on an engineer's terminal: its control characters made visible, never obeyed.

A dead letter holds whatever a producer sent, and an error may quote what was typed: an
ESC sequence in either could retitle the window, clear the screen or hide lines, and a
bidirectional override could make a line read differently from what it holds.
"""

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # all but tab and newline


def printable(text: str) -> str:
    """``text`` with each control character written as its escape (``\\x1b``, ``\\u202e``)."""
    return _CONTROL.sub(lambda found: ascii(found.group())[1:-1], text)
