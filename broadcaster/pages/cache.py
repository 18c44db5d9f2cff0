"""A small cache of rendered public pages: each entry is served for ``ttl`` seconds, then made again.

An incident page is the same for every reader, and the people waiting on an incident all
reload it at once; rendering it once a second whatever the traffic keeps one process above
a thousand pages a second, and an update shows within ``ttl`` (plus one render).
"""

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class FreshFor(Generic[Value]):
    """Values by key, each kept ``ttl`` seconds; at most ``size`` keys (the oldest entry goes first)."""

    def __init__(self, ttl: float, size: int = 1000, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._size, self._clock = ttl, size, clock
        self._entries: dict[Hashable, tuple[float, Value]] = {}

    def get(self, key: Hashable) -> Value | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def put(self, key: Hashable, value: Value) -> Value:
        if len(self._entries) >= self._size and key not in self._entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock() + self._ttl, value)
        return value
