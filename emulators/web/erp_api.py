"""The ERP's native API as data: its operation table (models in :mod:`.erp_models`).

Fusion-like REST under ``/fscmRestApi/resources/latest``.  Every API method of
the behaviour has one row (the change order is served at two paths: ``PATCH``
on the PO and ``POST .../changeOrders``).  Path and query params carry the
ERP's PascalCase and camelCase names on the wire (``{OrderNumber}``,
``updatedSince``) and the engine's snake_case names in the table
(``order_number``, ``updated_since``).  The paging parameters' out-of-range
values are the behaviour's 400s, so OpenAPI states them without enforcing them.

Headers: ``Idempotency-Key`` on every write, ``If-Match`` where the behaviour
takes it (412 when stale), ``If-None-Match`` on reads of one document (304), and
``traceparent``, the correlation id of the request journal (else the body's
``CorrelationId``; the facts a write changes carry the body's).  The table
(:data:`ERP_API`) is what the web router, the simulated transport, the test
links and the contract suites are built from (:mod:`emulators.operations`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Path, Query

from emulators._base import Reply
from emulators.operations import PROBLEM, Api, Operation, Param, keyed_write
from emulators.web._params import COMMON
from emulators.web.erp_models import (
    AcknowledgmentApplied,
    AcknowledgmentPost,
    ContractPrice,
    ContractPriceCreate,
    ContractPriceUpdate,
    Invoice,
    InvoiceStatusPost,
    Item,
    ItemCreate,
    ItemUpdate,
    Location,
    LocationCreate,
    Page,
    PurchaseOrder,
    PurchaseOrderChange,
    PurchaseOrderCreate,
    ReceiptApplied,
    ReceiptCreate,
    Vendor,
    VendorCreate,
    VendorUpdate,
)

__all__ = ["ERP_API", "ERP_PREFIX"]

ERP_PREFIX = "/fscmRestApi/resources/latest"


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

_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: If-None-Match holds the current ETag"}
}


def _ok(model: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model, "description": "the ERP's document; ETag in `etag`"}}


_ORDER = Param("order_number", "path", OrderNumberPath, wire="OrderNumber")
_SUPPLIER = Param("supplier_number", "path", SupplierPath, wire="SupplierNumber")
_ITEM = Param("item_number", "path", ItemPath, wire="ItemNumber")
_GLN = Param("location_gln", "path", GlnPath, wire="LocationGLN")
_IF_MATCH = Param("if_match", "header", IfMatch, None, wire="If-Match")
_IF_NONE = Param("if_none_match", "header", IfNoneMatch, None, wire="If-None-Match")
_PAGE = (Param("offset", "query", Offset, 0), Param("limit", "query", Limit, 25))
_CHANGED = {**COMMON, **_ok(PurchaseOrder), 404: PROBLEM, 409: PROBLEM, 412: PROBLEM}


def _write(name: str, method: str, path: str, call: Callable[..., Reply], body: Any,
           tag: str, **kw: Any) -> Operation:  # fmt: skip
    """A keyed, traced write; the body's CorrelationId is its correlation id."""
    return Operation(name, method, path, call, body=body, idempotent=True, traced=True,
                     correlation="CorrelationId", tag=tag, **kw)  # fmt: skip


def _create(name: str, path: str, body: Any, model: Any, tag: str, doc: str | None = None
            ) -> Operation:  # fmt: skip
    """``POST`` a new master record: 201, or 409 when its key exists."""
    responses = {**COMMON, **_ok(model, 201), 409: PROBLEM}
    return keyed_write(name, "POST", path, body, correlation="CorrelationId", tag=tag, status=201,
                       responses=responses, doc=doc)  # fmt: skip


def _update(name: str, path: str, keys: tuple[Param, ...], body: Any, model: Any, tag: str
            ) -> Operation:  # fmt: skip
    """``PATCH`` one master record by its keys, under ``If-Match``."""

    def call(erp: Any, body: Any, if_match: Any, idempotency_key: Any, **key: Any) -> Reply:
        method: Callable[..., Reply] = getattr(erp, name)
        return method(*(key[k.name] for k in keys), body, if_match, idempotency_key)

    responses = {**COMMON, **_ok(model), 404: PROBLEM, 412: PROBLEM}
    return _write(name, "PATCH", path, call, body, tag, params=(*keys, _IF_MATCH),
                  responses=responses)  # fmt: skip


def _get(name: str, path: str, keys: tuple[Param, ...], model: Any, tag: str) -> Operation:
    """``GET`` one document by its keys; 304 when ``If-None-Match`` holds its ETag."""

    def call(erp: Any, if_none_match: Any, **key: Any) -> Reply:
        method: Callable[..., Reply] = getattr(erp, name)
        return method(*(key[k.name] for k in keys), if_none_match)

    responses = {**COMMON, **_ok(model), **_NOT_MODIFIED, 404: PROBLEM}
    return Operation(name, "GET", path, call, params=(*keys, _IF_NONE), tag=tag,
                     responses=responses)  # fmt: skip


def _list(name: str, path: str, model: Any, tag: str, *filters: Param, doc: str | None = None
          ) -> Operation:  # fmt: skip
    """``GET`` a page of records: ``offset`` and ``limit`` (and the filters), by keyword."""
    call = lambda erp, **kw: getattr(erp, name)(**kw)  # noqa: E731
    responses = {**COMMON, **_ok(Page[model]), 400: PROBLEM}
    return Operation(name, "GET", path, call, params=(*filters, *_PAGE), tag=tag,
                     responses=responses, doc=doc)  # fmt: skip


_PO = "/purchaseOrders/{OrderNumber}"
_PRICE = "/contractPrices/{SupplierNumber}/{ItemNumber}"
_POS, _INVOICES = "purchase orders", "invoices"

