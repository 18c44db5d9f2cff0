"""Group commit: the reports that arrive while one transaction commits share the next one.

Every request is still answered only once its own rows are committed, so a 202 means
durable exactly as before. What changes is the cost: the requests that arrive together
pay for one transaction, one commit (one fsync on PostgreSQL) and one thread hop, not one
each, and a single thread writes, so within a process SQLite writers never queue on each
other's lock (whose busy handler sleeps milliseconds at a time). Nothing waits to fill a
batch: a lone request commits at once; the ones that arrive during its commit go next.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from broadcaster.services import intake

MAX_BATCH = 500

_Waiting = tuple[intake.Submission, "asyncio.Future[intake.Accepted]"]


class GroupCommit:
    """Accepts submissions from the event loop, committing them in batches on one writer thread."""

    def __init__(self, sessions: sessionmaker[Session], topic: str, max_batch: int = MAX_BATCH) -> None:
        self._sessions, self._topic, self._max_batch = sessions, topic, max_batch
        self._waiting: list[_Waiting] = []
        self._draining: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="intake-commit")

    async def accept(self, submission: intake.Submission) -> intake.Accepted:
        """The submission's answer, once the transaction that holds it has committed (or its error)."""
        future: asyncio.Future[intake.Accepted] = asyncio.get_running_loop().create_future()
        self._waiting.append((submission, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                await self._commit([(submission, future) for submission, future in batch if not future.done()])
        finally:
            self._draining = None

    async def _commit(self, batch: list[_Waiting]) -> None:
        """Commit ``batch`` and answer each of its requests; a request whose client has gone is skipped."""
        if not batch:
            return
        try:
            answers = await asyncio.get_running_loop().run_in_executor(
                self._writer, intake.accept_together, self._sessions, self._topic, [s for s, _ in batch])
        except Exception as error:  # noqa: BLE001 - each request raises it: a 503 for a database that is down
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)
