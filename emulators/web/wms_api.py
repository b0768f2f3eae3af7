"""The WMS's native API as data: its request models and its operation table.

The dock's own snake_case REST under ``/wms/api/v1``.  The models validate bodies
strictly (a quantity sent as ``"5"`` is refused over HTTP as the behaviour
refuses it in-process); the behaviour checks what a schema cannot (an ASN or a
PO, a reason only with a refused quantity, over-receipt, closed lines).  List
lengths and quantities are stated in OpenAPI from the app's
:class:`~emulators.limits.Limits`; the field widths (30 characters for a
document number, ...) are the WMS's own.  The table (:data:`WMS_API`) is what
the web router, the simulated transport, the test links and the contract suites
are built from (:mod:`emulators.operations`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from emulators.limits import Bounded
from emulators.operations import PROBLEM, Api, Operation, Param, keyed_write
from emulators.web._params import COMMON, IDEMPOTENCY_KEY, TRACEPARENT, Lines

__all__ = [
    "WMS_API",
    "WMS_PREFIX",
    "ExpectedReceiptsUpsert",
    "PackReceiptCreate",
    "PutawayCreate",
    "ReceiptCreate",
    "ShipNoticeCreate",
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
Sscc = Annotated[str, Field(pattern=r"^[0-9]{18}$", description="SSCC-18")]
Gtin = Annotated[str, Field(pattern=r"^[0-9]{14}$", description="GTIN-14")]


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
    receipts: Lines[ExpectedReceipt]
    trace_id: TraceId | None = None


class ShipNoticeLine(_Native):
    po_line_nbr: LineNbr
    item_id: ItemId
    shipped_qty: Shipped
    qty_uom: Uom
    lot_nbr: LotNbr | None = None
    expiry_date: Day | None = None
    sscc: Sscc | None = Field(None, description="the labelled pack it travels in")
    gtin: Gtin | None = Field(None, description="the GTIN it ships under (a substitute's own)")


class ShipNoticeCreate(_Native):
    asn_nbr: Nbr
    po_nbr: Nbr
    ship_date: Day | None = None
    trace_id: TraceId | None = None
    bol_nbr: Nbr | None = Field(None, description="the bill of lading")
    lines: Lines[ShipNoticeLine]


class ReceiptCreate(_Native):
    """A dock receipt against an ASN line, or against a PO line when no ASN came."""

    asn_nbr: Nbr | None = None
    po_nbr: Nbr | None = Field(None, description="required when asn_nbr is absent")
    po_line_nbr: LineNbr | None = Field(None, description="or a scanned gtin instead")
    gtin: Gtin | None = Field(None, description="an item scan: the line that ships it")
    received_qty: Qty = Field(description="accepted into stock")
    rejected_qty: Qty | None = Field(None, description="counted but refused")
    reject_reason: Literal["DAMAGED", "EXPIRED", "WRONG_ITEM", "TEMPERATURE_EXCURSION"] | None = (
        Field(None, description="required with rejected_qty > 0, refused without")
    )
    lot_nbr: LotNbr | None = None
    expiry_date: Day | None = None
    trace_id: TraceId | None = None


class PackReceiptCreate(_Native):
    """A pack scanned at the dock: every line in it received at its shipped quantity."""

    sscc: Sscc
    trace_id: TraceId | None = None


class PutawayCreate(_Native):
    receipt_id: str = Field(min_length=1, max_length=30)
    location: str = Field(min_length=1, max_length=40)
    qty: Shipped


# -- the operation table ---------------------------------------------------------------

Nbr30 = Annotated[str, Path(min_length=1, max_length=30)]
_PO = Param("po_nbr", "path", Nbr30)
_LINE = Param("po_line_nbr", "path", Annotated[int, Path(ge=1, le=9999)])


WMS_API = Api(
    "wms",
    WMS_PREFIX,
    (
        keyed_write("upsert_expected_receipts", "POST", "/expected-receipts",
                    ExpectedReceiptsUpsert,
                    tag="expected receipts", correlation="trace_id", responses=COMMON),
        Operation(
            "get_expected_receipt", "GET", "/expected-receipts/{po_nbr}/{po_line_nbr}",
            lambda wms, po_nbr, po_line_nbr: wms.get_expected_receipt(po_nbr, po_line_nbr),
            params=(_PO, _LINE), tag="expected receipts", responses={**COMMON, 404: PROBLEM},
        ),
        # 201 for a new ASN, 200 when it is sent again before receiving starts
        keyed_write("post_ship_notice", "POST", "/ship-notices", ShipNoticeCreate,
                    tag="ship notices", correlation="trace_id", status=201,
                    responses={**COMMON, 200: {}, 201: {}, 409: PROBLEM}),
        Operation(
            "get_ship_notice", "GET", "/ship-notices/{asn_nbr}",
            lambda wms, asn_nbr: wms.get_ship_notice(asn_nbr),
            params=(Param("asn_nbr", "path", Nbr30),),
            tag="ship notices", responses={**COMMON, 404: PROBLEM},
        ),
        keyed_write("receive", "POST", "/receipts", ReceiptCreate,
                    tag="receiving", correlation="trace_id", status=201,
                    responses={**COMMON, 404: PROBLEM, 409: PROBLEM}),
        keyed_write("receive_pack", "POST", "/pack-receipts", PackReceiptCreate,
                    tag="receiving", correlation="trace_id", status=201,
                    responses={**COMMON, 404: PROBLEM, 409: PROBLEM}),
        Operation(
            "get_receipt", "GET", "/receipts/{receipt_id}",
            lambda wms, receipt_id: wms.get_receipt(receipt_id),
            params=(Param("receipt_id", "path", Nbr30),),
            tag="receiving", responses={**COMMON, 404: PROBLEM},
        ),
        Operation(
            "list_receipts", "GET", "/receipts",
            lambda wms, po_nbr, offset, limit: wms.list_receipts(po_nbr, offset, limit),
            params=(
                Param("po_nbr", "query",
                      Annotated[str | None, Query(min_length=1, max_length=30)], None),
                Param("offset", "query", Annotated[int, Query(ge=0)], 0),
                Param("limit", "query", Annotated[int, Query(ge=1, le=500)], 100),
            ),
            tag="receiving", responses=COMMON,
        ),
        Operation(
            "get_receiving_line", "GET", "/receiving-lines/{po_nbr}/{po_line_nbr}",
            lambda wms, po_nbr, po_line_nbr, asn_nbr: wms.get_receiving_line(
                po_nbr, po_line_nbr, asn_nbr
            ),
            params=(
                _PO,
                _LINE,
                Param("asn_nbr", "query", Annotated[str | None, Query(
                    min_length=1, max_length=30, description="the ASN line; else the PO line"
                )], None),
            ),
            tag="receiving", responses={**COMMON, 404: PROBLEM},
        ),
        Operation(
            "putaway", "POST", "/putaways",
            lambda wms, body, idempotency_key: wms.putaway(
                body.get("receipt_id"), body.get("location"), body.get("qty"), idempotency_key
            ),
            body=PutawayCreate, idempotent=True, traced=True,
            tag="putaway and inventory", responses={**COMMON, 404: PROBLEM, 409: PROBLEM},
        ),
        Operation(
            "inventory", "GET", "/inventory",
            lambda wms, location, item_id: wms.inventory(location, item_id),
            params=(
                Param("location", "query",
                      Annotated[str | None, Query(min_length=1, max_length=40)], None),
                Param("item_id", "query",
                      Annotated[str | None, Query(min_length=1, max_length=48)], None),
            ),
            tag="putaway and inventory", responses=COMMON,
        ),
    ),
    idempotency_header=IDEMPOTENCY_KEY,
    trace_header=TRACEPARENT,
    title="supplysync WMS emulator",
    description=(
        "A warehouse management system's receiving API: expected receipts, ship notices, "
        "dock receipts, putaway and inventory."
    ),
)  # fmt: skip
