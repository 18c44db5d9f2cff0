"""A token bucket per API key, in the process: each serve process limits what it is sent.

Behind a load balancer of N processes a key may reach N times the rate; the limit is there
to keep one client from starving the others on a process, not to meter it exactly.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``rate`` requests a second per key, up to ``burst`` at once. Called from the event loop only: no lock."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._clock = rate, float(burst), clock
        self._buckets: dict[int, _Bucket] = {}

    def take(self, key: int) -> float:
        """0 if a request by ``key`` may go ahead now (and counts it); else the seconds until it may."""
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(self._burst, now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate
