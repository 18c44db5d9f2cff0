"""The engineers' import of affected people (`broadcaster incident affected`): read, check, commit, publish.

Three things overlap: this thread reads the CSV (the C parser, about a microsecond a
row); worker processes, one per core, check the rows by the input rules (the address
check is most of the CPU the checking needs); writer threads commit the checked people
batch by batch (services/affected.py) while the database works. On PostgreSQL two
writers commit at once, each on its own connection: the database's own work (indexes,
foreign keys) is most of an import, and one server process can use only one core.
SQLite takes one writer at a time, so it has one. Only a few chunks and a few batches
are in flight at any time, so memory stays bounded however long the file.
Each batch is one transaction: what was committed stays committed if the command stops,
and running the same file again adds only who is missing.
"""

import gc
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from multiprocessing.pool import AsyncResult, Pool

from broadcaster.domain.affected import AffectedPerson, RawRow, RefusedRow, check, read_rows
from broadcaster.services import accepting
from broadcaster.services.affected import BatchAdded, add_batch
from broadcaster.services.desk import Desk
from broadcaster.services.errors import CommandFailed
from broadcaster.storage.models import Incident

PUBLISH_EVERY_SECONDS = 1.0
WRITERS = {"postgresql": 2}  # batches committed at once, by database; any other: 1
# People a batch commits, by database, unless told: on PostgreSQL each commit waits for the disk
# (a million people, one run each at load 6: 48 s in batches of 2,000, 31 s in 5,000, 38 s in 10,000); SQLite's
# single writer does better with smaller batches (100,000: 4.2 s in 1,000s, 5.5 s in 5,000s).
BATCH_SIZE = {"postgresql": 5000}  # any other: 1000
CHUNK_ROWS = 2000  # rows a checking process takes at a time


@dataclass
class AffectedImport:
    """What the import did, for its summary."""

    added: int = 0
    already_subscribed: int = 0
    suppressed: int = 0
    refused: int = 0
    lines: int = 0  # the last line committed


def add_affected(
    desk: Desk, incident_id: str, lines: Iterable[str], *, batch_size: int | None = None,
    on_refused: Callable[[RefusedRow], None], on_batch: Callable[[AffectedImport], None] = lambda _tally: None,
) -> AffectedImport:
    """Add the people of a CSV (``lines``) to ``incident_id``, a committed batch at a time.

    Raises BadHeader before anything is written when the header is wrong, CommandFailed for an
    unknown incident or a database that refuses a batch (the batches before it stay added, and
    so may the one written alongside it).
    The first emails' announcements are published at most once a second while the import
    runs, and at the end; what the broker does not take, the relay publishes.
    """
    if desk.read(lambda s: s.get(Incident, incident_id)) is None:
        raise CommandFailed(f"no incident {incident_id}; `broadcaster incident list` shows them")
    tally = AffectedImport()
    publisher = _Publisher(desk)

    def refused(row: RefusedRow) -> None:
        tally.refused += 1
        on_refused(row)

    def commit(batch: list[AffectedPerson]) -> BatchAdded:
        return accepting.commit(desk.services, lambda session: add_batch(
            session, session.get_one(Incident, incident_id), batch, deliveries_topic=desk.topics.deliveries,
            now=desk.services.clock()))

    def count(batch: list[AffectedPerson], added: BatchAdded) -> None:
        tally.added += added.added
        tally.already_subscribed += added.already_subscribed
        tally.suppressed += added.suppressed
        tally.lines = batch[-1].line
        publisher.owe(added.last_message_id)
        on_batch(tally)

    at, rows = read_rows(lines)
    dialect = desk.services.engine.dialect.name
    writers, batch_size = WRITERS.get(dialect, 1), batch_size or BATCH_SIZE.get(dialect, 1000)
    waiting: deque[tuple[list[AffectedPerson], Future[BatchAdded]]] = deque()
    # The checking processes are forked before the writer threads exist: a fork copies no thread.
    with _few_collections(), _checking_pool() as pool, \
            ThreadPoolExecutor(max_workers=writers, thread_name_prefix="import-writer") as writer:
        try:
            for batch in _batches(_checked(pool, rows, at), batch_size, refused):
                waiting.append((batch, writer.submit(commit, batch)))
                while len(waiting) > writers + 1 or (waiting and waiting[0][1].done()):
                    done, future = waiting.popleft()
                    count(done, future.result())
            while waiting:
                done, future = waiting.popleft()
                count(done, future.result())
        finally:
            for _, future in waiting:
                future.cancel()
    publisher.publish()
    return tally


@contextmanager
def _few_collections() -> Iterator[None]:
    """Python's cycle collector, quiet while the import runs (the checking processes inherit it).

    A million rows are millions of short-lived tuples and lists, none in a cycle; every 700
    of them the collector would run, and every few runs walk the whole heap (SQLAlchemy's,
    the email checker's). Measured with it off: reading a row 2.3 to 1.4 µs, unpickling a
    chunk's rows 2.5 to 0.8 µs a row. The heap as it is is frozen, so those walks skip it,
    and the collector runs after every 100,000 allocations instead.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _checking_pool() -> Pool:
    return multiprocessing.get_context("fork").Pool(max(1, os.cpu_count() or 1))


def _checked(pool: Pool, rows: Iterator[RawRow | RefusedRow], at: dict[str, int]) -> Iterator[AffectedPerson | RefusedRow]:
    """The rows checked by the pool's processes, in file order, a few chunks ahead of the caller."""
    pending: deque[AsyncResult[list[AffectedPerson | RefusedRow]]] = deque()
    ahead = 2 * (os.cpu_count() or 1)
    while chunk := list(islice(rows, CHUNK_ROWS)):
        pending.append(pool.apply_async(check, (chunk, at)))
        if len(pending) >= ahead:
            yield from pending.popleft().get()
    while pending:
        yield from pending.popleft().get()


class _Publisher:
    """Publishes the outbox up to the last announcement owed, at most once a second, and once at the end."""

    def __init__(self, desk: Desk) -> None:
        self._desk, self._last = desk, time.monotonic()
        self._owed: int | None = None

    def owe(self, message_id: int | None) -> None:
        self._owed = message_id or self._owed
        if time.monotonic() - self._last >= PUBLISH_EVERY_SECONDS:
            self.publish()

    def publish(self) -> None:
        if self._owed is not None:
            self._desk.publish_owed(self._owed)
        self._owed, self._last = None, time.monotonic()


def _batches(
    rows: Iterable[AffectedPerson | RefusedRow], size: int, refused: Callable[[RefusedRow], None]
) -> Iterator[list[AffectedPerson]]:
    """The valid people in lists of ``size``; each refused row is handed to ``refused`` as it comes."""
    batch: list[AffectedPerson] = []
    for row in rows:
        if isinstance(row, RefusedRow):
            refused(row)
            continue
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
