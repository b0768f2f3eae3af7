"""The sync engine: sans-IO, one inbound message in, one decision out.

Theory of operation
-------------------
``Engine.handle(message, now, state)`` reads what the core already knows
through ``state`` (a :class:`~sync_core.store.StateView`) and returns a
:class:`~sync_core.messages.Decision`.  It never reads a clock, draws a random
number, opens a socket or touches a database: ``now`` is an input, ids are
derived from the messages, and the driver persists the decision and carries
out its requests.

Flows (table ``Engine._handlers``, one handler per message kind):

============================  ==============================================
``erp.po_changed``            thin event → read the PO back from the ERP
                              (not for the echo of the core's own write)
``erp.po_document``           newer PO revision → an 850 (05 = replace for a
                              change) to the supplier, PO lines to AP
``erp.po_page``               batch extract: each PO as above, then next page
``supplier.edi``              each 855 → ERP acknowledgment + WMS expected
                              receipts; each 856 → WMS ship notice; each 810
                              → AP invoice (a resent invoice number is dropped);
                              a 997 for each group; each 997 → the 850's
                              functional ack (a rejection is dead-lettered)
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

Where they live: :class:`Engine` (here) holds the table and the dispatch
(``handle``, and ``_consume``, which also runs the gap detection); it inherits
one mixin class per flow, each in a private module of its own:

=============================  ============================================
``_engine_po``                 ``erp.po_*``: 850s, PO lines, cancellations,
                               the echo filter, acknowledgment drift repair
``_engine_supplier``           ``supplier.*``: 855, 856, 810, the mailbox,
                               critical-shortage exceptions
``_engine_fa``                 997s both ways: ours for the supplier's groups,
                               theirs tracked per 850, ``missing_997``
                               exceptions past ``fa_deadline_s``
``_engine_receipts_invoices``  ``wms.receipt*`` and ``ap.invoice*``
``_engine_masters``            ``erp.master_*``: items, contract prices
``_engine_pulls``              ``batch.tick`` and ``reconcile.tick``, and the
                               gap detection on the numbered webhook feeds
``_engine_flow``               what they all share: the configuration, the
                               stored-PO cache, version checks, keyset paging
=============================  ============================================

Guarantees: a message already consumed changes nothing (inbox); a PO revision
or acknowledgment revision at or below the stored one is ignored, so a late or
duplicate message never regresses state; every write carries an idempotency
key derived from the entity and its version; a document that does not map is
dead-lettered on its own without stopping the others in its batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync_core._engine_fa import _FunctionalAcks

# Defined in the flows' modules, importable from here as before the split.
from sync_core._engine_flow import _EPOCH_MARK as _EPOCH_MARK
from sync_core._engine_flow import _MS_EPOCH as _MS_EPOCH
from sync_core._engine_flow import _field as _field
from sync_core._engine_flow import _stamp_ms as _stamp_ms
from sync_core._engine_flow import _stamp_of as _stamp_of
from sync_core._engine_flow import traceparent
from sync_core._engine_masters import _Masters
from sync_core._engine_po import OWN_CHANGES as OWN_CHANGES
from sync_core._engine_po import _PoDispatch
from sync_core._engine_pulls import _CATCH_UP as _CATCH_UP
from sync_core._engine_pulls import _MAX_GAP as _MAX_GAP
from sync_core._engine_pulls import _Pulls
from sync_core._engine_receipts_invoices import _ReceiptsInvoices
from sync_core._engine_supplier import _SupplierDocuments
from sync_core.errors import MappingError, SyncCoreError
from sync_core.messages import DeadLetter, Decision, Entity, Inbound, Kind, PutEntity, Request
from sync_core.model import PurchaseOrder
from sync_core.store import StateView

__all__ = ["OWN_CHANGES", "Engine", "EngineConfig", "UnknownMessageKind", "traceparent"]


# The webhook feeds whose events are numbered (what a gap in each makes the core pull:
# ``_engine_pulls._CATCH_UP``).  ``Engine._consume`` reads it here at call time.
_FEEDS = {
    Kind.ERP_PO_CHANGED: "erp",
    Kind.ERP_MASTER_CHANGED: "erp",
    Kind.SUPPLIER_EDI: "supplier",
    Kind.WMS_RECEIPT_CREATED: "wms",
    Kind.AP_INVOICE_STATUS_CHANGED: "ap",
}


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
    # Functional acknowledgments (997) with the partners: answer each group of theirs,
    # track ours.  Off by default (a core set up before 997s behaves as it did).
    functional_acks: bool = False
    # How long an 850 may wait for the partner's 997 before it is an exception of its
    # own ("missing_997"); partners expect one within hours.
    fa_deadline_s: float = 4 * 3600.0


@dataclass
class _Work:
    """A decision under construction, with an overlay so later steps see earlier ones."""

    base: StateView
    consumed: list[str] = field(default_factory=list)  # in order, for the decision
    _consumed: set[str] = field(default_factory=set)  # the same, to look up: a page may
    # carry thousands of documents, and a list searched for each is N²
    puts: dict[tuple[str, str], Entity] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    def seen(self, message_id: str) -> bool:
        return message_id in self._consumed or self.base.consumed(message_id)

    def consume(self, message_id: str) -> None:
        self.consumed.append(message_id)
        self._consumed.add(message_id)

    def entity(self, kind: str, key: str) -> Entity | None:
        return self.puts.get((kind, key)) or self.base.entity(kind, key)

    def put(self, kind: str, key: str, version: int, data: Any) -> None:
        self.puts[(kind, key)] = Entity(kind, key, version, data)


class Engine(_PoDispatch, _SupplierDocuments, _FunctionalAcks, _ReceiptsInvoices, _Masters, _Pulls):
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

    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        work = _Work(state)
        self._consume(work, message, now)
        if work.consumed and self.config.functional_acks:
            self._overdue_997s(work, now)
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
        work.consume(message.message_id)
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
