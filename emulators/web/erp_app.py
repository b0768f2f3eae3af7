"""The ERP's HTTP API (Fusion-like REST under ``/fscmRestApi/resources/latest``).

Theory of operation: thin over :class:`~emulators.erp.Erp`.  Every API method of
the behaviour has one route (the change order has two: ``PATCH`` on the PO and
``POST .../changeOrders``); each route validates the body against the ERP's
native model, so OpenAPI documents it, then calls the behaviour through
``host.invoke``, which applies faults and journals the request.

The models mirror the behaviour's own checks, field by field, so both worlds
accept and refuse the same bodies: the same PascalCase names, no coercion
(``"5"`` is not 5, and 41 stays 41), unknown fields refused where the behaviour
refuses them (purchase orders, change orders, receipts, invoice status,
masters) and let through where it takes them (acknowledgments), optional fields
that may be left out but not sent as ``null`` unless the behaviour takes
``null``.  What a schema cannot say (a line that is not on the order, an
over-receipt, a state that forbids the call, a key that exists) the behaviour
answers with the same problem in both worlds; so do the paging parameters,
whose out-of-range values are its 400s.  Bodies reach the behaviour as the
client sent them (no defaults filled in), so idempotency fingerprints and the
causes of keyless writes are the client's.

Where the worlds differ, on purpose: a body the model refuses is 422 before the
behaviour is asked, so a bad body for an unknown PO is 422 here and 404
in-process, and a body that is not a JSON object is 422 here (400 in-process);
``CorrelationId`` must be a string; a price beyond the float range is refused
here where the behaviour would raise.

Limits (:class:`~emulators.limits.Limits`, one object for the app and the
behaviour): a body past ``max_body_bytes`` is a 413 before it is read; the
models state the other bounds in OpenAPI (``maxLength``, ``maxItems``,
``maximum``, filled in from the app's limits) and the behaviour enforces them,
so both worlds refuse the same field with the same 422.  A list stops at its
first bad entry (``fail_fast``), so a huge bad list costs one error, not one per
entry.

Headers: ``Idempotency-Key`` on every write, ``If-Match`` where the behaviour
takes it (412 when stale), ``If-None-Match`` on reads of one document (304), and
``traceparent``, the correlation id of the request journal (else the body's
``CorrelationId``; the facts a write changes carry the body's).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)

from emulators.erp import Erp
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
    "ERP_PREFIX",
    "AcknowledgmentPost",
    "ContractPriceCreate",
    "ContractPriceUpdate",
    "InvoiceStatusPost",
    "ItemCreate",
    "ItemUpdate",
    "PurchaseOrderChange",
    "PurchaseOrderCreate",
    "ReceiptCreate",
    "VendorCreate",
    "VendorUpdate",
    "erp_router",
    "erp_system",
]

ERP_PREFIX = "/fscmRestApi/resources/latest"

# -- field types: the behaviour's checks (emulators/erp/_checks.py) as a schema ----------


def _number(v: Any) -> int | float:
    """A price: an int or a finite float > 0, kept as sent (never 41 → 41.0)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("must be a number > 0")
    try:
        ok = math.isfinite(v) and v > 0
    except OverflowError:  # an int beyond the float range
        ok = False
    if not ok:
        raise ValueError("must be a number > 0")
    return v


def _date(v: str) -> str:
    """A date as the ERP reads it (``date.fromisoformat``), kept as sent."""
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        raise ValueError("must be an ISO 8601 date (YYYY-MM-DD)") from None
    return v


def _absent(**constraints: Any) -> Any:
    """An optional field: it may be left out, but not sent as ``null``."""

    def no_default(schema: dict[str, Any]) -> None:
        schema.pop("default", None)

    return Field(default=None, json_schema_extra=no_default, **constraints)


