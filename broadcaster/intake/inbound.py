"""Email to support on the intake API: SendGrid Inbound Parse posts each message here.

An email to the support address is one of two things:
- a **reply** to one of our emails: one of its recipients is ``support+<token>@...`` and the
  token verifies (domain/replies.py). It is stored with the incident (services/replies.py)
  and never answered; a token that does not verify is logged and never trusted, and the
  email is then a new report;
- a **new report**: mapped to the body POST /v1/reports takes, as a support desk's ticket
  is (intake/desks.py ``Ticket``), and accepted through the same input rules, codec and
  outbox, its Message-ID the idempotency key, so a post SendGrid retries is one report.
Mail no person wrote (auto-replies, bounces, lists) is answered 200 and ignored: answering
it could start a mail loop.

Inbound Parse signs nothing by default, so the endpoint wants HTTP Basic auth whose
password is ``BROADCASTER_INBOUND_PARSE_SECRET`` (any user name): configured in SendGrid
as ``https://parse:<secret>@<host>/v1/inbound/sendgrid``. Basic auth rather than a secret
in the path, because the path is written to access logs and the Authorization header is
not. Without the setting the endpoint answers 503; a wrong or missing password gets 401
and nothing more. SendGrid retries a post only on a 5xx, so every refusal of the email
itself is a 4xx: it would fail the same way again.
"""

import base64
import binascii
import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from broadcaster.bootstrap import Services
from broadcaster.domain import input_rules as rules
from broadcaster.domain.replies import InvalidReplyToken, tag_of, verify
from broadcaster.intake.bodies import read_within
from broadcaster.intake.desks import Ticket, report_text
from broadcaster.intake.publishing import PublishingThread
from broadcaster.mail.inbound_parse import InboundEmail, UnreadablePost, read_post
from broadcaster.production import verifying_secrets
from broadcaster.services import intake, replies
from broadcaster.storage.database import transaction

log = logging.getLogger(__name__)
DESK = "email"
PATH = "/v1/inbound/sendgrid"


def router(services: Services, publisher: PublishingThread, topic: str) -> APIRouter:
    settings = services.settings
    support_email = settings.support_email or settings.mail_from
    routes = APIRouter()

    @routes.post(PATH, status_code=202, responses={200: {}, 401: {}, 413: {}, 415: {}, 422: {}, 503: {}})
    async def sendgrid_inbound_parse(
        request: Request, authorization: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """An email to support, as SendGrid Inbound Parse posts it: a reply to one of ours, or a new report."""
        _authorise(settings.inbound_parse_secret, authorization)
        limit = settings.inbound_parse_max_bytes
        body = await read_within(request, limit, lambda: HTTPException(413, f"the email is over {limit:,} bytes"))
        try:
            email = await run_in_threadpool(read_post, request.headers.get("content-type", ""), body)  # up to 30 MB
        except UnreadablePost as error:
            raise intake.InvalidReport([(error.field, error.problem)]) from None
        if email.automatic:
            return JSONResponse({"status": "ignored", "reason": "an automatic email (auto-reply, bounce or list)"})
        stored = await run_in_threadpool(_as_reply, email)
        if stored is not None:
            return JSONResponse({"status": "reply stored", "incident_id": stored.incident_id,
                                 "regression": stored.regression})
        return await _as_report(email)

    def _as_reply(email: InboundEmail) -> replies.StoredReply | None:
        """Store the email as a reply if a recipient carries a token we signed; else None (it is a new report)."""
        for recipient in email.recipients:
            token = tag_of(recipient, support_email)
            if token is None:
                continue
            try:
                delivery_id = verify(token, verifying_secrets(settings))
            except InvalidReplyToken as error:
                log.warning("an email to support carries a reply token that does not verify (%s): "
                            "treated as a new report", error)
                continue
            with transaction(services.sessions) as session:
                stored = replies.record(session, delivery_id, text=_reply_text(email), fingerprint=email.fingerprint,
                                        received_at=services.clock())
            if stored is not None:
                log.info("reply to delivery %d stored with %s (%s%s)", delivery_id, stored.incident_id,
                         stored.meaning, ", a regression" if stored.regression else "")
                return stored
            log.warning("a verified reply token names delivery %d, which does not exist: treated as a new report",
                        delivery_id)
        return None

    async def _as_report(email: InboundEmail) -> JSONResponse:
        ticket = Ticket(DESK, email.fingerprint, None, {
            "reporter": {"email": email.sender_email, "name": email.sender_name or email.sender_email},
            "text": report_text(email.subject, email.new_text),
        }, {"reporter/email": "from", "reporter/name": "from", "text": "text"})
        event = ticket.report(services.clock())
        accepted = await run_in_threadpool(
            intake.accept, services.sessions, topic, event, api_key_id=None, idempotency_key=ticket.ticket_id,
            client_chose_id=False, now=services.clock(), desk=DESK)
        if accepted.message_id is not None:
            publisher.kick()
        return JSONResponse({"report_id": accepted.report_id, "status": "accepted"}, status_code=202)

    return routes


def _reply_text(email: InboundEmail) -> str:
    """What the reply adds, within the report limit; its subject when it adds nothing else."""
    text = email.new_text or email.subject or "(an empty reply)"
    return text[:rules.MAX_TEXT]


def _authorise(secret: str | None, authorization: str | None) -> None:
    if not secret:
        raise HTTPException(503, "email to support is off: the server has no BROADCASTER_INBOUND_PARSE_SECRET")
    if not _password_matches(secret, authorization):
        raise HTTPException(401, "not authorised", headers={"WWW-Authenticate": 'Basic realm="inbound"'})


def _password_matches(secret: str, authorization: str | None) -> bool:
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    password = decoded.partition(b":")[2]
    return hmac.compare_digest(password, secret.encode())
