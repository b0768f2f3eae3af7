"""What the emulators' ASGI middlewares share: the status a request was answered with."""

from __future__ import annotations

from typing import Any

__all__ = ["ResponseStatus"]


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
