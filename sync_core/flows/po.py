"""ERP → supplier: PO dispatch.

``erp.po_changed`` is read back from the ERP unless it announces the core's own write;
``erp.po_document`` at a newer revision goes out as an 850 (an 860 to a partner that
takes change orders: :mod:`sync_core.flows.change_orders`), PO lines to AP and canceled
lines to the WMS (one already dispatched is checked for drift in the ERP's copy of the
acknowledgment); ``erp.po_page`` is the batch extract, paged by keyset.  A pull of
``erp`` asks for the POs changed since the newest one already read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync_core.errors import MappingError
from sync_core.flows import change_orders, functional_acks
from sync_core.flows.base import (
    Flow,
    KeysetList,
    Tables,
    Work,
    field_of,
    read,
    stamp_of,
    traceparent,
)
from sync_core.mappers import ap, erp, wms
from sync_core.messages import Entity, Inbound, Kind
from sync_core.model import Acknowledgment, PurchaseOrder, PurchaseOrderLine

__all__ = ["OWN_CHANGES", "TABLES"]

# ERP PO changes (``ChangeType``) the core itself makes: their events announce what it
# posted.  A subscription may leave them out; the engine skips their read-back anyway.
OWN_CHANGES = frozenset({"ACKNOWLEDGMENT", "RECEIPT"})

_EXTRACT = KeysetList("erp", "list_purchase_orders", Kind.ERP_PO_PAGE, "erp")


def _po_changed(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    number = field_of(message.body, "OrderNumber", "ERP business event")
    if _echo(flow, work, number, message.body):
        return
    trace = traceparent(number, "read")
    work.requests.append(
        read("erp", "get_purchase_order", Kind.ERP_PO_DOCUMENT, trace, order_number=number)
    )


def _echo(flow: Flow, work: Work, number: str, event: dict[str, Any]) -> bool:
    """True for the announcement of the core's own write (an acknowledgment or receipt
    it posted) to a revision already dispatched: reading the PO back would find
    nothing to send.  Loop prevention, as an integration user's changes are filtered
    from its own subscription.  The naive baseline reads every time; an event
    without a revision, a buyer's change and a person's edit are always read."""
    if flow.config.naive or event.get("ChangeType") not in OWN_CHANGES:
        return False
    revision = event.get("RevisionNumber")
    known = work.entity("po", number)
    return isinstance(revision, int) and known is not None and revision <= known.version


def _po_document(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    po = erp.purchase_order_from_erp(message.body)
    known = work.entity("po", po.po_number)
    if flow.seen(known, po.version):
        _repair_drift(flow, work, message.body, po)  # already dispatched: check the ERP
        return
    edi_id = flow.config.partners.get(po.supplier_id)
    if edi_id is None:
        raise MappingError(
            "ERP purchase order", "SupplierNumber", f"no EDI trading partner {po.supplier_id}"
        )
    document = change_orders.order_document(flow, work, known, po, receiver=edi_id, now=now)
    if document is not None:  # None: an 860 partner has nothing to learn of this revision
        control, text = document
        change = text if "~ST*860*" in text else None
        functional_acks.expect_997(flow, work, control, edi_id, po, now, change)
    work.put("po", po.po_number, po.version, po.model_dump(mode="json"))
    trace = traceparent(po.po_number, f"850/{po.version}")
    dropped = _canceled_lines(flow, work, known, po)
    key = f"850:{po.po_number}:{po.version}"
    write = flow.writer(work, trace, critical=po.critical, entity=("po", po.po_number, po.version))
    # an 860 says only what changed since the one before: none may be superseded
    keep = change_orders.takes_860(flow, edi_id)
    send = flow.writer(work, trace, critical=po.critical) if keep else write
    if document is not None:
        send("supplier", "post_edi", document[1], key, supplier=edi_id)
    write("ap", "upsert_po_lines", ap.po_lines(po, trace, () if po.canceled else dropped),
          f"{key}:ap")  # fmt: skip
    if dropped and work.entity("ack", po.po_number) is not None:
        write("wms", "upsert_expected_receipts", wms.canceled_receipts(po, dropped, trace),
              f"{key}:wms")  # fmt: skip


def _canceled_lines(
    flow: Flow, work: Work, known: Entity | None, po: PurchaseOrder
) -> tuple[PurchaseOrderLine, ...]:
    """Every line an earlier revision ordered that this one does not.  Cumulative, so
    each revision's writes cancel them all again: a newer revision may then supersede
    an older one's writes without a cancellation being lost with them."""
    held = work.entity("po_canceled", po.po_number)
    canceled = {
        d["line_no"]: PurchaseOrderLine.model_validate(d) for d in (held.data if held else [])
    }
    for line in _dropped_lines(flow, known, po):
        canceled[line.line_no] = line
    if not po.canceled:
        for line in po.lines:  # ordered again
            canceled.pop(line.line_no, None)
    lines = tuple(canceled[n] for n in sorted(canceled))
    if lines or held is not None:
        work.put(
            "po_canceled", po.po_number, po.version, [x.model_dump(mode="json") for x in lines]
        )
    return lines


