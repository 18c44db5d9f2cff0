"""Forms that change something (follow, confirm, manage): a signed double-submit token and a rate per address.

The page puts a signed token in a hidden field and the same value in a cookie (SameSite=Strict,
HttpOnly). Another site can make a browser post to us, but cannot read or set our cookie, so
it cannot make the two match; the signature means a value planted some other way is refused,
and its time makes it expire.
"""

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from broadcaster.domain.unsubscribe import InvalidToken, Purpose, seal, unseal
from broadcaster.intake.limits import RateLimiter

COOKIE = "bc_form"
FIELD = "form_token"
MAX_AGE_SECONDS = 6 * 3600


@dataclass(frozen=True)
class FormTokens:
    secrets: tuple[str, ...]  # the first signs; all verify (rotation)
    clock: Callable[[], float] = time.time

    def issue(self) -> str:
        return seal(Purpose.FORM, f"{int(self.clock())}-{secrets.token_urlsafe(12)}", self.secrets[0])

    def valid(self, field: str | None, cookie: str | None) -> bool:
        """The field and the cookie are one value, ours, and not older than six hours."""
        if not field or not cookie or not hmac.compare_digest(field.encode(), cookie.encode()):
            return False
        try:
            issued = int(unseal(field, Purpose.FORM, self.secrets).split("-", 1)[0])
        except (InvalidToken, ValueError):
            return False
        return 0 <= self.clock() - issued <= MAX_AGE_SECONDS


class PerAddress:
    """Requests a client address may make: ``burst`` at once, then one every ``every`` seconds.

    Forgets everyone once it knows ``remembered`` addresses, so a flood of addresses costs bounded memory.
    """

    def __init__(self, burst: int, every: float, remembered: int = 100_000) -> None:
        self._rate, self._burst, self._remembered = 1 / every, burst, remembered
        self._limiter = RateLimiter(self._rate, burst)
        self._ids: dict[str, int] = {}

    def wait(self, address: str) -> float:
        """0 if this address may go ahead now (and counts it); else the seconds until it may."""
        if address not in self._ids and len(self._ids) >= self._remembered:
            self._limiter, self._ids = RateLimiter(self._rate, self._burst), {}
        return self._limiter.take(self._ids.setdefault(address, len(self._ids)))
