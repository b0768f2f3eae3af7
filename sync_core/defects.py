"""Named middleware defects, injected into the built-in core to prove the checkers.

Theory of operation: a :class:`Defects` value says which defects a run's core has;
``supplysync selftest`` runs a short scenario once with one of them and once with
none, and the checkers must tell the two apart.  Each defect is a real change of
the core's behaviour — what it sends, remembers or re-delivers — never a fake
history, so the checkers judge it exactly as they judge any middleware.

The engine's defects live in :class:`DefectiveEngine`, a subclass that wraps
entries of the engine's tables (the PO document and receipt handlers, the 855
set) so each runs the correct flow and then damages what it decided (drop, copy
or alter a request), forgets what was consumed, and ignores versions through a
:class:`~sync_core.flows.base.Flow` with other version rules.  The core is built
from it only when a defect is set, so the correct engine carries no hook at all.
The driver's defects (writes without an ``Idempotency-Key``, no retries, the
outbox lost in a crash) are applied where the driver is built, from the same
value.  Sans-IO, like the engine: no clock, no randomness, no I/O.

Every defect records what it touched, as the W3C trace ids of the POs (or
prices) whose writes it changed (:func:`trace_id`), so the selftest can check
that a violation names an entity the defect really touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from sync_core.engine import Engine, EngineConfig
from sync_core.flows.base import Flow, Handler, SetHandler, Work, traceparent
from sync_core.messages import Decision, Entity, Inbound, Kind, Request, StateView

__all__ = ["DefectiveEngine", "Defects", "request_trace", "trace_id"]

_Step = TypeVar("_Step", Handler, SetHandler)


@dataclass(frozen=True)
class Defects:
    """Which defects the core has (all off by default: the correct core)."""

    drop_every_nth_ack: int = 0  # every Nth 855 is consumed and forwarded to nobody
    no_idempotency_keys: bool = False  # writes go out without an Idempotency-Key
    no_inbox_dedupe: bool = False  # a message or document seen before is handled again
    apply_out_of_order: bool = False  # an older version is applied after a newer one
    ap_price_factor: float = 1.0  # the unit price of PO lines sent to AP, times this
    receipt_posted_twice: bool = False  # each receipt goes to ERP and AP twice
    stop_retrying: bool = False  # a write that fails once (an outage) is dead-lettered
    lose_outbox_on_crash: bool = False  # a restart forgets the writes not yet delivered
    skip_wms_expected_receipt: bool = False  # an 855 never becomes WMS expected receipts

    def __post_init__(self) -> None:
        if self.drop_every_nth_ack < 0:
            raise ValueError(f"drop_every_nth_ack must be >= 0, not {self.drop_every_nth_ack}")
        if not self.ap_price_factor > 0:
            raise ValueError(f"ap_price_factor must be > 0, not {self.ap_price_factor}")

    @property
    def engine(self) -> bool:
        """True when a defect lives in the engine (else only in the driver, or none)."""
        return bool(
            self.drop_every_nth_ack
            or self.no_inbox_dedupe
            or self.apply_out_of_order
            or self.ap_price_factor != 1.0
            or self.receipt_posted_twice
            or self.skip_wms_expected_receipt
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The defects set, by field name."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) != f.default)


def trace_id(key: str) -> str:
    """The trace id of every request about ``key`` (a PO number, or ``price:{vendor}:{item}``)."""
    return traceparent(key, "").split("-")[1]


def request_trace(request: Request) -> str | None:
    """The trace id of a request's ``traceparent`` (its correlation id), if it has one."""
    parts = (request.correlation_id or "").split("-")
    return parts[1] if len(parts) == 4 else None


class _Forgetful:
    """A state view with no inbox: every message looks new."""

    def __init__(self, state: StateView) -> None:
        self._state = state

    def consumed(self, message_id: str) -> bool:
        return False

    def entity(self, kind: str, key: str) -> Entity | None:
        return self._state.entity(kind, key)


