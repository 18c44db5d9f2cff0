"""The outbox relay: puts what entrances accepted on the broker, in order, and again after a broker restart.

Every run, whoever runs it (the CLI for the message it just accepted, the worker's
leader every second or so):

1. notes the time, then reads the broker's epoch (broadcaster/kafka/epoch.py), marking
   it if nobody has since the broker started;
2. hands back every kept message published before the epoch began: it went to a broker
   that is gone (or may have), and a memory-only broker lost it;
3. publishes the unpublished messages in ``id`` order and records each as published at
   the later of the run's start and the epoch's start.

Why nothing acknowledged is lost: a message that reached a broker which later died was
published by a run that read that broker's epoch (or began before it), so its recorded
time is before the next broker's epoch, which is written after that broker started;
whichever run next reads the new epoch hands it back. Why the order holds: a run hands
messages back before it publishes, so an entrance that publishes message N publishes
every older message still owed first; one that raced a restart recorded a time before
the new epoch, so its messages go out again after the ones it overtook.
Duplicates are the price, and the handlers' ids (report id, incident event id, ledger
row) make each one a no-op.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from broadcaster.config import Settings
from broadcaster.kafka.epoch import EpochMarker
from broadcaster.kafka.producer import Publisher, Record
from broadcaster.services import outbox
from broadcaster.storage.database import transaction
from broadcaster.storage.models import OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayRun:
    published: int
    handed_back: int


class Relay:
    """One producer and one epoch reader on one broker; close it (or use ``with``) when done."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], bootstrap: str, timeout: float) -> None:
        self._settings, self._sessions = settings, sessions
        self._marker = EpochMarker(settings, bootstrap, timeout)
        try:
            self._publisher = Publisher(settings, bootstrap, timeout)
        except Exception:
            self._marker.close()
            raise

    def run(self, *, up_to: int | None = None, settled_before: datetime | None = None) -> RelayRun:
        """Publish what is owed, up to message ``up_to`` (all if None); raises the broker's error if nothing went.

        ``settled_before``: leave messages created since then to the entrance that is publishing them.
        """
        began = datetime.now(UTC)
        epoch = self._marker.read() or self._marker.write(self._publisher)
        with transaction(self._sessions) as session:
            handed_back = outbox.unpublish_sent_before(session, epoch)
        if handed_back:
            log.info("the broker's epoch began at %s: publishing %d earlier messages again", epoch, handed_back)
        published = 0
        while batch := self._pending(up_to, settled_before):
            done = self._publisher.publish_records([Record(m.topic, m.key, m.value) for m in batch])
            with transaction(self._sessions) as session:
                outbox.mark_published(session, [m.id for m in batch[:done]], max(began, epoch))
            published += done
            if done < len(batch):
                break
        return RelayRun(published, handed_back)

    def _pending(self, up_to: int | None, settled_before: datetime | None) -> list[OutboxMessage]:
        with self._sessions() as session:
            return outbox.pending(session, up_to=up_to, created_before=settled_before)

    def prune(self) -> int:
        with transaction(self._sessions) as session:
            return outbox.prune(session, datetime.now(UTC), self._settings.outbox_retention)

    def close(self) -> None:
        self._publisher.close()
        self._marker.close()

    def __enter__(self) -> "Relay":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
