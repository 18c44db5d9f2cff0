"""What happens, as plain data: the facts that travel on Kafka topics.

Past-tense names are facts (a report was received, an incident was declared); the
wire format of each lives in ``schemas/`` and is read by ``broadcaster.wire``.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BugReportReceived:
    report_id: str
    received_at: datetime
    email: str
    name: str
    text: str
    component: str | None = None
    source: str = "unknown"
    time_zone: str | None = None  # IANA name: the reader's emails give times in it
    locale: str | None = None  # the reader's conventions for dates and times (en_US, pt_BR ...)


@dataclass(frozen=True)
class IncidentDeclared:
    event_id: str
    incident_id: str
    occurred_at: datetime
    title: str
    component: str | None
    severity: str
    next_update_at: datetime
    match: tuple[str, ...] = ()
    description: str = ""
    workaround: str = ""
    update_every: timedelta | None = None
    owner: str | None = None
    holding_updates: bool = True
    private: bool = False  # its page opens only with the link in a subscriber's email
    communicator: str | None = None  # the person who signs the incident's emails
    second_owner: str | None = None  # reminded too once holding updates keep coming


@dataclass(frozen=True)
class IncidentUpdated:
    event_id: str
    incident_id: str
    occurred_at: datetime
    message: str
    next_update_at: datetime
    status: str | None = None


@dataclass(frozen=True)
class IncidentResolved:
    event_id: str
    incident_id: str
    occurred_at: datetime
    message: str
    how_to_verify: str = ""


@dataclass(frozen=True)
class IncidentReopened:
    """A resolved incident is not fixed after all: it is open again and every subscriber is told."""

    event_id: str
    incident_id: str
    occurred_at: datetime
    message: str
    next_update_at: datetime
    status: str = "investigating"


@dataclass(frozen=True)
class CadenceChanged:
    """Engineers changed how often they promise news, or when the next news is due."""

    event_id: str
    incident_id: str
    occurred_at: datetime
    update_every: timedelta | None = None
    next_update_at: datetime | None = None
    holding_updates: bool | None = None


@dataclass(frozen=True)
class HoldingUpdateDue:
    """The promised update was missed by the grace period: subscribers get a holding update."""

    event_id: str
    incident_id: str
    occurred_at: datetime
    missed_promise_at: datetime


@dataclass(frozen=True)
class IncidentNoted:
    """An engineer kept a note with the incident: internal, never emailed by itself.

    A ``shareable`` one may be quoted to subscribers: the next holding update says it is what
    the team is doing now (if it is newer than the last progress update).
    """

    event_id: str
    incident_id: str
    occurred_at: datetime
    message: str
    shareable: bool = False


IncidentEvent = (IncidentDeclared | IncidentUpdated | IncidentResolved | IncidentReopened | CadenceChanged
                 | HoldingUpdateDue | IncidentNoted)


@dataclass(frozen=True)
class UpdatePublished:
    """An incident update is in the database; its subscribers must now be told."""

    incident_id: str
    update_id: int


@dataclass(frozen=True)
class FanOutPage:
    """One page of an update's fan-out: the subscribers with ids in (``after``, ``through``]; all the rest if None.

    Pages are keyed apart on the notifications topic, so every worker of the group queues some.
    """

    incident_id: str
    update_id: int
    page: int
    after_subscriber_id: int
    through_subscriber_id: int | None


FanOutJob = UpdatePublished | FanOutPage


@dataclass(frozen=True)
class DeliveriesQueued:
    """Ledger rows that are ready to be sent, by id."""

    delivery_ids: tuple[int, ...] = field(default_factory=tuple)
