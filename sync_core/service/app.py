"""The sync core as an HTTP service: webhooks in, status and the experience API out.

Theory of operation
-------------------
:func:`create_app` builds a FastAPI app around a :class:`~sync_core.drivers.asyncio.LiveDriver`
(made by a factory when the app starts, so nothing happens at import time and
the driver lives in the server's event loop) and includes one router per resource:
:mod:`~sync_core.service.webhooks`, :mod:`~sync_core.service.status`,
:mod:`~sync_core.service.dead_letters`, :mod:`~sync_core.service.experience` and the
dashboard (:mod:`sync_core.dashboard.router`).  Routes read the driver through
:mod:`~sync_core.service.deps`.  The same handlers answer under the versioned API layers
``/v1/system``, ``/v1/process``, ``/v1/experience`` and ``/v1/partner``, each an app of its
own with its own OpenAPI (:mod:`~sync_core.service.layers`, :mod:`~sync_core.service.v1`);
the first routes below are deprecated for them (``Deprecation`` and ``Link`` headers).
Every route declares its scope; with an ``auth`` config a bearer token must hold it
(:mod:`~sync_core.service.access`).  The first routes:

==============================  =================================================
``POST /webhooks/{system}``     erp, supplier, wms or ap push a document; it is
                                mapped to a message (:mod:`sync_core.inbound`)
                                and answered 202 only once durably committed
``GET /health``                 alive, and the emulators we subscribed to
``GET /status``                 messages handled, outbox pending, dead letters,
                                the store's state (from memory: answered at once)
``GET /dlq[?status=open]``      the dead letters with their ids and status
``GET /dlq/{id}``               one dead letter
``POST /dlq/{id}/replay``       queue it again and carry it out at once
``POST /dlq/{id}/discard``      give it up with ``{"reason"}`` (both: 404 for an
                                unknown id, 409 for a letter no longer open;
                                audited with the actor, ``deps.Actor``)
``GET /purchase-orders/{n}``    what the core knows of one PO: the revision it
                                dispatched, the acknowledgment it relayed
``GET /metrics``                Prometheus text: lag, outbox, dead letters,
                                circuits (:mod:`sync_core.metrics`)
==============================  =================================================

Errors are RFC 9457 problem+json naming the field (:mod:`~sync_core.service.problems`):
a body that is not JSON is 400, one whose envelope is wrong 422, an unknown system 404; a store that
cannot commit (a full or read-only disk, a file another process locked) answers
503 with ``Retry-After`` (the sender retries, nothing was acknowledged), and so
does a webhook not committed within the driver's ``answer_within_s`` or sent
while the core stops.  No user mistake reaches a 500.

Responsiveness: the engine decides in the store's thread, so ``/health`` and
``/status`` answer while it works on a huge message; SIGTERM or SIGINT tells
the driver at once (:meth:`~sync_core.drivers.asyncio.LiveDriver.begin_shutdown`, chained
before the server's own handler), so the webhooks it still holds are answered
503 and the server stops within the driver's bounds.  ``/docs`` and ``/redoc``
serve Swagger UI and ReDoc from the installed ``fastapi-offline`` package: no
CDN, they work on a network with no way out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from sync_core.auth import AuthConfig
from sync_core.dashboard.router import dashboard_router
from sync_core.drivers.asyncio import LiveDriver
from sync_core.mappers.erp_versions import ErpVersions
from sync_core.metrics import CoreMetrics
from sync_core.service import access, dead_letters, experience, layers, problems, status, webhooks
from sync_core.telemetry import Telemetry
from sync_core.tracing import Tracing

__all__ = ["create_app"]

DriverFactory = Callable[[], Awaitable[LiveDriver]]


@contextmanager
def _on_stop_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop`` first when SIGTERM or SIGINT arrives, then the handler installed
    before (the server's: it drains its requests, then ends the lifespan).  Only in the
    main thread, where signals are delivered; elsewhere (a test client) nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(sig: int, frame: FrameType | None) -> None:
        stop()
        before = previous[signal.Signals(sig)]
        if callable(before):
            before(sig, frame)
        elif before == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, before)


def create_app(
    make_driver: DriverFactory,
    *,
    on_started: Callable[[LiveDriver], Awaitable[None]] | None = None,
    subscriptions: dict[str, Any] | None = None,
    tracing: Tracing | None = None,
    auth: AuthConfig | None = None,
    erp_versions: ErpVersions | None = None,
) -> FastAPI:
    """The core's app; ``make_driver`` builds and starts the driver when the app starts.

    ``on_started`` runs after that (e.g. subscribing to the emulators' webhooks);
    ``subscriptions`` is shown by ``/health`` (system → state), filled in by it;
    ``tracing`` records the driver's spans (:mod:`sync_core.telemetry`); ``auth`` turns
    scoped access on (:mod:`~sync_core.service.access`; None: every route is open);
    ``erp_versions``: the ERP's versions the core follows, shared with its connector
    (webhooks read ERP events by the version they announce; None: the base only).
    """
    metrics = CoreMetrics()  # this app's own registry

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        driver = await make_driver()
        app.state.driver = driver
        driver.telemetry = Telemetry(metrics, tracing)
        metrics.watch(lambda: driver.status())  # read at scrape time only
        try:
            with _on_stop_signals(driver.begin_shutdown):
                if on_started is not None:
                    await on_started(driver)
                yield
        finally:
            await driver.stop()
            if tracing is not None:
                tracing.shutdown()

    app = FastAPIOffline(
        title="supplysync sync core",
        description="The middleware under test: webhooks in, the engine's decisions "
        "delivered to the ERP, supplier network, WMS and AP; status and an experience API. "
        "These routes are deprecated: the /v1 API layers have their own documents at "
        "/v1/system/docs, /v1/process/docs, /v1/experience/docs and /v1/partner/docs.",
        version="1",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.subscriptions = subscriptions if subscriptions is not None else {}
    app.state.auth = auth
    app.state.erp_versions = erp_versions
    problems.install(app)
    app.include_router(dashboard_router(lambda: app.state.driver, old=True))
    for router in (webhooks.router, status.router, dead_letters.router, experience.router):
        app.include_router(router)
    app.add_middleware(layers.Deprecations)
    layers.mount_layers(app)
    if auth is not None:
        access.document(app)
    return app
