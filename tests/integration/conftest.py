"""Fixtures the integration tests share: sessions on the test's database, and a local SendGrid API."""

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.storage.database import make_engine, make_session_factory
from tests.support.sendgrid_server import SandboxServer, SandboxState


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """The strict SendGrid stand-in, accepting the key ``test-key``."""
    server = SandboxServer(SandboxState(api_key="test-key")).start_in_background()
    yield server
    server.shutdown()
    server.server_close()