Text = Annotated[str, Field(min_length=1), Bounded("text")]
Key = Annotated[str, Bounded("text")]
Gtin = Annotated[str, Field(pattern=r"^[0-9]{14}$", description="GTIN-14, by shape only")]
Gln = Annotated[str, Field(pattern=r"^[0-9]{13}$", description="GLN, by shape only")]
Uom = Literal["EA", "BX", "CA", "PK", "CT", "DZ"]
YesNo = Literal["Y", "N"]
Ordered = Annotated[int, Field(ge=1), Bounded("quantity")]
Qty = Annotated[int, Field(ge=1), Bounded("quantity")]
Count = Annotated[int, Field(ge=0), Bounded("quantity")]
LineNo = Annotated[int, Field(ge=1)]
Money = Annotated[
    int | float,
    PlainValidator(_number),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0}),
    Bounded("price"),
]
Day = Annotated[str, AfterValidator(_date), WithJsonSchema({"type": "string", "format": "date"})]
InvoiceMatch = Literal["UNMATCHED", "MATCHED", "ON_HOLD", "PAID", "CANCELED"]
VendorStatus = Literal["ACTIVE", "INACTIVE"]
LocationKind = Literal["HOSPITAL", "DISTRIBUTION_CENTER", "PROCUREMENT_OFFICE"]
Correlation = Annotated[
    str | None,
    Field(description="journalled with the facts this request changes"),
    Bounded("text"),
]


class _Native(BaseModel):
    model_config = ConfigDict(field_title_generator=lambda name, _: name)  # "LineNumber"


class _Strict(_Native):
    """Refuses unknown fields and coerces nothing, as the behaviour does."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Open(_Native):
    """Coerces nothing, lets unknown fields through (the behaviour ignores them)."""

    model_config = ConfigDict(extra="allow", strict=True)


def _native(body: BaseModel) -> dict[str, Any]:
    """The body as the client sent it (no defaults filled in), in JSON types."""
    return body.model_dump(mode="json", exclude_unset=True)


# -- request models: purchase orders --------------------------------------------------


class PurchaseOrderLineCreate(_Strict):
    SupplierItem: Text
    ItemGTIN: Gtin
    Quantity: Ordered
    UOMCode: Uom
    Price: Money
    CriticalSupply: YesNo = "N"
    CorrelationId: Correlation = Field(None, description="taken, and ignored, on a line")


class PurchaseOrderCreate(_Strict):
    SupplierNumber: Text
    ShipToLocationGLN: Gln
    RequesterDepartment: Text
    NeedByDate: Day
    lines: Annotated[list[PurchaseOrderLineCreate], Bounded("lines")] = Field(
        min_length=1, fail_fast=True
    )
    CorrelationId: Correlation = None


class PurchaseOrderChangeLine(_Strict):
    """``{LineNumber, Quantity?, Price?}`` changes a line (at least one of the two),
    ``{LineNumber, Action: CANCEL}`` cancels it, ``{Action: ADD, SupplierItem,
    ItemGTIN, Quantity, UOMCode, Price, CriticalSupply?}`` adds one; the ERP
    refuses a field the entry's action does not take."""

    Action: Literal["CHANGE", "CANCEL", "ADD"] = "CHANGE"
    LineNumber: LineNo = _absent()
    Quantity: Ordered = _absent()
    Price: Money = _absent()
    SupplierItem: Text = _absent()
    ItemGTIN: Gtin = _absent()
    UOMCode: Uom = _absent()
    CriticalSupply: YesNo = _absent()


class PurchaseOrderChange(_Strict):
    """A buyer's change order (860-style): ``{"Action": "CANCEL"}`` cancels the PO
    (before any receipt); otherwise ``lines`` lists the changes."""

    Action: Literal["CHANGE", "CANCEL"] = "CHANGE"
    lines: Annotated[list[PurchaseOrderChangeLine], Bounded("lines")] = _absent(
        min_length=1, fail_fast=True
    )
    CorrelationId: Correlation = None


