"""The intake's one hot route, answered without the framework's layers around it.

A POST /v1/reports used to pass through FastAPI's stack before reaching its handler: the
error, telemetry, body-limit and exception middleware, an exit stack, the router trying
each route in turn and the handler's parameter solving. py-spy on `bench/intake.py` put
that at more than a third of the CPU a report cost in the serve process, and the handler
needs none of it: it reads its own body within the limit, checks its own key and rate,
and every refusal it makes is an exception with a ready answer.

So the ASGI application uvicorn runs is this one: it answers that route itself, with the
same handler and the same answers to the same exceptions as the FastAPI app registers,
and hands everything else (the other routes, the OpenAPI document, lifespan) to FastAPI,
which still documents the route. An exception without an answer propagates to uvicorn,
which logs it and answers 500, as it does for the FastAPI app.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]
Answers = Callable[[Exception], Response | None]


class Shortcut:
    """An ASGI app that serves ``method path`` with ``handler`` and passes every other request to ``app``."""

    def __init__(self, app: ASGIApp, method: str, path: str, handler: Handler, answers: Answers) -> None:
        self.app, self._method, self._path, self._handler, self._answers = app, method, path, handler, answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path or scope["method"] != self._method:
            await self.app(scope, receive, send)
            return
        try:
            response = await self._handler(Request(scope, receive))
        except Exception as error:
            answer = self._answers(error)
            if answer is None:
                raise
            response = answer
        await response(scope, receive, send)
