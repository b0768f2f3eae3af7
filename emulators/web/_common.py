"""What every emulator's HTTP app shares: problem+json errors, replies, the admin API.

Theory of operation: an app is built by a factory around a :class:`~emulators.host.Host`
(never at import time, so four emulators can live in one process). Its routes are
generated from the system's operation table (:mod:`emulators.web._routes`); each calls
``host.invoke`` and turns the :class:`Reply` into a response. Every error leaves as RFC
9457 problem+json naming the field: FastAPI's request validation errors are translated
here, and no bad input reaches a 500. The app enforces its
:class:`~emulators.limits.Limits`: a body past ``max_body_bytes`` is a 413 before it is
read whole (:mod:`emulators.web._body_limit`), and OpenAPI states every bound the
behaviour enforces. ``/docs`` and ``/redoc`` serve Swagger UI and ReDoc from the
installed ``fastapi-offline`` package, never from a CDN: they work on a network with no
way out. The admin API under ``/__admin`` (like WireMock's) sets and clears faults,
resets the system (to empty, as if just started: its webhook counters, numbering and
queued deliveries too; the subscription stays), and shows its state, request journal and
history; :class:`AdminGuard` can require a token for it. ``GET /metrics`` is the
Prometheus text of the app's own registry (:mod:`emulators.web._metrics`); spans are
recorded only once :func:`emulators.web._tracing.enable_tracing` gave the app a tracer.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from emulators._base import Reply, problem
from emulators.admin_trail import AdminTrail, check_actor
from emulators.faults import Faults, Refused
from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.operations import PROBLEM
from emulators.web._body_limit import BodyLimit
from emulators.web._metrics import CONTENT_TYPE, EmulatorMetrics, RequestMetrics
from emulators.web._tracing import webhook_span
from emulators.webhooks import WebhookDispatcher

__all__ = [
    "ADMIN_PREFIX",
    "AdminGuard",
    "LiveSystem",
    "Schedule",
    "Subscription",
    "add_subscription_routes",
    "admin_router",
    "make_app",
    "record_admin",
    "respond",
    "webhooks_for",
]

Schedule = Callable[[float, Callable[[], None]], None]


@dataclass
class LiveSystem:
    """A live emulator: its host (behaviour, faults, journals) and its FastAPI app."""

    host: Host
    app: FastAPI


ADMIN_PREFIX = "/__admin"


_stdlib_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _dumps(body: Any) -> bytes | str:
    """A reply body as compact JSON: orjson (the emulators answer every request
    through here; it encodes several times faster), the standard library for
    what orjson refuses (an integer past 64 bits)."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return _stdlib_dumps(body)


def respond(reply: Reply) -> Response:
    headers = {k: v for k, v in reply.headers.items() if k != "content-type"}
    if reply.status == 304 or reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    media = reply.headers.get("content-type", "application/json")
    content = reply.body if isinstance(reply.body, str) else _dumps(reply.body)
    if isinstance(reply.body, str) and "content-type" not in reply.headers:
        media = "text/plain"
    return Response(content=content, status_code=reply.status, headers=headers, media_type=media)


def _field(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int) and parts:
            parts[-1] += f"[{p}]"
        else:
            parts.append(str(p))
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


async def _validation_error(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError | ValidationError) else []
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    field = _field(first["loc"]) or "body"
    detail = f"{field}: {first['msg']}" if field else str(first["msg"])
    return respond(problem(422, "Unprocessable Content", detail, field))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {
        400: "Bad Request",
        404: "Not Found",
        405: "Method Not Allowed",
        413: "Content Too Large",
    }
    # FastAPI answers 400 itself only for a body it cannot parse: the body is at fault;
    # 413 is the body limit's (emulators.web._body_limit)
    field = "body" if exc.status_code in (400, 413) else None
    reply = problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail), field)
    reply.headers.update(exc.headers or {})
    return respond(reply)


async def _refused(request: Request, exc: Exception) -> Response:
    # An ASGI app cannot refuse a connection it has accepted: answer 503 and close it.
    reply = problem(503, "Service Unavailable", str(exc), None)
    reply.headers["connection"] = "close"
    return respond(reply)


