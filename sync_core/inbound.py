"""Inbound documents to messages: one function per system, sans-IO.

Theory of operation
-------------------
Each system pushes its own native document — a webhook, or a document its
mailbox hands on — and the sync core needs an :class:`~sync_core.messages.Inbound`
with a *stable* message id, so that a duplicate delivery is recognised by the
inbox whatever path it took (a webhook, a retry, a batch pickup).  The id is the
source's own event id, never something this side invents:

===========  ======================================  ===============================  ==============
system       document                                kind                             message id
===========  ======================================  ===============================  ==============
erp          ``{eventId, eventType:                  ``ERP_PO_CHANGED``               ``eventId``
             PurchaseOrderChanged, OrderNumber}``
erp          ``{eventId, eventType: ItemChanged |    ``ERP_MASTER_CHANGED``           ``eventId``
             SupplierChanged | ContractPriceChanged,
             <keys>}``
supplier     ``{seq, supplier, type, payload}``      ``SUPPLIER_EDI``                 ``edi:{seq}``
wms          ``{event_id, event_type:                ``WMS_RECEIPT_CREATED``          ``event_id``
             receipt.created, receipt_id, ...}``
ap           ``{eventId, eventType:                  ``AP_INVOICE_STATUS_CHANGED``    ``eventId``
             InvoiceStatusChanged, invoice}``
===========  ======================================  ===============================  ==============

Only the envelope is checked here (what the id and the kind need); the content
is the engine's to map, and a content error is dead-lettered there.  A document
whose envelope is wrong raises :class:`InboundError` naming the field: a live
service answers it with a 4xx, a simulation would count it as refused.  The
simulation and the live service call the same functions, so both worlds give
a document the same id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sync_core.errors import MappingError
from sync_core.messages import Inbound, Kind

__all__ = [
    "ERP_MASTER_EVENTS",
    "PARSERS",
    "InboundError",
    "from_ap",
    "from_erp",
    "from_supplier",
    "from_system",
    "from_wms",
]

ERP_MASTER_EVENTS = frozenset({"ItemChanged", "SupplierChanged", "ContractPriceChanged"})
_EDI_TYPES = frozenset({"855", "856", "810", "865", "997"})
_MAX_ID = 200


class InboundError(MappingError):
    """An inbound document whose envelope is wrong: ``field`` names what."""


def _text(body: dict[str, Any], name: str, document: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        reason = "missing" if value is None else "must be a non-empty string"
        raise InboundError(document, name, reason)
    if len(value) > _MAX_ID:
        raise InboundError(document, name, f"longer than {_MAX_ID} characters")
    return value


def _object(body: Any, document: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InboundError(document, "body", "must be a JSON object")
    return body


def _event(
    body: Any, document: str, id_name: str, type_name: str
) -> tuple[dict[str, Any], str, str]:
    """A webhook event's envelope (every system's but the supplier's): the object, its
    id and its type, each field named by the system's own spelling."""
    event = _object(body, document)
    return event, _text(event, id_name, document), _text(event, type_name, document)


def from_erp(body: Any) -> Inbound:
    """An ERP business event: a purchase order or a master changed."""
    doc = "ERP business event"
    event, event_id, event_type = _event(body, doc, "eventId", "eventType")
    if event_type == "PurchaseOrderChanged":
        _text(event, "OrderNumber", doc)
        return Inbound(event_id, Kind.ERP_PO_CHANGED, event)
    if event_type in ERP_MASTER_EVENTS:
        return Inbound(event_id, Kind.ERP_MASTER_CHANGED, event)
    known = ", ".join(sorted({"PurchaseOrderChanged", *ERP_MASTER_EVENTS}))
    raise InboundError(doc, "eventType", f"unknown event {event_type!r} (known: {known})")


def from_supplier(body: Any) -> Inbound:
    """A document from the supplier network's mailbox (855, 856, 810, 865 or 997)."""
    doc = "supplier document"
    document = _object(body, doc)
    seq = document.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InboundError(doc, "seq", "must be an integer >= 1")
    _text(document, "supplier", doc)
    if document.get("type") not in _EDI_TYPES:
        raise InboundError(doc, "type", f"must be one of {sorted(_EDI_TYPES)}")
    if not isinstance(document.get("payload"), str):
        raise InboundError(doc, "payload", "must be an X12 interchange (a string)")
    return Inbound(f"edi:{seq}", Kind.SUPPLIER_EDI, document)


def from_wms(body: Any) -> Inbound:
    """A WMS event: a receipt was created at the dock."""
    doc = "WMS event"
    event, event_id, event_type = _event(body, doc, "event_id", "event_type")
    if event_type != "receipt.created":
        raise InboundError(doc, "event_type", f"unknown event {event_type!r}")
    _text(event, "receipt_id", doc)
    return Inbound(event_id, Kind.WMS_RECEIPT_CREATED, event)


def from_ap(body: Any) -> Inbound:
    """An AP event: an invoice's match status changed."""
    doc = "AP event"
    event, event_id, event_type = _event(body, doc, "eventId", "eventType")
    if event_type != "InvoiceStatusChanged":
        raise InboundError(doc, "eventType", f"unknown event {event_type!r}")
    invoice = event.get("invoice")
    if not isinstance(invoice, dict):
        raise InboundError(doc, "invoice", "must be an object {vendor_num, invoice_num}")
    for name in ("vendor_num", "invoice_num"):
        if not isinstance(invoice.get(name), str) or not invoice[name]:
            raise InboundError(doc, f"invoice.{name}", "must be a non-empty string")
    return Inbound(event_id, Kind.AP_INVOICE_STATUS_CHANGED, event)


PARSERS: dict[str, Callable[[Any], Inbound]] = {
    "erp": from_erp,
    "supplier": from_supplier,
    "wms": from_wms,
    "ap": from_ap,
}


def from_system(system: str, body: Any) -> Inbound:
    """The message for ``body`` pushed by ``system``; :class:`InboundError` if it has none."""
    parse = PARSERS.get(system)
    if parse is None:
        raise InboundError(
            "webhook", "system", f"unknown system {system!r} (known: erp, supplier, wms, ap)"
        )
    return parse(body)
