"""Supplier → ERP, WMS, AP: the supplier's documents.

``supplier.edi`` carries an X12 interchange; each transaction set goes to the handler
for its code (the engine's merged ``sets`` table): each 855 to the ERP
(acknowledgment) and the WMS (expected receipts), opening or closing critical-shortage
exceptions; each 856 to the WMS (ship notice); each 810 to AP (an invoice number
resent is dropped); each 997 is the partner's verdict on one of our 850s
(:mod:`sync_core.flows.functional_acks`, which also answers each group with a 997).
``supplier.mailbox_page`` is the batch pickup of the same documents; a pull of
``supplier`` reads the mailbox after the last document picked up.
"""

from __future__ import annotations

import datetime as dt
from operator import itemgetter
from typing import Any

from sync_core.errors import MappingError
from sync_core.flows import functional_acks
from sync_core.flows.base import CountedList, Flow, Tables, Work, field_of, traceparent
from sync_core.mappers import ap, wms, x12
from sync_core.mappers.ack_lines import CriticalLine, acknowledged
from sync_core.messages import Inbound, Kind
from sync_core.model import PurchaseOrder

__all__ = ["TABLES", "record_acknowledgment"]

_CRITICAL = itemgetter("critical")  # of a stored PO line

_MAILBOX = CountedList(
    "supplier", "mailbox", Kind.SUPPLIER_MAILBOX_PAGE, "after", "supplier_mailbox"
)


