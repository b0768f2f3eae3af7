"""The ``/v1`` API layers' routers: system, process, experience and partner.

Theory of operation
-------------------
The core's API in three layers, as an integration governance framework puts an ERP behind
them: *system* APIs (one per foreign system: what the core takes in from it and knows of
it), *process* APIs (the flows a person drives: dead letters, a reconciliation now) and
*experience* APIs (the procurement team's and the dashboard's reads), plus the *partner*
API a supplier portal calls (a supplier's own purchase orders).  Each layer is its own
FastAPI app with its own OpenAPI (mounted by :mod:`~sync_core.service.layers`).

Most routes are the existing handlers under their ``/v1`` path (the same code answers
both, so the two cannot drift); what is new lives here: a system's view
(``GET /v1/system/{system}``), ``POST /v1/process/reconcile`` (a reconciliation tick now:
the pull the ``--batch-interval`` ticker would make, recorded as ``reconcile.tick``) and
the partner reads.  A partner token is bound to one supplier (its ``supplier`` claim):
another supplier's list or PO is 404, as one that does not exist — the token learns
nothing (with access off, every supplier's is readable).

Not here, on purpose: submitting a PO change.  The ERP owns purchase orders; the core only
relays its changes (``POST /v1/system/erp/webhooks``) and has no flow of its own that
changes a PO.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from sync_core.dashboard.router import dashboard_router
from sync_core.inbound import PARSERS
from sync_core.messages import Inbound, Kind
from sync_core.service import dead_letters, experience, status, webhooks
from sync_core.service.access import requires
from sync_core.service.deps import Actor, Driver, Subscriptions
from sync_core.service.problems import PROBLEM_DOC, problem
from sync_core.store import Store, StoreError

__all__ = ["experience_router", "partner_router", "process_router", "system_router"]

SupplierId = Annotated[str, Path(min_length=1, max_length=40, description="the supplier's id")]
_LETTER: dict[int | str, dict[str, Any]] = {404: PROBLEM_DOC, 409: PROBLEM_DOC}


async def system_view(system: webhooks.System, driver: Driver, subs: Subscriptions) -> Response:
    """What the core knows of one system: its webhook subscription, the circuit breaker
    in front of it and the requests still to deliver to it."""
    if system not in PARSERS:
        return problem(404, "Not Found", f"unknown system {system!r}", "system")
    breaker = driver.planner.breakers.get(system)
    stats = breaker.stats() if breaker is not None else None
    pending = await driver.db(lambda s: sum(1 for i in s.pending() if i.request.target == system))
    return JSONResponse(
        {
            "system": system,
            "subscription": subs.get(system),
            "circuit": str(stats.state) if stats else "closed",
            "trips": stats.trips if stats else 0,
            "pending": pending,
        }
    )


def system_router() -> APIRouter:
    router = APIRouter(tags=["system"])
    router.add_api_route(
        "/{system}/webhooks",
        webhooks.webhook,
        methods=["POST"],
        status_code=202,
        responses={400: PROBLEM_DOC, 404: PROBLEM_DOC, 422: PROBLEM_DOC, 503: PROBLEM_DOC},
        dependencies=[requires("webhooks:{system}")],
    )
    router.add_api_route(
        "/{system}",
        system_view,
        methods=["GET"],
        responses={404: PROBLEM_DOC},
        dependencies=[requires("systems:read")],
    )
    return router


async def reconcile(driver: Driver, actor: Actor) -> Response:
    """Compare owners and replicas now: a reconciliation tick (changes since the last
    pull are read again and what differs is repaired); 202 once it is committed.  Who
    asked is an audit entry (``reconcile``)."""
    at = driver.wall().isoformat()
    message = Inbound(f"{Kind.RECONCILE_TICK}:{at}", Kind.RECONCILE_TICK, {"at": at})
    try:
        outcome = await driver.submit(message)
        detail = {"message_id": message.message_id, "outcome": outcome}
        await driver.db(lambda s: s.append_audit(actor, "reconcile", "reconcile", detail))
    except StoreError as e:
        return problem(503, "Service Unavailable", str(e), None, **{"Retry-After": "1"})
    return JSONResponse({"message_id": message.message_id, "outcome": outcome}, 202)


def process_router() -> APIRouter:
    router = APIRouter(tags=["process"])
    add = router.add_api_route
    add("/dead-letters", dead_letters.dlq, methods=["GET"], dependencies=[requires("dlq:read")])
    add("/dead-letters/{letter_id}", dead_letters.dlq_letter, methods=["GET"],
        responses={404: PROBLEM_DOC}, dependencies=[requires("dlq:read")])  # fmt: skip
    add("/dead-letters/{letter_id}/replay", dead_letters.dlq_replay, methods=["POST"],
        responses=_LETTER, dependencies=[requires("dlq:replay")])  # fmt: skip
    add("/dead-letters/{letter_id}/discard", dead_letters.dlq_discard, methods=["POST"],
        responses=_LETTER | {422: PROBLEM_DOC},
        dependencies=[requires("dlq:discard")])  # fmt: skip
    add("/reconcile", reconcile, methods=["POST"], status_code=202,
        responses={503: PROBLEM_DOC}, dependencies=[requires("reconcile:run")])  # fmt: skip
    return router


def experience_router(request_app: Any) -> APIRouter:
    """``request_app``: the app whose state holds the driver (for the dashboard's feeds)."""
    router = APIRouter(tags=["experience"])
    add = router.add_api_route
    add("/purchase-orders/{number}", experience.purchase_order, methods=["GET"],
        responses={404: PROBLEM_DOC}, dependencies=[requires("po:read")])  # fmt: skip
    add("/exceptions", experience.exceptions, methods=["GET"], dependencies=[requires("po:read")])
    add("/backlog", experience.backlog, methods=["GET"], dependencies=[requires("status:read")])
    add("/status", status.status, methods=["GET"], dependencies=[requires("status:read")])
    add("/metrics", status.prometheus, methods=["GET"], response_class=Response,
        dependencies=[requires("status:read")])  # fmt: skip
    router.include_router(dashboard_router(lambda: request_app.state.driver))
    return router


def _bound(request: Request, supplier: str) -> bool:
    """Whether the caller may see ``supplier``'s POs (any, with access off)."""
    claims = request.state.claims
    return claims is None or claims.supplier == supplier


def _po_of(store: Store, supplier: str, number: str) -> dict[str, Any] | None:
    po = store.entity("po", number)
    if po is None or not isinstance(po.data, dict) or po.data.get("supplier_id") != supplier:
        return None
    return {"po_number": number, **experience.po_entities(store, number)}


async def partner_orders(supplier: SupplierId, request: Request, driver: Driver) -> Response:
    """The supplier's own purchase orders as the core dispatched them, by PO number."""
    if not _bound(request, supplier):
        return problem(404, "Not Found", f"no supplier {supplier!r}", "supplier")

    def read(store: Store) -> list[dict[str, Any]]:
        rows = []
        for e in store.entities("po"):
            data = e.data if isinstance(e.data, dict) else {}
            if data.get("supplier_id") == supplier:
                ack = store.entity("ack", e.key)
                rows.append({"po_number": e.key, "revision": e.version,
                             "canceled": bool(data.get("canceled")),
                             "acknowledged": ack is not None})  # fmt: skip
        return sorted(rows, key=lambda r: r["po_number"])

    rows = await driver.db(read)
    return JSONResponse({"supplier": supplier, "count": len(rows), "items": rows})


async def partner_order(
    supplier: SupplierId, number: experience.PoNumber, request: Request, driver: Driver
) -> Response:
    """One of the supplier's purchase orders: the PO and the acknowledgment relayed."""
    found = (
        await driver.db(lambda s: _po_of(s, supplier, number))
        if _bound(request, supplier)
        else None
    )
    if found is None:  # another supplier's PO is as unknown as a missing one
        return problem(404, "Not Found", f"no purchase order {number} for {supplier}", "number")
    return JSONResponse(found)


def partner_router() -> APIRouter:
    router = APIRouter(tags=["partner"])
    for path, endpoint in (
        ("/suppliers/{supplier}/purchase-orders", partner_orders),
        ("/suppliers/{supplier}/purchase-orders/{number}", partner_order),
    ):
        router.add_api_route(path, endpoint, methods=["GET"], responses={404: PROBLEM_DOC},
                             dependencies=[requires("partner:read")])  # fmt: skip
    return router
