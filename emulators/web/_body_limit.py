"""ASGI middleware: a request body larger than the limit is a 413, before it is read whole.

Theory of operation: a declared ``Content-Length`` past the limit is answered at
once, without reading a byte of the body.  Otherwise (a smaller declared length,
or a chunked body without one) the bytes are counted as the app receives them;
the chunk that crosses the limit raises :class:`BodyTooLarge`, an HTTP 413 that
the app's error handler turns into problem+json naming ``body``, so nothing
downstream ever holds, parses or applies more than the limit.  Either way the
response asks the client to close the connection: the rest of an unread body
would otherwise be taken for the next request.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException

from emulators._base import problem
from emulators.web._asgi import HttpMiddleware

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """413: the request body is past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        detail = f"the request body is larger than {limit} bytes"
        super().__init__(413, detail, headers={"connection": "close"})


class BodyLimit(HttpMiddleware):
    def __init__(self, app: Any, max_body_bytes: int) -> None:
        super().__init__(app)
        self.limit = max_body_bytes

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _refuse(send, self.limit)
            return
        received = 0
        limit = self.limit

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Any) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


async def _refuse(send: Any, limit: int) -> None:
    reply = problem(413, "Content Too Large", BodyTooLarge(limit).detail, "body")
    body = reply.body
    assert isinstance(body, dict)
    content = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(content)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
