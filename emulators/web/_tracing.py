"""An emulator's OpenTelemetry spans, when the ``supplysync[otel]`` extra is installed.

Theory of operation: :func:`setup_tracing` gives a tracer of its own
``TracerProvider`` (``service.name`` ``supplysync-{system}``; never the global
provider, four emulators live in one process) exporting over OTLP/HTTP and to any
extra span processors — or None without the SDK, and then nothing is traced.
:class:`ServerSpans` (ASGI) makes a server span for every request, child of the
request's ``traceparent`` (the core sends one per PO: one PO, one trace), and
current while the behaviour runs, so what it schedules (an acknowledgment, a
webhook) stays in that trace.  :func:`webhook_span` wraps a webhook delivery in a
producer span and adds its ``traceparent`` to the headers sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ServerSpans", "enable_tracing", "setup_tracing", "webhook_span"]


def setup_tracing(
    system: str, *, endpoint: str | None = None, processors: Sequence[Any] = ()
) -> Any:
    """A tracer for ``system`` (None without the extra, or nothing to export to)."""
    if endpoint is None and not processors:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return None
    name = f"supplysync-{system}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    for processor in processors:
        provider.add_span_processor(processor)
    if endpoint is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        if urlsplit(endpoint).path in ("", "/"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider.get_tracer("supplysync.emulators")


class ServerSpans:
    """ASGI middleware: a server span per request (module docstring)."""

    def __init__(self, app: Any, tracer: Any, system: str) -> None:
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.app, self.tracer, self.system = app, tracer, system
        self._kind = SpanKind.SERVER
        self._propagator = TraceContextTextMapPropagator()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                   if k == b"traceparent"}  # fmt: skip
        context = self._propagator.extract(carrier) if carrier else None
        name = f"{self.system} {scope['method']} {scope['path']}"
        with self.tracer.start_as_current_span(name, context=context, kind=self._kind) as span:
            status = 500

            async def sending(message: Any) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:
                route = scope.get("route")
                if route is not None:
                    span.update_name(f"{self.system} {getattr(route, 'name', '')}")
                span.set_attribute("http.response.status_code", status)
                span.set_attribute("supplysync.system", self.system)


@contextlib.contextmanager
def webhook_span(tracer: Any, system: str, headers: dict[str, str]) -> Iterator[None]:
    """A producer span around one webhook delivery; its traceparent goes in ``headers``."""
    if tracer is None:
        yield
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    with tracer.start_as_current_span(f"{system} webhook", kind=SpanKind.PRODUCER):
        TraceContextTextMapPropagator().inject(headers)
        yield


def enable_tracing(live: Any, tracer: Any) -> None:
    """Trace the live emulator ``live`` (a :class:`~emulators.web._common.LiveSystem`,
    not yet serving): server spans for its requests, producer spans for its webhooks."""
    if tracer is None:
        return
    live.app.add_middleware(ServerSpans, tracer=tracer, system=live.host.system)
    target = getattr(live.app.state, "webhook_target", None)
    if target is not None:
        target.tracer = tracer
