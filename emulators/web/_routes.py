"""FastAPI routes generated from an emulator's operation table.

Theory of operation: each :class:`~emulators.operations.Operation` row becomes
one endpoint (one per extra (method, path) in ``also``) whose signature FastAPI
reads as if it were written by hand: the row's path and query params in order,
the body model, then the headers (``If-Match`` and the like from the row,
``Idempotency-Key`` when the row is idempotent, ``traceparent`` when traced).
The endpoint is named after the operation, so OpenAPI's operationId is the
operation's name + path + method, as the connectors' check expects.  Its body
reaches the behaviour as the client sent it (no defaults filled in, JSON
types), so idempotency fingerprints are the client's; the host answers faults
first and journals the call under the operation's name; its reply is encoded at once,
so the behaviour hands it over uncopied (:func:`~emulators._base.read_at_once`).  Each
route is a :class:`~emulators.web._fast_route.FastRoute`: an ordinary request skips
FastAPI's per-request introspection.  An X12 body is read as
text: a body that is not UTF-8 is a 400 naming ``body``.  :func:`assemble` builds a
live emulator around an API: host, behaviour, webhooks and the app.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel

from emulators._base import Reply, problem, read_at_once
from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.operations import REQUIRED, Api, Operation, Param
from emulators.web._common import (
    LiveSystem,
    Schedule,
    add_subscription_routes,
    make_app,
    respond,
    webhooks_for,
)
from emulators.web._fast_route import FastRoute

__all__ = ["add_routes", "assemble", "router_from"]


def _native(body: BaseModel | None) -> Any:
    """The body as the client sent it (no defaults filled in), in JSON types."""
    return None if body is None else body.model_dump(mode="json", exclude_unset=True)


async def _x12_text(request: Request) -> str | Reply:
    raw = await request.body()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        detail = f"an X12 interchange must be UTF-8 text: {e.reason} at byte {e.start}"
        return problem(400, "Bad Request", detail, "body")


def _arg(p: Param) -> str:
    """The endpoint's argument for a param: a header's is its Python name (the
    annotation carries the header's own name), a path or query param's its native name."""
    return p.name if p.where == "header" else p.native


def _signature(op: Operation, api: Api) -> inspect.Signature:
    kw = inspect.Parameter.KEYWORD_ONLY
    front: list[inspect.Parameter] = []
    back: list[inspect.Parameter] = []
    for p in op.params:
        default = inspect.Parameter.empty if p.default is REQUIRED else p.default
        param = inspect.Parameter(_arg(p), kw, default=default, annotation=p.annotation)
        (back if p.where == "header" else front).append(param)
    if op.body == "x12":
        front.append(inspect.Parameter("request", kw, annotation=Request))
    elif op.body is not None and op.body_optional:
        note = Annotated[op.body | None, Body()]  # type: ignore[name-defined]
        front.append(inspect.Parameter("body", kw, default=None, annotation=note))
    elif op.body is not None:
        front.append(inspect.Parameter("body", kw, annotation=op.body))
    if op.idempotent:
        back.append(inspect.Parameter("idempotency_key", kw, default=None,
                                      annotation=api.idempotency_header))  # fmt: skip
    if op.traced:
        back.append(inspect.Parameter("traceparent", kw, default=None,
                                      annotation=api.trace_header))  # fmt: skip
    return inspect.Signature(front + back, return_annotation=Response)


def _endpoint(op: Operation, host: Host, behaviour: Any, api: Api) -> Any:
    async def endpoint(**given: Any) -> Response:
        kw = {p.name: given[_arg(p)] for p in op.params}
        body = given.get("body")
        if op.body == "x12":
            text = await _x12_text(given["request"])
            if isinstance(text, Reply):
                return respond(text)
            kw["body"] = text
        elif op.body is not None:
            kw["body"] = _native(body)
        key = given.get("idempotency_key")
        if op.idempotent:
            kw["idempotency_key"] = key
        correlation = given.get("traceparent")
        if op.correlation is not None and body is not None:
            correlation = correlation or getattr(body, op.correlation)
        with read_at_once():  # encoded before anything else runs: no copy needed
            reply = host.invoke(
                op.name,
                lambda: op.call(behaviour, **kw),
                idempotency_key=key,
                correlation_id=correlation,
            )
            return respond(reply)

    endpoint.__name__ = endpoint.__qualname__ = op.name
    endpoint.__doc__ = op.doc
    endpoint.__signature__ = _signature(op, api)  # type: ignore[attr-defined]
    return endpoint


def add_routes(target: APIRouter | FastAPI, api: Api, host: Host, behaviour: Any,
               prefix: str = "") -> None:  # fmt: skip
    """A route per row (and per extra path of a row) on ``target``, under ``prefix``."""
    router = target.router if isinstance(target, FastAPI) else target
    for op in api.operations:
        endpoint = _endpoint(op, host, behaviour, api)
        for method, path in ((op.method, op.path), *op.also):
            router.add_api_route(
                prefix + path,
                endpoint,
                methods=[method],
                status_code=op.status,
                responses=dict(op.responses),
                tags=[op.tag] if op.tag else None,
                openapi_extra=dict(op.openapi_extra) if op.openapi_extra else None,
                route_class_override=FastRoute,
            )


def router_from(api: Api, host: Host, behaviour: Any) -> APIRouter:
    """One router under the API's prefix, a route per row (and per extra path of a row)."""
    router = APIRouter(prefix=api.prefix)
    add_routes(router, api, host, behaviour)
    return router


def assemble(
    api: Api,
    behaviour: Callable[[Host], Any],
    *,
    seed: int,
    clock: Callable[[], float],
    schedule: Schedule,
    webhook_target: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    router: Callable[[Host, Any], APIRouter] | None = None,
    event_shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    **_: Any,
) -> LiveSystem:
    """One live emulator: a host, the behaviour built on its journal, webhooks to the
    subscriber, the app with the API's routes (``router``, by default the table's), the
    admin and subscription API; ``limits`` bound the app's requests (the behaviour gets
    its own, the same); ``event_shape`` shapes each event before it is sent (an API
    release's).  Options meant for other systems are ignored."""
    host = Host(api.system, clock, seed)
    impl = behaviour(host)
    dispatcher, target = webhooks_for(api.system, seed, schedule, webhook_target)
    host.attach(impl, dispatcher, shape=event_shape)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await target.close()  # an unclosed client session would leak its connections

    def routes(app: FastAPI) -> None:
        if router is None:
            # on the app itself, not an included router: FastAPI matches an included
            # router's routes twice per request
            before = len(app.router.routes)
            add_routes(app, api, host, impl, prefix=api.prefix)
            # ahead of the docs' routes too: the API's requests are matched against its
            # own routes first (OpenAPI lists the same paths in the same order)
            app.router.routes[:] = app.router.routes[before:] + app.router.routes[:before]
        else:
            app.include_router(router(host, impl))

    app = make_app(host, api.title, api.description, lifespan, limits, routes)
    add_subscription_routes(app, target)
    app.state.webhook_target = target  # its tracer is set by enable_tracing
    return LiveSystem(host, app)
