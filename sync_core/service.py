"""The sync core as an HTTP service: webhooks in, status and the experience API out.

Theory of operation
-------------------
:func:`create_app` builds a FastAPI app around a :class:`~sync_core.drivers.asyncio.LiveDriver`
(made by a factory when the app starts, so nothing happens at import time and
the driver lives in the server's event loop).  Routes:

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
                                unknown id, 409 for a letter no longer open)
``GET /purchase-orders/{n}``    what the core knows of one PO: the revision it
                                dispatched, the acknowledgment it relayed
``GET /metrics``                Prometheus text: lag, outbox, dead letters,
                                circuits (:mod:`sync_core.metrics`)
==============================  =================================================

Errors are RFC 9457 problem+json naming the field: a body that is not JSON is
400, one whose envelope is wrong 422, an unknown system 404; a store that
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

import json
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from sync_core.dashboard.router import dashboard_router
from sync_core.drivers.asyncio import LiveDriver
from sync_core.flows.base import traceparent
from sync_core.inbound import PARSERS, InboundError, from_system
from sync_core.metrics import CONTENT_TYPE, CoreMetrics
from sync_core.store import (
    DeadLetterError,
    DeadLetterRecord,
    DeadLetterStatus,
    OutboxItem,
    Store,
    StoreError,
)
from sync_core.telemetry import Telemetry
from sync_core.tracing import Tracing

__all__ = ["PO_ENTITY_KINDS", "create_app", "problem"]

# entity kinds the core keys by PO number (the engine's flows add more over time)
PO_ENTITY_KINDS = ("po", "ack", "po_canceled")  # what the core keys by PO number
PROBLEM_TYPE = "application/problem+json"
_PROBLEM_DOC = {
    "description": "Problem details (RFC 9457) naming the field at fault",
    "content": {PROBLEM_TYPE: {"schema": {"type": "object"}}},
}

System = Annotated[str, Path(description="erp, supplier, wms or ap", max_length=20)]
PoNumber = Annotated[str, Path(min_length=1, max_length=60)]
LetterId = Annotated[int, Path(ge=1, le=2**62, description="the dead letter's id")]
DlqStatus = Annotated[Literal["open", "replayed", "discarded"] | None, Query()]
DriverFactory = Callable[[], Awaitable[LiveDriver]]


def problem(
    status: int, title: str, detail: str, field: str | None = None, **headers: str
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status,
                            "detail": detail}  # fmt: skip
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    loc = [str(p) for p in first["loc"] if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "body"
    return problem(422, "Unprocessable Content", f"{field}: {first['msg']}", field)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}
    # FastAPI's only 400 is a body it could not parse (not JSON): name the body
    field = "body" if exc.status_code == 400 else None
    detail = "the body is not valid JSON" if field else str(exc.detail)
    return problem(exc.status_code, titles.get(exc.status_code, "Error"), detail, field)


async def _store_error(request: Request, exc: Exception) -> Response:
    """The store is busy or unreachable: try again, never a 500 (nothing was changed)."""
    reason = exc.reason if isinstance(exc, StoreError) else str(exc)
    return problem(503, "Service Unavailable", f"the store: {reason}", None, **{"retry-after": "1"})


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


class Discard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


def _record_json(record: DeadLetterRecord) -> dict[str, Any]:
    letter = record.letter
    return {
        "id": record.id,
        "status": record.status.value,
        "source": record.source,
        "message_id": letter.message_id,
        "kind": letter.kind,
        "reason": letter.reason,
        "correlation_id": letter.correlation_id,
        "at": letter.at,
        "replays": record.replays,
        "replayed_as": record.replayed_as,
        "discard_reason": record.discard_reason,
        "body": letter.body,
    }


def _letter_problem(e: DeadLetterError) -> Response:
    if e.status is None:
        return problem(404, "Not Found", str(e), "letter_id")
    return problem(409, "Conflict", str(e), "letter_id")


def create_app(
    make_driver: DriverFactory,
    *,
    on_started: Callable[[LiveDriver], Awaitable[None]] | None = None,
    subscriptions: dict[str, Any] | None = None,
    tracing: Tracing | None = None,
) -> FastAPI:
    """The core's app; ``make_driver`` builds and starts the driver when the app starts.

    ``on_started`` runs after that (e.g. subscribing to the emulators' webhooks);
    ``subscriptions`` is shown by ``/health`` (system → state), filled in by it;
    ``tracing`` records the driver's spans (:mod:`sync_core.telemetry`).
    """
    holder: dict[str, LiveDriver] = {}
    subs = subscriptions if subscriptions is not None else {}
    metrics = CoreMetrics()  # this app's own registry

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        driver = await make_driver()
        holder["driver"] = driver
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
        "delivered to the ERP, supplier network, WMS and AP; status and an experience API.",
        version="1",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StoreError, _store_error)

    def driver() -> LiveDriver:
        return holder["driver"]

    app.include_router(dashboard_router(driver))

    @app.post(
        "/webhooks/{system}",
        status_code=202,
        tags=["inbound"],
        responses={400: _PROBLEM_DOC, 404: _PROBLEM_DOC, 422: _PROBLEM_DOC, 503: _PROBLEM_DOC},
    )
    async def webhook(system: System, request: Request) -> Response:
        """A system pushes a document; 202 once it is durably committed (a duplicate too)."""
        if system not in PARSERS:
            return problem(404, "Not Found", f"unknown system {system!r}", "system")
        try:
            raw = await request.body()
        except ClientDisconnect:  # the sender gave up: it will send again
            return problem(400, "Bad Request", "the client disconnected mid-body", "body")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            return problem(400, "Bad Request", f"body is not JSON: {e}", "body")
        try:
            message = from_system(system, body)
        except InboundError as e:
            return problem(422, "Unprocessable Content", str(e), e.field)
        try:
            outcome = await driver().submit(message, request.headers.get("traceparent"))
        except StoreError as e:
            return problem(503, "Service Unavailable", str(e), None, **{"Retry-After": "1"})
        return JSONResponse({"message_id": message.message_id, "outcome": outcome}, 202)

    @app.get("/metrics", tags=["status"], response_class=Response)
    async def prometheus() -> Response:
        """The Prometheus text exposition (metric names: README, sync_core.metrics)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/health", tags=["status"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "subscriptions": subs}

    @app.get("/status", tags=["status"])
    async def status() -> dict[str, Any]:
        """From memory, however busy the store; the dead-letter count is refreshed in the
        background (``store``: ``ok``, ``busy (N s)`` or ``failing: reason``)."""
        d = driver()
        d.refresh_status()
        return d.status()

    @app.get("/dlq", tags=["dead letters"])
    async def dlq(status: DlqStatus = None) -> list[dict[str, Any]]:
        """The dead letters, oldest first (``status``: open, replayed or discarded)."""
        wanted = DeadLetterStatus(status) if status is not None else None
        records = await driver().db(lambda s: s.dead_letter_records(wanted))
        return [_record_json(r) for r in records]

    @app.get("/dlq/{letter_id}", tags=["dead letters"], responses={404: _PROBLEM_DOC})
    async def dlq_letter(letter_id: LetterId) -> Response:
        try:
            record = await driver().db(lambda s: s.dead_letter_record(letter_id))
        except DeadLetterError as e:
            return _letter_problem(e)
        return JSONResponse(_record_json(record))

    @app.post(
        "/dlq/{letter_id}/replay",
        tags=["dead letters"],
        responses={404: _PROBLEM_DOC, 409: _PROBLEM_DOC},
    )
    async def dlq_replay(letter_id: LetterId) -> Response:
        """Queue an open letter again (a request keeps its idempotency key) and carry it out."""
        try:
            record = await driver().replay(letter_id)
        except DeadLetterError as e:
            return _letter_problem(e)
        return JSONResponse(_record_json(record))

    @app.post(
        "/dlq/{letter_id}/discard",
        tags=["dead letters"],
        responses={404: _PROBLEM_DOC, 409: _PROBLEM_DOC, 422: _PROBLEM_DOC},
    )
    async def dlq_discard(letter_id: LetterId, body: Discard) -> Response:
        """Give an open letter up, with the reason a person gives."""
        try:
            record = await driver().db(lambda s: s.discard_dead_letter(letter_id, body.reason))
        except DeadLetterError as e:
            return _letter_problem(e)
        return JSONResponse(_record_json(record))

    @app.get(
        "/purchase-orders/{number}",
        tags=["experience"],
        responses={404: _PROBLEM_DOC},
    )
    async def purchase_order(
        number: PoNumber,
    ) -> Response:
        """What the core knows of one PO, entity by entity, with its trace id."""

        def read(store: Store) -> dict[str, Any]:
            found: dict[str, Any] = {}
            for kind in PO_ENTITY_KINDS:
                e = store.entity(kind, number)
                if e is not None:
                    found[kind] = {"version": e.version, "data": e.data}
            return found

        known = await driver().db(read)
        if not known:
            return problem(404, "Not Found", f"the core knows no purchase order {number}", "number")
        trace_id = traceparent(number, "read").split("-")[1]
        return JSONResponse({"po_number": number, "trace_id": trace_id, **known})

    @app.get("/exceptions", tags=["experience"])
    async def exceptions(include_closed: bool = False) -> Response:
        """The procurement team's exception queue: clinical-critical lines the supplier
        will not fill now (open first, oldest first); ``include_closed`` adds those a later
        acknowledgment filled."""
        found = await driver().db(lambda s: s.entities("exception"))
        rows = [e.data | {"revision": e.version} for e in found]
        if not include_closed:
            rows = [r for r in rows if r["open"]]
        rows.sort(key=lambda r: (not r["open"], r["since"], r["po_number"], r["line_no"]))
        return JSONResponse({"count": len(rows), "items": rows})

    @app.get("/backlog", tags=["experience"])
    async def backlog() -> Response:
        """What is still to be delivered, per target and lane, and the oldest row's age."""

        def read(store: Store) -> list[OutboxItem]:
            return store.pending()

        pending = await driver().db(read)
        per_target: dict[str, dict[str, int]] = {}
        for item in pending:
            lane = "critical" if item.request.critical else "routine"
            counts = per_target.setdefault(item.request.target, {"critical": 0, "routine": 0})
            counts[lane] += 1
        return JSONResponse(
            {
                "pending": len(pending),
                "by_target": per_target,
                "in_flight": len(driver().stats.in_flight),
            }
        )

    return app
