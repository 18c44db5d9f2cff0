"""Tables. Alembic migrations (``migrations/versions``) are the only way they are created.

Unique keys carry idempotency: Kafka delivers at least once, so a report id, an
incident update's event id and a (update, subscriber) delivery can each exist once.
"""

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("refusing a naive datetime; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    component: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    workaround: Mapped[str] = mapped_column(Text, default="")
    how_to_verify: Mapped[str] = mapped_column(Text, default="")
    match_phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    declared_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_update_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The cadence: how often news is promised, whether a missed promise sends a holding update.
    update_every_seconds: Mapped[int] = mapped_column(Integer, default=7200, server_default="7200")
    holding_updates: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    owner_email: Mapped[str | None] = mapped_column(String(320))
    # A private incident's page opens only with the token in a subscriber's own email (broadcaster/pages).
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who signs the emails (a person's name); who else is reminded once holding updates keep coming.
    communicator: Mapped[str | None] = mapped_column(String(200))
    second_owner_email: Mapped[str | None] = mapped_column(String(320))

    updates: Mapped[list["IncidentUpdate"]] = relationship(
        back_populates="incident", order_by="IncidentUpdate.id"
    )


class IncidentUpdate(Base):
    """One entry of an incident's timeline: its declaration, progress or resolution."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    next_update_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    incident: Mapped[Incident] = relationship(back_populates="updates")


class IncidentNote(Base):
    """An engineer's note kept with an incident: internal, never emailed by itself.

    Kept apart from ``incident_updates``, which every email, page and sweep reads: a note
    there would be one forgotten filter away from reaching customers. A ``shareable`` note
    is quoted by the next holding update as what the team is doing now.
    """

    __tablename__ = "incident_notes"
    __table_args__ = (Index("ix_incident_notes_incident_id_created_at", "incident_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"))
    message: Mapped[str] = mapped_column(Text)
    shareable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OwnerReminder(Base):
    """An owner was reminded that a promised update falls due: once per promise."""

    __tablename__ = "owner_reminders"
    __table_args__ = (UniqueConstraint("incident_id", "promise_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"))
    promise_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reminded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_unlinked", "incident_id", "received_at"),
        # Early warning reads the newest unlinked reports every batch: without it, every unlinked report, sorted.
        Index("ix_reports_link_state_received_at", "link_state", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    component: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"))
    linked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # What the matcher (or an engineer) made of it: linked, suggested or unlinked.
    link_state: Mapped[str] = mapped_column(String(16), default="unlinked", server_default="unlinked")
    candidate_incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"))
    link_score: Mapped[float | None] = mapped_column(Float)
    linked_by: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name, as the reporter's entrance said
    locale: Mapped[str | None] = mapped_column(String(35))
    # While it waits for a person (suggested or unlinked): when we promised a person would have looked at it
    # (broadcaster/domain/triage.py); kept afterwards, as the promise it was.
    triage_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The suspected incident this unlinked report was counted in (broadcaster/services/early_warning.py).
    suspicion_id: Mapped[int | None] = mapped_column(Integer, index=True)


class TriageReminder(Base):
    """The triage owner was reminded of a waiting report, at one stage (due soon, overdue): once per stage."""

    __tablename__ = "triage_reminders"
    __table_args__ = (UniqueConstraint("report_id", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"))
    stage: Mapped[str] = mapped_column(String(16))
    reminded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LinkFeedback(Base):
    """An engineer's verdict on a suggestion: it teaches the matcher either way."""

    __tablename__ = "link_feedback"
    __table_args__ = (UniqueConstraint("report_id", "incident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"))
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SuspectedIncident(Base):
    """Unlinked reports that resemble each other and piled up: maybe an incident nobody declared."""

    __tablename__ = "suspected_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)
    component: Mapped[str | None] = mapped_column(String(100))
    title_hint: Mapped[str] = mapped_column(String(200))
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)  # its reports name it: Report.suspicion_id


class Suppression(Base):
    """An address that gets no more email: it unsubscribed, bounced or reported spam."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProviderEventSeen(Base):
    """An Event Webhook event already applied (by ``sg_event_id``): SendGrid posts some twice."""

    __tablename__ = "provider_events_seen"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class Subscriber(Base):
    """A person who will hear about one incident until it is resolved.

    A reporter subscribes through their report (``first_report_id``, ``source`` "reporter"); a person
    the engineers know was affected is imported (``source`` "affected", no report); a person who
    follows the incident from its page has no report either (``source`` "follower") and is
    ``confirmed`` only once they used the link in the confirmation email: until then nothing but
    that email is sent to them.
    """

    __tablename__ = "subscribers"
    __table_args__ = (UniqueConstraint("incident_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    first_report_id: Mapped[str | None] = mapped_column(ForeignKey("reports.id"))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    subscribed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(16), default="reporter", server_default="reporter")
    # Set when the person used an unsubscribe link for this incident: its later emails die unsent.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Where and how they read times (from their reports, or an import of affected people); None: the defaults.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(35))

    first_report: Mapped[Report | None] = relationship()


class Delivery(Base):
    """The delivery ledger: one row per (incident update, subscriber), or per (report, kind), sent at most once.

    Most emails are about an incident update, to one of its subscribers. An email about a
    report that belongs to no incident yet (the triage receipt) names the report instead, and
    has neither update nor subscriber; only services/ledger.py writes rows, so each has one or
    the other.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("update_id", "subscriber_id"),
        # Partial: the rows about an update (nearly all) have no report and need no entry here.
        Index("uq_deliveries_report_id_kind", "report_id", "kind", unique=True,
              sqlite_where=text("report_id IS NOT NULL"), postgresql_where=text("report_id IS NOT NULL")),
        # What the sweep and `status` look for; a sent or skipped row (nearly all) leaves it. Partial on
        # PostgreSQL only: SQLite's planner cannot tell that `state = 'queued'` falls within it.
        Index("ix_deliveries_state", "state", "queued_at", postgresql_where=text(
            "state IN ('queued', 'sending', 'failed', 'held', 'dead')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No foreign keys to the update and the subscriber (0020): checking them was more than half of
    # inserting a fan-out's rows (each check locks the subscriber's row), and the ledger, the only
    # writer, inserts rows from the subscribers and updates it reads in the same statement; neither
    # is ever deleted. The integration tests' ``sessions`` fixture holds every path to it.
    update_id: Mapped[int | None] = mapped_column(Integer)
    subscriber_id: Mapped[int | None] = mapped_column(Integer, index=True)
    report_id: Mapped[str | None] = mapped_column(ForeignKey("reports.id"))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The mail provider's latest word on it (its Event Webhook): delivered, deferred, blocked ...
    provider_status: Mapped[str | None] = mapped_column(String(16))
    provider_status_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    provider_detail: Mapped[str | None] = mapped_column(String(300))

    update: Mapped[IncidentUpdate | None] = relationship(primaryjoin="foreign(Delivery.update_id) == IncidentUpdate.id")
    subscriber: Mapped[Subscriber | None] = relationship(primaryjoin="foreign(Delivery.subscriber_id) == Subscriber.id")
    report: Mapped[Report | None] = relationship()


class Reply(Base):
    """A subscriber's answer to one of our emails (its Reply-To token named the delivery): kept, never answered.

    ``regression`` marks a reply that says the incident still fails, received while it was
    resolved; ``owner_told_at`` when the incident's owner was told of it (once per batch).
    ``fingerprint`` (of the Message-ID) stores an email SendGrid posts twice once.
    """

    __tablename__ = "replies"
    __table_args__ = (Index("ix_replies_incident_id_received_at", "incident_id", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"))
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    email: Mapped[str] = mapped_column(String(320))  # the subscriber's address, whoever sent the reply
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    text: Mapped[str] = mapped_column(Text)  # what the reply adds, without the quoted history
    classification: Mapped[str] = mapped_column(String(16))  # still_fails, works, other (domain/replies.py)
    regression: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_told_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """A message an entrance accepted, committed here before it is published (services/outbox.py).

    Published rows are kept for ``outbox_retention``: a memory-only broker that restarts
    has lost them, and the relay publishes them again (services/relay.py).
    """

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(249))
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # When the publish the broker acknowledged began; NULL while it is not known to be on the broker.
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)


class StoredDeadLetter(Base):
    """A message a processor could not use, kept beyond the broker's memory (services/dead_letters.py)."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The same message dead-lettered twice (Kafka redelivers) is stored once.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(249))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    processor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    original: Mapped[bytes] = mapped_column(LargeBinary)  # at most MAX_ORIGINAL_BYTES of it
    original_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ApiKey(Base):
    """A key the intake API accepts (services/api_keys.py): only the SHA-256 of the token is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class IntakeRequest(Base):
    """A report the intake API accepted, and the idempotency key (or client report id) that asked for it.

    The unique keys make a repeated request find the first one's report instead of accepting
    a second: per API key, one row per Idempotency-Key and one per report id. A support-desk
    webhook has no API key: its row names the desk, its idempotency key is the desk's ticket
    (or conversation) id, unique per desk, and ``ticket_url`` links back to the ticket, which
    the bug-report schema has no field for.
    """

    __tablename__ = "intake_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"), UniqueConstraint("api_key_id", "report_id"),
                      UniqueConstraint("desk", "idempotency_key"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    desk: Mapped[str | None] = mapped_column(String(20))  # "zendesk", "intercom"; None: an API key's request
    ticket_url: Mapped[str | None] = mapped_column(String(2048))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    report_id: Mapped[str] = mapped_column(String(64), index=True)
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime())
