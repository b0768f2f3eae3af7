"""OpenTelemetry traces, when the ``supplysync[otel]`` extra is installed.

Theory of operation
-------------------
:func:`setup_tracing` gives a :class:`Tracing` for one service — its own
``TracerProvider`` named by ``service.name`` (never the global one: a test runs
four emulators and a core in one process) exporting over OTLP/HTTP to
``endpoint`` and to any extra span processors (a test's in-memory exporter) — or
``None`` when the SDK is not installed, and then nothing is traced at all.

Spans join the ``traceparent`` the core already puts on every request
(:func:`sync_core.flows.base.traceparent`: one trace id per PO), so one PO is one
trace: :meth:`Tracing.record` makes a span whose parent is the context a
``traceparent`` names.  The core records its spans once it knows their times and
their PO (a webhook's span is made after its decision, which names the PO), so
spans carry explicit start and end times; the headers it sends are never changed.

Exporting never holds the service up: spans are exported in batches from a thread
of the SDK's, each batch given :data:`EXPORT_S` (a collector that is down costs
warnings in the log and the spans, nothing else), and the last flush when the
service stops :data:`SHUTDOWN_S`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = ["EXPORT_S", "SHUTDOWN_S", "Tracing", "otlp_traces_url", "setup_tracing"]

log = logging.getLogger("supplysync.core")
EXPORT_S = 2.0  # one batch's export, retries included (a collector on loopback answers in ms)
SHUTDOWN_S = 3.0  # the last flush, when the service stops


def otlp_traces_url(endpoint: str) -> str:
    """``http://host:4318`` → ``http://host:4318/v1/traces`` (a full URL stays as it is)."""
    if urlsplit(endpoint).path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


class Tracing:
    """One service's tracer (see the module docstring)."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer = provider.get_tracer("supplysync")
        self._propagator = TraceContextTextMapPropagator()
        self._kinds = {k.name.lower(): k for k in SpanKind}

    def context(self, traceparent: str | None) -> Any:
        """The context a ``traceparent`` names (None: a new trace)."""
        if not traceparent:
            return None
        return self._propagator.extract({"traceparent": traceparent})

    def record(
        self,
        name: str,
        *,
        parent: str | None,
        kind: str,
        start_ns: int,
        end_ns: int,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[str] = (),
    ) -> None:
        """A finished span, child of the span ``parent`` (a ``traceparent``) names;
        ``links`` are other traceparents it relates to (e.g. the sender's own)."""
        from opentelemetry.trace import Link, get_current_span

        linked = []
        for tp in links:
            span_context = get_current_span(self.context(tp)).get_span_context()
            if span_context.is_valid:
                linked.append(Link(span_context))
        span = self.tracer.start_span(
            name,
            context=self.context(parent),
            kind=self._kinds[kind],
            attributes=dict(attributes or {}),
            links=linked,
            start_time=start_ns,
        )
        span.end(end_time=max(end_ns, start_ns))

    def shutdown(self, timeout_s: float = SHUTDOWN_S) -> None:
        """Flush what is batched and stop exporting, within ``timeout_s`` (a collector that
        is down must not hold the service's stop: past it, what is left is dropped)."""
        stopping = threading.Thread(target=self.provider.shutdown, daemon=True)
        stopping.start()
        stopping.join(timeout_s)


def setup_tracing(
    service: str, *, endpoint: str | None = None, processors: Sequence[Any] = ()
) -> Tracing | None:
    """Tracing for ``service`` exporting to ``endpoint`` (OTLP/HTTP) and ``processors``;
    None without the ``otel`` extra, or with neither an endpoint nor a processor."""
    if endpoint is None and not processors:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("tracing is off: install supplysync[otel] for OpenTelemetry")
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    for processor in processors:
        provider.add_span_processor(processor)
    if endpoint is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_traces_url(endpoint), timeout=EXPORT_S)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)
