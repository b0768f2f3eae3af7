"""The sync engine: sans-IO, one inbound message in, one decision out.

Theory of operation
-------------------
``Engine.handle(message, now, state)`` reads what the core already knows
through ``state`` (a :class:`~sync_core.messages.StateView`) and returns a
:class:`~sync_core.messages.Decision`.  It never reads a clock, draws a random
number, opens a socket or touches a database: ``now`` is an input, ids are
derived from the messages, and the driver persists the decision and carries
out its requests.

Flows (table ``Engine.handlers``, one handler per message kind):

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

Where they live: one module per flow in :mod:`sync_core.flows`, each exporting its
``TABLES`` (handlers by message kind, pulls by source, X12 sets by code); this module
merges them and holds the dispatch (:meth:`Engine.handle`, and ``_dispatch``, which
also runs the gap detection).  No flow imports this module.

=================================  ==========================================
``flows.po``                       ``erp.po_*``: 850s, PO lines, cancellations,
                                   the echo filter, acknowledgment drift repair
``flows.supplier``                 ``supplier.*``: 855, 856, 810, the mailbox,
                                   critical-shortage exceptions
``flows.functional_acks``          997s both ways: ours for the supplier's
                                   groups, theirs tracked per 850,
                                   ``missing_997`` past ``fa_deadline_s``
``flows.receipts``                 ``wms.receipt*``
``flows.invoices``                 ``ap.invoice*``
``flows.masters``                  ``erp.master_*``: items, contract prices
``flows.pulls``                    ``batch.tick`` and ``reconcile.tick``, and
                                   the gap detection on the numbered feeds
``flows.base``                     what they all share: the configuration, the
                                   work under way, the :class:`Flow` context
                                   (version rules, stored-PO cache, requests)
=================================  ==========================================

Guarantees: a message already consumed changes nothing (inbox); a PO revision
or acknowledgment revision at or below the stored one is ignored, so a late or
duplicate message never regresses state; every write carries an idempotency
key derived from the entity and its version; a document that does not map is
dead-lettered on its own without stopping the others in its batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TypeVar

from sync_core.errors import MappingError, SyncCoreError
from sync_core.flows import (
    change_orders,
    functional_acks,
    invoices,
    masters,
    po,
    pulls,
    receipts,
    supplier,
)
from sync_core.flows.base import EngineConfig, Flow, Handler, Pull, SetHandler, Tables, Work
from sync_core.messages import DeadLetter, Decision, Inbound, Kind, PutEntity, StateView

# EngineConfig is defined beside the flows (they read it) and is the engine's API too.
__all__ = ["Engine", "EngineConfig", "UnknownMessageKind"]

_K = TypeVar("_K")
_V = TypeVar("_V")

# Every flow's tables, merged in this order: it is the order in which a batch tick
# pulls the sources (ERP POs, the supplier mailbox, WMS receipts, contract prices,
# AP invoices), and so the order of its requests.
_FLOWS: tuple[Tables, ...] = (
    po.TABLES,
    supplier.TABLES,
    change_orders.TABLES,
    functional_acks.TABLES,
    receipts.TABLES,
    masters.TABLES,
    invoices.TABLES,
    pulls.TABLES,
)


class UnknownMessageKind(SyncCoreError):
    """The engine has no handler for a message kind (a programming error)."""


class Engine:
    """One inbound message in, one :class:`~sync_core.messages.Decision` out."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.handlers: dict[Kind, Handler] = {}
        self.pulls: dict[str, Pull] = {}
        self.sets: dict[str, SetHandler] = {}
        for tables in _FLOWS:
            _merge(self.handlers, tables.handlers)
            _merge(self.pulls, tables.pulls)
            _merge(self.sets, tables.sets)
        self.flow = self._flow()

    def _flow(self) -> Flow:
        """The context every handler gets (a subclass may change its version rules)."""
        return Flow(self.config, self._dispatch, self.pulls, self.sets)

    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        work = Work(state)
        self._dispatch(work, message, now)
        if work.consumed and self.config.functional_acks:
            functional_acks.overdue_997s(self.flow, work, now)
        return Decision(
            message_id=message.message_id,
            consumed=tuple(work.consumed),
            changes=tuple(map(PutEntity, work.puts.values())),
            requests=tuple(work.requests),
            dead_letters=tuple(work.dead),
        )

    def _dispatch(self, work: Work, message: Inbound, now: dt.datetime) -> None:
        """Handle one message (or a document a page carries) unless already consumed;
        a document that does not map is dead-lettered, the rest of the work stands."""
        if work.seen(message.message_id):
            return
        handler = self.handlers.get(message.kind)
        if handler is None:
            raise UnknownMessageKind(f"no handler for message kind {message.kind!r}")
        work.consume(message.message_id)
        feed = self.config.feeds.get(message.kind)
        if feed is not None and not self.config.naive:
            pulls.sequence(self.flow, work, feed, message.body, now)
        try:
            handler(self.flow, work, message, now)
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


def _merge(table: dict[_K, _V], more: Mapping[_K, _V]) -> None:
    """Add one flow's table to the engine's; two flows claiming one key is a bug."""
    for key, value in more.items():
        if key in table:
            raise ValueError(f"two flows handle {key!r}")
        table[key] = value
