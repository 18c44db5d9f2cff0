"""SendGrid's Event Webhook on the worker's HTTP port: POST /webhooks/sendgrid.

Answers: 200 with what changed; 403 when SendGrid did not sign it (recently enough);
400 when a signed body is not a list of events; 413 from the web server above 1 MiB
(SendGrid posts a batch when it reaches 768 KB); 503 while no verification key is configured. Never 500 for what a
caller sent: SendGrid retries any other answer for a day. Items that are not events we
act on (opens, clicks, malformed ones) are counted as ignored, not refused, so one odd
event never makes SendGrid post the whole batch again.
"""

import logging

from faust.web import Request, Response, View

from broadcaster.mail.event_webhook import (
    SIGNATURE,
    TIMESTAMP,
    MalformedWebhook,
    RejectedWebhook,
    load_verification_key,
    read_events,
    verified_events,
)
from broadcaster.services.provider_events import apply_events
from broadcaster.storage.database import transaction
from streams.context import ProcessorContext

log = logging.getLogger(__name__)


def register(ctx: ProcessorContext) -> None:
    services, settings = ctx.services, ctx.services.settings
    public_key = settings.sendgrid_webhook_public_key  # checked at start: broadcaster.production
    key = load_verification_key(public_key) if public_key else None
    max_age = settings.sendgrid_webhook_max_age

    class SendGridEvents(View):
        async def post(self, request: Request) -> Response:
            if key is None:
                return self.json({"error": "webhook verification key not configured"}, status=503)
            body = await request.read()
            try:
                raw = verified_events(body, request.headers.get(SIGNATURE, ""), request.headers.get(TIMESTAMP, ""),
                                      key, max_age=max_age)
            except RejectedWebhook as error:
                log.warning("refused a SendGrid webhook call: %s", error)
                return self.json({"error": str(error)}, status=403)
            except MalformedWebhook as error:
                log.warning("a signed SendGrid webhook call was malformed: %s", error)
                return self.json({"error": str(error)}, status=400)
            events, ignored = read_events(raw)
            with transaction(services.sessions) as session:
                applied = apply_events(session, events, now=services.clock(), remember=max_age)
            if applied.confirmed:
                log.warning("the mail API confirmed %d sends the ledger had not recorded (a worker died mid-send?)",
                            applied.confirmed)
            return self.json({"events": len(raw), "ignored": ignored, "repeated": applied.repeated,
                              "suppressed": applied.suppressed, "confirmed": applied.confirmed,
                              "recorded": applied.recorded})

    ctx.app.page("/webhooks/sendgrid")(SendGridEvents)
