"""An emulator's OpenTelemetry spans, when the ``supplysync[otel]`` extra is installed.

Theory of operation: :func:`setup_tracing` gives a ``TracerProvider`` of the
system's own (``service.name`` ``supplysync-{system}``; never the global provider,
four emulators live in one process) exporting over OTLP/HTTP — in batches from the
SDK's thread, each given :data:`EXPORT_S`, so a collector that is down costs log
warnings and spans, never a request — and to any extra span processors; or None
without the SDK, and then nothing is traced.  :func:`enable_tracing` puts it on a
live system; :func:`shutdown_tracing` flushes them all when serving stops.
:class:`ServerSpans` (ASGI) makes a server span for every request, child of the
request's ``traceparent`` (the core sends one per PO: one PO, one trace), and
current while the behaviour runs, so what it schedules (an acknowledgment, a
webhook) stays in that trace.  :func:`webhook_span` wraps a webhook delivery in a
producer span and adds its ``traceparent`` to the headers sent.  A webhook about a
PO sent outside the PO's trace — the ERP's PO-created event, raised by a buyer's
request that started before the PO had a number — starts in the PO's trace instead
(its id derived from the number as the core derives it, :func:`po_trace_id`),
linked to the request's span.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from emulators.web._asgi import HttpMiddleware, ResponseStatus

__all__ = [
    "PO_FIELDS",
    "ServerSpans",
    "enable_tracing",
    "po_trace_id",
    "setup_tracing",
    "shutdown_tracing",
    "webhook_span",
]

log = logging.getLogger("supplysync.emulators")
EXPORT_S = 2.0  # one batch's export, retries included (a collector on loopback answers in ms)
SHUTDOWN_S = 3.0  # the last flush of every emulator, when they stop


def setup_tracing(
    system: str, *, endpoint: str | None = None, processors: Sequence[Any] = ()
) -> Any:
    """The ``TracerProvider`` of ``system``, for :func:`enable_tracing` (None without the
    extra, or with nothing to export to)."""
    if endpoint is None and not processors:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("tracing is off: install supplysync[otel] for OpenTelemetry")
        return None
    name = f"supplysync-{system}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    for processor in processors:
        provider.add_span_processor(processor)
    if endpoint is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        if urlsplit(endpoint).path in ("", "/"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_S)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def shutdown_tracing(providers: Sequence[Any], timeout_s: float = SHUTDOWN_S) -> None:
    """Flush and stop ``providers`` side by side, within ``timeout_s`` in all (a collector
    that is down must not hold the stop: past it, what is left is dropped)."""
    threads = [threading.Thread(target=p.shutdown, daemon=True) for p in providers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


class ServerSpans(HttpMiddleware):
    """ASGI middleware: a server span per request (module docstring)."""

    def __init__(self, app: Any, tracer: Any, system: str) -> None:
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        super().__init__(app)
        self.tracer, self.system = tracer, system
        self._kind = SpanKind.SERVER
        self._propagator = TraceContextTextMapPropagator()

    async def http(self, scope: Any, receive: Any, send: Any) -> None:
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                   if k == b"traceparent"}  # fmt: skip
        context = self._propagator.extract(carrier) if carrier else None
        name = f"{self.system} {scope['method']} {scope['path']}"
        with self.tracer.start_as_current_span(name, context=context, kind=self._kind) as span:
            status = ResponseStatus(send)
            try:
                await self.app(scope, receive, status)
            finally:
                route = scope.get("route")
                if route is not None:
                    span.update_name(f"{self.system} {getattr(route, 'name', '')}")
                span.set_attribute("http.response.status_code", status.code)
                span.set_attribute("supplysync.system", self.system)


# the event field naming the PO a system's webhook is about (its trace: po_trace_id)
PO_FIELDS = {"erp": "OrderNumber", "wms": "po_nbr"}


def po_trace_id(po_number: str) -> int:
    """The trace id of a PO, as the core derives it (``sha256(po)[:32]``)."""
    return int(hashlib.sha256(po_number.encode()).hexdigest()[:32], 16)


def _po_context(system: str, event: Mapping[str, Any]) -> Any:
    """The context a webhook about a PO starts in: the current one when it is already in
    the PO's trace (the core's request caused it), else a child of the PO's trace linked
    to the current span (a buyer's request, which started before the PO had a number);
    None when the event names no PO."""
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanContext,
        TraceFlags,
        get_current_span,
        set_span_in_context,
    )

    field = PO_FIELDS.get(system)
    po = event.get(field) if field is not None else None
    if not isinstance(po, str | int) or isinstance(po, bool) or po == "":
        return None
    trace_id = po_trace_id(str(po))
    if get_current_span().get_span_context().trace_id == trace_id:
        return None
    span_id = int(hashlib.sha256(f"{po}/{system} webhook".encode()).hexdigest()[:16], 16)
    parent = SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
    return set_span_in_context(NonRecordingSpan(parent))


@contextlib.contextmanager
def webhook_span(
    tracer: Any, system: str, headers: dict[str, str], event: Mapping[str, Any]
) -> Iterator[None]:
    """A producer span around one webhook delivery, in the trace of the PO the event names
    (if any, :data:`PO_FIELDS`); its traceparent goes in ``headers``."""
    if tracer is None:
        yield
        return
    from opentelemetry.trace import Link, SpanKind, get_current_span
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    context = _po_context(system, event)
    cause = get_current_span().get_span_context()
    links = [Link(cause)] if context is not None and cause.is_valid else []
    with tracer.start_as_current_span(
        f"{system} webhook", context=context, kind=SpanKind.PRODUCER, links=links
    ):
        TraceContextTextMapPropagator().inject(headers)
        yield


def enable_tracing(live: Any, provider: Any) -> None:
    """Trace the live emulator ``live`` (a :class:`~emulators.web._common.LiveSystem`,
    not yet serving) with ``provider`` (:func:`setup_tracing`; None: not at all): server
    spans for its requests, producer spans for its webhooks."""
    if provider is None:
        return
    tracer = provider.get_tracer("supplysync.emulators")
    live.app.add_middleware(ServerSpans, tracer=tracer, system=live.host.system)
    target = getattr(live.app.state, "webhook_target", None)
    if target is not None:
        target.tracer = tracer