class _InjectedLatency:
    """ASGI middleware: the latency fault in force delays every non-admin request
    (the simulated transport applies the same draw from the same gate)."""

    def __init__(self, app: Any, host: Host) -> None:
        self.app = app
        self.host = host

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(ADMIN_PREFIX):
            delay = self.host.gate.extra_latency_s()
            if delay > 0:
                await asyncio.sleep(delay)
        await self.app(scope, receive, send)


class AdminGuard:
    """ASGI middleware: ``/__admin`` only for a request ``check`` accepts.

    ``check`` gets the ``Authorization`` header and returns the token's subject (the actor
    of the admin trail), or the status, detail and headers of the refusal (a 401 or 403,
    answered as problem+json).  Off unless a server is
    given one (``supplysync serve --auth FILE``: a token with the ``admin:faults`` scope)."""

    def __init__(self, app: Any, check: Callable[[str], tuple[int, str, dict[str, str]] | str]):
        self.app = app
        self.check = check

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(ADMIN_PREFIX):
            refused = self.check(Headers(scope=scope).get("authorization", ""))
            if isinstance(refused, str):  # accepted: the token's subject acted
                scope.setdefault("state", {})["actor"] = refused
            elif refused is not None:
                status, detail, headers = refused
                title = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
                reply = problem(status, title, detail, None)
                reply.headers.update(headers)
                await respond(reply)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def make_app(
    host: Host,
    title: str,
    description: str,
    lifespan: Any = None,
    limits: Limits = DEFAULT_LIMITS,
    routes: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    """The app around an emulator: ``routes`` adds its API first (routes are matched in
    order, and its traffic is the API's), then the admin API, health and metrics."""
    app = FastAPIOffline(title=title, description=description, version="1", lifespan=lifespan)
    if routes is not None:
        routes(app)
    app.add_middleware(_InjectedLatency, host=host)
    app.add_middleware(BodyLimit, max_body_bytes=limits.max_body_bytes)
    metrics = EmulatorMetrics(host)  # this app's own registry
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: counts a 413 too
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Refused, _refused)
    app.state.admin_trail = AdminTrail(host.system)
    app.include_router(admin_router(host))

    @app.get("/health", tags=["admin"])
    def health() -> dict[str, str]:
        return {"status": "ok", "system": host.system}

    @app.get("/metrics", tags=["admin"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus text: requests by operation and status, webhooks (README)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "field": {"type": "string"},
            },
        }
        limits.document(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _admin_actor(request: Request) -> str:
    """Who asks for an admin write: the admin token's subject (``--auth``), else the
    ``X-Actor`` header, else ``anonymous``; a name the trail cannot hold is a 422."""
    actor: str = request.scope.get("state", {}).get("actor") or request.headers.get(
        "x-actor", "anonymous"
    )
    why = check_actor(actor)
    if why is not None:
        raise StarletteHTTPException(422, why)
    return actor


AdminActor = Annotated[str, Depends(_admin_actor)]


def record_admin(request: Request, actor: str, action: str, detail: dict[str, Any]) -> None:
    trail: AdminTrail = request.app.state.admin_trail
    trail.append(actor, action, detail)


def admin_router(host: Host) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["admin"], responses={422: PROBLEM})

    @router.get("/faults")
    def get_faults() -> Faults:
        return host.gate.faults

    @router.put("/faults")
    def set_faults(faults: Annotated[Faults, Body()], request: Request, who: AdminActor) -> Faults:
        host.set_faults(faults)
        record_admin(request, who, "faults_set", faults.model_dump(mode="json", exclude_unset=True))
        return faults

    @router.delete("/faults", status_code=204)
    def clear_faults(request: Request, who: AdminActor) -> Response:
        host.clear_faults()
        record_admin(request, who, "faults_cleared", {})
        return Response(status_code=204)

    @router.post("/reset", status_code=204)
    def reset(request: Request, who: AdminActor) -> Response:
        """Empty the system: state, journals, faults and webhooks (the subscription stays)."""
        host.reset()
        record_admin(request, who, "reset", {})
        return Response(status_code=204)

    @router.get("/audit")
    def audit(request: Request) -> list[dict[str, Any]]:
        """Who changed faults, reset the system or its subscription: the hash-chained
        admin trail, oldest first (:mod:`emulators.admin_trail`)."""
        trail: AdminTrail = request.app.state.admin_trail
        return trail.entries

    @router.get("/state")
    def state() -> dict[str, Any]:
        return host.snapshot()

    @router.get("/requests")
    def requests() -> list[dict[str, Any]]:
        return host.request_journal()

    @router.get("/clock")
    def clock() -> dict[str, Any]:
        """The emulator's clock, the one its journals and history are stamped with (seconds
        since it started): what a harness reads to put those records on its own time axis."""
        return {"system": host.system, "t": host.clock()}

    @router.get("/history")
    def history() -> list[dict[str, Any]]:
        return host.history_records()

    @router.get("/webhooks")
    def webhooks() -> dict[str, Any]:
        if host.webhooks is None:
            return {}
        s = host.webhooks.stats
        return {k: v for k, v in vars(s).items()}

    return router


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, pattern=r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/")
    bearer: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        pattern=r"^[\x21-\x7e]+$",
        description="a token sent as 'Authorization: Bearer' with each delivery",
    )