class AcknowledgmentLine(_Open):
    LineNumber: LineNo
    SupplierConfirmedQuantity: Count
    BackorderedQuantity: Count
    AcknowledgmentStatus: Text = Field(description="X12 855 ACK01 code(s), e.g. IA or IA/IB")
    PromisedDate: Any = Field(None, description="stored as sent (an ISO 8601 date or null)")


class AcknowledgmentPost(_Open):
    AcknowledgmentRevision: Annotated[int, Field(ge=1)]
    AcknowledgmentType: Any = Field(None, description="stored nowhere; informative")
    lines: Annotated[list[AcknowledgmentLine], Bounded("lines")] = Field(
        min_length=1, fail_fast=True
    )
    CorrelationId: Correlation = None


class ReceiptLineCreate(_Strict):
    LineNumber: LineNo
    QuantityReceived: Qty
    CorrelationId: Correlation = Field(None, description="taken, and ignored, on a line")


class ReceiptCreate(_Strict):
    ReceiptNumber: Text
    ReceiptDate: Day = _absent()
    lines: Annotated[list[ReceiptLineCreate], Bounded("lines")] = Field(
        min_length=1, fail_fast=True
    )
    CorrelationId: Correlation = None


class InvoiceStatusPost(_Strict):
    """An invoice's match status as AP decided it; PAID and CANCELED are final."""

    InvoiceNumber: Text
    MatchStatus: InvoiceMatch
    HoldReason: Text | None = None
    CorrelationId: Correlation = None


# -- request models: masters ----------------------------------------------------------


class ItemCreate(_Strict):
    ItemNumber: Text
    GTIN: Gtin
    Description: Text
    UOMCode: Uom
    ListPrice: Money
    CorrelationId: Correlation = None


class ItemUpdate(_Strict):
    """A partial update; the key may be repeated but not changed."""

    ItemNumber: Key = _absent()
    GTIN: Gtin = _absent()
    Description: Text = _absent()
    UOMCode: Uom = _absent()
    ListPrice: Money = _absent()
    CorrelationId: Correlation = None


class VendorCreate(_Strict):
    SupplierNumber: Text
    Name: Text
    Status: VendorStatus = "ACTIVE"
    CorrelationId: Correlation = None


class VendorUpdate(_Strict):
    """A partial update; the key may be repeated but not changed.  An INACTIVE
    vendor gets no new purchase orders."""

    SupplierNumber: Key = _absent()
    Name: Text = _absent()
    Status: VendorStatus = _absent()
    CorrelationId: Correlation = None


class ContractPriceCreate(_Strict):
    """Needs the vendor and the item in the master; EffectiveTo not before EffectiveFrom."""

    SupplierNumber: Text
    ItemNumber: Text
    ContractPrice: Money
    EffectiveFrom: Day
    EffectiveTo: Day | None = None
    CorrelationId: Correlation = None


class ContractPriceUpdate(_Strict):
    """A partial update; the keys may be repeated but not changed."""

    SupplierNumber: Key = _absent()
    ItemNumber: Key = _absent()
    ContractPrice: Money = _absent()
    EffectiveFrom: Day = _absent()
    EffectiveTo: Day | None = None
    CorrelationId: Correlation = None


class LocationCreate(_Strict):
    """A ship-to location: a hospital, a distribution center or the procurement office."""

    LocationGLN: Gln
    Name: Text
    Kind: LocationKind
    CorrelationId: Correlation = None


# -- public models (what the ERP answers; documentation only) --------------------------

Row = TypeVar("Row")


class Page(_Native, Generic[Row]):
    items: list[Row]
    count: int
    offset: int
    limit: int
    hasMore: bool


class PurchaseOrderLine(_Native):
    LineNumber: int
    SupplierItem: str
    ItemGTIN: str
    Quantity: int
    UOMCode: str
    Price: float
    CriticalSupply: str
    OpenCommitmentQuantity: int
    SupplierConfirmedQuantity: int | None
    BackorderedQuantity: int | None
    AcknowledgmentStatus: str | None
    PromisedDate: Any
    LineStatus: Literal["OPEN", "PARTIALLY_RECEIVED", "RECEIVED", "CANCELED"]
    ReceivedQuantity: int


