"""The core's Prometheus metrics: what ``GET /metrics`` exposes, in the text format.

Theory of operation
-------------------
One :class:`CoreMetrics` per app, on its own ``CollectorRegistry`` (never the client's
global default: several cores, or a core and emulators, may live in one process).  Two
kinds of metric, chosen so that the hot path pays for almost nothing:

* **observed as it happens** (one ``observe`` or ``inc`` each, by the driver):
  ``supplysync_sync_lag_seconds`` (histogram by ``flow`` and ``priority``) and
  ``supplysync_dead_letters_total`` (counter by ``reason``);
* **read at scrape time** from what the driver already keeps in memory
  (:class:`_DriverCollector`): outbox pending, circuit states, messages, commits,
  requests, retries — no work at all between scrapes.

*Sync lag as the core sees it.*  The judge measures an update's lag from the owner's
change to the replica showing it.  The core cannot see the owner's change, only the
moment it learned of it: the driver stamps each inbound message with the monotonic
time it arrived (a webhook when it reached ``submit``, a batch tick when it fired),
carries that stamp along the chain it starts (the read it asks for, the reply, the
writes decided from the reply), and when a **write** to a replica is answered 2xx it
observes ``now - stamp`` under the write's flow (:data:`FLOWS`) and lane
(``critical`` / ``routine``).  So the histogram is the judge's lag minus the owner's
webhook delivery time (milliseconds when webhooks flow; the whole polling interval
is *not* seen for a batch pull, whose chain starts at the tick).  A write that was
superseded, dead-lettered, or recovered after a restart (its stamp died with the
process) is not observed.  Reads are not replicas and are never observed.

Dead letters are counted by a short ``reason`` class (:func:`reason_class`), never by
the free-text reason (unbounded label values would explode the series).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from sync_core.messages import Request

__all__ = [
    "CONTENT_TYPE",
    "FLOWS",
    "LAG_BUCKETS",
    "WRITES",
    "CoreMetrics",
    "flow_of",
    "reason_class",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Seconds: from loopback tens of milliseconds to a day of retries behind an outage.  The
#: first bound is 50 ms: below that the core's own stopwatch and the judge's (each system's
#: clock read against the run's through a probe) differ by their scheduling and clock
#: alignment, not by anything an SLO is about.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
               900.0, 3600.0, 14400.0, 86400.0)  # fmt: skip

#: What each write carries: the judge's flow (``analysis.facts``) and, for a write that
#: marks a PO's procurement stage, that stage (the dashboard's story); reads: none.
WRITES: dict[tuple[str, str], tuple[str, str | None]] = {
    ("supplier", "post_edi"): ("po_dispatch", "sent"),
    ("ap", "upsert_po_lines"): ("po_dispatch", None),
    ("erp", "post_acknowledgment"): ("po_acknowledgment", "acknowledged"),
    ("wms", "upsert_expected_receipts"): ("po_acknowledgment", None),
    ("wms", "post_ship_notice"): ("ship_notice", "shipped"),
    ("erp", "post_receipt"): ("receipt", "received"),
    ("ap", "post_receipt"): ("receipt", None),
    ("ap", "post_invoice"): ("invoice", "invoiced"),
    ("erp", "post_invoice_status"): ("match_status", "matched"),
    ("ap", "upsert_prices"): ("price", None),
}
#: The flow each write carries.
FLOWS: dict[tuple[str, str], str] = {write: flow for write, (flow, _) in WRITES.items()}

# circuit_state values: the usual encoding (0 closed, 1 half-open, 2 open)
_CIRCUIT = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


def flow_of(request: Request) -> str | None:
    """The flow a request carries, None for a read (it replicates nothing)."""
    if request.reply_kind is not None:
        return None
    return FLOWS.get((request.target, request.operation), "other")


def reason_class(reason: str) -> str:
    """A dead letter's reason as a bounded label value."""
    if reason.startswith("exhausted after"):
        return "retries_exhausted"
    if reason.startswith("engine could not handle"):
        return "engine_error"
    if reason.startswith(("no base URL", "no route")):
        return "no_route"
    if " answered 4" in reason:
        return "rejected"
    return "unmappable"


class _DriverCollector(Collector):
    """Gauges and counters read from the driver's memory at scrape time."""

    def __init__(self, status: Callable[[], dict[str, Any] | None]) -> None:
        self._status = status

    def collect(self) -> Iterator[Any]:
        s = self._status()
        if s is None:  # the driver has not started yet
            return
        pending = GaugeMetricFamily(
            "supplysync_outbox_pending",
            "Outbox rows decided and not yet finished (delivered and marked, or dead-lettered)",
        )
        pending.add_metric([], s["outbox_pending"])
        yield pending
        queued = GaugeMetricFamily(
            "supplysync_inbound_queued", "Inbound messages waiting for their commit"
        )
        queued.add_metric([], s["queued"])
        yield queued
        circuit = GaugeMetricFamily(
            "supplysync_circuit_state",
            "Circuit breaker per target system: 0 closed, 1 half-open, 2 open",
            labels=["target"],
        )
        for target, state in sorted(s["breakers"].items()):
            circuit.add_metric([target], _CIRCUIT.get(state, 2.0))
        yield circuit
        for name, key, doc in (
            ("messages_handled", "messages_handled", "Inbound messages handed to the engine"),
            ("duplicates", "duplicates", "Inbound messages the inbox had already consumed"),
            ("commits", "commits", "Group commits of decisions"),
            ("requests_sent", "requests_sent", "Outbound requests sent to the systems"),
            ("deliveries", "delivered", "Outbox rows finished (answered 2xx or superseded)"),
            ("retries", "retries", "Outbound attempts scheduled again"),
            ("superseded_writes", "superseded", "Writes dropped: a newer version was decided"),
            ("engine_errors", "engine_errors", "Messages the engine failed on"),
        ):
            c = CounterMetricFamily(f"supplysync_{name}", doc)
            c.add_metric([], s[key])
            yield c


class CoreMetrics:
    """The core's registry and the metrics the driver observes (module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.lag = Histogram(
            "supplysync_sync_lag_seconds",
            "From the core learning of a change to its write to a replica answered 2xx",
            ["flow", "priority"],
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "supplysync_dead_letters",
            "Dead letters recorded by this process, by reason class",
            ["reason"],
            registry=self.registry,
        )
        self._status: Callable[[], dict[str, Any]] | None = None
        self.registry.register(_DriverCollector(self._read_status))

    def watch(self, status: Callable[[], dict[str, Any]]) -> None:
        """Read the driver's ``status()`` at every scrape."""
        self._status = status

    def _read_status(self) -> dict[str, Any] | None:
        return self._status() if self._status is not None else None

    def observe_lag(self, request: Request, seconds: float) -> None:
        flow = flow_of(request)
        if flow is not None:
            lane = "critical" if request.critical else "routine"
            self.lag.labels(flow, lane).observe(max(0.0, seconds))

    def dead_lettered(self, reason: str) -> None:
        self.dead_letters.labels(reason_class(reason)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
