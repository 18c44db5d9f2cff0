"""Timer (leader only): remind owners before a promised update, and request holding updates after.

The holding update itself is an event on incident-events, applied like any other by
apply-incident-events; its id names the missed promise, so it is applied once. The same
timer keeps triage's promise: the triage owner hears, in one email a tick, of the reports
that wait for a person and fall due soon or are overdue (services/triage_promises.py).
"""

import asyncio
import logging
from datetime import datetime

from broadcaster.domain.durations import format_duration
from broadcaster.messages.compose import compose_owner_reminder, compose_triage_reminder
from broadcaster.services.cadence import Reminder, due_work
from broadcaster.services.triage_promises import TriageReminders, reminders_due
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

    async def remind_triage_owner(owner: str, due: TriageReminders, now: datetime) -> None:
        log.warning("triage: %d report(s) overdue, %d due soon; reminding %s", len(due.overdue), len(due.due_soon), owner)
        email = compose_triage_reminder(owner, due.overdue, due.due_soon, now, services.sender)
        await asyncio.to_thread(services.mailer.send, [email])

    @ctx.app.timer(settings.cadence_check_interval, on_leader=True)
    async def keep_promises() -> None:
        owner = settings.triage_owner  # unset: nobody to remind, and nothing recorded (`status` says so)
        with transaction(services.sessions) as session:
            now = services.clock()
            work = due_work(session, now, lead=settings.reminder_lead, grace=settings.holding_grace,
                            escalate_after=settings.holding_escalate_after)
            triage = reminders_due(session, now, lead=settings.reminder_lead) if owner else None
        for reminder in work.reminders:
            await remind(reminder)
        if owner and triage:
            await remind_triage_owner(owner, triage, now)
        for event in work.holding:
            log.warning("%s missed its promised update of %s; requesting a holding update",
                        event.incident_id, event.missed_promise_at.isoformat())
            await publish(ctx.topics.incident_events, event.incident_id, encode_incident_event(event))