class DefectiveEngine(Engine):
    """The engine with ``defects``: each wrapped step runs the correct flow, then breaks it."""

    def __init__(self, config: EngineConfig, defects: Defects) -> None:
        self.defects = defects
        self.touched: set[str] = set()  # trace ids of what the defects changed
        self._acks = 0
        self.again = False  # this decision handles a document a second time
        super().__init__(config)
        self.sets["855"] = self._damaged(self.sets["855"], self._acknowledgment)
        self.handlers[Kind.ERP_PO_DOCUMENT] = self._damaged(
            self.handlers[Kind.ERP_PO_DOCUMENT], self._po_lines
        )
        self.handlers[Kind.WMS_RECEIPT] = self._damaged(
            self.handlers[Kind.WMS_RECEIPT], self._receipt
        )

    def _flow(self) -> Flow:
        return _DefectiveFlow(self, self.config, self._dispatch, self.pulls, self.sets)

    @staticmethod
    def _damaged(step: _Step, damage: Callable[[Work, int], None]) -> _Step:
        """``step`` (a handler or a set handler), then ``damage`` to what it requested."""

        def damaged(flow: Flow, work: Work, *args: Any) -> None:
            before = len(work.requests)
            step(flow, work, *args)
            damage(work, before)

        return damaged

    # -- the inbox -------------------------------------------------------------------

    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        if not self.defects.no_inbox_dedupe:
            return super().handle(message, now, state)
        self.again = state.consumed(message.message_id)
        decision = super().handle(message, now, _Forgetful(state))
        # What a core without an inbox does: it keys each write by the delivery that
        # caused it, so a document handled twice is written twice under two keys.
        requests = tuple(
            replace(r, idempotency_key=f"{r.idempotency_key}@{message.message_id}")
            if r.idempotency_key is not None
            else r
            for r in decision.requests
        )
        if self.again:
            self.touched.update(t for r in requests if (t := request_trace(r)) is not None)
        return replace(
            decision,
            consumed=tuple(m for m in decision.consumed if not state.consumed(m)),
            requests=requests,
        )

    # -- supplier → ERP, WMS ---------------------------------------------------------

    def _acknowledgment(self, work: Work, before: int) -> None:
        if len(work.requests) == before:
            return  # a duplicate or a late revision: nothing was sent anyway
        po_number = work.requests[before].params["order_number"]
        nth = self.defects.drop_every_nth_ack
        if nth:
            self._acks += 1
            if self._acks % nth == 0:
                del work.requests[before:]
                self.touched.add(trace_id(po_number))
                return
        if self.defects.skip_wms_expected_receipt:
            work.requests[before:] = [
                r for r in work.requests[before:] if r.operation != "upsert_expected_receipts"
            ]
            self.touched.add(trace_id(po_number))

    # -- ERP → AP --------------------------------------------------------------------

    def _po_lines(self, work: Work, before: int) -> None:
        factor = self.defects.ap_price_factor
        if factor == 1.0:
            return
        for i in range(before, len(work.requests)):
            r = work.requests[i]
            if r.operation == "upsert_po_lines":
                work.requests[i] = replace(r, body=_priced(r.body, factor))
                if (t := request_trace(r)) is not None:
                    self.touched.add(t)

    # -- WMS → ERP, AP ---------------------------------------------------------------

    def _receipt(self, work: Work, before: int) -> None:
        if not self.defects.receipt_posted_twice:
            return
        for r in work.requests[before:]:
            if r.operation == "post_receipt":
                work.requests.append(replace(r, idempotency_key=f"{r.idempotency_key}:again"))
                if (t := request_trace(r)) is not None:
                    self.touched.add(t)


class _DefectiveFlow(Flow):
    """The version rules of a core without an inbox, or one that ignores order."""

    def __init__(self, engine: DefectiveEngine, *args: Any) -> None:
        super().__init__(*args)
        self.engine = engine

    def seen(self, known: Entity | None, version: int) -> bool:
        defects = self.engine.defects
        if known is None or not (defects.no_inbox_dedupe or defects.apply_out_of_order):
            return super().seen(known, version)
        if defects.no_inbox_dedupe and known.version == version:
            self.engine.again = True
            return False  # the same document again: handled again
        if defects.apply_out_of_order and known.version > version:
            self.engine.touched.add(
                trace_id(f"price:{known.key}" if known.kind == "price" else known.key)
            )
            return False  # an older version: applied anyway
        return super().seen(known, version)

    def versioned(self, entity: tuple[str, str, int]) -> tuple[str, str, int] | None:
        if self.engine.defects.apply_out_of_order:
            kind, key, _ = entity
            self.engine.touched.add(trace_id(f"price:{key}" if kind == "price" else key))
            return None  # nothing superseded: an older retry may land after a newer write
        return super().versioned(entity)


def _priced(body: dict[str, Any], factor: float) -> dict[str, Any]:
    lines = [
        {**line, "unit_price": round(line["unit_price"] * factor, 2)} for line in body["po_lines"]
    ]
    return {**body, "po_lines": lines}
