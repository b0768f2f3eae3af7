"""The driver's telemetry hooks: lag and dead letters for the metrics, spans for traces.

Theory of operation
-------------------
:class:`~sync_core.drivers.asyncio.LiveDriver` calls these hooks at the points where a
message arrives, is decided, a request is sent and answered, an outbox row is
finished or given up.  :class:`NoTelemetry` (the driver's default) does nothing;
:class:`Telemetry` feeds :class:`~sync_core.metrics.CoreMetrics` and, when given,
:class:`~sync_core.tracing.Tracing`.

The lag stamp of a chain (:mod:`sync_core.metrics`): ``arrived`` keeps the
monotonic arrival time of a message by its id; ``decided`` hands it to every
outbox row of the decision; a finished read hands it on to its reply
(``reply:{outbox id}``, the id the driver gives the reply); a finished write
observes the lag.  Every stamp is popped when used, and the tables are bounded
(a stamp lost to a failed commit is simply not observed).

Spans: a webhook's arrival and its engine decision are recorded once decided,
as children of the decision's first request's ``traceparent`` (the PO's trace);
the webhook's span is the child of the sender's ``traceparent`` when that is in the
same trace, else linked to it; each outbound request is a client span, child of its
own ``traceparent``.
"""

from __future__ import annotations

import time
from typing import Any

from sync_core.messages import Inbound, Request, Response
from sync_core.metrics import CoreMetrics, flow_of
from sync_core.store import OutboxItem
from sync_core.tracing import Tracing

__all__ = ["NoTelemetry", "Telemetry"]

_MAX_STAMPS = 100_000  # beyond this, forget the oldest half (they were lost upstream)


class NoTelemetry:
    """Hooks that do nothing (no metrics, no traces)."""

    def arrived(self, message: Inbound, now: float, traceparent: str | None = None) -> None:
        pass

    def decided(self, message: Inbound, outcome: str, items: list[OutboxItem]) -> None:
        pass

    def dead_lettered(self, reason: str) -> None:
        pass

    def sending(self, request: Request) -> int:
        return 0

    def answered(self, request: Request, response: Response, started_ns: int) -> None:
        pass

    def finished(self, item: OutboxItem, now: float) -> None:
        pass

    def dropped(self, item: OutboxItem) -> None:
        pass


def _bounded(table: dict[Any, Any]) -> None:
    if len(table) > _MAX_STAMPS:
        for key in list(table)[: _MAX_STAMPS // 2]:
            del table[key]


class Telemetry(NoTelemetry):
    """Metrics, and spans when ``tracing`` is given (module docstring)."""

    def __init__(self, metrics: CoreMetrics, tracing: Tracing | None = None) -> None:
        self.metrics = metrics
        self.tracing = tracing
        self._arrived: dict[str, tuple[float, int, str | None]] = {}  # id -> mono, ns, tp
        self._stamps: dict[int, float] = {}  # outbox id -> arrival of its chain

    def arrived(self, message: Inbound, now: float, traceparent: str | None = None) -> None:
        wall_ns = time.time_ns() if self.tracing is not None else 0
        self._arrived[message.message_id] = (now, wall_ns, traceparent)
        _bounded(self._arrived)

    def decided(self, message: Inbound, outcome: str, items: list[OutboxItem]) -> None:
        arrival = self._arrived.pop(message.message_id, None)
        if arrival is None:
            return
        stamp, wall_ns, sent_tp = arrival
        for item in items:
            self._stamps[item.outbox_id] = stamp
        _bounded(self._stamps)
        if self.tracing is None:
            return
        parent = next((i.request.correlation_id for i in items if i.request.correlation_id),
                      message.correlation_id or sent_tp)  # fmt: skip
        now_ns = time.time_ns()
        attributes = {"supplysync.message_id": message.message_id,
                      "supplysync.kind": str(message.kind), "supplysync.outcome": outcome,
                      "supplysync.requests": len(items)}  # fmt: skip
        # the sender's span is the webhook's parent when it is in the same trace (the
        # sender knew the PO), else a link: it is where the change came from
        same = bool(sent_tp and parent and sent_tp.split("-")[1:2] == parent.split("-")[1:2])
        links = [sent_tp] if sent_tp and not same else []
        received = "webhook" if wall_ns and not message.message_id.startswith("reply:") else None
        if received:
            self.tracing.record(f"core webhook {message.kind}",
                                parent=sent_tp if same else parent, kind="server",
                                start_ns=wall_ns, end_ns=now_ns, attributes=attributes,
                                links=links)  # fmt: skip
        self.tracing.record(f"core decide {message.kind}", parent=parent, kind="internal",
                            start_ns=wall_ns or now_ns, end_ns=now_ns,
                            attributes=attributes)  # fmt: skip

    def dead_lettered(self, reason: str) -> None:
        self.metrics.dead_lettered(reason)

    def sending(self, request: Request) -> int:
        return time.time_ns() if self.tracing is not None else 0

    def answered(self, request: Request, response: Response, started_ns: int) -> None:
        if self.tracing is None:
            return
        attributes = {"supplysync.target": request.target,
                      "supplysync.operation": request.operation,
                      "http.response.status_code": response.status}  # fmt: skip
        if request.idempotency_key is not None:
            attributes["supplysync.idempotency_key"] = request.idempotency_key
        self.tracing.record(f"core {request.target} {request.operation}",
                            parent=request.correlation_id, kind="client", start_ns=started_ns,
                            end_ns=time.time_ns(), attributes=attributes)  # fmt: skip

    def finished(self, item: OutboxItem, now: float) -> None:
        stamp = self._stamps.pop(item.outbox_id, None)
        if stamp is None:
            return
        if item.request.reply_kind is not None:  # a read: its reply carries the chain on
            self._arrived[f"reply:{item.outbox_id}"] = (stamp, time.time_ns(), None)
        elif flow_of(item.request) is not None:
            self.metrics.observe_lag(item.request, now - stamp)

    def dropped(self, item: OutboxItem) -> None:
        self._stamps.pop(item.outbox_id, None)
