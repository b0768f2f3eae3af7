"""``/v1``: the API layers mounted as apps of their own, and the old routes' deprecation.

Theory of operation
-------------------
Each layer of :mod:`~sync_core.service.v1` is a FastAPI app mounted under ``/v1/<layer>``
(FastAPI's "sub applications"), so each has its own OpenAPI document and offline docs
(``/v1/system/openapi.json``, ``/v1/system/docs``...).  A layer shares the core app's
``state`` (the driver, the metrics, the subscriptions, the auth config) and answers its
errors as the core does (problem+json).

The routes the core served before the layers (``/webhooks/{system}``, ``/dlq``...) keep
working for one release: each answer carries ``Deprecation: @<epoch>`` (RFC 9745: the
structured date this release deprecated them) and ``Link: <successor>;
rel="successor-version"`` (RFC 5829) naming the same resource under ``/v1``
(:class:`Deprecations`, a middleware matching the old paths), and their OpenAPI marks them
deprecated.  ``/health`` (a liveness probe, at the root where probes
look) and the dashboard's page stay as they are.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_core.service import access, problems, v1

__all__ = ["DEPRECATED_AT", "LAYERS", "SUCCESSORS", "Deprecations", "mount_layers"]

DEPRECATED_AT = 1796083200  # 2026-12-01T00:00:00Z: the release that added /v1
LAYERS = {
    "system": "System APIs: one per foreign system (erp, supplier, wms, ap) — its webhook "
    "ingress and what the core knows of it.",
    "process": "Process APIs: the flows a person drives — dead letters, a reconciliation now.",
    "experience": "Experience APIs: a PO's status for requesters, the exception queue, "
    "backlog, status, metrics and the dashboard's feeds.",
    "partner": "Partner APIs: a supplier's view of its own purchase orders (a partner token "
    "is bound to one supplier).",
}
SUCCESSORS = {  # old path -> its /v1 successor
    "/webhooks/{system}": "/v1/system/{system}/webhooks",
    "/status": "/v1/experience/status",
    "/metrics": "/v1/experience/metrics",
    "/dlq": "/v1/process/dead-letters",
    "/dlq/{letter_id}": "/v1/process/dead-letters/{letter_id}",
    "/dlq/{letter_id}/replay": "/v1/process/dead-letters/{letter_id}/replay",
    "/dlq/{letter_id}/discard": "/v1/process/dead-letters/{letter_id}/discard",
    "/purchase-orders/{number}": "/v1/experience/purchase-orders/{number}",
    "/exceptions": "/v1/experience/exceptions",
    "/backlog": "/v1/experience/backlog",
    "/dashboard/feed.json": "/v1/experience/dashboard/feed.json",
    "/dashboard/story.json": "/v1/experience/dashboard/story.json",
}


class Deprecations:
    """ASGI middleware: an answer to an old path carries ``Deprecation`` and its successor."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths = [(compile_path(old)[0], new) for old, new in SUCCESSORS.items()]

    def _successor(self, path: str) -> str | None:
        for pattern, successor in self.paths:
            if (m := pattern.match(path)) is not None:
                return successor.format(**{k: quote(v, safe="") for k, v in m.groupdict().items()})
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        link = self._successor(scope["path"]) if scope["type"] == "http" else None
        if link is None:
            await self.app(scope, receive, send)
            return

        async def send_deprecated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("Deprecation", f"@{DEPRECATED_AT}")
                headers.append("Link", f'<{link}>; rel="successor-version"')
            await send(message)

        await self.app(scope, receive, send_deprecated)


def mount_layers(app: FastAPI) -> dict[str, FastAPI]:
    """Mount every layer under ``/v1/<layer>``; with access on, document it in each."""
    routers = {
        "system": v1.system_router(),
        "process": v1.process_router(),
        "experience": v1.experience_router(app),
        "partner": v1.partner_router(),
    }
    layers: dict[str, FastAPI] = {}
    for name, router in routers.items():
        layer = FastAPIOffline(
            title=f"supplysync sync core: {name} API", description=LAYERS[name], version="1"
        )
        layer.state = app.state  # the driver, metrics, subscriptions and auth of the core
        problems.install(layer)
        layer.include_router(router)
        if app.state.auth is not None:
            access.document(layer)
        app.mount(f"/v1/{name}", layer)
        layers[name] = layer
    return layers