def _dropped_lines(
    flow: Flow, known: Entity | None, po: PurchaseOrder
) -> tuple[PurchaseOrderLine, ...]:
    """Lines of the previous revision this one no longer orders (all, if canceled)."""
    if known is None:
        return ()
    before = flow.stored_po(known)
    if before.canceled:
        return ()
    if po.canceled:
        return before.lines
    kept = {line.line_no for line in po.lines}
    return tuple(line for line in before.lines if line.line_no not in kept)


def _po_page(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    """One page of an extract, read by keyset on ``LastUpdateDate`` (the list is sorted
    by it): each PO as a document of its own, then the next page."""
    stamps: list[str] = []
    for doc in field_of(message.body, "items", "ERP purchase order page"):
        number = doc.get("OrderNumber") if isinstance(doc, dict) else None
        revision = doc.get("RevisionNumber") if isinstance(doc, dict) else None
        stamps.append(stamp_of(doc, "LastUpdateDate"))
        flow.dispatch(work, Inbound(f"erp:po:{number}:r{revision}", Kind.ERP_PO_DOCUMENT, doc), now)
    _EXTRACT.page_on(flow, work, message, stamps)


def _repair_drift(flow: Flow, work: Work, doc: dict[str, Any], po: PurchaseOrder) -> None:
    """Reconciliation of the ERP's replica of the acknowledgment: when the ERP holds our
    latest 855 revision but a line's confirmed quantity differs from it (a manual edit),
    post the acknowledgment again.  A PO read before our write landed (an older
    AcknowledgmentRevision) is not drift: that write is on its way."""
    if flow.config.naive:
        return
    stored = work.entity("ack", po.po_number)
    if stored is None or doc.get("AcknowledgmentRevision") != stored.version:
        return
    ack = Acknowledgment.model_validate(stored.data)
    said = {line.line_no: line.confirmed_quantity for line in ack.lines}
    lines = [ln for ln in doc.get("lines", []) if isinstance(ln, dict)]
    held = {
        ln.get("LineNumber"): ln.get("SupplierConfirmedQuantity")
        for ln in lines
        if ln.get("LineNumber") in said
    }
    if any(ln.get("LineStatus") == "CANCELED" for ln in lines):
        return  # the buyer changed the PO: the supplier's next 855 will say what holds
    if all(held.get(n) == q for n, q in said.items()):
        return
    trace = traceparent(po.po_number, "855")
    key = f"855:{po.po_number}:{ack.revision}:repair:{doc.get('LastUpdateDate')}"
    write = flow.writer(work, trace, critical=po.critical)
    write("erp", "post_acknowledgment", erp.acknowledgment_to_erp(stored.data, trace), key,
          order_number=po.po_number)  # fmt: skip


TABLES = Tables.pulling(
    "erp",
    _EXTRACT,
    pages=_po_page,
    handlers={Kind.ERP_PO_CHANGED: _po_changed, Kind.ERP_PO_DOCUMENT: _po_document},
)
