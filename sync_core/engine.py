"""The sync engine: sans-IO, one inbound message in, one decision out.

Theory of operation
-------------------
``Engine.handle(message, now, state)`` reads what the core already knows
through ``state`` (a :class:`~sync_core.store.StateView`) and returns a
:class:`~sync_core.messages.Decision`.  It never reads a clock, draws a random
number, opens a socket or touches a database: ``now`` is an input, ids are
derived from the messages, and the driver persists the decision and carries
out its requests.

Flows (table ``_HANDLERS``, one handler per message kind):

============================  ==============================================
``erp.po_changed``            thin event → read the PO back from the ERP
                              (not for the echo of the core's own write)
``erp.po_document``           newer PO revision → an 850 (05 = replace for a
                              change) to the supplier, PO lines to AP
``erp.po_page``               batch extract: each PO as above, then next page
``supplier.edi``              each 855 → ERP acknowledgment + WMS expected
                              receipts; each 856 → WMS ship notice; each 810
                              → AP invoice (a resent invoice number is dropped)
``supplier.mailbox_page``     batch pickup: each document as above, then more
``wms.receipt_created``       thin event → read the receipt back from the WMS
``wms.receipt``               new receipt → ERP receipt (commitment relief)
                              + AP receipt (three-way-match data)
``wms.receipt_page``          batch: each receipt as above, then next page
``ap.invoice_status_changed`` thin event → read the invoice back from AP
``ap.invoice``                newer status → ERP invoice match status
``ap.invoice_page``           batch: AP's change feed, each invoice as above
``erp.master_changed``        thin event → read the contract price (or item)
``erp.master_document``       newer contract price → AP price (reading the
                              item first when its GTIN and unit are unknown)
``erp.master_page``           batch: every contract price, as above
``batch.tick``                pull: changed POs, the supplier mailbox, new
                              receipts, invoices, contract prices (also the
                              hybrid's reconciliation: it catches what events
                              lost)
============================  ==============================================

Guarantees: a message already consumed changes nothing (inbox); a PO revision
or acknowledgment revision at or below the stored one is ignored, so a late or
duplicate message never regresses state; every write carries an idempotency
key derived from the entity and its version; a document that does not map is
dead-lettered on its own without stopping the others in its batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync_core.errors import MappingError, SyncCoreError
from sync_core.mappers import ap, erp, wms, x12
from sync_core.messages import DeadLetter, Decision, Entity, Inbound, Kind, PutEntity, Request
from sync_core.model import Acknowledgment, Invoice, PurchaseOrder, PurchaseOrderLine, ShipNotice
from sync_core.store import StateView

__all__ = ["Engine", "EngineConfig", "UnknownMessageKind", "traceparent"]


_EPOCH_MARK = "1970-01-01T00:00:00.000"
# The webhook feeds whose events are numbered, and what a gap in each makes the core pull.
_FEEDS = {
    Kind.ERP_PO_CHANGED: "erp",
    Kind.ERP_MASTER_CHANGED: "erp",
    Kind.SUPPLIER_EDI: "supplier",
    Kind.WMS_RECEIPT_CREATED: "wms",
    Kind.AP_INVOICE_STATUS_CHANGED: "ap",
}
_CATCH_UP = {"erp": ("erp", "erp_prices"), "supplier": ("supplier",), "wms": ("wms",),
             "ap": ("ap",)}  # fmt: skip
_MAX_GAP = 1000
# ERP changes the core itself makes: their events announce what it posted
_ECHOES = frozenset({"ACKNOWLEDGMENT", "RECEIPT"})


class UnknownMessageKind(SyncCoreError):
    """The engine has no handler for a message kind (a programming error)."""


@dataclass(frozen=True)
class EngineConfig:
    our_edi_id: str
    partners: dict[str, str]  # supplier number -> the supplier's EDI id
    page_size: int = 100
    # The point-to-point baseline (architecture ``api``): act on every message as it
    # comes, remembering nothing to drop duplicates or order revisions by.
    naive: bool = False
    # How long a number missing from a webhook feed may be late before the core pulls
    # that source: links reorder by milliseconds, a retried delivery by minutes.
    gap_grace_s: float = 60.0


def traceparent(po_number: str, span: str) -> str:
    """A W3C ``traceparent`` whose trace id is derived from the PO: stable across restarts."""
    trace = hashlib.sha256(po_number.encode()).hexdigest()[:32]
    span_id = hashlib.sha256(f"{po_number}/{span}".encode()).hexdigest()[:16]
    return f"00-{trace}-{span_id}-01"


@dataclass
class _Work:
    """A decision under construction, with an overlay so later steps see earlier ones."""

    base: StateView
    consumed: list[str] = field(default_factory=list)
    puts: dict[tuple[str, str], Entity] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    def seen(self, message_id: str) -> bool:
        return message_id in self.consumed or self.base.consumed(message_id)

    def entity(self, kind: str, key: str) -> Entity | None:
        return self.puts.get((kind, key)) or self.base.entity(kind, key)

    def put(self, kind: str, key: str, version: int, data: Any) -> None:
        self.puts[(kind, key)] = Entity(kind, key, version, data)


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._edi_partner = {edi: number for number, edi in config.partners.items()}
        self._po_models: dict[str, tuple[Any, PurchaseOrder]] = {}  # see _stored_po
        self._handlers: dict[Kind, Callable[[_Work, Inbound, dt.datetime], None]] = {
            Kind.ERP_PO_CHANGED: self._po_changed,
            Kind.ERP_PO_DOCUMENT: self._po_document,
            Kind.ERP_PO_PAGE: self._po_page,
            Kind.SUPPLIER_EDI: self._supplier_edi,
            Kind.SUPPLIER_MAILBOX_PAGE: self._mailbox_page,
            Kind.BATCH_TICK: self._batch_tick,
            Kind.RECONCILE_TICK: self._batch_tick,
            Kind.WMS_RECEIPT_CREATED: self._receipt_created,
            Kind.WMS_RECEIPT: self._receipt,
            Kind.WMS_RECEIPT_PAGE: self._receipt_page,
            Kind.AP_INVOICE_STATUS_CHANGED: self._invoice_status_changed,
            Kind.AP_INVOICE: self._invoice_status,
            Kind.AP_INVOICE_PAGE: self._invoice_page,
            Kind.ERP_MASTER_CHANGED: self._master_changed,
            Kind.ERP_MASTER_DOCUMENT: self._master_document,
            Kind.ERP_MASTER_PAGE: self._master_page,
        }

    def _stored_po(self, known: Entity) -> PurchaseOrder:
        """The stored PO as a model, validated once per stored document: the cache holds
        the document it was made from and answers only for that very object (a model
        is frozen; a store that decodes anew simply misses)."""
        cached = self._po_models.get(known.key)
        if cached is not None and cached[0] is known.data:
            return cached[1]
        po = PurchaseOrder.model_validate(known.data)
        self._po_models[known.key] = (known.data, po)
        return po

    def _seen(self, known: Entity | None, version: int) -> bool:
        """True when ``version`` was already acted upon (never, in naive mode)."""
        return not self.config.naive and known is not None and known.version >= version

    def _versioned(self, entity: tuple[str, str, int]) -> tuple[str, str, int] | None:
        return None if self.config.naive else entity

    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        work = _Work(state)
        self._consume(work, message, now)
        return Decision(
            message_id=message.message_id,
            consumed=tuple(work.consumed),
            changes=tuple(PutEntity(e) for e in work.puts.values()),
            requests=tuple(work.requests),
            dead_letters=tuple(work.dead),
        )

    def _consume(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        if work.seen(message.message_id):
            return
        handler = self._handlers.get(message.kind)
        if handler is None:
            raise UnknownMessageKind(f"no handler for message kind {message.kind!r}")
        work.consumed.append(message.message_id)
        feed = _FEEDS.get(message.kind)
        if feed is not None and not self.config.naive:
            self._sequence(work, feed, message.body, now)
        try:
            handler(work, message, now)
        except MappingError as e:
            work.dead.append(
                DeadLetter(
                    message.message_id,
                    message.kind,
                    str(e),
                    message.body,
                    correlation_id=message.correlation_id,
                    query=message.query,
                )
            )

    # -- ERP → supplier: PO dispatch --------------------------------------------

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
        if self.config.naive or event.get("ChangeType") not in _ECHOES:
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
        sequence = work.entity("sequence", "isa")
        control = (sequence.version if sequence else 0) + 1
        work.put("sequence", "isa", control, None)
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

    @staticmethod
    def _keyset(
        work: _Work,
        message: Inbound,
        stamps: list[str],
        mark: str,
        request: Callable[[str, int], Request],
    ) -> None:
        """Page on by keyset, or move the watermark ``mark`` at the extract's end."""
        query = message.query or {}
        since = str(query.get("updated_since", _EPOCH_MARK))
        offset = int(query.get("offset", 0))
        stamps = [s or since for s in stamps]
        last = stamps[-1] if stamps else since
        if message.body.get("hasMore") and stamps:
            at_last = sum(1 for s in stamps if s == last)  # rows at the cursor already read
            work.requests.append(request(last, at_last + (offset if last == since else 0)))
            return
        known = work.entity("watermark", mark)
        if known is None or last > str(known.data):
            work.put("watermark", mark, (known.version if known else 0) + 1, last)

    def _page_request(self, updated_since: str, offset: int) -> Request:
        return Request(
            "erp",
            "list_purchase_orders",
            {"updated_since": updated_since, "offset": offset, "limit": self.config.page_size},
            reply_kind=Kind.ERP_PO_PAGE,
        )

    # -- supplier → ERP, WMS: acknowledgments ------------------------------------

    def _supplier_edi(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        envelope, sets = x12.parse_interchange(_field(message.body, "payload", "supplier document"))
        supplier = self._edi_partner.get(envelope.sender_id)
        if supplier is None:
            raise MappingError("X12 interchange", "ISA06", f"unknown sender {envelope.sender_id}")
        for ts in sets:
            if ts.code == "855":
                self._acknowledgment(work, x12.acknowledgments_from_855(ts), now)
            elif ts.code == "856":
                for notice in x12.ship_notices_from_856(ts):
                    self._ship_notice(work, notice)
            elif ts.code == "810":
                self._invoice(work, x12.invoice_from_810(ts, supplier))
            else:
                raise MappingError("X12 interchange", "ST01", f"unsupported set {ts.code}")

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

    # -- ERP masters → AP: contract prices ------------------------------------------

    def _master_changed(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """Contract prices go to AP (its PRICE check); an item is read when a price needs
        its GTIN and unit.  Vendor changes have no replica here: consumed, no effect."""
        event = _field(message.body, "eventType", "ERP business event")
        if event == "ContractPriceChanged":
            supplier = _field(message.body, "SupplierNumber", "ERP business event")
            item = _field(message.body, "ItemNumber", "ERP business event")
            work.requests.append(self._price_request(supplier, item))
        elif event == "ItemChanged":
            work.requests.append(self._item_request(_field(message.body, "ItemNumber", event)))

    def _price_request(self, supplier: str, item: str) -> Request:
        return Request(
            "erp",
            "get_contract_price",
            {"supplier_number": supplier, "item_number": item},
            reply_kind=Kind.ERP_MASTER_DOCUMENT,
        )

    def _item_request(self, item: str) -> Request:
        return Request(
            "erp", "get_item", {"item_number": item}, reply_kind=Kind.ERP_MASTER_DOCUMENT
        )

    def _master_document(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        doc = message.body
        version = _field(doc, "ObjectVersionNumber", "ERP master record")
        item_number = str(_field(doc, "ItemNumber", "ERP master record"))
        if not isinstance(version, int):
            raise MappingError("ERP master record", "ObjectVersionNumber", "expected an integer")
        if "ContractPrice" in doc:
            key = f"{_field(doc, 'SupplierNumber', 'ERP contract price')}:{item_number}"
            known = work.entity("price", key)
            if self._seen(known, version):
                return  # an older or repeated read: never move AP's price back
            work.put("price", key, version, None)
            item = work.entity("item", item_number)
            if item is None:  # the price needs the item's GTIN and unit: read it first
                waiting = work.entity("price_waiting", item_number)
                held = list(waiting.data) if waiting else []
                if not held:
                    work.requests.append(self._item_request(item_number))
                work.put("price_waiting", item_number, (waiting.version if waiting else 0) + 1,
                         [*held, doc])  # fmt: skip
                return
            self._price_to_ap(work, doc, item.data)
            return
        known = work.entity("item", item_number)
        if self._seen(known, version):
            return
        unit = {
            "gtin": _field(doc, "GTIN", "ERP item"),
            "uom": _field(doc, "UOMCode", "ERP item"),
        }
        work.put("item", item_number, version, unit)
        waiting = work.entity("price_waiting", item_number)
        if waiting is not None and waiting.data:
            for price in waiting.data:
                self._price_to_ap(work, price, unit)
            work.put("price_waiting", item_number, waiting.version + 1, [])

    def _price_to_ap(self, work: _Work, doc: dict[str, Any], item: dict[str, str]) -> None:
        supplier, number = doc["SupplierNumber"], doc["ItemNumber"]
        version = doc["ObjectVersionNumber"]
        trace = traceparent(f"price:{supplier}:{number}", str(version))
        work.requests.append(
            Request(
                "ap",
                "upsert_prices",
                {},
                body=ap.prices(doc, item["gtin"], item["uom"], trace),
                idempotency_key=f"price:{supplier}:{number}:{version}:ap",
                correlation_id=trace,
                supersedable=self._versioned(("price", f"{supplier}:{number}", version)),
            )
        )

    def _master_page(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """The batch reads every contract price (the ERP has no change feed for them);
        versions decide what is new."""
        page = message.body
        offset = int((message.query or {}).get("offset", 0))
        items = _field(page, "items", "ERP contract price page")
        for doc in items:
            if not isinstance(doc, dict):
                raise MappingError("ERP contract price page", "items", "expected objects")
            mid = f"erp:price:{doc.get('SupplierNumber')}:{doc.get('ItemNumber')}:"
            mid += str(doc.get("ObjectVersionNumber"))
            self._consume(work, Inbound(mid, Kind.ERP_MASTER_DOCUMENT, doc), now)
        if page.get("hasMore"):
            work.requests.append(self._prices_request(offset + len(items)))

    def _prices_request(self, offset: int) -> Request:
        return Request(
            "erp",
            "list_contract_prices",
            {"offset": offset, "limit": self.config.page_size},
            reply_kind=Kind.ERP_MASTER_PAGE,
        )

    # -- batch ------------------------------------------------------------------

    def _batch_tick(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """Pull everything changed since the newest change already pulled (inclusive:
        a PO read twice is recognised by its revision)."""
        for source in ("erp", "supplier", "wms", "erp_prices", "ap"):
            self._pull(work, source)

    def _pull(self, work: _Work, source: str) -> None:
        """The first page of one source's changes since its watermark."""
        if source == "erp":
            erp_mark = work.entity("watermark", "erp")
            since = str(erp_mark.data) if erp_mark else _EPOCH_MARK
            work.requests.append(self._page_request(since, 0))
        elif source == "supplier":
            mailbox = work.entity("watermark", "supplier_mailbox")
            work.requests.append(self._mailbox_request(mailbox.version if mailbox else 0))
        elif source == "wms":
            receipts = work.entity("watermark", "wms_receipts")
            work.requests.append(self._receipts_request(receipts.version if receipts else 0))
        elif source == "erp_prices":
            work.requests.append(self._prices_request(0))
        else:
            invoices = work.entity("watermark", "ap_invoices")
            work.requests.append(
                self._invoices_request(str(invoices.data) if invoices else _EPOCH_MARK, 0)
            )

    def _sequence(self, work: _Work, feed: str, event: Any, now: dt.datetime) -> None:
        """Gap detection on the webhook feeds.  Each event a subscription gets is numbered
        (``sequence``); numbers skipped are noted with the time they were first missed.
        One that turns up later was only late (links reorder, retries come minutes
        after); one still missing ``gap_grace_s`` later was lost on the way, and the
        core pulls that source's changes since its watermark, instead of waiting for
        a reconciliation an event-only design never runs.  Every numbered event checks
        every feed's overdue numbers, so a gap at the end of one feed's traffic is
        found by another's.  Events without a number (a system that sends none) are
        not checked.  Entities ``feed``/``{name}``: version = highest number seen,
        data = ``{"missing": {number: first missed, s since 1970}}``."""
        number = event.get("sequence") if isinstance(event, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 2**53:
            return  # none, or not a number a JSON reader keeps exactly (nor a store)
        at = (now - _MS_EPOCH).total_seconds()
        known = work.entity("feed", feed)
        high = known.version if known else 0
        missing: dict[str, float] = dict(known.data["missing"]) if known else {}
        found = missing.pop(str(number), None) is not None
        if number > high:
            if number - high > _MAX_GAP:  # a feed started anew, or far behind: pull now
                missing["0"] = at - self.config.gap_grace_s
            else:
                missing.update((str(n), at) for n in range(high + 1, number))
            work.put("feed", feed, number, {"missing": missing})
        elif found:
            work.put("feed", feed, high, {"missing": missing})
        for name, sources in _CATCH_UP.items():
            held = work.entity("feed", name)
            if held is None or not held.data["missing"]:
                continue
            late = held.data["missing"]
            if min(late.values()) > at - self.config.gap_grace_s:
                continue
            still = {n: t for n, t in late.items() if t > at - self.config.gap_grace_s}
            work.put("feed", name, held.version, {"missing": still})
            for source in sources:
                self._pull(work, source)


_MS_EPOCH = dt.datetime(1970, 1, 1)


def _stamp_ms(value: Any, document: str) -> int:
    """An ISO 8601 stamp as milliseconds since 1970: an integer source version."""
    try:
        moment = dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise MappingError(
            document, "last_update_date", f"not an ISO 8601 stamp: {value!r}"
        ) from None
    return (moment - _MS_EPOCH) // dt.timedelta(milliseconds=1)


def _stamp_of(doc: Any, name: str) -> str:
    stamp = doc.get(name) if isinstance(doc, dict) else None
    return stamp if isinstance(stamp, str) else ""


def _field(body: Any, name: str, document: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise MappingError(document, name, "missing")
    return body[name]
