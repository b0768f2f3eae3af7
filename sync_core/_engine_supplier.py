"""Supplier → ERP, WMS, AP: the supplier's documents, a flow of :class:`~sync_core.engine.Engine`.

``supplier.edi`` carries an X12 interchange: each 855 goes to the ERP (acknowledgment)
and the WMS (expected receipts), and opens or closes critical-shortage exceptions; each
856 goes to the WMS (ship notice); each 810 to AP (an invoice number resent is dropped).
``supplier.mailbox_page`` is the batch pickup of the same documents.  Each group of
855/856/810 sets is answered with a 997 and each 997 is the partner's verdict on one of
our 850s (:mod:`sync_core._engine_fa`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sync_core._engine_flow import _field, _Flow, traceparent
from sync_core.errors import MappingError
from sync_core.mappers import ap, erp, wms, x12
from sync_core.messages import Inbound, Kind, Request
from sync_core.model import (
    Acknowledgment,
    FunctionalAcknowledgment,
    Invoice,
    PurchaseOrder,
    ShipNotice,
)

if TYPE_CHECKING:
    from sync_core.engine import _Work


class _SupplierDocuments(_Flow):
    _edi_partner: dict[str, str]  # the supplier's EDI id -> its supplier number

    if TYPE_CHECKING:  # defined by _engine_fa._FunctionalAcks

        def _acknowledge_groups(
            self,
            work: _Work,
            envelope: x12.Envelope,
            sets: list[x12.TransactionSet],
            failed: tuple[int, MappingError] | None,
            now: dt.datetime,
        ) -> None: ...

        def _functional_ack(
            self, work: _Work, fa: FunctionalAcknowledgment, partner: str, now: dt.datetime
        ) -> None: ...

    # -- supplier → ERP, WMS: acknowledgments ------------------------------------

    def _supplier_edi(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        envelope, sets = x12.parse_interchange(_field(message.body, "payload", "supplier document"))
        supplier = self._edi_partner.get(envelope.sender_id)
        if supplier is None:
            raise MappingError("X12 interchange", "ISA06", f"unknown sender {envelope.sender_id}")
        failed: tuple[int, MappingError] | None = None
        for i, ts in enumerate(sets):
            try:
                if ts.code == "855":
                    self._acknowledgment(work, x12.acknowledgments_from_855(ts), now)
                elif ts.code == "856":
                    for notice in x12.ship_notices_from_856(ts):
                        self._ship_notice(work, notice)
                elif ts.code == "810":
                    self._invoice(work, x12.invoice_from_810(ts, supplier))
                elif ts.code == "997" and self.config.functional_acks:
                    fa = x12.functional_ack_from_997(ts)
                    self._functional_ack(work, fa, envelope.sender_id, now)
                else:
                    raise MappingError("X12 interchange", "ST01", f"unsupported set {ts.code}")
            except MappingError as e:
                failed = (i, e)
                break
        self._acknowledge_groups(work, envelope, sets, failed, now)
        if failed is not None:
            raise failed[1]

    @staticmethod
    def _shortages(work: _Work, po: PurchaseOrder, ack: Acknowledgment, now: dt.datetime) -> None:
        """The procurement team's exception queue: a clinical-critical line the supplier
        will not fill now (confirmed below ordered) opens an exception; a later revision
        that fills it closes it.  Entities ``exception`` keyed ``{po}:{line}``."""
        critical = {line.line_no for line in po.lines if line.critical}
        for line in ack.lines:
            if line.line_no not in critical:
                continue
            key = f"{po.po_number}:{line.line_no}"
            known = work.entity("exception", key)
            short = line.confirmed_quantity < line.ordered_quantity
            if not short and (known is None or not known.data["open"]):
                continue
            dates = [a.expected_date for a in line.acks if a.expected_date is not None]
            work.put(
                "exception",
                key,
                ack.revision,
                {
                    "open": short,
                    "kind": "critical_shortage",
                    "po_number": po.po_number,
                    "line_no": line.line_no,
                    "ordered": line.ordered_quantity,
                    "confirmed": line.confirmed_quantity,
                    "backordered": line.backordered_quantity,
                    "ack_status": line.status,
                    "expected": min(dates).isoformat() if dates else None,
                    "since": (known.data["since"] if known and known.data["open"] else None)
                    or now.isoformat(timespec="seconds"),
                    "trace": traceparent(po.po_number, "855"),
                },
            )

    def _acknowledgment(self, work: _Work, ack: Acknowledgment, now: dt.datetime) -> None:
        known_po = work.entity("po", ack.po_number)
        if known_po is None:
            raise MappingError("X12 855", "BAK03", f"PO {ack.po_number} was never dispatched")
        known = work.entity("ack", ack.po_number)
        if self._seen(known, ack.revision):
            return  # duplicate or late revision: never regress
        po = self._stored_po(known_po)
        erp_body = erp.acknowledgment_to_erp(ack, traceparent(po.po_number, "855"))
        wms_body = wms.expected_receipts(po, ack, traceparent(po.po_number, "855"))
        work.put("ack", ack.po_number, ack.revision, ack.model_dump(mode="json"))
        self._shortages(work, po, ack, now)
        key = f"855:{ack.po_number}:{ack.revision}"
        work.requests.append(
            Request(
                "erp",
                "post_acknowledgment",
                {"order_number": ack.po_number},
                body=erp_body,
                idempotency_key=f"{key}:erp",
                correlation_id=erp_body["CorrelationId"],
                critical=po.critical,
                supersedable=self._versioned(("ack", ack.po_number, ack.revision)),
            )
        )
        work.requests.append(
            Request(
                "wms",
                "upsert_expected_receipts",
                {},
                body=wms_body,
                idempotency_key=f"{key}:wms",
                correlation_id=wms_body["trace_id"],
                critical=po.critical,
                supersedable=self._versioned(("ack", ack.po_number, ack.revision)),
            )
        )

    def _dispatched(self, work: _Work, po_number: str, doc: str, where: str) -> PurchaseOrder:
        known = work.entity("po", po_number)
        if known is None:
            raise MappingError(doc, where, f"PO {po_number} was never dispatched")
        return self._stored_po(known)

    def _ship_notice(self, work: _Work, notice: ShipNotice) -> None:
        po = self._dispatched(work, notice.po_number, "X12 856", "PRF01")
        if self._seen(work.entity("asn", notice.asn_number), 1):
            return  # the same shipment again
        work.put("asn", notice.asn_number, 1, None)
        trace = traceparent(po.po_number, f"856/{notice.asn_number}")
        work.requests.append(
            Request(
                "wms",
                "post_ship_notice",
                {},
                body=wms.ship_notice(notice, trace),
                idempotency_key=f"856:{notice.asn_number}:wms",
                correlation_id=trace,
                critical=po.critical,
            )
        )

    def _invoice(self, work: _Work, invoice: Invoice) -> None:
        po = self._dispatched(work, invoice.po_number, "X12 810", "BIG04")
        key = f"{invoice.supplier_id}:{invoice.invoice_number}"
        if self._seen(work.entity("invoice", key), 1):
            return  # billed again under the same number: AP must see it once
        work.put("invoice", key, 1, None)
        trace = traceparent(po.po_number, f"810/{invoice.invoice_number}")
        work.requests.append(
            Request(
                "ap",
                "post_invoice",
                {},
                body=ap.invoice(invoice, trace),
                idempotency_key=f"810:{key}:ap",
                correlation_id=trace,
            )
        )

    def _mailbox_page(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        page = message.body
        last = work.entity("watermark", "supplier_mailbox")
        seq = last.version if last else 0
        for doc in _field(page, "documents", "supplier mailbox page"):
            seq = max(seq, int(doc["seq"]))
            self._consume(work, Inbound(f"edi:{doc['seq']}", Kind.SUPPLIER_EDI, doc), now)
        work.put("watermark", "supplier_mailbox", seq, None)
        if page.get("hasMore"):
            work.requests.append(self._mailbox_request(seq))

    def _mailbox_request(self, after: int) -> Request:
        return Request(
            "supplier",
            "mailbox",
            {"after": after, "limit": self.config.page_size},
            reply_kind=Kind.SUPPLIER_MAILBOX_PAGE,
        )
