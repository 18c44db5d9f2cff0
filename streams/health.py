"""Liveness and readiness over the worker's HTTP port, for Kubernetes probes and operators.

- live: the event loop answers. A worker stuck in a blocking call fails it and is restarted.
- ready: the database answers, and the Kafka consumer can read: partitions assigned, a
  broker connected, fetches answered, no rebalance under way (broadcaster/ops/readiness.py).
  503 with the reasons otherwise.
"""

import time
from typing import Any, cast

import faust
from faust.exceptions import ConsumerNotStarted
from sqlalchemy import text

from broadcaster.ops.readiness import ConsumerState, kafka_problems
from streams.context import ProcessorContext


def consumer_state(app: faust.App) -> ConsumerState:
    """What the worker's consumer knows, read from Faust and from aiokafka's bookkeeping.

    Faust exposes the assignment only; the connections (the client's ``_conns``) and the
    time each partition last answered a fetch (``TopicPartitionState.timestamp``, set by
    aiokafka's fetcher) are aiokafka internals, read here and nowhere else. They belong to
    Faust's consumer thread, so this only reads their state (``connected()`` and
    ``state_value()`` are plain reads) and changes nothing.
    """
    try:
        assigned = len(app.consumer.assignment())
        consumer = cast(Any, app.consumer)._thread._ensure_consumer()
    except ConsumerNotStarted:
        return ConsumerState(False, app.rebalancing, 0, 0, None)
    connected = sum(conn.connected() for conn in list(consumer._client._conns.values()))
    return ConsumerState(True, app.rebalancing, assigned, connected, _last_fetch_at(consumer))


def _last_fetch_at(consumer: Any) -> float | None:
    """Epoch seconds of the newest fetch answer over the assigned partitions (aiokafka keeps it in milliseconds)."""
    subscription = consumer._subscription.subscription
    assignment = subscription.assignment if subscription is not None else None
    if assignment is None:
        return None
    stamps = [state.timestamp for tp in assignment.tps
              if (state := assignment.state_value(tp)) is not None and state.timestamp is not None]
    return max(stamps) / 1000.0 if stamps else None


def _database_problems(ctx: ProcessorContext) -> list[str]:
    try:
        with ctx.services.engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return [f"database: {error}"]
    return []


def register(ctx: ProcessorContext) -> None:
    app = ctx.app

    @app.page("/health/live")
    async def live(web, request):  # noqa: ANN001, ANN202
        return web.json({"status": "live"})

    @app.page("/health/ready")
    async def ready(web, request):  # noqa: ANN001, ANN202
        problems = _database_problems(ctx) + kafka_problems(consumer_state(app), time.time())
        status = 503 if problems else 200
        return web.json({"status": "ready" if not problems else "not ready", "problems": problems}, status=status)
