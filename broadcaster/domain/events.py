"""What happens, as plain data: the facts that travel on Kafka topics.

Past-tense names are facts (a report was received, an incident was declared); the
wire format of each lives in ``schemas/`` and is read by ``broadcaster.wire``.
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class BugReportReceived:
    report_id: str
    received_at: datetime
    email: str
    name: str
    text: str
    component: str | None = None
    source: str = "unknown"


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


IncidentEvent = IncidentDeclared | IncidentUpdated | IncidentResolved


@dataclass(frozen=True)
class UpdatePublished:
    """An incident update is in the database; its subscribers must now be told."""

    incident_id: str
    update_id: int


@dataclass(frozen=True)
class DeliveriesQueued:
    """Ledger rows that are ready to be sent, by id."""

    delivery_ids: tuple[int, ...] = field(default_factory=tuple)
