"""SendGrid's Event Webhook on the worker's HTTP port: POST /webhooks/sendgrid."""

import logging

from faust.web import Request, Response, View

from broadcaster.mail.event_webhook import (
    SIGNATURE,
    TIMESTAMP,
    RejectedWebhook,
    accepted_deliveries,
    suppressions,
    verified_events,
)
from broadcaster.services.ledger import confirm_accepted
from broadcaster.services.suppression import suppress
from broadcaster.storage.database import transaction
from streams.context import ProcessorContext

log = logging.getLogger(__name__)


def register(ctx: ProcessorContext) -> None:
    services, public_key = ctx.services, ctx.services.settings.sendgrid_webhook_public_key

    class SendGridEvents(View):
        async def post(self, request: Request) -> Response:
            if not public_key:
                return self.json({"error": "webhook verification key not configured"}, status=503)
            body = await request.read()
            try:
                events = verified_events(body, request.headers.get(SIGNATURE, ""),
                                         request.headers.get(TIMESTAMP, ""), public_key)
            except RejectedWebhook as error:
                log.warning("refused a SendGrid webhook call: %s", error)
                return self.json({"error": str(error)}, status=403)
            with transaction(services.sessions) as session:
                now = services.clock()
                added = sum(suppress(session, email, reason, now) for email, reason in suppressions(events))
                confirmed = confirm_accepted(session, accepted_deliveries(events), now=now)
            if confirmed:
                log.warning("the mail API confirmed %d sends the ledger had not recorded (a worker died mid-send?)",
                            confirmed)
            return self.json({"events": len(events), "suppressed": added, "confirmed": confirmed})

    ctx.app.page("/webhooks/sendgrid")(SendGridEvents)
