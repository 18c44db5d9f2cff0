"""The pages' HTTP routes, mounted on the intake app: ``app.include_router(pages_router(services, publisher.kick))``.

Reading is cached (cache.py): a public incident page is rendered at most once per
``cache_seconds`` whatever the traffic. Everything that writes goes through a form with a
signed double-submit token (forms.py) and answers the same whether or not the address
already follows the incident.
"""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from broadcaster.bootstrap import Services
from broadcaster.domain import input_rules
from broadcaster.domain.unsubscribe import (
    AddressToken,
    Claim,
    DeliveryToken,
    InvalidToken,
    Purpose,
    Scope,
    seal,
    unseal_delivery,
    verify,
)
from broadcaster.intake.bodies import read_within
from broadcaster.kafka.topics import Topics
from broadcaster.pages import api
from broadcaster.pages.cache import FreshFor
from broadcaster.pages.forms import COOKIE, FIELD, FormTokens, PerAddress
from broadcaster.pages.render import render
from broadcaster.production import verifying_secrets
from broadcaster.services import ledger, outbox, public_incidents, unsubscribe
from broadcaster.services.public_incidents import PublicIncident
from broadcaster.storage.database import transaction

MAX_FORM_BYTES = 8192
FOLLOW_BURST, FOLLOW_EVERY_SECONDS = 5, 60.0  # follow requests per client address: 5 at once, then one a minute
NOT_FOUND = ("We have no public page at this address.",
             "If you came here from one of our emails, please use its link exactly as it is.")
Params = ParamSpec("Params")
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}  # links carry tokens


@dataclass(frozen=True)
class Cached:
    incident: PublicIncident | None
    html: bytes | None  # the page as everyone sees it; None for a private incident (rendered per reader)
    headers: dict[str, str]  # with the cookie that goes with the page's form token


READ = ["GET", "HEAD"]  # uptime monitors and link checkers ask HEAD; FastAPI's get() alone answers it 405


