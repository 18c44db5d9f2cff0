"""SASL and TLS settings reach every Kafka client: the CLI's producer, the lag tool and the worker.

No broker here speaks TLS, so each client is pointed at a listener that records the
first bytes a client sends. A client that uses TLS opens with a TLS handshake record
(0x16); one that ignored the setting would open with a plain Kafka request. The SASL
credentials are checked where each client keeps them.
"""

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from broadcaster.bootstrap import bootstrap
from broadcaster.config import Settings
from broadcaster.kafka.clients import kafka_python_options
from broadcaster.kafka.lag import read_group_lag
from broadcaster.kafka.producer import Publisher
from streams.app import create_app
from tests.support.waiting import wait_for

TLS_HANDSHAKE = 0x16


class FirstBytes:
    """A TCP listener on loopback that keeps the first byte of every connection and hangs up."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.first: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                with suppress(OSError):
                    data = connection.recv(1)
                    if data:
                        self.first.append(data[0])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@pytest.fixture
def listener() -> Iterator[FirstBytes]:
    probe = FirstBytes()
    yield probe
    probe.close()


def secured(tmp_path: Path, bootstrap_address: str) -> Settings:
    cafile = Path(__file__).parent / "data" / "test-ca.pem"
    return Settings(database_url=f"sqlite:///{tmp_path}/k.db", kafka_bootstrap=bootstrap_address,
                    kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                    kafka_sasl_username="broadcaster", kafka_sasl_password="s3cret", kafka_ssl_cafile=str(cafile),
                    state_dir=tmp_path, topic_prefix="sec.")


def connects_with_tls(listener: FirstBytes, attempt: Callable[[], object]) -> bool:
    """Start the client in the background (it fails in the end: nothing completes the handshake)."""

    def run() -> None:
        with suppress(Exception):
            attempt()

    threading.Thread(target=run, daemon=True).start()
    wait_for(lambda: listener.first, timeout=20, what="the client to connect")
    return set(listener.first) == {TLS_HANDSHAKE}


def test_the_cli_producer_uses_tls_and_sasl(tmp_path: Path, listener: FirstBytes) -> None:
    settings = secured(tmp_path, listener.bootstrap)
    options = kafka_python_options(settings, listener.bootstrap)
    assert (options["security_protocol"], options["sasl_mechanism"], options["sasl_plain_username"],
            options["sasl_plain_password"]) == ("SASL_SSL", "SCRAM-SHA-512", "broadcaster", "s3cret")
    assert connects_with_tls(listener, lambda: Publisher(settings, listener.bootstrap))


def test_the_lag_tool_uses_tls(tmp_path: Path, listener: FirstBytes) -> None:
    settings = secured(tmp_path, listener.bootstrap)
    assert connects_with_tls(listener, lambda: read_group_lag(settings, listener.bootstrap, "g", ("sec.bug-reports",)))


def test_the_worker_uses_tls_and_sasl(tmp_path: Path, listener: FirstBytes) -> None:
    settings = secured(tmp_path, listener.bootstrap)

    async def start_consumer() -> dict[str, object]:
        app = create_app(bootstrap(settings), listener.bootstrap)
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        client = consumer._client
        seen = {"protocol": client._security_protocol, "mechanism": client._sasl_mechanism,
                "username": client._sasl_plain_username, "tls": client._ssl_context is not None}
        with suppress(Exception):
            await asyncio.wait_for(consumer.start(), timeout=10)
        await consumer.stop()
        return seen

    seen = asyncio.run(start_consumer())
    assert seen == {"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-512", "username": "broadcaster", "tls": True}
    assert listener.first and set(listener.first) == {TLS_HANDSHAKE}
