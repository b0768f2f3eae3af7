"""Who may call a route: every route declares its scope, checked when access is on.

Theory of operation
-------------------
A route declares ``dependencies=[requires("dlq:read")]`` (or ``requires(None)``: public,
e.g. the liveness probe and the dashboard's page).  :class:`Requires` reads the app's
:class:`~sync_core.auth.AuthConfig` from ``app.state.auth``: with none (simulation, the
Quickstart, ``serve`` without ``--auth``) every route is open.  With one, the request must
carry ``Authorization: Bearer <JWT>`` (RFC 6750): no token, or one that does not verify
(signature, algorithm, ``exp``, ``nbf``, ``iss``, ``aud``) is 401 with ``WWW-Authenticate:
Bearer``; a token without the route's scope is 403 (``error="insufficient_scope"``).
Both are RFC 9457 problem+json (:mod:`~sync_core.service.problems`).  Once verified,
``request.state.actor`` is the token's ``sub`` (None with access off) and
``request.state.claims`` its :class:`~sync_core.auth.Claims` — a partner route reads the
supplier it is bound to from there.

:func:`route_scope` tells a route's declared scope (the test matrix reads it from the
app's route list, so a route that declares none fails it), and :func:`document` adds the
bearer scheme and each operation's scope to an app's OpenAPI when access is on.
:func:`bearer_check` is the same check as a plain function for an app that is not the
core's (the emulators' ``/__admin``, :class:`emulators.web._common.AdminGuard`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Mount

from sync_core.auth import AuthConfig, Claims, TokenError, verify
from sync_core.connectors import SYSTEMS

__all__ = [
    "PUBLIC",
    "SCOPES",
    "Requires",
    "all_routes",
    "authorize",
    "bearer_check",
    "document",
    "requires",
    "route_scope",
]

PUBLIC = "public"
SCOPES = {  # every scope a token may carry, and what it allows
    "webhooks:erp": "push the ERP's documents (POST /v1/system/erp/webhooks)",
    "webhooks:supplier": "push the supplier network's documents",
    "webhooks:wms": "push the WMS's documents",
    "webhooks:ap": "push AP's documents",
    "systems:read": "what the core knows of each system: subscription, circuit, feed gaps",
    "status:read": "status, metrics, backlog, the dashboard's feeds",
    "po:read": "any purchase order's status, the exception queue",
    "dlq:read": "list and read dead letters",
    "dlq:replay": "replay a dead letter",
    "dlq:discard": "discard a dead letter",
    "reconcile:run": "run a reconciliation now",
    "partner:read": "a supplier's own purchase orders (with the token's supplier claim)",
    "admin:faults": "the emulators' /__admin API (faults, reset, subscription)",
}


def _unauthorized(detail: str) -> HTTPException:
    error = 'Bearer error="invalid_token"' if detail != "no bearer token" else "Bearer"
    return HTTPException(401, detail, headers={"WWW-Authenticate": error})


def _claims(config: AuthConfig, header: str) -> Claims:
    """The verified claims of an ``Authorization`` header's bearer token, or a 401 to raise."""
    kind, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("no bearer token")
    if kind.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header is not 'Bearer <token>'")
    try:
        return verify(config, token.strip())
    except TokenError as e:
        raise _unauthorized(f"the token is not valid: {e}") from None


def _require(claims: Claims, scope: str) -> None:
    if scope not in claims.scopes:
        raise HTTPException(
            403,
            f"the token has no {scope!r} scope",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )


def authorize(config: AuthConfig, request: Request, scope: str) -> Claims:
    """Authenticate the request (its actor: the token's ``sub``), then require ``scope``;
    401 or 403 as an HTTPException."""
    claims = _claims(config, request.headers.get("authorization", ""))
    request.state.actor = claims.sub
    request.state.claims = claims
    _require(claims, scope)
    return claims


