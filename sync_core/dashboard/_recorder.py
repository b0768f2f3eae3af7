"""What the dashboard shows of the last minutes: a small in-memory ring, fed by the driver.

Theory of operation
-------------------
:class:`~sync_core.drivers.asyncio.LiveDriver` calls a few cheap hooks (a dict or deque operation
each, on the event loop; nothing here touches the store or reads a clock — every time
is an argument, seconds on the driver's monotonic clock):

* :meth:`Recorder.arrived` — a message reached the core (a webhook was submitted):
  the moment the core *learned* of a change.
* :meth:`Recorder.decided` — its decision was committed with these outbox rows: each
  row inherits the time its message arrived (a read's reply inherits the time of the
  message that made the core read, so a thin event → read → write chain is measured
  from the event).
* :meth:`Recorder.result` / :meth:`Recorder.retry` — a target answered (or did not);
  a row waits for another attempt.
* :meth:`Recorder.finished` — a row's write succeeded: one **lag observation**, the
  time from when the core learned of the change to its successful write to the
  replica, per flow and priority (lane).  Reads are not observations (they hand their
  origin on to the reply).  Rows re-delivered after a restart have no origin and are
  not observed.
* :meth:`Recorder.gave_up` — a row was dead-lettered.

This is the core's own view (from "the core learned" to "the replica accepted the
write"), not the judged sync lag (from the owner's change to the replica reflecting
it, read from the systems' histories): it leaves out how late the owner's webhook
reached the core, so it is a lower bound, meant for watching a running system.

Each PO (keyed by the trace id of its ``traceparent``) keeps a short timeline of the
messages and writes that carried its id, and the first time each procurement stage
was written (sent → acknowledged → shipped → received → invoiced → matched), from which
the cycle time per stage is measured.  Everything is bounded: ``lag_max`` observations
no older than ``keep_s``, ``traces_max`` POs (oldest dropped first), ``events_max``
events per PO.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from sync_core.messages import Inbound, Request, Response
from sync_core.metrics import FLOWS, WRITES
from sync_core.store import OutboxItem

__all__ = ["STAGES", "LagSample", "Recorder", "TargetHealth", "flow_of", "trace_of"]

# the write that marks each procurement stage, as the core carries it
_STAGE_OF = {write: stage for write, (_, stage) in WRITES.items() if stage is not None}
STAGES = ("learned", "sent", "acknowledged", "shipped", "received", "invoiced", "matched")
_TRACE = re.compile(r"^(?:00-)?([0-9a-f]{32})(?:-|$)")


def flow_of(request: Request) -> str:
    # the flow each write carries: the metrics' table (the judge's flow names)
    return FLOWS.get((request.target, request.operation), f"{request.target}.{request.operation}")


def trace_of(correlation_id: str | None) -> str | None:
    """The trace id of a ``traceparent`` (or of a bare 32-hex trace id), else None."""
    if not correlation_id:
        return None
    m = _TRACE.match(correlation_id)
    return m.group(1) if m else None


@dataclass(frozen=True)
class LagSample:
    at: float  # when the write succeeded (driver clock)
    flow: str
    lane: str  # critical | routine
    lag_s: float
    trace: str | None


@dataclass
class TargetHealth:
    """What one target system's answers looked like (since the core started)."""

    successes: int = 0
    errors: int = 0  # retriable failures: no answer, 408, 429, 5xx
    rejected: int = 0  # permanent 4xx
    retries: int = 0
    given_up: int = 0
    last_success: float | None = None
    last_error: float | None = None
    last_error_detail: str | None = None
    recent: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=2000))


@dataclass
class _Trace:
    po_number: str | None = None
    site: str | None = None
    stages: dict[str, float] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))


