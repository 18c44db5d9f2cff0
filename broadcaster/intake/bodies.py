"""Reading a request's body without holding more than a limit in memory."""

from collections.abc import Callable

from starlette.requests import Request


async def read_within(request: Request, limit: int, too_large: Callable[[], Exception]) -> bytes:
    """The body; ``too_large()`` is raised as soon as it passes ``limit`` bytes, declared or read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large()
    return bytes(body)