class Refusal(Exception):
    """A form or link we cannot act on: the page that says why, and its status."""

    def __init__(self, status: int, heading: str, *paragraphs: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(heading)
        self.status, self.heading, self.paragraphs, self.headers = status, heading, paragraphs, headers or {}


def invalid_link(why: str = "Please open the link from the email exactly as it is.") -> Refusal:
    """A link from an email that does not verify (altered, cut short, or not ours)."""
    return Refusal(400, "This link is not valid", why)


def pages_router(services: Services, kick: Callable[[], None], cache_seconds: float = 1.0) -> APIRouter:
    settings, sender = services.settings, services.sender
    secrets = verifying_secrets(settings)
    forms = FormTokens(secrets)
    follows = PerAddress(FOLLOW_BURST, FOLLOW_EVERY_SECONDS)
    cache: FreshFor[Cached] = FreshFor(cache_seconds)
    listing: FreshFor[list[PublicIncident]] = FreshFor(cache_seconds)
    deliveries_topic = Topics.from_prefix(settings.topic_prefix).deliveries
    base_url = sender.pages_url.rstrip("/")
    product = settings.product_name
    secure = base_url.startswith("https://")
    router = APIRouter(include_in_schema=False)

    def page(template: str, status: int = 200, form_token: str | None = None, *, with_form: bool = True,
             headers: dict[str, str] | None = None, **context: object) -> Response:
        """A page; one with a form gets a fresh double-submit token (field and cookie), others leave the cookie be."""
        token = form_token or forms.issue()
        html = render(template, product=product, form_token=token, now=services.clock(), **context)
        response = HTMLResponse(html, status, headers={**HEADERS, **(headers or {})})
        return _with_cookie(response, token, secure) if with_form else response

    def message(status: int, heading: str, *paragraphs: str, back: str | None = None, form: dict | None = None,
                headers: dict[str, str] | None = None) -> Response:
        return page("message.html", status, with_form=form is not None, heading=heading, paragraphs=paragraphs,
                    back=back, form=form,
                    error=status >= 400, headers={"Cache-Control": "no-store", **(headers or {})})

    def answered(route: Callable[Params, Awaitable[Response]]) -> Callable[Params, Awaitable[Response]]:
        """The route, with a Refusal turned into the page that says why."""
        @functools.wraps(route)
        async def answer(*args: Params.args, **kwargs: Params.kwargs) -> Response:
            try:
                return await route(*args, **kwargs)
            except Refusal as refusal:
                return message(refusal.status, refusal.heading, *refusal.paragraphs, headers=refusal.headers)
        return answer

    def load(incident_id: str) -> Cached:
        with services.sessions() as session:
            incident = public_incidents.incident(session, incident_id)
        if incident is None or incident.private:
            return Cached(incident, None, {})
        token = forms.issue()
        html = render("incident.html", product=product, incident=incident, now=services.clock(),
                      form_token=token, view_token=None)
        cookie = _with_cookie(Response(), token, secure).headers["set-cookie"]
        headers = {**HEADERS, "Cache-Control": f"public, max-age={int(cache_seconds)}", "Set-Cookie": cookie}
        return Cached(incident, html.encode(), headers)

    async def cached(incident_id: str) -> Cached:
        return cache.get(incident_id) or cache.put(incident_id, await run_in_threadpool(load, incident_id))

    def may_view(incident: PublicIncident, view_token: str | None) -> bool:
        if not incident.private:
            return True
        try:
            delivery_id = unseal_delivery(view_token or "", Purpose.VIEW, secrets)
        except InvalidToken:
            return False
        with services.sessions() as session:
            return public_incidents.may_view(session, incident.id, delivery_id)

    @router.api_route("/incidents/{incident_id}", methods=READ)
    async def incident_page(incident_id: str, token: str | None = None) -> Response:
        found = await cached(incident_id[:40])
        if found.html is not None:  # the hot path: public, rendered, no thread hop
            return Response(found.html, media_type="text/html; charset=utf-8", headers=found.headers)
        incident = found.incident
        if incident is None or not await run_in_threadpool(may_view, incident, token):
            return message(404, "Page not found", *NOT_FOUND)
        return page("incident.html", incident=incident, view_token=token, headers={"Cache-Control": "private, no-store"})

    @router.api_route("/", methods=READ)
    async def index() -> Response:
        incidents = listing.get("all") or listing.put("all", await run_in_threadpool(_listing))
        return page("index.html", incidents=incidents, headers={"Cache-Control": "public, max-age=1"})

    def _listing() -> list[PublicIncident]:
        with services.sessions() as session:
            return public_incidents.listing(session, services.clock())

    @router.api_route("/feed.atom", methods=READ)
    async def feed() -> Response:
        incidents = listing.get("all") or listing.put("all", await run_in_threadpool(_listing))
        updated = max((i.updated_at for i in incidents), default=services.clock())
        xml = render("feed.atom", product=product, base_url=base_url, incidents=incidents, updated=updated)
        return Response(xml, media_type="application/atom+xml; charset=utf-8", headers=HEADERS)

    @router.api_route("/api/v1/incidents.json", methods=READ)
    async def incidents_json() -> JSONResponse:
        incidents = listing.get("all") or listing.put("all", await run_in_threadpool(_listing))
        return JSONResponse(api.incidents_document(incidents, base_url, product, services.clock()),
                            headers={**HEADERS, "Access-Control-Allow-Origin": "*"})

    async def checked_form(request: Request) -> dict[str, str]:
        """The posted fields, once the double-submit token matches its cookie; Refusal otherwise."""
        body = await read_within(request, MAX_FORM_BYTES, lambda: Refusal(  # not read whole first: 400 MB took 0.8 GB
            413, "That was too much to send", "Please go back and send the form again."))
        try:  # strict: a name sent in another encoding was stored as replacement characters ("Jos\ufffd")
            fields = {key: values[0] for key, values in parse_qs(body.decode(), errors="strict").items()}
        except UnicodeDecodeError:
            raise Refusal(422, "Please check the form", "Some of what was sent is not UTF-8 text. "
                          "Please type it again and send the form.") from None
        if not forms.valid(fields.get(FIELD), request.cookies.get(COOKIE)):
            raise Refusal(403, "Please send the form again",
                          "This form expired or did not come from our page. Go back, reload the page, and send it again.")
        return fields

    @router.post("/incidents/{incident_id}/follow")
    @answered
    async def follow(incident_id: str, request: Request) -> Response:
        fields = await checked_form(request)
        back = f"/incidents/{incident_id}" + (f"?token={fields['token']}" if fields.get("token") else "")
        wait = follows.wait(request.client.host if request.client else "")
        if wait:
            raise Refusal(429, "Please wait a moment", "We had many requests from your network just now. "
                          "Please try again in a minute.", headers={"Retry-After": str(max(1, round(wait)))})
        try:
            name, email = input_rules.name(fields.get("name", "")), input_rules.email(fields.get("email", ""))
        except input_rules.InvalidInput as error:
            raise Refusal(422, "Please check the form", f"Your {error.field}: {error.problem}.") from None
        found = (await cached(incident_id[:40])).incident
        if found is None or not await run_in_threadpool(may_view, found, fields.get("token")):
            return message(404, "Page not found", *NOT_FOUND)
        if await run_in_threadpool(_follow, found.id, email, name):
            kick()
        return message(200, "Check your inbox",
                       "If that address is not getting updates about this incident yet, we have sent it an email "
                       "with a link to confirm. Nothing more is sent until you use that link.", back=back)

    def _follow(incident_id: str, email: str, name: str) -> bool:
        """Queue the confirmation email and its announcement in one transaction; True if there was one."""
        now = services.clock()
        with transaction(services.sessions) as session:
            ids = public_incidents.follow(session, incident_id, email, name, now)
            for key, value in ledger.announcements(ids):
                outbox.add(session, deliveries_topic, key.encode(), value, now)
        return bool(ids)

    def confirmation_of(token: str) -> int:
        try:
            return unseal_delivery(token, Purpose.FOLLOW, secrets)
        except InvalidToken:
            raise invalid_link() from None

    @router.get("/follow/confirm")
    @answered
    async def confirm_question(token: str = "") -> Response:
        delivery_id = confirmation_of(token)
        found = await run_in_threadpool(_confirmation, delivery_id)
        if found is None:
            raise invalid_link()
        return message(200, "Confirm your email updates",
                       f"Press the button to get an email with every update about “{found.incident_title}”.",
                       form={"action": "/follow/confirm", "token": token, "button": "Yes, email me updates"})

    def _confirmation(delivery_id: int) -> public_incidents.Confirmation | None:
        with services.sessions() as session:
            return public_incidents.confirmation(session, delivery_id)

    @router.post("/follow/confirm")
    @answered
    async def confirm(request: Request) -> Response:
        fields = await checked_form(request)
        delivery_id = confirmation_of(fields.get("token", ""))
        found = await run_in_threadpool(_confirm, delivery_id)
        if found is None:
            raise invalid_link()
        view = seal(Purpose.VIEW, str(delivery_id), sender.unsubscribe_secret)
        return message(200, "You will get every update",
                       f"We will email you about “{found.incident_title}” each time there is news, until it is "
                       "fixed. Every email has a link to stop them.",
                       back=f"/incidents/{found.incident_id}?token={view}")

    def _confirm(delivery_id: int) -> public_incidents.Confirmation | None:
        with transaction(services.sessions) as session:
            return public_incidents.confirm(session, delivery_id, services.clock())

    def claim_of(token: str) -> Claim:
        try:
            return verify(token, secrets)
        except InvalidToken:
            raise invalid_link() from None

    @router.get("/manage")
    @answered
    async def manage(token: str = "") -> Response:
        return await manage_page(token, claim_of(token), done=None)

    async def manage_page(token: str, claim: Claim, done: str | None) -> Response:
        standing = await run_in_threadpool(_standing, claim)
        if standing is None:
            raise invalid_link("It names no email we sent from here.")
        return page("manage.html", token=token, standing=standing, done=done,
                    choices=choices(standing, claim), headers={"Cache-Control": "no-store"})

    def _standing(claim: Claim) -> unsubscribe.Standing | None:
        with services.sessions() as session:
            return unsubscribe.standing(session, claim)

    @router.post("/manage")
    @answered
    async def manage_change(request: Request) -> Response:
        fields = await checked_form(request)
        token = fields.get("token", "")
        claim = claim_of(token)
        action = ACTIONS.get(fields.get("action", ""))
        if action is None:
            raise Refusal(422, "Please choose one of the buttons", "Go back and press one of the buttons.")
        await run_in_threadpool(_change, claim, *action)
        return await manage_page(token, claim, done=action[2])

    def _change(claim: Claim, stop: bool, scope: Scope, _: str) -> None:
        scoped = claim if isinstance(claim, AddressToken) else DeliveryToken(claim.delivery_id, scope)
        with transaction(services.sessions) as session:
            if stop:
                unsubscribe.unsubscribe(session, scoped, services.clock())
            else:
                unsubscribe.resume(session, scoped, scope)

    return router


ACTIONS = {  # form value: (stop?, scope, what the page then says)
    "stop-incident": (True, Scope.INCIDENT, "Done: no more emails about this incident."),
    "stop-all": (True, Scope.EVERYTHING, "Done: no more emails from us."),
    "resume-incident": (False, Scope.INCIDENT, "Done: you will get this incident's updates again."),
    "resume-all": (False, Scope.EVERYTHING, "Done: you will get our emails again."),
}


def choices(standing: unsubscribe.Standing, claim: Claim) -> list[dict[str, object]]:
    """The buttons that make sense now: stop what still comes, undo what the person stopped (not a bounce)."""
    if standing.stopped_everything:
        if standing.suppressed_because != unsubscribe.REASON:
            return []
        return [{"action": "resume-all", "label": "Email me again", "secondary": False}]
    found = []
    if not isinstance(claim, AddressToken):
        found.append({"action": "resume-incident", "label": "Email me about this incident again", "secondary": False}
                     if standing.left_incident else
                     {"action": "stop-incident", "label": "Stop emails about this incident", "secondary": False})
    found.append({"action": "stop-all", "label": "Stop all emails from us", "secondary": True})
    return found


def _with_cookie(response: Response, token: str, secure: bool = False) -> Response:
    response.set_cookie(COOKIE, token, max_age=6 * 3600, httponly=True, samesite="strict", path="/", secure=secure)
    return response