WEBHOOKS_IN_FLIGHT = 100  # aiohttp's default pool size
WEBHOOK_TIMEOUT_S = 10.0


@dataclass
class _Target:
    url: str | None = None
    bearer: str | None = None  # sent with each delivery (a subscriber with access on)
    session: Any = None  # the aiohttp session webhooks go out on, made in the serving loop
    tracer: Any = None  # an OpenTelemetry tracer: a span per delivery (enable_tracing)
    in_flight: int = WEBHOOKS_IN_FLIGHT  # deliveries sent at once; the rest wait their turn
    timeout_s: float = WEBHOOK_TIMEOUT_S  # one delivery, from when it is sent
    slots: Any = None  # asyncio.Semaphore(in_flight), made in the serving loop

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def _http_deliver(target: _Target, system: str) -> Callable[..., None]:
    """POST each event as JSON to the subscriber; 2xx is success, anything else retries.

    At most ``target.in_flight`` deliveries are on the wire at once (the session's pool holds
    as many connections); the others wait for a slot, and a delivery's timeout starts when it
    is sent: a backlog makes webhooks late, not failed unsent (aiohttp's total timeout also
    counts the wait for a pooled connection)."""
    import aiohttp

    async def post(event: dict[str, Any], done: Callable[[bool], None]) -> None:
        if target.session is None:
            target.slots = asyncio.Semaphore(target.in_flight)
            target.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=target.in_flight),
                timeout=aiohttp.ClientTimeout(total=target.timeout_s),
            )
        headers = {"x-emulator": system}
        if target.bearer is not None:
            headers["authorization"] = f"Bearer {target.bearer}"
        async with target.slots:
            try:
                with webhook_span(target.tracer, system, headers, event):
                    async with target.session.post(
                        target.url or "", json=event, headers=headers
                    ) as resp:
                        ok = 200 <= resp.status < 300
            except (aiohttp.ClientError, TimeoutError, OSError):
                ok = False
        done(ok)

    def deliver(event: dict[str, Any], done: Callable[[bool], None]) -> None:
        if target.url is None:
            done(True)  # nobody subscribed: nothing to deliver
            return
        asyncio.get_running_loop().create_task(post(event, done))

    return deliver


def webhooks_for(
    system: str, seed: int, schedule: Schedule, url: str | None
) -> tuple[Any, _Target]:
    target = _Target(url)
    dispatcher = WebhookDispatcher(
        _http_deliver(target, system), schedule, random.Random(f"{seed}/webhooks/{system}")
    )
    return dispatcher, target


def add_subscription_routes(app: FastAPI, target: _Target) -> None:
    @app.get(f"{ADMIN_PREFIX}/subscription", tags=["admin"], response_model_exclude_unset=True)
    def get_subscription() -> Subscription:
        bearer = {} if target.bearer is None else {"bearer": target.bearer}
        return Subscription(url=target.url, **bearer)

    @app.put(f"{ADMIN_PREFIX}/subscription", tags=["admin"])
    def set_subscription(
        request: Request,
        who: AdminActor,
        sub: Subscription = Body(),  # noqa: B008
    ) -> Subscription:
        target.url, target.bearer = sub.url, sub.bearer
        record_admin(
            request, who, "subscription_set", {"url": sub.url, "bearer": sub.bearer is not None}
        )
        return sub
