"""What the emulators' ASGI middlewares share: acting on HTTP requests only, and the status
a request was answered with."""

from __future__ import annotations

from typing import Any

__all__ = ["HttpMiddleware", "ResponseStatus"]


class ResponseStatus:
    """An ASGI ``send`` that passes every message on and keeps the response's status:
    500 until a response starts (an exception that escapes everything is answered 500
    by the server)."""

    def __init__(self, send: Any) -> None:
        self._send = send
        self.code = 500

    async def __call__(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.code = message["status"]
        await self._send(message)


class HttpMiddleware:
    """An ASGI middleware around ``app`` that acts on HTTP requests only (:meth:`http`):
    anything else (the server's lifespan messages) passes through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        raise NotImplementedError
