"""One-click unsubscribe (RFC 8058) on the worker's HTTP port: POST suppresses, GET asks first.

Mail clients POST to the List-Unsubscribe URL without showing anything; a person who
clicks the link in the email gets a page with one button, so that link scanners, which
only GET, cannot unsubscribe anyone.
"""

from html import escape

from faust.web import Request, Response, View

from broadcaster.domain.unsubscribe import InvalidToken, verify
from broadcaster.services.suppression import suppress
from broadcaster.storage.database import transaction
from streams.context import ProcessorContext

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 520px; margin: 3em auto;">{body}</body></html>"""


def register(ctx: ProcessorContext) -> None:
    services, secret = ctx.services, ctx.services.settings.unsubscribe_secret

    class Unsubscribe(View):
        async def get(self, request: Request) -> Response:
            token = request.query.get("token", "")
            try:
                email = verify(token, secret)
            except InvalidToken:
                return self.html(PAGE.format(body="<p>This unsubscribe link is not valid.</p>"), status=400)
            form = (f"<p>Stop all emails to <strong>{escape(email)}</strong>?</p>"
                    f'<form method="post" action="?token={escape(token)}"><button>Unsubscribe</button></form>')
            return self.html(PAGE.format(body=form))

        async def post(self, request: Request) -> Response:
            try:
                email = verify(request.query.get("token", ""), secret)
            except InvalidToken as error:
                return self.json({"error": str(error)}, status=400)
            with transaction(services.sessions) as session:
                suppress(session, email, "unsubscribed", services.clock())
            return self.html(PAGE.format(body=f"<p>Done: {escape(email)} will get no more emails from us.</p>"))

    ctx.app.page("/unsubscribe")(Unsubscribe)
