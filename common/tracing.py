"""One service's OpenTelemetry ``TracerProvider``, made the same way by every service.

:func:`tracer_provider` gives a provider of the service's own (``service.name``; never
the global provider: a test runs four emulators and a core in one process) exporting
over OTLP/HTTP to ``endpoint`` — in batches from a thread of the SDK's, each given
:data:`EXPORT_S`, so a collector that is down costs log warnings and spans, never a
request — and to any extra span processors (a test's in-memory exporter); or None
without the ``supplysync[otel]`` extra, and then nothing is traced.  What each service
does with it (the core's recorded spans, the emulators' server and webhook spans) is
its own: :mod:`sync_core.tracing`, :mod:`emulators.web._tracing`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = ["EXPORT_S", "SHUTDOWN_S", "otlp_traces_url", "tracer_provider"]

EXPORT_S = 2.0  # one batch's export, retries included (a collector on loopback answers in ms)
SHUTDOWN_S = 3.0  # the last flush, when the service stops


def otlp_traces_url(endpoint: str) -> str:
    """``http://host:4318`` → ``http://host:4318/v1/traces`` (a full URL stays as it is)."""
    if urlsplit(endpoint).path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def tracer_provider(
    service: str, log: logging.Logger, *, endpoint: str | None, processors: Sequence[Any]
) -> Any:
    """The ``TracerProvider`` of ``service`` exporting to ``endpoint`` (OTLP/HTTP) and
    ``processors``; None with neither, or (saying so in ``log``) without the extra."""
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
    return provider
