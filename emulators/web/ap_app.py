"""The AP system's HTTP API (Payables open-interface names, lower-cased, under ``/payables/v1``).

Thin over :class:`~emulators.ap.Ap`: each route validates the body against AP's
native models (so OpenAPI documents them, strictly: a quantity sent as ``"5"``
or a price sent as ``true`` is refused here as the behaviour refuses it
in-process), then calls the behaviour through the host, which applies faults
and journals the request.  The behaviour still checks what a schema cannot (a
known PO and PO line, a duplicate invoice number, the invoice's status, an open
hold to release, a payment id already used) and answers the same problem
replies in both worlds.  Invoice status changes leave as thin webhooks.

Limits (:class:`~emulators.limits.Limits`, one object for the app and the
behaviour): a body past ``max_body_bytes`` is a 413 before it is read; list
lengths, quantities, prices and amounts are stated in OpenAPI from the app's
limits and enforced by the behaviour (the same 422 in both worlds); the
60-character text fields are AP's own width.

Routes (all under :data:`AP_PREFIX`)::

    PUT  /po-lines                                       upsert_po_lines
    POST /receipts                                       post_receipt
    PUT  /prices                                         upsert_prices
    POST /invoices                                       post_invoice
    GET  /invoices?status&offset&limit&updated_since     list_invoices
    GET  /invoices/{vendor_num}/{invoice_num}            get_invoice
    POST /invoices/{vendor_num}/{invoice_num}/holds/{hold_code}/release   release_hold
    POST /invoices/{vendor_num}/{invoice_num}/approve    approve
    POST /invoices/{vendor_num}/{invoice_num}/payments   pay
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from emulators.ap import Ap
from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Bounded, Limits
from emulators.web._common import (
    PROBLEM,
    LiveSystem,
    Schedule,
    assemble,
    respond,
)

__all__ = [
    "AP_PREFIX",
    "HoldRelease",
    "InvoiceCreate",
    "PaymentCreate",
    "PoLinesUpsert",
    "PricesUpsert",
    "ReceiptCreate",
    "ap_router",
    "ap_system",
]

AP_PREFIX = "/payables/v1"

# -- native request models -------------------------------------------------------

# "text": a non-empty string with something besides blanks (the behaviour strips it)
Text = Annotated[str, Field(min_length=1, max_length=60, pattern=r"\S")]
Count = Annotated[int, Field(ge=1), Bounded("quantity")]
LineNbr = Annotated[int, Field(ge=1, le=9999)]
Price = Annotated[float, Field(gt=0, allow_inf_nan=False), Bounded("price")]
Amount = Annotated[float, Field(gt=0, allow_inf_nan=False), Bounded("amount")]
CorrelationId = Annotated[str, Field(min_length=1, max_length=200)]
HoldCode = Literal["PRICE", "QTY ORD", "QTY REC", "AMOUNT", "DUPLICATE"]
Status = Literal["received", "matched", "on_hold", "approved", "paid"]


def _iso_date(value: Any) -> dt.date:
    """Exactly what the behaviour accepts: an ISO 8601 date string (no epoch numbers)."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date (YYYY-MM-DD)")
    return dt.date.fromisoformat(value)


# JSON has no date type: a date arrives as a string, parsed as the behaviour parses it.
Day = Annotated[dt.date, BeforeValidator(_iso_date)]


class _Native(BaseModel):
    # strict: the behaviour takes ints and strings as they are, never "5" for 5
    model_config = ConfigDict(extra="forbid", strict=True)


class PoLine(_Native):
    po_number: Text
    po_line_number: LineNbr
    item_id: Text
    quantity_ordered: Count
    unit_price: Price
    uom: Text


class PoLinesUpsert(_Native):
    po_lines: Annotated[list[PoLine], Bounded("lines")] = Field(min_length=1, fail_fast=True)
    correlation_id: CorrelationId | None = None


class ReceiptLine(_Native):
    po_line_number: LineNbr
    quantity_received: Count


class ReceiptCreate(_Native):
    receipt_num: Text
    po_number: Text
    lines: Annotated[list[ReceiptLine], Bounded("lines")] = Field(min_length=1, fail_fast=True)
    correlation_id: CorrelationId | None = None


class ContractPrice(_Native):
    vendor_num: Text
    item_id: Text
    uom: Text
    unit_price: Price
    effective_date: Day | None = None


class PricesUpsert(_Native):
    prices: Annotated[list[ContractPrice], Bounded("lines")] = Field(min_length=1, fail_fast=True)
    correlation_id: CorrelationId | None = None


class InvoiceLine(_Native):
    po_line_number: LineNbr
    quantity_invoiced: Count
    unit_price: Price


class InvoiceCreate(_Native):
    vendor_num: Text
    invoice_num: Text
    invoice_date: Day
    po_number: Text
    invoice_amount: Amount
    lines: Annotated[list[InvoiceLine], Bounded("lines")] = Field(min_length=1, fail_fast=True)
    correlation_id: CorrelationId | None = None


class HoldRelease(_Native):
    reason: Annotated[str, Field(min_length=1, max_length=240, pattern=r"\S")]


class PaymentCreate(_Native):
    payment_id: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        None, description="numbered by AP when absent"
    )