class Requires:
    """The dependency a route declares: its scope (None: public).  A scope may name a path
    parameter: ``webhooks:{system}`` is ``webhooks:erp`` for ``POST .../erp/webhooks``."""

    def __init__(self, scope: str | None) -> None:
        if scope is not None and scope.format(system="erp") not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope

    async def __call__(self, request: Request) -> None:
        request.state.actor = None
        request.state.claims = None
        config: AuthConfig | None = getattr(request.app.state, "auth", None)
        if config is None or self.scope is None:
            return
        try:
            scope = self.scope.format(**request.path_params)
        except (KeyError, IndexError, ValueError):
            scope = self.scope
        claims = authorize(config, request, scope)
        if scope in WRITE_SCOPES:
            await _audit_first_write(request, claims, scope)


# the scopes that change something: a token's first use of each is an audit entry
WRITE_SCOPES = frozenset(
    {"dlq:replay", "dlq:discard", "reconcile:run"} | {f"webhooks:{s}" for s in SYSTEMS}
)


async def _audit_first_write(request: Request, claims: Claims, scope: str) -> None:
    """Record the first write each token makes under each scope in the audit trail: who
    holds a token that wrote, and what it may write, without an entry per webhook."""
    token = request.headers["authorization"].partition(" ")[2].strip()
    key = (hashlib.sha256(token.encode()).hexdigest()[:16], scope)
    seen: set[tuple[str, str]] = request.app.state.__dict__.setdefault("audited_tokens", set())
    driver = getattr(request.app.state, "driver", None)
    if key in seen or driver is None:
        return
    seen.add(key)
    detail = {"scope": scope, "supplier": claims.supplier}
    subject = f"token:{key[0]}"
    await driver.db(lambda s: s.append_audit(claims.sub, "token_write", subject, detail))


def requires(scope: str | None) -> Any:
    """``dependencies=[requires("dlq:read")]``: the route needs that scope (None: public)."""
    return Depends(Requires(scope))


def route_scope(route: APIRoute) -> str | None:
    """The scope ``route`` declared (:data:`PUBLIC` for a public one), None if it declared none."""
    for dep in route.dependant.dependencies:
        if isinstance(dep.call, Requires):
            return dep.call.scope or PUBLIC
    return None


def document(app: FastAPI) -> None:
    """Add the bearer scheme, and each route's scope and 401/403, to ``app``'s OpenAPI."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = plain()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearer"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        problem = {"$ref": "#/components/responses/Problem"}
        schema["components"].setdefault("responses", {})["Problem"] = {
            "description": "Problem details (RFC 9457)",
            "content": {"application/problem+json": {"schema": {"type": "object"}}},
        }
        for _, route in all_routes(app):
            if not isinstance(route, APIRoute):
                continue
            scope = route_scope(route)
            if scope is None or scope == PUBLIC or route.path_format not in schema["paths"]:
                continue
            for method in route.methods or ():
                op = schema["paths"][route.path_format].get(method.lower())
                if op is not None:
                    op["security"] = [{"bearer": [scope]}]
                    op.setdefault("responses", {}).update({"401": problem, "403": problem})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


Refusal = tuple[int, str, dict[str, str]]  # status, detail, headers


def bearer_check(config: AuthConfig, scope: str) -> Callable[[str], Refusal | str]:
    """The same check for an app that is not the core's (the emulators' ``/__admin``): given
    the ``Authorization`` header, the token's subject when it holds ``scope``, else why not."""

    def check(header: str) -> Refusal | str:
        try:
            claims = _claims(config, header)
            _require(claims, scope)
        except HTTPException as e:
            return e.status_code, str(e.detail), dict(e.headers or {})
        return claims.sub

    return check


def all_routes(app: Any, prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Every route of ``app`` with its full path, those of included routers and mounted apps
    too (a FastAPI that keeps an included router as one entry holds its routes under
    ``original_router``; an older one copied them in: both are walked)."""
    for route in app.routes:
        included = getattr(route, "original_router", None)
        if isinstance(route, Mount):
            yield from all_routes(route, prefix + route.path)
        elif included is not None:
            context = getattr(route, "include_context", None)
            yield from all_routes(included, prefix + getattr(context, "prefix", ""))
        else:
            yield prefix + getattr(route, "path", ""), route
