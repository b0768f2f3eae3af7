"""An emulator's Prometheus metrics: requests by operation and status, webhooks.

Theory of operation: each app has its own ``CollectorRegistry`` (four emulators
live in one process; the client's global registry is never used).  The
:class:`RequestMetrics` ASGI middleware counts every HTTP request once it is
answered, by ``operation`` (the name of the route that served it, ``unmatched``
for none) and ``status`` — a dict lookup and one increment per request.  The
webhook counters are not counted twice: :class:`_WebhookCollector` reads the
dispatcher's own :class:`~emulators.webhooks.WebhookStats` at scrape time (an
``/__admin/reset`` zeroes them, as a restart would: Prometheus reads a drop in a
counter as a reset).  ``GET /metrics`` serves the text format.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from emulators.host import Host
from emulators.web._asgi import HttpMiddleware, ResponseStatus

__all__ = ["CONTENT_TYPE", "EmulatorMetrics", "RequestMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_WEBHOOK_COUNTERS = (
    ("published", "Business events published to the subscription"),
    ("delivered", "Webhook copies the subscriber answered 2xx"),
    ("dropped", "Events dropped by the webhook fault (never sent)"),
    ("duplicated", "Events sent twice by the webhook fault"),
    ("retried", "Webhook deliveries scheduled again after a failure"),
    ("failed", "Webhook copies given up after the last attempt"),
)


class _WebhookCollector(Collector):
    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> Iterator[Any]:
        dispatcher = self.host.webhooks
        if dispatcher is None:
            return
        stats, system = dispatcher.stats, self.host.system
        for name, doc in _WEBHOOK_COUNTERS:
            c = CounterMetricFamily(f"supplysync_webhooks_{name}", doc, labels=["system"])
            c.add_metric([system], getattr(stats, name))
            yield c
        pending = GaugeMetricFamily(
            "supplysync_webhooks_pending",
            "Webhook copies sent or waiting for a retry, not yet delivered or failed",
            labels=["system"],
        )
        pending.add_metric([system], stats.pending)
        yield pending


class EmulatorMetrics:
    """One emulator's registry: its requests and its webhooks."""

    def __init__(self, host: Host) -> None:
        self.system = host.system
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "supplysync_emulator_requests",
            "HTTP requests answered by an emulator, by operation (route) and status",
            ["system", "operation", "status"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, int], Any] = {}
        self.registry.register(_WebhookCollector(host))

    def count(self, operation: str, status: int) -> None:
        child = self._children.get((operation, status))
        if child is None:
            child = self.requests.labels(self.system, operation, str(status))
            self._children[(operation, status)] = child
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetrics(HttpMiddleware):
    """ASGI middleware: count each answered request (module docstring)."""

    def __init__(self, app: Any, metrics: EmulatorMetrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        status = ResponseStatus(send)
        try:
            await self.app(scope, receive, status)
        finally:
            route = scope.get("route")
            self.metrics.count(getattr(route, "name", None) or "unmatched", status.code)
