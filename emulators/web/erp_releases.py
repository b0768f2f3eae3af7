"""The ERP's API releases over HTTP: ASGI middleware in front of its routes.

Theory of operation: the live ERP built with releases (``erp_system(releases=...)``)
runs every call of its native API (a path and method of
:data:`~emulators.web.erp_api.ERP_API`) through :class:`ReleaseGate`, which asks the
same :class:`~emulators.erp.releases.ErpReleases` the simulated transport asks: the
request's headers and JSON body are checked and renamed back to the behaviour's names
before the route (and its model) sees them; a refusal is answered at once as
problem+json; the route's reply is renamed to the release's names and announces the
version (``X-ERP-API-Version``, and ``Deprecation`` before a release).  It sits inside
the app's body limit, so it never reads more than the limit.  ``GET
/fscmRestApi/resources/apiVersion`` says which version the API speaks now, and when each
release comes (a client can look before it calls).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from emulators._base import Reply, problem
from emulators.erp.releases import ErpReleases
from emulators.operations import Api
from emulators.web._asgi import HttpMiddleware
from emulators.web._body_limit import BodyTooLarge
from emulators.web._common import respond

__all__ = ["RESTART_PATH", "VERSION_PATH", "ReleaseGate"]

VERSION_PATH = "/fscmRestApi/resources/apiVersion"
RESTART_PATH = "/__admin/releases/restart"  # the timeline counted from now (erp_app)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _pattern(prefix: str, path: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix) + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _with_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    return [*kept, (b"content-length", str(length).encode())]


class ReleaseGate(HttpMiddleware):
    """ASGI middleware: the ERP's native API as the version in force speaks it."""

    def __init__(self, app: Any, releases: ErpReleases, api: Api) -> None:
        super().__init__(app)
        self.releases = releases
        self.routes = [
            (method, _pattern(api.prefix, path), op.name)
            for op in api.operations
            for method, path in ((op.method, op.path), *op.also)
        ]

    def _operation(self, scope: Message) -> str | None:
        method, path = scope["method"], scope["path"]
        return next((n for m, p, n in self.routes if m == method and p.match(path)), None)

    async def http(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET" and scope["path"] == VERSION_PATH:
            await respond(Reply(200, self._versions()))(scope, receive, send)
            return
        operation = self._operation(scope)
        if operation is None:
            await self.app(scope, receive, send)
            return
        try:
            raw = await _read(receive)
        except BodyTooLarge as e:
            await respond(problem(413, "Content Too Large", str(e.detail), "body"))(
                scope, receive, send
            )
            return
        await self._versioned(operation, scope, raw, send)

    def _versions(self) -> dict[str, Any]:
        return {
            "version": self.releases.version,
            "base": self.releases.base,
            "releases": [{"version": v, "at_s": at} for v, at in self.releases.schedule()],
        }

    async def _versioned(self, operation: str, scope: Message, raw: bytes, send: Send) -> None:
        release = self.releases.current()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = _json(raw)
        checked = self.releases.request(release, operation, headers, body)
        if isinstance(checked, Reply):
            refusal = self.releases.reply(release, operation, checked)
            await respond(refusal)(scope, _replay(b""), send)
            return
        if checked is not body:
            raw = json.dumps(checked, separators=(",", ":")).encode()
            scope = {**scope, "headers": _with_length(list(scope["headers"]), len(raw))}
        start, content = await _capture(self.app, scope, raw)
        parsed = _json(content)
        reply = self.releases.reply(release, operation, Reply(start["status"], parsed))
        if reply.body is not parsed:
            content = json.dumps(reply.body, separators=(",", ":")).encode()
        out = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        out += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        if content or start["status"] != 304:
            out = _with_length(out, len(content))
        await send({**start, "headers": out})
        await send({"type": "http.response.body", "body": content})


def _replay(raw: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return receive


async def _capture(app: Any, scope: Message, raw: bytes) -> tuple[Message, bytes]:
    """Run ``app`` on the request, holding its response: (start message, whole body)."""
    start: Message = {}
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, _replay(raw), send)
    return start, b"".join(chunks)
