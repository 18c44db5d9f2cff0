"""Timer (leader only): remind owners before a promised update, and request holding updates after.

The holding update itself is an event on incident-events, applied like any other by
apply-incident-events; its id names the missed promise, so it is applied once.
"""

import asyncio
import logging

from broadcaster.domain.durations import format_duration
from broadcaster.messages.compose import compose_owner_reminder
from broadcaster.services.cadence import Reminder, due_work
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import encode_incident_event
from streams.context import ProcessorContext
from streams.handling import publish

log = logging.getLogger(__name__)


def register(ctx: ProcessorContext) -> None:
    services = ctx.services
    settings = services.settings

    async def remind(reminder: Reminder) -> None:
        log.warning("update due on %s (%s) by %s; owner %s", reminder.incident_id, reminder.title,
                    reminder.promise_at.isoformat(), reminder.owner_email or "not set")
        to = [address for address in (reminder.owner_email, reminder.second_owner_email) if address]
        emails = [compose_owner_reminder(reminder.incident_id, reminder.title, address, reminder.promise_at,
                                         format_duration(settings.holding_grace), services.sender,
                                         reminder.holding_in_a_row)
                  for address in dict.fromkeys(to)]
        if emails:
            await asyncio.to_thread(services.mailer.send, emails)

    @ctx.app.timer(settings.cadence_check_interval, on_leader=True)
    async def keep_promises() -> None:
        with transaction(services.sessions) as session:
            work = due_work(session, services.clock(), lead=settings.reminder_lead, grace=settings.holding_grace,
                            escalate_after=settings.holding_escalate_after)
        for reminder in work.reminders:
            await remind(reminder)
        for event in work.holding:
            log.warning("%s missed its promised update of %s; requesting a holding update",
                        event.incident_id, event.missed_promise_at.isoformat())
            await publish(ctx.topics.incident_events, event.incident_id, encode_incident_event(event))
