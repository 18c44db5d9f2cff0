"""The intake API's HTTP surface (FastAPI, served by uvicorn): POST a report, GET what became of it.

Stateless: everything it knows is in SQL, so several run behind a load balancer. The body
is read and checked by the project's own input rules (services/intake.py), not by a
pydantic model, so that the API refuses exactly what every other entrance refuses and
never quotes a value back; the OpenAPI document describes the body from the same schema.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from broadcaster.bootstrap import Services
from broadcaster.domain.input_rules import MAX_MESSAGE_BYTES
from broadcaster.intake import desks, inbound
from broadcaster.intake.bodies import read_within
from broadcaster.intake.committing import GroupCommit
from broadcaster.intake.keys import RecentKeys
from broadcaster.intake.limits import RateLimiter
from broadcaster.intake.publishing import PublishingThread
from broadcaster.intake.shortcut import Shortcut
from broadcaster.kafka.topics import Topics
from broadcaster.pages.routes import pages_router
from broadcaster.services import api_keys, intake

MAX_IDEMPOTENCY_KEY = 255
REPORT_BODY = {
    "type": "object", "required": ["reporter", "text"], "additionalProperties": False,
    "properties": {
        "report_id": {"type": "string", "maxLength": 64, "description": "Yours to choose; sent twice, one report."},
        "reporter": {"type": "object", "required": ["email", "name"],
                     "properties": {"email": {"type": "string", "format": "email", "maxLength": 254},
                                    "name": {"type": "string", "minLength": 1, "maxLength": 200}}},
        "text": {"type": "string", "minLength": 1, "maxLength": 20000},
        "component": {"type": ["string", "null"], "maxLength": 100},
        "time_zone": {"type": ["string", "null"], "maxLength": 64, "description": "IANA name, e.g. Asia/Manila."},
        "locale": {"type": ["string", "null"], "maxLength": 35, "description": "e.g. en_US, en-GB, pt_BR."},
    },
}
bearer = HTTPBearer(auto_error=False, description="An API key from `broadcaster api-keys create NAME`.")


def refuse(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


class Refused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def answer(error: Exception) -> Response | None:
    """The answer to an exception that refuses a request, else None (a fault: uvicorn answers 500)."""
    if isinstance(error, Refused):
        return error.response
    if isinstance(error, intake.InvalidReport):
        return refuse(422, "the report breaks the input rules",
                      errors=[{"field": field, "problem": problem} for field, problem in error.problems])
    if isinstance(error, desks.BadSignature):
        return refuse(401, str(error))
    if isinstance(error, SQLAlchemyError):
        return refuse(503, "the database is not answering; nothing was accepted, try again", {"Retry-After": "5"})
    return None


async def _answer(_: Request, error: Exception) -> Response:
    response = answer(error)
    assert response is not None, "registered only for the exceptions answer() answers"
    return response


def create_app(services: Services, publisher: PublishingThread) -> Shortcut:
    """The intake's ASGI app: FastAPI's, with POST /v1/reports answered ahead of it (intake/shortcut.py)."""
    settings = services.settings
    limiter = RateLimiter(settings.intake_rate_per_key, settings.intake_burst_per_key)
    topic = Topics.from_prefix(settings.topic_prefix).bug_reports
    keys, committer = RecentKeys(services.sessions), GroupCommit(services.sessions, topic)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        publisher.start()
        yield
        committer.close()
        publisher.stop()

    app = FastAPI(title="Broadcaster intake", version="1", lifespan=lifespan)

    for refusal in (Refused, intake.InvalidReport, desks.BadSignature, SQLAlchemyError):
        app.add_exception_handler(refusal, _answer)

    async def let_in(request: Request) -> api_keys.KeyInfo:
        """The live API key of the request, within its rate: else 401 or 429.

        Called by POST /v1/reports itself rather than as a dependency: FastAPI's dependency
        solving was a tenth of the CPU a report costs. The OpenAPI document still says so.
        """
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        key = await keys.find(token) if scheme.lower() == "bearer" and token else None
        if key is None:
            raise Refused(refuse(401, "a live API key is needed: Authorization: Bearer <key>",
                                 {"WWW-Authenticate": "Bearer"}))
        wait = limiter.take(key.id)
        if wait:
            raise Refused(refuse(429, "too many requests for this API key", {"Retry-After": str(max(1, round(wait)))}))
        return key

    async def caller(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> api_keys.KeyInfo:
        return await let_in(request)

    Caller = Annotated[api_keys.KeyInfo, Depends(caller)]

    @app.post("/v1/reports", status_code=202, openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": REPORT_BODY}}},
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}],
        "security": [{"HTTPBearer": []}],
    }, responses={401: {}, 409: {}, 413: {}, 422: {}, 429: {}})
    async def post_report(request: Request) -> JSONResponse:
        """Accept a bug report: answered once it is durable (202), published to the bug-reports topic at once."""
        key = await let_in(request)
        idempotency_key = _idempotency_key(request)
        document = _json(await _body(request))
        event = intake.check_report(document, services.clock())
        accepted = await committer.accept(intake.Submission(
            event, api_key_id=key.id, idempotency_key=idempotency_key,
            client_chose_id=isinstance(document, dict) and "report_id" in document, now=services.clock()))
        if accepted.taken:
            raise Refused(refuse(409, "another client already sent a report with this report_id; nothing was accepted",
                                 errors=[{"field": "report_id", "problem": "is already the id of another client's report: "
                                          "choose ids unique to you, or leave report_id out"}]))
        if accepted.message_id is not None:
            publisher.kick()
        status_url = f"{str(request.base_url).rstrip('/')}/v1/reports/{quote(accepted.report_id, safe='')}"
        return JSONResponse({"report_id": accepted.report_id, "status": "accepted", "status_url": status_url},
                            status_code=202, headers={"Location": status_url})

    @app.get("/v1/reports/{report_id}", responses={401: {}, 404: {}, 429: {}})
    async def report_status(report_id: str, key: Caller) -> dict[str, Any]:
        """What became of a report: received, linked, fixed_reply, suggested or unlinked (with reply_by), closed."""
        found = await run_in_threadpool(intake.status, services.sessions, report_id)
        if found is None:
            raise HTTPException(404, "no such report")
        return found

    @app.api_route("/health/live", methods=["GET", "HEAD"], include_in_schema=False)
    async def live() -> dict[str, str]:
        """The process answers (what ``broadcaster up`` and a load balancer's liveness probe ask)."""
        return {"status": "ok"}

    @app.api_route("/health/ready", methods=["GET", "HEAD"], include_in_schema=False)
    async def ready() -> dict[str, str]:
        """Ready to accept: the database answers (a 503 from the handler below when it does not)."""
        await run_in_threadpool(_database_answers, services)
        return {"status": "ok"}

    @app.post("/v1/webhooks/zendesk", status_code=202, responses={401: {}, 413: {}, 422: {}, 503: {}})
    async def zendesk_webhook(request: Request) -> JSONResponse:
        """A Zendesk ticket as a report, from the webhook docs/OPERATING.md sets up; a retried ticket is one report."""
        secret = _desk_secret(settings.zendesk_webhook_secret, "BROADCASTER_ZENDESK_WEBHOOK_SECRET")
        body = await _body(request)
        desks.verify_zendesk(secret, body, request.headers.get(desks.ZENDESK_SIGNATURE),
                             request.headers.get(desks.ZENDESK_TIMESTAMP), services.clock(),
                             settings.zendesk_webhook_window)
        return await accept_ticket(desks.zendesk_ticket(_json(body)))

    @app.post("/v1/webhooks/intercom", status_code=202, responses={200: {}, 401: {}, 413: {}, 422: {}, 503: {}})
    async def intercom_webhook(request: Request) -> JSONResponse:
        """A conversation a user started in Intercom as a report; other topics (and ``ping``) are answered and ignored."""
        secret = _desk_secret(settings.intercom_client_secret, "BROADCASTER_INTERCOM_CLIENT_SECRET")
        body = await _body(request)
        desks.verify_intercom(secret, body, request.headers.get(desks.INTERCOM_SIGNATURE))
        ticket = desks.intercom_conversation(_json(body))
        if ticket is None:
            return JSONResponse({"status": "ignored"})
        return await accept_ticket(ticket)

    async def accept_ticket(ticket: desks.Ticket) -> JSONResponse:
        event = ticket.report(services.clock())
        accepted = await committer.accept(intake.Submission(
            event, api_key_id=None, idempotency_key=ticket.ticket_id, client_chose_id=False, now=services.clock(),
            desk=ticket.desk, ticket_url=ticket.url))
        if accepted.message_id is not None:
            publisher.kick()
        return JSONResponse({"report_id": accepted.report_id, "status": "accepted"}, status_code=202)

    app.include_router(inbound.router(services, publisher, topic))
    app.include_router(pages_router(services, publisher.kick))
    return Shortcut(app, "POST", "/v1/reports", post_report, answer)


def _database_answers(services: Services) -> None:
    with services.sessions() as session:
        session.execute(text("SELECT 1"))


def _desk_secret(secret: str | None, setting: str) -> str:
    """The desk's signing secret; without one nothing could be verified, so the endpoint is off (503)."""
    if not secret:
        raise Refused(refuse(503, f"this webhook is off: the server has no {setting}"))
    return secret


def _idempotency_key(request: Request) -> str | None:
    value = request.headers.get("idempotency-key")
    if value is not None and not (0 < len(value) <= MAX_IDEMPOTENCY_KEY):
        raise intake.InvalidReport([("Idempotency-Key", f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters")])
    return value


async def _body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes the limit every topic has."""
    return await read_within(request, MAX_MESSAGE_BYTES, _too_large)


def _too_large() -> Refused:
    return Refused(refuse(413, f"the body is over {MAX_MESSAGE_BYTES:,} bytes"))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise intake.InvalidReport([("(body)", "is not JSON we accept")]) from None