class PurchaseOrder(_Native):
    OrderNumber: str
    SupplierNumber: str
    ShipToLocationGLN: str
    RequesterDepartment: str
    Status: Literal["OPEN", "PARTIALLY_RECEIVED", "CLOSED_FOR_RECEIVING", "CANCELED"]
    OrderDate: str
    NeedByDate: str
    RevisionNumber: int
    LastUpdateDate: str
    AcknowledgmentRevision: int
    lines: list[PurchaseOrderLine]


class AcknowledgmentApplied(_Native):
    OrderNumber: str
    lines: int = Field(description="how many lines the acknowledgment updated")


class ReceivedLine(_Native):
    LineNumber: int
    ReceivedQuantity: int
    OpenCommitmentQuantity: int
    LineStatus: str


class ReceiptApplied(_Native):
    ReceiptNumber: str
    OrderNumber: str
    lines: list[ReceivedLine]


class Invoice(_Native):
    SupplierNumber: str
    InvoiceNumber: str
    OrderNumber: str
    MatchStatus: InvoiceMatch
    HoldReason: str | None


class Item(_Native):
    ItemNumber: str
    GTIN: str
    Description: str
    UOMCode: str
    ListPrice: float


class Vendor(_Native):
    SupplierNumber: str
    Name: str
    Status: VendorStatus


class Location(_Native):
    LocationGLN: str
    Name: str
    Kind: LocationKind


class ContractPrice(_Native):
    SupplierNumber: str
    ItemNumber: str
    ContractPrice: float
    EffectiveFrom: str
    EffectiveTo: str | None


# -- parameters ----------------------------------------------------------------------

OrderNumberPath = Annotated[str, Path(description="the PO's OrderNumber")]
SupplierPath = Annotated[str, Path(description="the vendor's SupplierNumber")]
ItemPath = Annotated[str, Path(description="the item's ItemNumber")]
GlnPath = Annotated[str, Path(description="the location's LocationGLN")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="a repeat returns the first reply and applies nothing",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="the ETag read last; stale → 412, nothing applied"),
]
IfNoneMatch = Annotated[
    str | None, Header(alias="If-None-Match", description="an ETag held; unchanged → 304")
]
Traceparent = Annotated[
    str | None, Header(max_length=200, description="W3C trace context: the correlation id")
]
Offset = Annotated[
    int,
    Query(
        description="rows to skip (the ERP answers 400 below 0)", json_schema_extra={"minimum": 0}
    ),
]
Limit = Annotated[
    int,
    Query(
        description="page size (the ERP answers 400 outside 1..500)",
        json_schema_extra={"minimum": 1, "maximum": 500},
    ),
]

_FAULTS: dict[int | str, dict[str, Any]] = {429: PROBLEM, 503: PROBLEM}
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: If-None-Match holds the current ETag"}
}


def _ok(model: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model, "description": "the ERP's document; ETag in `etag`"}}


# -- routes: purchase orders, receipts, acknowledgments ---------------------------------


