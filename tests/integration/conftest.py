"""Fixtures the integration tests share: sessions on the test's database, a linking model, and a local SendGrid API."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.config import Settings
from broadcaster.services.linking import LinkingModel
from broadcaster.storage.database import make_engine, make_session_factory
from broadcaster.storage.models import Delivery, IncidentUpdate, Subscriber
from tests.support.sendgrid_server import SandboxServer, SandboxState


@pytest.fixture
def model(database_url: str) -> LinkingModel:
    """The link-reports processor's model, with the default settings, on the test's database."""
    return LinkingModel(Settings(database_url=database_url))


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's database; afterwards, no delivery row may name a subscriber or update that is not there.

    The database no longer checks that (migration 0020 dropped those foreign keys for the
    fan-out's sake): every test that writes through the services checks it here instead.
    """
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    try:
        assert orphan_deliveries(engine) == [], "delivery rows naming a subscriber or update that does not exist"
    finally:
        engine.dispose()


def orphan_deliveries(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(
            select(Delivery.id)
            .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .outerjoin(IncidentUpdate, IncidentUpdate.id == Delivery.update_id)
            .where(or_(and_(Delivery.subscriber_id.is_not(None), Subscriber.id.is_(None)),
                       and_(Delivery.update_id.is_not(None), IncidentUpdate.id.is_(None))))))


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """The strict SendGrid stand-in, accepting the key ``test-key``."""
    server = SandboxServer(SandboxState(api_key="test-key")).start_in_background()
    yield server
    server.shutdown()
    server.server_close()