def _supplier_edi(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    envelope, sets = x12.parse_interchange(field_of(message.body, "payload", "supplier document"))
    if envelope.sender_id not in flow.edi_partner:
        raise MappingError("X12 interchange", "ISA06", f"unknown sender {envelope.sender_id}")
    failed: tuple[int, MappingError] | None = None
    for i, ts in enumerate(sets):
        try:
            handler = flow.sets.get(ts.code)
            if handler is None:
                raise MappingError("X12 interchange", "ST01", f"unsupported set {ts.code}")
            handler(flow, work, ts, envelope, now)
        except MappingError as e:
            failed = (i, e)
            break
    functional_acks.acknowledge_groups(flow, work, envelope, sets, failed, now)
    if failed is not None:
        raise failed[1]


def _shortages(
    work: Work, po_number: str, revision: int, lines: list[CriticalLine], now: dt.datetime
) -> None:
    """The procurement team's exception queue: a clinical-critical line the supplier
    will not fill now (confirmed below ordered) opens an exception; a later revision
    that fills it closes it.  Entities ``exception`` keyed ``{po}:{line}``.
    ``lines`` are the acknowledgment's (revision ``revision``) clinical-critical lines."""
    for line, confirmed, backordered, status, expected in lines:
        number = line["line_no"]
        key = f"{po_number}:{number}"
        known = work.entity("exception", key)
        short = confirmed < line["ordered_quantity"]
        if not short and (known is None or not known.data["open"]):
            continue
        work.put(
            "exception",
            key,
            revision,
            {
                "open": short,
                "kind": "critical_shortage",
                "po_number": po_number,
                "line_no": number,
                "ordered": line["ordered_quantity"],
                "confirmed": confirmed,
                "backordered": backordered,
                "ack_status": status,
                "expected": expected,
                "since": (known.data["since"] if known and known.data["open"] else None)
                or now.isoformat(timespec="seconds"),
                "trace": traceparent(po_number, "855"),
            },
        )


def _acknowledgment(
    flow: Flow, work: Work, ts: x12.TransactionSet, envelope: x12.Envelope, now: dt.datetime
) -> None:
    """An 855: to the ERP and the WMS, once per revision, never regressing (read straight
    into its stored form: no model is built)."""
    ack = x12.acknowledgment_json_from_855(ts)
    po_number = ack["po_number"]
    known_po = work.entity("po", po_number)
    if known_po is None:
        raise MappingError("X12 855", "BAK03", f"PO {po_number} was never dispatched")
    if flow.seen(work.entity("ack", po_number), ack["revision"]):
        return  # duplicate or late revision: never regress
    record_acknowledgment(flow, work, known_po.data, ack, now)


def record_acknowledgment(
    flow: Flow,
    work: Work,
    po: dict[str, Any],
    ack: dict[str, Any],
    now: dt.datetime,
    doc: str = "855",
    number: int | None = None,
) -> None:
    """A new revision of the supplier's acknowledgment (from an 855, or an 865 merged over
    the last one), in its stored form (:func:`~sync_core.mappers.ack_lines.acknowledgment_json`):
    stored, to the ERP and the WMS, shortages opened or closed.  ``po`` is the PO as
    stored when it was dispatched (``PurchaseOrder.model_dump(mode="json")``: validated
    then, read here as plain data, not validated again for every acknowledgment).
    ``number`` is the revision of the document that made it (its writes' keys), if not
    ``ack``'s."""
    trace = traceparent(po["po_number"], doc)
    po_number, revision = ack["po_number"], ack["revision"]
    to_erp, to_wms, critical_lines = acknowledged(po, ack, trace)
    work.put("ack", po_number, revision, ack)
    if critical_lines:
        _shortages(work, po["po_number"], revision, critical_lines, now)
    key = f"{doc}:{po_number}:{revision if number is None else number}"
    # PurchaseOrder.critical: a clinical-critical line makes one
    write = flow.writer(
        work,
        trace,
        critical=bool(critical_lines) or any(map(_CRITICAL, po["lines"])),
        entity=("ack", po_number, revision),
    )
    write("erp", "post_acknowledgment", to_erp, f"{key}:erp", order_number=po_number)
    write("wms", "upsert_expected_receipts", to_wms, f"{key}:wms")


def _dispatched(flow: Flow, work: Work, po_number: str, doc: str, where: str) -> PurchaseOrder:
    """The PO a supplier's document is about, as dispatched (or a :class:`MappingError`)."""
    known = work.entity("po", po_number)
    if known is None:
        raise MappingError(doc, where, f"PO {po_number} was never dispatched")
    return flow.stored_po(known)


def _once(flow: Flow, work: Work, kind: str, key: str) -> bool:
    """True the first time a document (a shipment, an invoice number) is seen."""
    if flow.seen(work.entity(kind, key), 1):
        return False
    work.put(kind, key, 1, None)
    return True


def _ship_notices(
    flow: Flow, work: Work, ts: x12.TransactionSet, envelope: x12.Envelope, now: dt.datetime
) -> None:
    """An 856: each PO's ship notice to the WMS, once per shipment."""
    for notice in x12.ship_notices_from_856(ts):
        po = _dispatched(flow, work, notice.po_number, "X12 856", "PRF01")
        if not _once(flow, work, "asn", notice.asn_number):
            continue  # the same shipment again
        trace = traceparent(po.po_number, f"856/{notice.asn_number}")
        write = flow.writer(work, trace, critical=po.critical)
        write("wms", "post_ship_notice", wms.ship_notice(notice, trace),
              f"856:{notice.asn_number}:wms")  # fmt: skip


def _invoice(
    flow: Flow, work: Work, ts: x12.TransactionSet, envelope: x12.Envelope, now: dt.datetime
) -> None:
    """An 810: to AP, once per invoice number (billed again, AP must see it once)."""
    invoice = x12.invoice_from_810(ts, flow.edi_partner[envelope.sender_id])
    po = _dispatched(flow, work, invoice.po_number, "X12 810", "BIG04")
    key = f"{invoice.supplier_id}:{invoice.invoice_number}"
    if not _once(flow, work, "invoice", key):
        return
    trace = traceparent(po.po_number, f"810/{invoice.invoice_number}")
    flow.writer(work, trace)("ap", "post_invoice", ap.invoice(invoice, trace, po), f"810:{key}:ap")


def _mailbox_page(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    page = message.body
    last = work.entity("watermark", "supplier_mailbox")
    seq = last.version if last else 0
    for doc in field_of(page, "documents", "supplier mailbox page"):
        seq = max(seq, int(doc["seq"]))
        flow.dispatch(work, Inbound(f"edi:{doc['seq']}", Kind.SUPPLIER_EDI, doc), now)
    _MAILBOX.page_on(flow, work, seq, bool(page.get("hasMore")))


TABLES = Tables.pulling(
    "supplier",
    _MAILBOX,
    pages=_mailbox_page,
    handlers={Kind.SUPPLIER_EDI: _supplier_edi},
    sets={"855": _acknowledgment, "856": _ship_notices, "810": _invoice},
)