def _purchase_orders_router(host: Host, erp: Erp) -> APIRouter:
    router = APIRouter(tags=["purchase orders"], responses={422: PROBLEM, **_FAULTS})

    @router.post("/purchaseOrders", status_code=201, responses=_ok(PurchaseOrder, 201))
    async def post_purchase_order(
        body: PurchaseOrderCreate,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        """Create and approve a PO (201, with its ETag)."""
        payload = _native(body)
        return respond(
            host.invoke(
                "post_purchase_order",
                lambda: erp.post_purchase_order(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.get("/purchaseOrders", responses={**_ok(Page[PurchaseOrder]), 400: PROBLEM})
    async def list_purchase_orders(
        updatedSince: Annotated[
            str, Query(description="ISO 8601 date-time: POs changed at or after it")
        ] = "1970-01-01T00:00:00",
        offset: Offset = 0,
        limit: Limit = 25,
    ) -> Response:
        """POs changed since a time, oldest change first, paged with ``hasMore``."""
        return respond(
            host.invoke(
                "list_purchase_orders",
                lambda: erp.list_purchase_orders(
                    updated_since=updatedSince, offset=offset, limit=limit
                ),
            )
        )

    @router.get(
        "/purchaseOrders/{OrderNumber}",
        responses={**_ok(PurchaseOrder), **_NOT_MODIFIED, 404: PROBLEM},
    )
    async def get_purchase_order(
        OrderNumber: OrderNumberPath, if_none_match: IfNoneMatch = None
    ) -> Response:
        return respond(
            host.invoke(
                "get_purchase_order", lambda: erp.get_purchase_order(OrderNumber, if_none_match)
            )
        )

    async def change_purchase_order(
        OrderNumber: OrderNumberPath,
        body: PurchaseOrderChange,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        """A buyer's change order: bumps ``RevisionNumber`` (200 with the PO)."""
        payload = _native(body)
        return respond(
            host.invoke(
                "change_purchase_order",
                lambda: erp.change_purchase_order(
                    OrderNumber, payload, if_match=if_match, idempotency_key=idempotency_key
                ),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    changed = {**_ok(PurchaseOrder), 404: PROBLEM, 409: PROBLEM, 412: PROBLEM}
    router.patch("/purchaseOrders/{OrderNumber}", responses=changed)(change_purchase_order)
    router.post(
        "/purchaseOrders/{OrderNumber}/changeOrders",
        responses=changed,
    )(change_purchase_order)

    @router.post(
        "/purchaseOrders/{OrderNumber}/acknowledgments",
        responses={**_ok(AcknowledgmentApplied), 404: PROBLEM, 409: PROBLEM, 412: PROBLEM},
    )
    async def post_acknowledgment(
        OrderNumber: OrderNumberPath,
        body: AcknowledgmentPost,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        """The supplier's acknowledgment (855): confirmed and backordered quantities."""
        payload = _native(body)
        return respond(
            host.invoke(
                "post_acknowledgment",
                lambda: erp.post_acknowledgment(
                    OrderNumber, payload, idempotency_key, if_match=if_match
                ),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.post(
        "/purchaseOrders/{OrderNumber}/receipts",
        status_code=201,
        responses={**_ok(ReceiptApplied, 201), 404: PROBLEM, 409: PROBLEM, 412: PROBLEM},
    )
    async def post_receipt(
        OrderNumber: OrderNumberPath,
        body: ReceiptCreate,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        """Goods received: relieves the open commitment; past the tolerance → 422."""
        payload = _native(body)
        return respond(
            host.invoke(
                "post_receipt",
                lambda: erp.post_receipt(OrderNumber, payload, idempotency_key, if_match=if_match),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    return router


def _invoices_router(host: Host, erp: Erp) -> APIRouter:
    router = APIRouter(tags=["invoices"], responses={422: PROBLEM, **_FAULTS})

    @router.post(
        "/purchaseOrders/{OrderNumber}/invoiceStatus",
        responses={**_ok(Invoice), 404: PROBLEM, 409: PROBLEM},
    )
    async def post_invoice_status(
        OrderNumber: OrderNumberPath,
        body: InvoiceStatusPost,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "post_invoice_status",
                lambda: erp.post_invoice_status(OrderNumber, payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.get(
        "/invoices/{SupplierNumber}/{InvoiceNumber}", responses={**_ok(Invoice), 404: PROBLEM}
    )
    async def get_invoice(
        SupplierNumber: SupplierPath,
        InvoiceNumber: Annotated[str, Path(description="the supplier's InvoiceNumber")],
    ) -> Response:
        return respond(
            host.invoke("get_invoice", lambda: erp.get_invoice(SupplierNumber, InvoiceNumber))
        )

    return router


# -- routes: masters ---------------------------------------------------------------------


def _items_router(host: Host, erp: Erp) -> APIRouter:
    router = APIRouter(tags=["items"], responses={422: PROBLEM, **_FAULTS})

    @router.post("/items", status_code=201, responses={**_ok(Item, 201), 409: PROBLEM})
    async def create_item(
        body: ItemCreate, idempotency_key: IdempotencyKey = None, traceparent: Traceparent = None
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "create_item",
                lambda: erp.create_item(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.patch("/items/{ItemNumber}", responses={**_ok(Item), 404: PROBLEM, 412: PROBLEM})
    async def update_item(
        ItemNumber: ItemPath,
        body: ItemUpdate,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "update_item",
                lambda: erp.update_item(ItemNumber, payload, if_match, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.get("/items/{ItemNumber}", responses={**_ok(Item), **_NOT_MODIFIED, 404: PROBLEM})
    async def get_item(ItemNumber: ItemPath, if_none_match: IfNoneMatch = None) -> Response:
        return respond(host.invoke("get_item", lambda: erp.get_item(ItemNumber, if_none_match)))

    @router.get("/items", responses={**_ok(Page[Item]), 400: PROBLEM})
    async def list_items(offset: Offset = 0, limit: Limit = 25) -> Response:
        return respond(
            host.invoke("list_items", lambda: erp.list_items(offset=offset, limit=limit))
        )

    return router


def _vendors_router(host: Host, erp: Erp) -> APIRouter:
    router = APIRouter(tags=["vendors"], responses={422: PROBLEM, **_FAULTS})

    @router.post("/vendors", status_code=201, responses={**_ok(Vendor, 201), 409: PROBLEM})
    async def create_vendor(
        body: VendorCreate, idempotency_key: IdempotencyKey = None, traceparent: Traceparent = None
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "create_vendor",
                lambda: erp.create_vendor(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.patch(
        "/vendors/{SupplierNumber}", responses={**_ok(Vendor), 404: PROBLEM, 412: PROBLEM}
    )
    async def update_vendor(
        SupplierNumber: SupplierPath,
        body: VendorUpdate,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "update_vendor",
                lambda: erp.update_vendor(SupplierNumber, payload, if_match, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.get(
        "/vendors/{SupplierNumber}", responses={**_ok(Vendor), **_NOT_MODIFIED, 404: PROBLEM}
    )
    async def get_vendor(
        SupplierNumber: SupplierPath, if_none_match: IfNoneMatch = None
    ) -> Response:
        return respond(
            host.invoke("get_vendor", lambda: erp.get_vendor(SupplierNumber, if_none_match))
        )

    @router.get("/vendors", responses={**_ok(Page[Vendor]), 400: PROBLEM})
    async def list_vendors(offset: Offset = 0, limit: Limit = 25) -> Response:
        return respond(
            host.invoke("list_vendors", lambda: erp.list_vendors(offset=offset, limit=limit))
        )

    return router


def _contract_prices_router(host: Host, erp: Erp) -> APIRouter:
    router = APIRouter(tags=["contract prices"], responses={422: PROBLEM, **_FAULTS})
    one = "/contractPrices/{SupplierNumber}/{ItemNumber}"

    @router.post(
        "/contractPrices", status_code=201, responses={**_ok(ContractPrice, 201), 409: PROBLEM}
    )
    async def create_contract_price(
        body: ContractPriceCreate,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "create_contract_price",
                lambda: erp.create_contract_price(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.patch(one, responses={**_ok(ContractPrice), 404: PROBLEM, 412: PROBLEM})
    async def update_contract_price(
        SupplierNumber: SupplierPath,
        ItemNumber: ItemPath,
        body: ContractPriceUpdate,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        payload = _native(body)
        return respond(
            host.invoke(
                "update_contract_price",
                lambda: erp.update_contract_price(
                    SupplierNumber, ItemNumber, payload, if_match, idempotency_key
                ),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.get(one, responses={**_ok(ContractPrice), **_NOT_MODIFIED, 404: PROBLEM})
    async def get_contract_price(
        SupplierNumber: SupplierPath, ItemNumber: ItemPath, if_none_match: IfNoneMatch = None
    ) -> Response:
        return respond(
            host.invoke(
                "get_contract_price",
                lambda: erp.get_contract_price(SupplierNumber, ItemNumber, if_none_match),
            )
        )

    @router.get("/contractPrices", responses={**_ok(Page[ContractPrice]), 400: PROBLEM})
    async def list_contract_prices(
        supplierNumber: Annotated[
            str | None, Query(description="only this vendor's contract prices")
        ] = None,
        offset: Offset = 0,
        limit: Limit = 25,
    ) -> Response:
        return respond(
            host.invoke(
                "list_contract_prices",
                lambda: erp.list_contract_prices(
                    supplier_number=supplierNumber, offset=offset, limit=limit
                ),
            )
        )

    return router


def _locations_router(host: Host, erp: Erp) -> APIRouter:
    router = APIRouter(tags=["locations"], responses={422: PROBLEM, **_FAULTS})

    @router.post("/locations", status_code=201, responses={**_ok(Location, 201), 409: PROBLEM})
    async def create_location(
        body: LocationCreate,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        """Add a ship-to location; once the ERP has any, a PO must ship to one of them."""
        payload = _native(body)
        return respond(
            host.invoke(
                "create_location",
                lambda: erp.create_location(payload, idempotency_key),
                idempotency_key=idempotency_key,
                correlation_id=traceparent or body.CorrelationId,
            )
        )

    @router.get(
        "/locations/{LocationGLN}", responses={**_ok(Location), **_NOT_MODIFIED, 404: PROBLEM}
    )
    async def get_location(LocationGLN: GlnPath, if_none_match: IfNoneMatch = None) -> Response:
        return respond(
            host.invoke("get_location", lambda: erp.get_location(LocationGLN, if_none_match))
        )

    @router.get("/locations", responses={**_ok(Page[Location]), 400: PROBLEM})
    async def list_locations(offset: Offset = 0, limit: Limit = 25) -> Response:
        """The ship-to locations, by GLN: hospitals, distribution centers, the office."""
        return respond(
            host.invoke("list_locations", lambda: erp.list_locations(offset=offset, limit=limit))
        )

    return router


def erp_router(host: Host, erp: Erp) -> APIRouter:
    router = APIRouter(prefix=ERP_PREFIX)
    for part in (
        _purchase_orders_router,
        _invoices_router,
        _items_router,
        _vendors_router,
        _contract_prices_router,
        _locations_router,
    ):
        router.include_router(part(host, erp))
    return router


def erp_system(
    *,
    seed: int,
    clock: Any,
    schedule: Schedule,
    webhook_target: str | None = None,
    rate_limit_per_s: float | None = None,
    burst: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    masters: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    **_: Any,
) -> LiveSystem:
    """The live ERP; ``rate_limit_per_s`` and ``burst`` are the behaviour's token
    bucket (429 with ``retry-after`` beyond it), None for no limit; ``limits`` bound
    every request, over HTTP and in the behaviour; ``masters`` (kind → records, see
    :meth:`~emulators.erp.Erp.seed_masters`) are held from the start and after every
    reset."""

    def behaviour(host: Host) -> Erp:
        erp = Erp(
            host.journal,
            clock,
            clock.epoch,
            rate_limit_per_s=rate_limit_per_s,
            burst=burst,
            limits=limits,
        )
        if masters:
            erp.seed_masters(masters)
        return erp

    return assemble(
        "erp",
        seed=seed,
        clock=clock,
        schedule=schedule,
        webhook_target=webhook_target,
        behaviour=behaviour,
        router=erp_router,
        title="supplysync ERP emulator",
        description=(
            "A cloud ERP's purchasing REST API: purchase orders, change orders, "
            "acknowledgments, receipts, invoice status, and the item, vendor and "
            "contract-price and location masters."
        ),
        limits=limits,
    )