class Recorder:
    """The ring the dashboard reads (module docstring); hooks are O(1) each."""

    def __init__(
        self,
        *,
        keep_s: float = 600.0,
        lag_max: int = 20_000,
        traces_max: int = 5_000,
        events_max: int = 200,
    ) -> None:
        self.keep_s = keep_s
        self.lag: deque[LagSample] = deque(maxlen=lag_max)
        self.targets: dict[str, TargetHealth] = {}
        self.traces: OrderedDict[str, _Trace] = OrderedDict()
        self._traces_max = traces_max
        self._events_max = events_max
        self._arrived: OrderedDict[str, float] = OrderedDict()
        self._origin: dict[int, float] = {}  # outbox id → when the core learned of it

    # -- hooks (called by the driver) -------------------------------------------------

    def arrived(self, message: Inbound, now: float) -> None:
        self._arrived[message.message_id] = now
        if len(self._arrived) > 10_000:  # a message whose commit failed is sent again
            self._arrived.popitem(last=False)
        self._event(message.correlation_id, now, "in", str(message.kind), message.message_id)

    def decided(self, message: Inbound, rows: list[OutboxItem], now: float) -> None:
        mid = message.message_id
        learned = self._arrived.pop(mid, None)
        if learned is None and mid.startswith("reply:"):
            learned = self._origin.pop(int(mid[6:]), None) if mid[6:].isdigit() else None
        if learned is None:
            learned = now  # a tick, a replay: the core learned of it now
        for row in rows:
            self._origin[row.outbox_id] = learned
            r = row.request
            trace = self._event(
                r.correlation_id,
                now,
                "queued",
                f"{r.target}.{r.operation}",
                f"outbox {row.outbox_id}",
                lane=_lane(r),
            )
            if trace is not None:
                trace.stages.setdefault("learned", learned)
                number = r.params.get("order_number") if isinstance(r.params, dict) else None
                if isinstance(number, str) and trace.po_number is None:
                    trace.po_number = number

    def result(self, request: Request, response: Response, now: float) -> None:
        health = self.targets.setdefault(request.target, TargetHealth())
        if response.ok:
            health.successes += 1
            health.last_success = now
            health.recent.append((now, "ok"))
            return
        retriable = response.status in (0, 408, 425, 429) or response.status >= 500
        if retriable:
            health.errors += 1
            health.recent.append((now, "error"))
        else:
            health.rejected += 1
            health.recent.append((now, "rejected"))
        health.last_error = now
        health.last_error_detail = f"{request.operation}: HTTP {response.status or 'no answer'}"
        self._event(
            request.correlation_id,
            now,
            "failed",
            f"{request.target}.{request.operation}",
            f"HTTP {response.status or 'no answer'}",
        )

    def retry(self, request: Request, now: float) -> None:
        health = self.targets.setdefault(request.target, TargetHealth())
        health.retries += 1
        health.recent.append((now, "retry"))

    def finished(self, item: OutboxItem, now: float) -> None:
        r = item.request
        if r.reply_kind is not None:  # a read: its reply inherits the origin (decided)
            self._event(r.correlation_id, now, "read", f"{r.target}.{r.operation}", "")
            return
        learned = self._origin.pop(item.outbox_id, None)
        trace = self._event(
            r.correlation_id,
            now,
            "written",
            f"{r.target}.{r.operation}",
            f"outbox {item.outbox_id}",
            lane=_lane(r),
        )
        if trace is not None and (stage := _STAGE_OF.get((r.target, r.operation))):
            trace.stages.setdefault(stage, now)
        if learned is None:
            return
        sample = LagSample(
            now, flow_of(r), _lane(r), max(0.0, now - learned), trace_of(r.correlation_id)
        )
        self.lag.append(sample)

    def gave_up(self, item: OutboxItem, reason: str, now: float) -> None:
        r = item.request
        self._origin.pop(item.outbox_id, None)
        self.targets.setdefault(r.target, TargetHealth()).given_up += 1
        self._event(r.correlation_id, now, "dead_letter", f"{r.target}.{r.operation}", reason)

    # -- reads (the dashboard's feeds) --------------------------------------------------

    def recent_lag(self, now: float) -> list[LagSample]:
        cutoff = now - self.keep_s
        while self.lag and self.lag[0].at < cutoff:
            self.lag.popleft()
        return list(self.lag)

    def trace(self, trace_id: str) -> _Trace | None:
        return self.traces.get(trace_id)

    def find_po(self, po_number: str) -> str | None:
        for tid, t in self.traces.items():
            if t.po_number == po_number:
                return tid
        return None

    # -- internals --------------------------------------------------------------------

    def _event(
        self,
        correlation_id: str | None,
        at: float,
        what: str,
        where: str,
        detail: str,
        lane: str | None = None,
    ) -> _Trace | None:
        tid = trace_of(correlation_id)
        if tid is None:
            return None
        trace = self.traces.get(tid)
        if trace is None:
            trace = self.traces[tid] = _Trace(events=deque(maxlen=self._events_max))
            if len(self.traces) > self._traces_max:
                self.traces.popitem(last=False)
        trace.events.append(
            {"at": at, "what": what, "where": where, "detail": detail, "lane": lane}
        )
        return trace


def _lane(request: Request) -> str:
    return "critical" if request.critical else "routine"
