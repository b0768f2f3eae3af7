"""The experience API: what the core knows, as the procurement team asks it.

``/purchase-orders/{n}`` (one PO, entity by entity, with its trace id), ``/exceptions``
(clinical-critical lines the supplier will not fill now) and ``/backlog`` (what is still
to be delivered, per target and lane).  Each is a read in the store's thread.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response

from sync_core.flows.base import traceparent
from sync_core.service.access import requires
from sync_core.service.deps import Driver
from sync_core.service.problems import PROBLEM_DOC, problem
from sync_core.store import OutboxItem, Store

__all__ = ["PO_ENTITY_KINDS", "po_entities", "router"]

PO_ENTITY_KINDS = ("po", "ack", "po_canceled")  # what the core keys by PO number
PoNumber = Annotated[str, Path(min_length=1, max_length=60)]


def po_entities(store: Store, number: str) -> dict[str, Any]:
    """What the core keys by PO ``number``, by kind: ``{kind: {"version", "data"}}``."""
    found: dict[str, Any] = {}
    for kind in PO_ENTITY_KINDS:
        e = store.entity(kind, number)
        if e is not None:
            found[kind] = {"version": e.version, "data": e.data}
    return found


# the unversioned routes, each deprecated for its /v1 successor (layers.py)
router = APIRouter(tags=["experience"], deprecated=True)


@router.get(
    "/purchase-orders/{number}", responses={404: PROBLEM_DOC}, dependencies=[requires("po:read")]
)
async def purchase_order(number: PoNumber, driver: Driver) -> Response:
    """What the core knows of one PO, entity by entity, with its trace id."""
    known = await driver.db(lambda s: po_entities(s, number))
    if not known:
        return problem(404, "Not Found", f"the core knows no purchase order {number}", "number")
    trace_id = traceparent(number, "read").split("-")[1]
    return JSONResponse({"po_number": number, "trace_id": trace_id, **known})


@router.get("/exceptions", dependencies=[requires("po:read")])
async def exceptions(driver: Driver, include_closed: bool = False) -> Response:
    """The procurement team's exception queue: clinical-critical lines the supplier
    will not fill now (open first, oldest first); ``include_closed`` adds those a later
    acknowledgment filled."""
    found = await driver.db(lambda s: s.entities("exception"))
    rows = [e.data | {"revision": e.version} for e in found]
    if not include_closed:
        rows = [r for r in rows if r["open"]]
    rows.sort(key=lambda r: (not r["open"], r["since"], r["po_number"], r["line_no"]))
    return JSONResponse({"count": len(rows), "items": rows})


@router.get("/backlog", dependencies=[requires("status:read")])
async def backlog(driver: Driver) -> Response:
    """What is still to be delivered, per target and lane, and the oldest row's age."""

    def read(store: Store) -> list[OutboxItem]:
        return store.pending()

    pending = await driver.db(read)
    per_target: dict[str, dict[str, int]] = {}
    for item in pending:
        lane = "critical" if item.request.critical else "routine"
        counts = per_target.setdefault(item.request.target, {"critical": 0, "routine": 0})
        counts[lane] += 1
    return JSONResponse(
        {"pending": len(pending), "by_target": per_target, "in_flight": len(driver.stats.in_flight)}
    )