ERP_API = Api(
    "erp",
    ERP_PREFIX,
    (
        _write("post_purchase_order", "POST", "/purchaseOrders",
               lambda erp, body, idempotency_key: erp.post_purchase_order(body, idempotency_key),
               PurchaseOrderCreate, _POS, status=201,
               responses={**COMMON, **_ok(PurchaseOrder, 201)},
               doc="Create and approve a PO (201, with its ETag)."),
        _list("list_purchase_orders", "/purchaseOrders", PurchaseOrder, _POS,
              Param("updated_since", "query", Annotated[str, Query(
                  description="ISO 8601 date-time: POs changed at or after it"
              )], "1970-01-01T00:00:00", wire="updatedSince"),
              doc="POs changed since a time, oldest change first, paged with ``hasMore``."),
        Operation("get_purchase_order", "GET", _PO,
                  lambda erp, order_number, if_none_match: erp.get_purchase_order(
                      order_number, if_none_match),
                  params=(_ORDER, _IF_NONE), tag=_POS,
                  responses={**COMMON, **_ok(PurchaseOrder), **_NOT_MODIFIED, 404: PROBLEM}),
        _write("change_purchase_order", "PATCH", _PO,
               lambda erp, order_number, body, if_match, idempotency_key:
                   erp.change_purchase_order(order_number, body, if_match=if_match,
                                             idempotency_key=idempotency_key),
               PurchaseOrderChange, _POS, params=(_ORDER, _IF_MATCH), responses=_CHANGED,
               also=(("POST", f"{_PO}/changeOrders"),),
               doc="A buyer's change order: bumps ``RevisionNumber`` (200 with the PO)."),
        _write("post_acknowledgment", "POST", f"{_PO}/acknowledgments",
               lambda erp, order_number, body, if_match, idempotency_key:
                   erp.post_acknowledgment(order_number, body, idempotency_key,
                                           if_match=if_match),
               AcknowledgmentPost, _POS, params=(_ORDER, _IF_MATCH),
               responses={**COMMON, **_ok(AcknowledgmentApplied), 404: PROBLEM, 409: PROBLEM,
                          412: PROBLEM},
               doc="The supplier's acknowledgment (855): confirmed and backordered quantities."),
        _write("post_receipt", "POST", f"{_PO}/receipts",
               lambda erp, order_number, body, if_match, idempotency_key: erp.post_receipt(
                   order_number, body, idempotency_key, if_match=if_match),
               ReceiptCreate, _POS, params=(_ORDER, _IF_MATCH), status=201,
               responses={**COMMON, **_ok(ReceiptApplied, 201), 404: PROBLEM, 409: PROBLEM,
                          412: PROBLEM},
               doc="Goods received: relieves the open commitment; past the tolerance → 422."),
        _write("post_invoice_status", "POST", f"{_PO}/invoiceStatus",
               lambda erp, order_number, body, idempotency_key: erp.post_invoice_status(
                   order_number, body, idempotency_key),
               InvoiceStatusPost, _INVOICES, params=(_ORDER,),
               responses={**COMMON, **_ok(Invoice), 404: PROBLEM, 409: PROBLEM}),
        Operation("get_invoice", "GET", "/invoices/{SupplierNumber}/{InvoiceNumber}",
                  lambda erp, supplier_number, invoice_number: erp.get_invoice(
                      supplier_number, invoice_number),
                  params=(_SUPPLIER, Param("invoice_number", "path", Annotated[str, Path(
                      description="the supplier's InvoiceNumber")], wire="InvoiceNumber")),
                  tag=_INVOICES, responses={**COMMON, **_ok(Invoice), 404: PROBLEM}),
        _create("create_item", "/items", ItemCreate, Item, "items"),
        _update("update_item", "/items/{ItemNumber}", (_ITEM,), ItemUpdate, Item, "items"),
        _get("get_item", "/items/{ItemNumber}", (_ITEM,), Item, "items"),
        _list("list_items", "/items", Item, "items"),
        _create("create_vendor", "/vendors", VendorCreate, Vendor, "vendors"),
        _update("update_vendor", "/vendors/{SupplierNumber}", (_SUPPLIER,), VendorUpdate, Vendor,
                "vendors"),
        _get("get_vendor", "/vendors/{SupplierNumber}", (_SUPPLIER,), Vendor, "vendors"),
        _list("list_vendors", "/vendors", Vendor, "vendors"),
        _create("create_contract_price", "/contractPrices", ContractPriceCreate, ContractPrice,
                "contract prices"),
        _update("update_contract_price", _PRICE, (_SUPPLIER, _ITEM), ContractPriceUpdate,
                ContractPrice, "contract prices"),
        _get("get_contract_price", _PRICE, (_SUPPLIER, _ITEM), ContractPrice, "contract prices"),
        _list("list_contract_prices", "/contractPrices", ContractPrice, "contract prices",
              Param("supplier_number", "query", Annotated[str | None, Query(
                  description="only this vendor's contract prices")], None,
                  wire="supplierNumber")),
        _create("create_location", "/locations", LocationCreate, Location, "locations",
                doc="Add a ship-to location; once the ERP has any, a PO must ship to one of "
                "them."),
        _get("get_location", "/locations/{LocationGLN}", (_GLN,), Location, "locations"),
        _list("list_locations", "/locations", Location, "locations",
              doc="The ship-to locations, by GLN: hospitals, distribution centers, the office."),
    ),
    idempotency_header=IdempotencyKey,
    trace_header=Traceparent,
    title="supplysync ERP emulator",
    description=(
        "A cloud ERP's purchasing REST API: purchase orders, change orders, "
        "acknowledgments, receipts, invoice status, and the item, vendor and "
        "contract-price and location masters."
    ),
)  # fmt: skip
