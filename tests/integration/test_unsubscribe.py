"""Unsubscribing on real SQL: leaving one incident stops its emails only; stopping everything stops them all."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.config import Settings
from broadcaster.domain.events import IncidentDeclared, IncidentUpdated
from broadcaster.domain.unsubscribe import AddressToken, DeliveryToken, Scope
from broadcaster.services import delivery_trouble, queries
from broadcaster.services.linking import LinkingModel
from broadcaster.services.unsubscribe import Recipient, recipient, unsubscribe
from broadcaster.storage.models import Delivery, Suppression
from tests.support.services import LEASE, T0, apply, declared, fan_out_all, receive, report

LATER = T0 + timedelta(minutes=5)


@pytest.fixture
def model(database_url: str) -> LinkingModel:
    return LinkingModel(Settings(database_url=database_url))


def two_incidents_ann_reported(sessions: sessionmaker[Session], model: LinkingModel) -> dict[str, int]:
    """INC-1 (CSV upload, Ann and Bob) and INC-2 (search, Ann): each acknowledgement's delivery id."""
    apply(sessions, model, declared("INC-1"), T0)
    apply(sessions, model, IncidentDeclared("declare-INC-2", "INC-2", T0, "Search returns nothing", "search", "sev2",
                                            T0 + timedelta(hours=2), ("search",)), T0)
    acks = {
        "ann INC-1": receive(sessions, model, report("r1", "ann@example.com", "CSV upload fails", T0), T0),
        "bob INC-1": receive(sessions, model, report("r2", "bob@example.com", "CSV upload fails", T0), T0),
        "ann INC-2": receive(sessions, model, report("r3", "ann@example.com", "search returns nothing", T0,
                                                     component="search"), T0),
    }
    return {who: result.delivery_ids[0] for who, result in acks.items()}


def update_and_claim(sessions: sessionmaker[Session], model: LinkingModel, incident_id: str, n: int) -> list[int]:
    """Post an update, fan it out and claim it: the deliveries that would really be sent."""
    moment = LATER + timedelta(minutes=n)
    job = apply(sessions, model, IncidentUpdated(f"u{n}", incident_id, moment, "Fix in test", moment), moment)
    return fan_out_all(sessions, job, moment)


def recipients_of(sessions: sessionmaker[Session], delivery_ids: list[int]) -> set[str]:
    with sessions() as session:
        return {session.get_one(Delivery, i).subscriber.email for i in delivery_ids}


def skipped_because(sessions: sessionmaker[Session]) -> set[str | None]:
    """Why deliveries were skipped; and none of them counts as trouble."""
    with sessions() as session:
        assert delivery_trouble.trouble_counts(session, now=LATER, lease=LEASE) == {"stuck": 0, "failed": 0, "held": 0, "dead": 0}
        return set(session.scalars(select(Delivery.last_error).where(Delivery.state == "skipped")))


def left(sessions: sessionmaker[Session], incident_id: str) -> dict[str, str | None]:
    """Each subscriber's address: why they no longer get this incident's emails (None: they still do)."""
    with sessions() as session:
        return {entry.subscriber.email: entry.why_left for entry in queries.subscribers(session, incident_id)}


def test_a_link_finds_its_address_and_incident_by_the_email_it_came_in(sessions, model) -> None:
    acks = two_incidents_ann_reported(sessions, model)
    with sessions() as session:
        found = recipient(session, DeliveryToken(acks["ann INC-2"], Scope.INCIDENT))
        assert found is not None and (found.email, found.incident_title) == ("ann@example.com", "Search returns nothing")
        assert recipient(session, AddressToken("old@example.com")) == Recipient("old@example.com")
        assert recipient(session, DeliveryToken(10_000, Scope.INCIDENT)) is None
    with sessions.begin() as session:
        assert unsubscribe(session, DeliveryToken(10_000, Scope.EVERYTHING), LATER) is None


def test_leaving_one_incident_stops_its_emails_but_not_another_incidents_nor_other_peoples(sessions, model) -> None:
    acks = two_incidents_ann_reported(sessions, model)
    with sessions.begin() as session:
        unsubscribe(session, DeliveryToken(acks["ann INC-1"], Scope.INCIDENT), LATER)
        unsubscribe(session, DeliveryToken(acks["ann INC-1"], Scope.INCIDENT), LATER)  # a second click: no change
    assert recipients_of(sessions, update_and_claim(sessions, model, "INC-1", 1)) == {"bob@example.com"}
    assert recipients_of(sessions, update_and_claim(sessions, model, "INC-2", 2)) == {"ann@example.com"}
    assert skipped_because(sessions) == {"unsubscribed from this incident"}
    with sessions() as session:
        assert session.scalars(select(Suppression)).all() == []
    assert left(sessions, "INC-1") == {"ann@example.com": "left this incident", "bob@example.com": None}
    assert left(sessions, "INC-2") == {"ann@example.com": None}


@pytest.mark.parametrize("claim", ["new", "old"])
def test_stopping_everything_suppresses_the_address_for_every_incident(sessions, model, claim: str) -> None:
    acks = two_incidents_ann_reported(sessions, model)
    token = DeliveryToken(acks["ann INC-1"], Scope.EVERYTHING) if claim == "new" else AddressToken("ann@example.com")
    with sessions.begin() as session:
        assert unsubscribe(session, token, LATER) is not None
    assert recipients_of(sessions, update_and_claim(sessions, model, "INC-1", 1)) == {"bob@example.com"}
    assert update_and_claim(sessions, model, "INC-2", 2) == []
    assert skipped_because(sessions) == {"suppressed: unsubscribed"}
    assert left(sessions, "INC-2") == {"ann@example.com": "stopped all email"}
