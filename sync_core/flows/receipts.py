"""WMS → ERP, AP: receipts.

``wms.receipt_created`` is a thin event, read back from the WMS; ``wms.receipt`` goes
to the ERP (commitment relief) and to AP (three-way-match data), once per receipt;
``wms.receipt_page`` is the batch, handled receipt by receipt.  Receipts are
append-only, so a pull of ``wms`` reads on from how many have been read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync_core.flows.base import CountedList, Flow, Tables, Work, field_of, read, traceparent
from sync_core.mappers import ap, erp, wms
from sync_core.messages import Inbound, Kind

__all__ = ["TABLES"]

_LIST = CountedList("wms", "list_receipts", Kind.WMS_RECEIPT_PAGE, "offset", "wms_receipts")


def _receipt_created(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    receipt_id = field_of(message.body, "receipt_id", "WMS receipt event")
    po_number = str(field_of(message.body, "po_nbr", "WMS receipt event"))
    trace = traceparent(po_number, f"rcv/{receipt_id}")
    work.requests.append(read("wms", "get_receipt", Kind.WMS_RECEIPT, trace, receipt_id=receipt_id))


def _receipt(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    receipt = wms.receipt_from_wms(message.body)
    if flow.seen(work.entity("receipt", receipt.receipt_id), 1):
        return  # read twice (an event and a batch page, or a redelivered event)
    work.put("receipt", receipt.receipt_id, 1, None)
    if receipt.received_quantity == 0:
        return  # all refused at the dock: nothing received to relieve or to match
    known = work.entity("po", receipt.po_number)
    critical = known is not None and flow.stored_po(known).critical
    trace = traceparent(receipt.po_number, f"rcv/{receipt.receipt_id}")
    key = f"rcv:{receipt.receipt_id}"
    write = flow.writer(work, trace, critical=critical)
    write("erp", "post_receipt", erp.receipt_to_erp(receipt, trace), f"{key}:erp",
          order_number=receipt.po_number)  # fmt: skip
    # AP's copy is never marked critical
    flow.writer(work, trace)("ap", "post_receipt", ap.receipt(receipt, trace), f"{key}:ap")


def _receipt_page(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    """Receipts are append-only: the watermark is how many have been read."""
    _LIST.read_page(flow, work, message, now, "WMS receipt page", "has_more", _receipt_inbound)


def _receipt_inbound(doc: Any) -> Inbound:
    rid = doc.get("receipt_id") if isinstance(doc, dict) else None
    return Inbound(f"wms:receipt:{rid}", Kind.WMS_RECEIPT, doc)


TABLES = Tables.pulling(
    "wms",
    _LIST,
    pages=_receipt_page,
    handlers={Kind.WMS_RECEIPT_CREATED: _receipt_created, Kind.WMS_RECEIPT: _receipt},
)
