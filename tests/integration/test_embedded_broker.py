"""The embedded broker starts wherever `broadcaster up` can run."""

import socket
from pathlib import Path

import pytest

from broadcaster.embedded.broker import start_broker


def test_the_broker_starts_when_the_environment_holds_a_variable_that_is_not_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shell variable in Latin-1 (é as the byte 0xE9) made the broker panic at start, reading its environment."""
    monkeypatch.setenv("BROADCASTER_TEST_LATIN1", "Caf\udce9")  # os.environ stores it as the byte 0xE9
    broker = start_broker(tmp_path / "broker.log")
    try:
        socket.create_connection(("127.0.0.1", broker.port), timeout=5).close()
        assert broker.process.poll() is None
    finally:
        broker.stop()
