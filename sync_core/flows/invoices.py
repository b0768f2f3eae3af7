"""AP → ERP: invoice match status.

``ap.invoice_status_changed`` is a thin event, read back from AP; ``ap.invoice`` at a
newer status goes to the ERP, a late read never moving it back; ``ap.invoice_page``
is AP's change feed, paged by keyset like the ERP's, which a pull of ``ap`` reads
from the newest status change already read.
"""

from __future__ import annotations

import datetime as dt

from sync_core.errors import MappingError
from sync_core.flows.base import (
    Flow,
    KeysetList,
    Tables,
    Work,
    field_of,
    read,
    stamp_ms,
    stamp_of,
    traceparent,
)
from sync_core.mappers import erp
from sync_core.messages import Inbound, Kind

__all__ = ["TABLES"]

_FEED = KeysetList("ap", "list_invoices", Kind.AP_INVOICE_PAGE, "ap_invoices")


def _status_changed(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    ref = field_of(message.body, "invoice", "AP invoice event")
    vendor = field_of(ref, "vendor_num", "AP invoice event")
    number = field_of(ref, "invoice_num", "AP invoice event")
    work.requests.append(
        read("ap", "get_invoice", Kind.AP_INVOICE, vendor_num=vendor, invoice_num=number)
    )


def _status(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    """The status as read; a read older than one already passed on is dropped, so a
    late reply never moves the ERP back (AP stamps every status change)."""
    doc = message.body
    vendor = field_of(doc, "vendor_num", "AP invoice")
    number = field_of(doc, "invoice_num", "AP invoice")
    po_number = field_of(doc, "po_number", "AP invoice")
    version = stamp_ms(field_of(doc, "last_update_date", "AP invoice"), "AP invoice")
    key = f"{vendor}:{number}"
    known = work.entity("invoice_status", key)
    status = erp.MATCH_STATUS.get(str(doc.get("status")))
    if (
        not flow.config.naive
        and known is not None
        and (known.version >= version or known.data == status)
    ):
        return
    trace = traceparent(po_number, f"810/{number}")
    body = erp.invoice_status_to_erp(doc, trace)
    work.put("invoice_status", key, version, body["MatchStatus"])
    write = flow.writer(work, trace, entity=("invoice_status", key, version))
    write("erp", "post_invoice_status", body, f"inv:{key}:{version}:erp", order_number=po_number)


def _page(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    """AP's change feed (invoices by status change), paged by keyset like the ERP's."""
    stamps: list[str] = []
    for doc in field_of(message.body, "items", "AP invoice page"):
        if not isinstance(doc, dict):
            raise MappingError("AP invoice page", "items", "each item must be an object")
        stamps.append(stamp_of(doc, "last_update_date"))
        mid = f"ap:inv:{doc.get('vendor_num')}:{doc.get('invoice_num')}:{stamps[-1]}"
        flow.dispatch(work, Inbound(mid, Kind.AP_INVOICE, doc), now)
    _FEED.page_on(flow, work, message, stamps)


TABLES = Tables.pulling(
    "ap",
    _FEED,
    pages=_page,
    handlers={Kind.AP_INVOICE_STATUS_CHANGED: _status_changed, Kind.AP_INVOICE: _status},
)
