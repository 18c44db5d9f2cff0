"""The API keys a serve process found live lately, so that most requests are let in without a database look-up.

A live key is looked up again once it was last looked up ``RECHECK_SECONDS`` ago, so a key
revoked with ``broadcaster api-keys revoke`` is refused by every serve process within that
time. Unknown and revoked tokens are not remembered (each costs a look-up, as before), so
what is kept is bounded by the number of live keys. Only the SHA-256 of a token is kept.

One look-up per token is in flight at a time: the requests that arrive meanwhile with the
same token wait for its answer. Without that, every request of a client's first burst,
and of each burst after the recheck time, ran its own look-up on a thread.
"""

import asyncio
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from broadcaster.services import api_keys

RECHECK_SECONDS = 5.0


class RecentKeys:
    def __init__(self, sessions: sessionmaker[Session], recheck_seconds: float = RECHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions, self._recheck, self._clock = sessions, recheck_seconds, clock
        self._live: dict[str, tuple[api_keys.KeyInfo, float]] = {}  # token's SHA-256: (key, when looked up)
        self._looking_up: dict[str, asyncio.Future[api_keys.KeyInfo | None]] = {}

    async def find(self, token: str) -> api_keys.KeyInfo | None:
        """The live key whose token this is, else None; from memory if it was looked up recently."""
        digest = api_keys.digest(token)
        known = self._live.get(digest)
        if known is not None and self._clock() - known[1] < self._recheck:
            return known[0]
        pending = self._looking_up.get(digest)
        if pending is None:
            pending = self._looking_up[digest] = asyncio.ensure_future(self._refresh(digest, token))
            pending.add_done_callback(lambda _: self._looking_up.pop(digest, None))
        return await asyncio.shield(pending)  # one waiter's client going away cancels nobody else's look-up

    async def _refresh(self, digest: str, token: str) -> api_keys.KeyInfo | None:
        looked_up_at = self._clock()  # before the read: a revocation committed after it is seen next time
        key = await run_in_threadpool(self._look_up, token)
        if key is None:
            self._live.pop(digest, None)
        else:
            self._live[digest] = (key, looked_up_at)
        return key

    def _look_up(self, token: str) -> api_keys.KeyInfo | None:
        with self._sessions() as session:
            return api_keys.authenticate(session, token)
