"""AP's native API as data: its request models and its operation table.

Payables open-interface names, lower-cased, under ``/payables/v1``.  The models
validate bodies strictly (a quantity sent as ``"5"`` or a price sent as ``true``
is refused over HTTP as the behaviour refuses it in-process); the behaviour
checks what a schema cannot (a known PO and PO line, a duplicate invoice
number, the invoice's status, an open hold to release, a payment id already
used).  List lengths, quantities, prices and amounts are stated in OpenAPI from
the app's :class:`~emulators.limits.Limits`; the 60-character text fields are
AP's own width.  The table (:data:`AP_API`) is what the web router, the
simulated transport, the test links and the contract suites are built from
(:mod:`emulators.operations`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from emulators.limits import Bounded
from emulators.operations import PROBLEM, Api, Operation, Param, keyed_write
from emulators.web._params import COMMON, IDEMPOTENCY_KEY, TRACEPARENT, Lines

__all__ = [
    "AP_API",
    "AP_PREFIX",
    "HoldRelease",
    "InvoiceCreate",
    "PaymentCreate",
    "PoLinesUpsert",
    "PricesUpsert",
    "ReceiptCreate",
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
    po_lines: Lines[PoLine]
    correlation_id: CorrelationId | None = None


class ReceiptLine(_Native):
    po_line_number: LineNbr
    quantity_received: Count


class ReceiptCreate(_Native):
    receipt_num: Text
    po_number: Text
    lines: Lines[ReceiptLine]
    correlation_id: CorrelationId | None = None


class ContractPrice(_Native):
    vendor_num: Text
    item_id: Text
    uom: Text
    unit_price: Price
    effective_date: Day | None = None


class PricesUpsert(_Native):
    prices: Lines[ContractPrice]
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
    lines: Lines[InvoiceLine]
    correlation_id: CorrelationId | None = None


class HoldRelease(_Native):
    reason: Annotated[str, Field(min_length=1, max_length=240, pattern=r"\S")]


class PaymentCreate(_Native):
    payment_id: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        None, description="numbered by AP when absent"
    )


# -- the operation table ---------------------------------------------------------------

_DECIDED: dict[int | str, Any] = {**COMMON, 404: PROBLEM, 409: PROBLEM}
_Num = Annotated[str, Path(min_length=1, max_length=60)]
_INVOICE = (Param("vendor_num", "path", _Num), Param("invoice_num", "path", _Num))
_ONE = "/invoices/{vendor_num}/{invoice_num}"


AP_API = Api(
    "ap",
    AP_PREFIX,
    (
        keyed_write("upsert_po_lines", "PUT", "/po-lines", PoLinesUpsert,
                    tag="reference data", correlation="correlation_id", responses=COMMON),
        # 201 for a new receipt, 200 when the receipt_num was already received
        keyed_write("post_receipt", "POST", "/receipts", ReceiptCreate,
                    tag="reference data", correlation="correlation_id", status=201,
                    responses={**COMMON, 200: {}, 201: {}}),
        keyed_write("upsert_prices", "PUT", "/prices", PricesUpsert,
                    tag="reference data", correlation="correlation_id", responses=COMMON),
        keyed_write("post_invoice", "POST", "/invoices", InvoiceCreate,
                    tag="invoices", correlation="correlation_id", status=201,
                    responses={**COMMON, 409: PROBLEM}),
        Operation(
            "list_invoices", "GET", "/invoices",
            lambda ap, status, offset, limit, updated_since: ap.list_invoices(
                status, offset, limit, updated_since
            ),
            params=(
                Param("status", "query", Annotated[Status | None, Query()], None),
                Param("offset", "query", Annotated[int, Query(ge=0, le=1_000_000)], 0),
                Param("limit", "query", Annotated[int, Query(ge=1, le=500)], 25),
                Param("updated_since", "query", Annotated[str | None, Query()], None),
            ),
            tag="invoices", responses=COMMON,
        ),
        Operation(
            "get_invoice", "GET", _ONE,
            lambda ap, vendor_num, invoice_num: ap.get_invoice(vendor_num, invoice_num),
            params=_INVOICE, tag="invoices", responses={**COMMON, 404: PROBLEM},
        ),
        Operation(
            "release_hold", "POST", f"{_ONE}/holds/{{hold_code}}/release",
            lambda ap, vendor_num, invoice_num, hold_code, body: ap.release_hold(
                vendor_num, invoice_num, hold_code, body["reason"]
            ),
            params=(*_INVOICE, Param("hold_code", "path", Annotated[HoldCode, Path()])),
            body=HoldRelease, traced=True, tag="holds, approval and payment", responses=_DECIDED,
        ),
        Operation(
            "approve", "POST", f"{_ONE}/approve",
            lambda ap, vendor_num, invoice_num: ap.approve(vendor_num, invoice_num),
            params=_INVOICE, traced=True, tag="holds, approval and payment", responses=_DECIDED,
        ),
        Operation(
            "pay", "POST", f"{_ONE}/payments",
            lambda ap, vendor_num, invoice_num, body, idempotency_key: ap.pay(
                vendor_num, invoice_num, (body or {}).get("payment_id"), idempotency_key
            ),
            params=_INVOICE, body=PaymentCreate, body_optional=True, idempotent=True,
            traced=True, tag="holds, approval and payment", responses=_DECIDED,
        ),
    ),
    idempotency_header=IDEMPOTENCY_KEY,
    trace_header=TRACEPARENT,
    title="supplysync AP emulator",
    description=(
        "An accounts-payable system's payables API: purchase-order lines, receipts and "
        "contract prices for matching, supplier invoices with three-way match and holds, "
        "hold release, approval and payment."
    ),
)  # fmt: skip
