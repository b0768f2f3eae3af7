"""WMS receipts and AP invoice status, flows of :class:`~sync_core.engine.Engine`.

A receipt goes to the ERP (commitment relief) and to AP (three-way-match data); AP's
match status goes back to the ERP, a late read never moving it back.  Thin events are
read back from their source; the batch pages are handled document by document.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sync_core._engine_flow import _field, _Flow, _stamp_ms, _stamp_of, traceparent
from sync_core.errors import MappingError
from sync_core.mappers import ap, erp, wms
from sync_core.messages import Inbound, Kind, Request

if TYPE_CHECKING:
    from sync_core.engine import _Work


class _ReceiptsInvoices(_Flow):
    # -- WMS → ERP, AP: receipts --------------------------------------------------

    def _receipt_created(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        receipt_id = _field(message.body, "receipt_id", "WMS receipt event")
        po_number = str(_field(message.body, "po_nbr", "WMS receipt event"))
        work.requests.append(
            Request(
                "wms",
                "get_receipt",
                {"receipt_id": receipt_id},
                correlation_id=traceparent(po_number, f"rcv/{receipt_id}"),
                reply_kind=Kind.WMS_RECEIPT,
            )
        )

    def _receipt(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        receipt = wms.receipt_from_wms(message.body)
        if self._seen(work.entity("receipt", receipt.receipt_id), 1):
            return  # read twice (an event and a batch page, or a redelivered event)
        work.put("receipt", receipt.receipt_id, 1, None)
        if receipt.received_quantity == 0:
            return  # all refused at the dock: nothing received to relieve or to match
        known = work.entity("po", receipt.po_number)
        critical = known is not None and self._stored_po(known).critical
        trace = traceparent(receipt.po_number, f"rcv/{receipt.receipt_id}")
        work.requests.append(
            Request(
                "erp",
                "post_receipt",
                {"order_number": receipt.po_number},
                body=erp.receipt_to_erp(receipt, trace),
                idempotency_key=f"rcv:{receipt.receipt_id}:erp",
                correlation_id=trace,
                critical=critical,
            )
        )
        work.requests.append(
            Request(
                "ap",
                "post_receipt",
                {},
                body=ap.receipt(receipt, trace),
                idempotency_key=f"rcv:{receipt.receipt_id}:ap",
                correlation_id=trace,
            )
        )

    def _receipt_page(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """Receipts are append-only: the watermark is how many have been read."""
        page = message.body
        offset = int((message.query or {}).get("offset", 0))
        items = _field(page, "items", "WMS receipt page")
        for doc in items:
            rid = doc.get("receipt_id") if isinstance(doc, dict) else None
            self._consume(work, Inbound(f"wms:receipt:{rid}", Kind.WMS_RECEIPT, doc), now)
        read = offset + len(items)
        mark = work.entity("watermark", "wms_receipts")
        if mark is None or read > mark.version:
            work.put("watermark", "wms_receipts", read, None)
        if page.get("has_more"):
            work.requests.append(self._receipts_request(read))

    def _receipts_request(self, offset: int) -> Request:
        return Request(
            "wms",
            "list_receipts",
            {"offset": offset, "limit": self.config.page_size},
            reply_kind=Kind.WMS_RECEIPT_PAGE,
        )

    # -- AP → ERP: invoice match status -----------------------------------------

    def _invoice_status_changed(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        ref = _field(message.body, "invoice", "AP invoice event")
        vendor = _field(ref, "vendor_num", "AP invoice event")
        number = _field(ref, "invoice_num", "AP invoice event")
        work.requests.append(
            Request(
                "ap",
                "get_invoice",
                {"vendor_num": vendor, "invoice_num": number},
                reply_kind=Kind.AP_INVOICE,
            )
        )

    def _invoice_status(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """The status as read; a read older than one already passed on is dropped, so a
        late reply never moves the ERP back (AP stamps every status change)."""
        doc = message.body
        vendor = _field(doc, "vendor_num", "AP invoice")
        number = _field(doc, "invoice_num", "AP invoice")
        po_number = _field(doc, "po_number", "AP invoice")
        version = _stamp_ms(_field(doc, "last_update_date", "AP invoice"), "AP invoice")
        key = f"{vendor}:{number}"
        known = work.entity("invoice_status", key)
        status = erp.MATCH_STATUS.get(str(doc.get("status")))
        if (
            not self.config.naive
            and known is not None
            and (known.version >= version or known.data == status)
        ):
            return
        trace = traceparent(po_number, f"810/{number}")
        body = erp.invoice_status_to_erp(doc, trace)
        work.put("invoice_status", key, version, body["MatchStatus"])
        work.requests.append(
            Request(
                "erp",
                "post_invoice_status",
                {"order_number": po_number},
                body=body,
                idempotency_key=f"inv:{key}:{version}:erp",
                correlation_id=trace,
                supersedable=self._versioned(("invoice_status", key, version)),
            )
        )

    def _invoice_page(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """AP's change feed (invoices by status change), paged by keyset like the ERP's."""
        stamps: list[str] = []
        for doc in _field(message.body, "items", "AP invoice page"):
            if not isinstance(doc, dict):
                raise MappingError("AP invoice page", "items", "each item must be an object")
            stamps.append(_stamp_of(doc, "last_update_date"))
            mid = f"ap:inv:{doc.get('vendor_num')}:{doc.get('invoice_num')}:{stamps[-1]}"
            self._consume(work, Inbound(mid, Kind.AP_INVOICE, doc), now)
        self._keyset(work, message, stamps, "ap_invoices", self._invoices_request)

    def _invoices_request(self, updated_since: str, offset: int) -> Request:
        return Request(
            "ap",
            "list_invoices",
            {"updated_since": updated_since, "offset": offset, "limit": self.config.page_size},
            reply_kind=Kind.AP_INVOICE_PAGE,
        )
