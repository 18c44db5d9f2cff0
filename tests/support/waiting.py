"""Wait on a condition, never on the clock."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float = 60.0, what: str = "condition") -> T:
    """Return the first truthy value of ``condition()``; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last value: {value!r})")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
