"""Unsubscribe links on the worker's HTTP port: POST does what the token says, GET asks first.

Mail clients POST to the List-Unsubscribe URL (RFC 8058, body ``List-Unsubscribe=One-Click``)
without showing anything; that URL's token stops this incident's emails (see
``Sender.unsubscribe_url``). A person who opens the link gets a page with their address and
two buttons, each posting a token for the same email with its own scope: this incident, or
everything. Link scanners, which only GET, cannot unsubscribe anyone.
"""

from html import escape

from faust.web import Request, Response, View

from broadcaster.domain.unsubscribe import AddressToken, Claim, InvalidToken, Scope, sign, verify
from broadcaster.production import signing_secret, verifying_secrets
from broadcaster.services.unsubscribe import Recipient, recipient, unsubscribe
from broadcaster.storage.database import transaction
from streams.context import ProcessorContext

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 520px; margin: 3em auto;">{body}</body></html>"""
NOT_VALID = "<p>This unsubscribe link is not valid.</p>"
STOP_INCIDENT = "Stop emails about this incident"
STOP_ALL = "Stop all emails from us"


def _form(token: str, label: str) -> str:
    return f'<form method="post" action="?token={escape(token)}"><button>{label}</button></form>'


def _question(token: str, claim: Claim, found: Recipient, secret: str) -> str:
    """The address, and a button per scope; an old-format link names no incident, so it offers only "all"."""
    if isinstance(claim, AddressToken):
        return f"<p>Stop all emails to <strong>{escape(found.email)}</strong>?</p>{_form(token, STOP_ALL)}"
    about = escape(found.incident_title or "")
    return (f"<p>Emails to <strong>{escape(found.email)}</strong> about <em>{about}</em>.</p>"
            f"{_form(sign(claim.delivery_id, Scope.INCIDENT, secret), STOP_INCIDENT)}"
            f"{_form(sign(claim.delivery_id, Scope.EVERYTHING, secret), STOP_ALL)}")


def _done(found: Recipient, scope: Scope) -> str:
    if scope is Scope.INCIDENT:
        what = f"no more emails about <em>{escape(found.incident_title or '')}</em>"
    else:
        what = "no more emails from us"
    return f"<p>Done: {escape(found.email)} will get {what}.</p>"


def register(ctx: ProcessorContext) -> None:
    services = ctx.services
    secrets, current = verifying_secrets(services.settings), signing_secret(services.settings)

    class Unsubscribe(View):
        async def get(self, request: Request) -> Response:
            token = request.query.get("token", "")
            try:
                claim = verify(token, secrets)
            except InvalidToken:
                return self.html(PAGE.format(body=NOT_VALID), status=400)
            with services.sessions() as session:
                found = recipient(session, claim)
            if found is None:
                return self.html(PAGE.format(body=NOT_VALID), status=400)
            return self.html(PAGE.format(body=_question(token, claim, found, current)))

        async def post(self, request: Request) -> Response:
            """The chosen button, or a mail client's one-click: the body does not matter, the token does."""
            try:
                claim = verify(request.query.get("token", ""), secrets)
            except InvalidToken as error:
                return self.json({"error": str(error)}, status=400)
            with transaction(services.sessions) as session:
                found = unsubscribe(session, claim, services.clock())
            if found is None:
                return self.json({"error": "unsubscribe token names no email sent from here"}, status=400)
            return self.html(PAGE.format(body=_done(found, claim.scope)))

    ctx.app.page("/unsubscribe")(Unsubscribe)
