"""The intake API on a free port, in a thread of the test process, talking real HTTP."""

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
import uvicorn
from kafka import KafkaConsumer
from sqlalchemy import func, select

from broadcaster.bootstrap import bootstrap, utc_now
from broadcaster.config import Settings
from broadcaster.embedded.broker import free_port
from broadcaster.intake.app import create_app
from broadcaster.intake.publishing import PublishingThread
from broadcaster.kafka.topics import Topics
from broadcaster.services import api_keys
from broadcaster.storage.database import transaction
from broadcaster.storage.models import OutboxMessage
from tests.support.waiting import wait_for

ZENDESK_SECRET, INTERCOM_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmc=", "intercom-client-secret"


@dataclass
class Intake:
    url: str
    key: str
    settings: Settings

    def client(self, key: str | None = None) -> httpx.Client:
        token = self.key if key is None else key
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def new_key(self, name: str) -> str:
        with transaction(bootstrap(self.settings).sessions) as session:
            return api_keys.create(session, name, utc_now())


@contextmanager
def running_intake(settings: Settings) -> Iterator[Intake]:
    """Serve ``settings`` (an already migrated database) until the block ends; a key called 'test' is made."""
    services = bootstrap(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services, PublishingThread(services, retry_seconds=0.2)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=20, what="the intake API to listen")
        intake = Intake(f"http://127.0.0.1:{port}", "", settings)
        intake.key = intake.new_key("test")
        yield intake
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        services.engine.dispose()


def records(intake: Intake, quiet_seconds: float = 2.0) -> list[dict]:
    """Every record on the bug-reports topic, read until nothing new comes for ``quiet_seconds``."""
    topic = Topics.from_prefix(intake.settings.topic_prefix).bug_reports
    consumer = KafkaConsumer(topic, bootstrap_servers=intake.settings.kafka_bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=int(quiet_seconds * 1000))
    values = [json.loads(record.value) for record in consumer]
    consumer.close()
    return values


def unpublished(intake: Intake) -> int:
    with bootstrap(intake.settings).sessions() as session:
        return session.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None))) or 0


def zendesk(client: httpx.Client, document: object, at: datetime | None = None, secret: str = ZENDESK_SECRET,
            body: bytes | None = None) -> httpx.Response:
    body = json.dumps(document).encode() if body is None else body
    timestamp = (at or utc_now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest())
    return client.post("/v1/webhooks/zendesk", content=body, headers={
        "Content-Type": "application/json", "X-Zendesk-Webhook-Signature": signature.decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp})


def intercom(client: httpx.Client, document: object, secret: str = INTERCOM_SECRET,
             body: bytes | None = None) -> httpx.Response:
    body = json.dumps(document).encode() if body is None else body
    signature = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return client.post("/v1/webhooks/intercom", content=body,
                       headers={"Content-Type": "application/json", "X-Hub-Signature": signature})
