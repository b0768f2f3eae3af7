"""The web service: ``POST /hooks/{system}`` for events, ``GET /health``, ``GET /dead-letters``.

Each event is handled inside its request (see the package's theory of operation): the
dedupe table first, then the flow for its type, then the event's id recorded.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from . import x12
from .acknowledgment import on_acknowledgment
from .context import Context
from .dispatch import on_purchase_order_changed
from .receipts import on_receipt_created
from .settings import Settings
from .ship_notice import on_ship_notice
from .store import Store
from .systems import Refused, Retry, Systems

__all__ = ["create_app"]

log = logging.getLogger("external_middleware")
CONTEXT = web.AppKey("context", Context)


def event_id(system: str, event: dict[str, Any]) -> str:
    """The event's own id, stable across redeliveries (the interfaces README's table)."""
    if system == "supplier":
        return f"edi:{int(event['seq'])}"
    ident = event.get("eventId") or event.get("event_id")
    if not isinstance(ident, str) or not ident:
        raise ValueError("an event needs its eventId or event_id")
    return ident


async def route(ctx: Context, system: str, event: dict[str, Any]) -> None:
    """Run the flow for one event; what is not carried is acknowledged and ignored."""
    if system == "erp" and event.get("eventType") == "PurchaseOrderChanged":
        await on_purchase_order_changed(ctx, event)
    elif system == "supplier":
        for document in x12.read(event["payload"]):
            if isinstance(document, x12.Acknowledgment):
                await on_acknowledgment(ctx, document)
            elif isinstance(document, x12.ShipNotice):
                await on_ship_notice(ctx, document)
            # an 810 invoice: not carried by this middleware
    elif system == "wms" and event.get("event_type") == "receipt.created":
        await on_receipt_created(ctx, event)
    # AP's InvoiceStatusChanged and the ERP's master events: not carried


async def hook(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    system = request.match_info["system"]
    try:
        event = await request.json()
        ident = event_id(system, event)
    except (ValueError, KeyError, TypeError) as e:
        return web.json_response({"detail": f"not an event: {e}"}, status=400)
    async with ctx.lock(f"event:{ident}"):  # two copies at once: the second waits, then sees
        if ctx.store.seen(ident):
            return web.json_response({"duplicate": True})
        try:
            await route(ctx, system, event)
        except Retry as e:
            log.info("event %s failed, to be redelivered: %s", ident, e)
            return web.json_response({"detail": str(e)}, status=503)
        except (Refused, KeyError, ValueError, IndexError) as e:
            log.warning("event %s dead-lettered: %s", ident, e)
            ctx.store.dead_letter(ident, f"{type(e).__name__}: {e}")
        ctx.store.handled(ident, system)
    return web.json_response({"handled": ident})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def dead_letters(request: web.Request) -> web.Response:
    rows = request.app[CONTEXT].store.dead_letters()
    return web.json_response([{"event_id": e, "reason": r} for e, r in rows])


def create_app(settings: Settings) -> web.Application:
    """The service; its HTTP session and store live as long as the app runs."""
    app = web.Application()

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        store = Store(settings.database)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            app[CONTEXT] = Context(settings, store, Systems(settings, session))
            yield
        store.close()

    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/hooks/{system}", hook)
    app.router.add_get("/health", health)
    app.router.add_get("/dead-letters", dead_letters)
    return app
