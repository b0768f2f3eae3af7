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

=======================  ==================================================
``erp.po_changed``       thin event → read the PO back from the ERP
``erp.po_document``      newer PO revision → remember it, send an 850
``erp.po_page``          batch extract: each PO as above, then the next page
``supplier.edi``         each 855 → ERP acknowledgment + WMS expected receipts
``supplier.mailbox_page`` batch pickup: each document as above, then more
``batch.tick``           pull: a page of changed POs and the supplier mailbox
=======================  ==================================================

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
from sync_core.mappers import erp, wms, x12
from sync_core.messages import DeadLetter, Decision, Entity, Inbound, Kind, PutEntity, Request
from sync_core.model import Acknowledgment, PurchaseOrder
from sync_core.store import StateView

__all__ = ["Engine", "EngineConfig", "UnknownMessageKind", "traceparent"]


_EPOCH_MARK = "1970-01-01T00:00:00.000"


class UnknownMessageKind(SyncCoreError):
    """The engine has no handler for a message kind (a programming error)."""


@dataclass(frozen=True)
class EngineConfig:
    our_edi_id: str
    partners: dict[str, str]  # supplier number -> the supplier's EDI id
    page_size: int = 100


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
        self._handlers: dict[Kind, Callable[[_Work, Inbound, dt.datetime], None]] = {
            Kind.ERP_PO_CHANGED: self._po_changed,
            Kind.ERP_PO_DOCUMENT: self._po_document,
            Kind.ERP_PO_PAGE: self._po_page,
            Kind.SUPPLIER_EDI: self._supplier_edi,
            Kind.SUPPLIER_MAILBOX_PAGE: self._mailbox_page,
            Kind.BATCH_TICK: self._batch_tick,
        }

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
        try:
            handler(work, message, now)
        except MappingError as e:
            work.dead.append(DeadLetter(message.message_id, message.kind, str(e), message.body))

    # -- ERP → supplier: PO dispatch --------------------------------------------

    def _po_changed(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        number = _field(message.body, "OrderNumber", "ERP business event")
        work.requests.append(
            Request(
                "erp",
                "get_purchase_order",
                {"order_number": number},
                correlation_id=traceparent(number, "read"),
                reply_kind=Kind.ERP_PO_DOCUMENT,
            )
        )

    def _po_document(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        po = erp.purchase_order_from_erp(message.body)
        known = work.entity("po", po.po_number)
        if known is not None and known.version >= po.version:
            return  # the same or an older revision: already dispatched
        edi_id = self.config.partners.get(po.supplier_id)
        if edi_id is None:
            raise MappingError(
                "ERP purchase order", "SupplierNumber", f"no EDI trading partner {po.supplier_id}"
            )
        sequence = work.entity("sequence", "isa")
        control = (sequence.version if sequence else 0) + 1
        work.put("sequence", "isa", control, None)
        work.put("po", po.po_number, po.version, po.model_dump(mode="json"))
        work.requests.append(
            Request(
                "supplier",
                "post_edi",
                {"supplier": edi_id},
                body=x12.write_850(
                    po, sender=self.config.our_edi_id, receiver=edi_id, control=control, now=now
                ),
                idempotency_key=f"850:{po.po_number}:{po.version}",
                correlation_id=traceparent(po.po_number, f"850/{po.version}"),
                critical=po.critical,
            )
        )

    def _po_page(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """One page of an extract, read by keyset: the next page starts at the last
        ``LastUpdateDate`` seen (the list is sorted by it), so a PO that changes while
        the extract pages on moves behind the cursor instead of shifting another one
        past it.  The watermark moves only when the extract's last page is handled,
        and only to the source's newest stamp: a page lost on the way is read again."""
        page = message.body
        query = message.query or {}
        since = str(query.get("updated_since", _EPOCH_MARK))
        offset = int(query.get("offset", 0))
        stamps: list[str] = []
        for doc in _field(page, "items", "ERP purchase order page"):
            number = doc.get("OrderNumber") if isinstance(doc, dict) else None
            revision = doc.get("RevisionNumber") if isinstance(doc, dict) else None
            stamp = doc.get("LastUpdateDate") if isinstance(doc, dict) else None
            stamps.append(stamp if isinstance(stamp, str) else since)
            sub = Inbound(f"erp:po:{number}:r{revision}", Kind.ERP_PO_DOCUMENT, doc)
            self._consume(work, sub, now)
        last = stamps[-1] if stamps else since
        if page.get("hasMore") and stamps:
            at_last = sum(1 for s in stamps if s == last)  # rows at the cursor already read
            work.requests.append(
                self._page_request(last, at_last + (offset if last == since else 0))
            )
            return
        mark = work.entity("watermark", "erp")
        if mark is None or last > str(mark.data):
            work.put("watermark", "erp", (mark.version if mark else 0) + 1, last)

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
        if envelope.sender_id not in self._edi_partner:
            raise MappingError("X12 interchange", "ISA06", f"unknown sender {envelope.sender_id}")
        for ts in sets:
            self._acknowledgment(work, x12.acknowledgments_from_855(ts))

    def _acknowledgment(self, work: _Work, ack: Acknowledgment) -> None:
        known_po = work.entity("po", ack.po_number)
        if known_po is None:
            raise MappingError("X12 855", "BAK03", f"PO {ack.po_number} was never dispatched")
        known = work.entity("ack", ack.po_number)
        if known is not None and known.version >= ack.revision:
            return  # duplicate or late revision: never regress
        po = PurchaseOrder.model_validate(known_po.data)
        erp_body = erp.acknowledgment_to_erp(ack, traceparent(po.po_number, "855"))
        wms_body = wms.expected_receipts(po, ack, traceparent(po.po_number, "855"))
        work.put("ack", ack.po_number, ack.revision, ack.model_dump(mode="json"))
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

    # -- batch ------------------------------------------------------------------

    def _batch_tick(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """Pull everything changed since the newest change already pulled (inclusive:
        a PO read twice is recognised by its revision)."""
        erp_mark = work.entity("watermark", "erp")
        since = str(erp_mark.data) if erp_mark else _EPOCH_MARK
        work.requests.append(self._page_request(since, 0))
        mailbox = work.entity("watermark", "supplier_mailbox")
        work.requests.append(self._mailbox_request(mailbox.version if mailbox else 0))


def _field(body: Any, name: str, document: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise MappingError(document, name, "missing")
    return body[name]
