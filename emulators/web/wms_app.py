"""The WMS's HTTP API (the dock's own snake_case REST under ``/wms/api/v1``).

Thin over :class:`~emulators.wms.Wms`: each route validates the body against
the WMS's native models (so OpenAPI documents them, strictly: a quantity sent
as ``"5"`` is refused here as the behaviour refuses it in-process), then calls
the behaviour through the host, which applies faults and journals the request.
The behaviour still checks what a schema cannot (an ASN or a PO, a reason only
with a refused quantity, over-receipt, closed lines) and answers the same
problem replies in both worlds.  Receipt events leave as webhooks.

Limits (:class:`~emulators.limits.Limits`, one object for the app and the
behaviour): a body past ``max_body_bytes`` is a 413 before it is read; list
lengths and quantities are stated in OpenAPI from the app's limits and enforced
by the behaviour (the same 422 in both worlds); the field widths below (30
characters for a document number, ...) are the WMS's own.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Bounded, Limits
from emulators.web._common import (
    PROBLEM,
    LiveSystem,
    Schedule,
    assemble,
    respond,
)
from emulators.wms import Wms

__all__ = [
    "WMS_PREFIX",
    "ExpectedReceiptsUpsert",
    "PutawayCreate",
    "ReceiptCreate",
    "ShipNoticeCreate",
    "wms_router",
    "wms_system",
]

WMS_PREFIX = "/wms/api/v1"

# -- native request models -------------------------------------------------------

Nbr = Annotated[str, Field(min_length=1, max_length=30)]
LineNbr = Annotated[int, Field(ge=1, le=9999)]
ItemId = Annotated[str, Field(min_length=1, max_length=48, description="GTIN or SKU")]
Uom = Literal["EA", "BX", "CA", "PK", "CT", "DZ"]
LotNbr = Annotated[str, Field(min_length=1, max_length=20)]
TraceId = Annotated[str, Field(min_length=1, max_length=200)]
# JSON has no date type: dates arrive as YYYY-MM-DD strings, so they stay lax.
Day = Annotated[dt.date, Field(strict=False)]
Qty = Annotated[int, Field(ge=0), Bounded("quantity")]
Shipped = Annotated[int, Field(ge=1), Bounded("quantity")]


class _Native(BaseModel):
    # strict: the behaviour takes ints and strings as they are, never "5" for 5
    model_config = ConfigDict(extra="forbid", strict=True)


class ExpectedReceipt(_Native):
    po_nbr: Nbr
    po_line_nbr: LineNbr
    item_id: ItemId
    dock_gln: str = Field(pattern=r"^[0-9]{13}$")
    exp_qty: Qty
    qty_uom: Uom
    backorder_qty: Qty | None = None
    exp_date: Day | None = None


class ExpectedReceiptsUpsert(_Native):
    receipts: Annotated[list[ExpectedReceipt], Bounded("lines")] = Field(
        min_length=1, fail_fast=True
    )
    trace_id: TraceId | None = None


class ShipNoticeLine(_Native):
    po_line_nbr: LineNbr
    item_id: ItemId
    shipped_qty: Shipped
    qty_uom: Uom
    lot_nbr: LotNbr | None = None
    expiry_date: Day | None = None


class ShipNoticeCreate(_Native):
    asn_nbr: Nbr
    po_nbr: Nbr
    ship_date: Day | None = None
    trace_id: TraceId | None = None
    lines: Annotated[list[ShipNoticeLine], Bounded("lines")] = Field(min_length=1, fail_fast=True)


class ReceiptCreate(_Native):
    """A dock receipt against an ASN line, or against a PO line when no ASN came."""

    asn_nbr: Nbr | None = None
    po_nbr: Nbr | None = Field(None, description="required when asn_nbr is absent")
    po_line_nbr: LineNbr
    received_qty: Qty = Field(description="accepted into stock")
    rejected_qty: Qty | None = Field(None, description="counted but refused")
    reject_reason: Literal["DAMAGED", "EXPIRED", "WRONG_ITEM", "TEMPERATURE_EXCURSION"] | None = (
        Field(None, description="required with rejected_qty > 0, refused without")
    )
    lot_nbr: LotNbr | None = None
    expiry_date: Day | None = None
    trace_id: TraceId | None = None


class PutawayCreate(_Native):
    receipt_id: str = Field(min_length=1, max_length=30)
    location: str = Field(min_length=1, max_length=40)
    qty: Shipped


def _native(body: BaseModel) -> dict[str, Any]:
    """The body as the client sent it (no defaults filled in), in JSON types."""
    return body.model_dump(mode="json", exclude_unset=True)


# -- routes ------------------------------------------------------------------------

PoNbr = Annotated[str, Path(min_length=1, max_length=30)]
PoLineNbr = Annotated[int, Path(ge=1, le=9999)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Traceparent = Annotated[str | None, Header(max_length=200)]
_FAULTS: dict[int | str, dict[str, Any]] = {429: PROBLEM, 503: PROBLEM}


def _expected_receipts_router(host: Host, wms: Wms) -> APIRouter:
    router = APIRouter(tags=["expected receipts"], responses={422: PROBLEM, **_FAULTS})

    @router.post("/expected-receipts")
    async def upsert_expected_receipts(
        body: ExpectedReceiptsUpsert,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "upsert_expected_receipts",
                lambda: wms.upsert_expected_receipts(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.trace_id,
            )
        )

    @router.get("/expected-receipts/{po_nbr}/{po_line_nbr}", responses={404: PROBLEM})
    async def get_expected_receipt(po_nbr: PoNbr, po_line_nbr: PoLineNbr) -> Response:
        return respond(
            host.invoke(
                "get_expected_receipt", lambda: wms.get_expected_receipt(po_nbr, po_line_nbr)
            )
        )

    return router


def _ship_notices_router(host: Host, wms: Wms) -> APIRouter:
    router = APIRouter(tags=["ship notices"], responses={422: PROBLEM, **_FAULTS})

    @router.post(
        "/ship-notices", status_code=201, responses={200: {}, 201: {}, 409: PROBLEM}
    )  # 200 when an ASN is sent again before receiving starts
    async def post_ship_notice(
        body: ShipNoticeCreate,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "post_ship_notice",
                lambda: wms.post_ship_notice(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.trace_id,
            )
        )

    @router.get("/ship-notices/{asn_nbr}", responses={404: PROBLEM})
    async def get_ship_notice(
        asn_nbr: Annotated[str, Path(min_length=1, max_length=30)],
    ) -> Response:
        return respond(host.invoke("get_ship_notice", lambda: wms.get_ship_notice(asn_nbr)))

    return router


def _receiving_router(host: Host, wms: Wms) -> APIRouter:
    router = APIRouter(tags=["receiving"], responses={422: PROBLEM, **_FAULTS})

    @router.post("/receipts", status_code=201, responses={404: PROBLEM, 409: PROBLEM})
    async def receive(
        body: ReceiptCreate,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "receive",
                lambda: wms.receive(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.trace_id,
            )
        )

    @router.get("/receipts/{receipt_id}", responses={404: PROBLEM})
    async def get_receipt(
        receipt_id: Annotated[str, Path(min_length=1, max_length=30)],
    ) -> Response:
        return respond(host.invoke("get_receipt", lambda: wms.get_receipt(receipt_id)))

    @router.get("/receipts")
    async def list_receipts(
        po_nbr: Annotated[str | None, Query(min_length=1, max_length=30)] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        return respond(
            host.invoke("list_receipts", lambda: wms.list_receipts(po_nbr, offset, limit))
        )

    @router.get("/receiving-lines/{po_nbr}/{po_line_nbr}", responses={404: PROBLEM})
    async def get_receiving_line(
        po_nbr: PoNbr,
        po_line_nbr: PoLineNbr,
        asn_nbr: Annotated[
            str | None,
            Query(min_length=1, max_length=30, description="the ASN line; else the PO line"),
        ] = None,
    ) -> Response:
        return respond(
            host.invoke(
                "get_receiving_line",
                lambda: wms.get_receiving_line(po_nbr, po_line_nbr, asn_nbr),
            )
        )

    return router


def _stock_router(host: Host, wms: Wms) -> APIRouter:
    router = APIRouter(tags=["putaway and inventory"], responses={422: PROBLEM, **_FAULTS})

    @router.post("/putaways", responses={404: PROBLEM, 409: PROBLEM})
    async def putaway(
        body: PutawayCreate,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        return respond(
            host.invoke(
                "putaway",
                lambda: wms.putaway(body.receipt_id, body.location, body.qty, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent,
            )
        )

    @router.get("/inventory")
    async def inventory(
        location: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
        item_id: Annotated[str | None, Query(min_length=1, max_length=48)] = None,
    ) -> Response:
        return respond(host.invoke("inventory", lambda: wms.inventory(location, item_id)))

    return router


def wms_router(host: Host, wms: Wms) -> APIRouter:
    router = APIRouter(prefix=WMS_PREFIX)
    for part in (_expected_receipts_router, _ship_notices_router, _receiving_router, _stock_router):
        router.include_router(part(host, wms))
    return router


def wms_system(
    *,
    seed: int,
    clock: Any,
    schedule: Schedule,
    webhook_target: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    **_: Any,
) -> LiveSystem:
    """The live WMS; ``limits`` bound every request, over HTTP and in the behaviour."""
    return assemble(
        "wms",
        seed=seed,
        clock=clock,
        schedule=schedule,
        webhook_target=webhook_target,
        behaviour=lambda host: Wms(host.journal, clock, clock.epoch, limits=limits),
        router=wms_router,
        title="supplysync WMS emulator",
        description=(
            "A warehouse management system's receiving API: expected receipts, ship notices, "
            "dock receipts, putaway and inventory."
        ),
        limits=limits,
    )
