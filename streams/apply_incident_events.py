"""Processor: incident events in (declare, update, resolve); stored updates out, for fan-out."""

import logging
from functools import partial

from broadcaster.domain.events import IncidentEvent, UpdatePublished
from broadcaster.services.incidents import apply_incident_event
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_incident_event, encode_update_published
from streams.context import ProcessorContext
from streams.handling import handle, publish, valid_messages

log = logging.getLogger(__name__)
NAME = "apply-incident-events"


def register(ctx: ProcessorContext) -> None:
    services = ctx.services

    def process(event: IncidentEvent) -> UpdatePublished | None:
        """Apply the event; the update its subscribers must get, or None (a cadence change, a stale request)."""
        with ctx.linking.lock, transaction(services.sessions) as session:  # link-reports decides in a thread
            published = apply_incident_event(session, event, now=services.clock(), model=ctx.linking)
        if published is None:
            log.info("%s %s: applied, nothing to tell subscribers", type(event).__name__, event.incident_id)
        else:
            log.info("%s %s: update %d stored", type(event).__name__, event.incident_id, published.update_id)
        return published

    @ctx.app.agent(ctx.topics.incident_events, name=NAME)
    async def apply_incident_events(stream):  # noqa: ANN001, ANN202
        async for event, incident_event in valid_messages(stream, NAME, ctx.dead_letters, decode_incident_event):
            published = await handle(event, NAME, ctx.dead_letters, partial(process, incident_event), counted=False)
            if published is not None:
                value = encode_update_published(published)
                await publish(ctx.topics.notifications, published.incident_id, value)
