"""ERP → supplier: PO dispatch, a flow of :class:`~sync_core.engine.Engine`.

``erp.po_changed`` is read back from the ERP unless it announces the core's own write;
``erp.po_document`` at a newer revision goes out as an 850, PO lines to AP and canceled
lines to the WMS (one already dispatched is checked for drift in the ERP's copy of the
acknowledgment); ``erp.po_page`` is the batch extract, paged by keyset.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sync_core._engine_flow import _field, _Flow, _stamp_of, traceparent
from sync_core.errors import MappingError
from sync_core.mappers import ap, erp, wms, x12
from sync_core.messages import Entity, Inbound, Kind, Request
from sync_core.model import Acknowledgment, PurchaseOrder, PurchaseOrderLine

if TYPE_CHECKING:
    from sync_core.engine import _Work

# ERP PO changes (``ChangeType``) the core itself makes: their events announce what it
# posted.  A subscription may leave them out; the engine skips their read-back anyway.
OWN_CHANGES = frozenset({"ACKNOWLEDGMENT", "RECEIPT"})


class _PoDispatch(_Flow):
    if TYPE_CHECKING:  # defined by _engine_fa._FunctionalAcks

        def _next_control(self, work: _Work) -> int: ...

        def _expect_997(
            self, work: _Work, control: int, partner: str, po: PurchaseOrder, now: dt.datetime
        ) -> None: ...

    def _po_changed(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        number = _field(message.body, "OrderNumber", "ERP business event")
        if self._echo(work, number, message.body):
            return
        work.requests.append(
            Request(
                "erp",
                "get_purchase_order",
                {"order_number": number},
                correlation_id=traceparent(number, "read"),
                reply_kind=Kind.ERP_PO_DOCUMENT,
            )
        )

    def _echo(self, work: _Work, number: str, event: dict[str, Any]) -> bool:
        """True for the announcement of the core's own write (an acknowledgment or receipt
        it posted) to a revision already dispatched: reading the PO back would find
        nothing to send.  Loop prevention, as an integration user's changes are filtered
        from its own subscription.  The naive baseline reads every time; an event
        without a revision, a buyer's change and a person's edit are always read."""
        if self.config.naive or event.get("ChangeType") not in OWN_CHANGES:
            return False
        revision = event.get("RevisionNumber")
        known = work.entity("po", number)
        return isinstance(revision, int) and known is not None and revision <= known.version

    def _po_document(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        po = erp.purchase_order_from_erp(message.body)
        known = work.entity("po", po.po_number)
        if self._seen(known, po.version):
            self._repair_drift(work, message.body, po)  # already dispatched: check the ERP
            return
        edi_id = self.config.partners.get(po.supplier_id)
        if edi_id is None:
            raise MappingError(
                "ERP purchase order", "SupplierNumber", f"no EDI trading partner {po.supplier_id}"
            )
        control = self._next_control(work)
        self._expect_997(work, control, edi_id, po, now)
        work.put("po", po.po_number, po.version, po.model_dump(mode="json"))
        trace = traceparent(po.po_number, f"850/{po.version}")
        dropped = self._canceled_lines(work, known, po)
        work.requests.append(
            Request(
                "supplier",
                "post_edi",
                {"supplier": edi_id},
                body=x12.write_850(
                    po, sender=self.config.our_edi_id, receiver=edi_id, control=control, now=now
                ),
                idempotency_key=f"850:{po.po_number}:{po.version}",
                correlation_id=trace,
                critical=po.critical,
                supersedable=self._versioned(("po", po.po_number, po.version)),
            )
        )
        work.requests.append(
            Request(
                "ap",
                "upsert_po_lines",
                {},
                body=ap.po_lines(po, trace, () if po.canceled else dropped),
                idempotency_key=f"850:{po.po_number}:{po.version}:ap",
                correlation_id=trace,
                critical=po.critical,
                supersedable=self._versioned(("po", po.po_number, po.version)),
            )
        )
        if dropped and work.entity("ack", po.po_number) is not None:
            work.requests.append(
                Request(
                    "wms",
                    "upsert_expected_receipts",
                    {},
                    body=wms.canceled_receipts(po, dropped, trace),
                    idempotency_key=f"850:{po.po_number}:{po.version}:wms",
                    correlation_id=trace,
                    critical=po.critical,
                    supersedable=self._versioned(("po", po.po_number, po.version)),
                )
            )

    def _canceled_lines(
        self, work: _Work, known: Entity | None, po: PurchaseOrder
    ) -> tuple[PurchaseOrderLine, ...]:
        """Every line an earlier revision ordered that this one does not.  Cumulative, so
        each revision's writes cancel them all again: a newer revision may then supersede
        an older one's writes without a cancellation being lost with them."""
        held = work.entity("po_canceled", po.po_number)
        canceled = {
            d["line_no"]: PurchaseOrderLine.model_validate(d) for d in (held.data if held else [])
        }
        for line in self._dropped_lines(known, po):
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
        self, known: Entity | None, po: PurchaseOrder
    ) -> tuple[PurchaseOrderLine, ...]:
        """Lines of the previous revision this one no longer orders (all, if canceled)."""
        if known is None:
            return ()
        before = self._stored_po(known)
        if before.canceled:
            return ()
        if po.canceled:
            return before.lines
        kept = {line.line_no for line in po.lines}
        return tuple(line for line in before.lines if line.line_no not in kept)

    def _po_page(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """One page of an extract, read by keyset: the next page starts at the last
        ``LastUpdateDate`` seen (the list is sorted by it), so a PO that changes while
        the extract pages on moves behind the cursor instead of shifting another one
        past it.  The watermark moves only when the extract's last page is handled,
        and only to the source's newest stamp: a page lost on the way is read again."""
        stamps: list[str] = []
        for doc in _field(message.body, "items", "ERP purchase order page"):
            number = doc.get("OrderNumber") if isinstance(doc, dict) else None
            revision = doc.get("RevisionNumber") if isinstance(doc, dict) else None
            stamps.append(_stamp_of(doc, "LastUpdateDate"))
            sub = Inbound(f"erp:po:{number}:r{revision}", Kind.ERP_PO_DOCUMENT, doc)
            self._consume(work, sub, now)
        self._keyset(work, message, stamps, "erp", self._page_request)

    def _page_request(self, updated_since: str, offset: int) -> Request:
        return Request(
            "erp",
            "list_purchase_orders",
            {"updated_since": updated_since, "offset": offset, "limit": self.config.page_size},
            reply_kind=Kind.ERP_PO_PAGE,
        )

    def _repair_drift(self, work: _Work, doc: dict[str, Any], po: PurchaseOrder) -> None:
        """Reconciliation of the ERP's replica of the acknowledgment: when the ERP holds our
        latest 855 revision but a line's confirmed quantity differs from it (a manual edit),
        post the acknowledgment again.  A PO read before our write landed (an older
        AcknowledgmentRevision) is not drift: that write is on its way."""
        if self.config.naive:
            return
        stored = work.entity("ack", po.po_number)
        if stored is None or doc.get("AcknowledgmentRevision") != stored.version:
            return
        ack = Acknowledgment.model_validate(stored.data)
        said = {line.line_no: line.confirmed_quantity for line in ack.lines}
        held = {
            ln.get("LineNumber"): ln.get("SupplierConfirmedQuantity")
            for ln in doc.get("lines", [])
            if isinstance(ln, dict) and ln.get("LineNumber") in said
        }
        canceled = {
            ln.get("LineNumber")
            for ln in doc.get("lines", [])
            if isinstance(ln, dict) and ln.get("LineStatus") == "CANCELED"
        }
        if canceled:
            return  # the buyer changed the PO: the supplier's next 855 will say what holds
        if all(held.get(n) == q for n, q in said.items()):
            return
        trace = traceparent(po.po_number, "855")
        body = erp.acknowledgment_to_erp(ack, trace)
        work.requests.append(
            Request(
                "erp",
                "post_acknowledgment",
                {"order_number": po.po_number},
                body=body,
                idempotency_key=f"855:{po.po_number}:{ack.revision}:repair:"
                f"{doc.get('LastUpdateDate')}",
                correlation_id=trace,
                critical=po.critical,
            )
        )