def _native(body: BaseModel) -> dict[str, Any]:
    """The body as the client sent it (no defaults filled in), in JSON types."""
    return body.model_dump(mode="json", exclude_unset=True)


# -- routes ------------------------------------------------------------------------

VendorNum = Annotated[str, Path(min_length=1, max_length=60)]
InvoiceNum = Annotated[str, Path(min_length=1, max_length=60)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Traceparent = Annotated[str | None, Header(max_length=200)]
_FAULTS: dict[int | str, dict[str, Any]] = {429: PROBLEM, 503: PROBLEM}


def _reference_router(host: Host, ap: Ap) -> APIRouter:
    router = APIRouter(tags=["reference data"], responses={422: PROBLEM, **_FAULTS})

    @router.put("/po-lines")
    async def upsert_po_lines(
        body: PoLinesUpsert,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "upsert_po_lines",
                lambda: ap.upsert_po_lines(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.correlation_id,
            )
        )

    @router.post(
        "/receipts", status_code=201, responses={200: {}, 201: {}}
    )  # 200 when the receipt_num was already received
    async def post_receipt(
        body: ReceiptCreate,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "post_receipt",
                lambda: ap.post_receipt(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.correlation_id,
            )
        )

    @router.put("/prices")
    async def upsert_prices(
        body: PricesUpsert,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "upsert_prices",
                lambda: ap.upsert_prices(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.correlation_id,
            )
        )

    return router


def _invoices_router(host: Host, ap: Ap) -> APIRouter:
    router = APIRouter(tags=["invoices"], responses={422: PROBLEM, **_FAULTS})

    @router.post("/invoices", status_code=201, responses={409: PROBLEM})
    async def post_invoice(
        body: InvoiceCreate,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "post_invoice",
                lambda: ap.post_invoice(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.correlation_id,
            )
        )

    @router.get("/invoices")
    async def list_invoices(
        status: Annotated[Status | None, Query()] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 25,
        updated_since: Annotated[str | None, Query()] = None,
    ) -> Response:
        return respond(
            host.invoke(
                "list_invoices", lambda: ap.list_invoices(status, offset, limit, updated_since)
            )
        )

    @router.get("/invoices/{vendor_num}/{invoice_num}", responses={404: PROBLEM})
    async def get_invoice(vendor_num: VendorNum, invoice_num: InvoiceNum) -> Response:
        return respond(host.invoke("get_invoice", lambda: ap.get_invoice(vendor_num, invoice_num)))

    return router


def _decisions_router(host: Host, ap: Ap) -> APIRouter:
    router = APIRouter(
        tags=["holds, approval and payment"],
        responses={404: PROBLEM, 409: PROBLEM, 422: PROBLEM, **_FAULTS},
    )

    @router.post("/invoices/{vendor_num}/{invoice_num}/holds/{hold_code}/release")
    async def release_hold(
        vendor_num: VendorNum,
        invoice_num: InvoiceNum,
        hold_code: Annotated[HoldCode, Path()],
        body: HoldRelease,
        traceparent: Traceparent = None,
    ) -> Response:
        return respond(
            host.invoke(
                "release_hold",
                lambda: ap.release_hold(vendor_num, invoice_num, hold_code, body.reason),
                correlation_id=traceparent,
            )
        )

    @router.post("/invoices/{vendor_num}/{invoice_num}/approve")
    async def approve(
        vendor_num: VendorNum, invoice_num: InvoiceNum, traceparent: Traceparent = None
    ) -> Response:
        return respond(
            host.invoke(
                "approve", lambda: ap.approve(vendor_num, invoice_num), correlation_id=traceparent
            )
        )

    @router.post("/invoices/{vendor_num}/{invoice_num}/payments")
    async def pay(
        vendor_num: VendorNum,
        invoice_num: InvoiceNum,
        body: Annotated[PaymentCreate | None, Body()] = None,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payment_id = body.payment_id if body is not None else None
        return respond(
            host.invoke(
                "pay",
                lambda: ap.pay(vendor_num, invoice_num, payment_id, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent,
            )
        )

    return router


def ap_router(host: Host, ap: Ap) -> APIRouter:
    router = APIRouter(prefix=AP_PREFIX)
    for part in (_reference_router, _invoices_router, _decisions_router):
        router.include_router(part(host, ap))
    return router


def ap_system(
    *,
    seed: int,
    clock: Any,
    schedule: Schedule,
    webhook_target: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    prices: list[dict[str, Any]] | None = None,
    **_: Any,
) -> LiveSystem:
    """The live AP; ``limits`` bound every request, over HTTP and in the behaviour;
    ``prices`` (rows as ``PUT /prices`` takes them) are held from the start and after
    every reset."""

    def behaviour(host: Host) -> Ap:
        ap = Ap(host.journal, clock, clock.epoch, limits=limits)
        if prices:
            ap.seed_prices(prices)
        return ap

    return assemble(
        "ap",
        seed=seed,
        clock=clock,
        schedule=schedule,
        webhook_target=webhook_target,
        behaviour=behaviour,
        router=ap_router,
        title="supplysync AP emulator",
        description=(
            "An accounts-payable system's payables API: purchase-order lines, receipts and "
            "contract prices for matching, supplier invoices with three-way match and holds, "
            "hold release, approval and payment."
        ),
        limits=limits,
    )
