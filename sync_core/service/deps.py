"""What a route needs from the running app, as ``Annotated`` dependencies.

Why: the driver exists only once the app has started (its lifespan builds it in the
server's event loop), so routers cannot be handed it when they are built.  The app keeps
it, its metrics registry, the subscriptions and the ERP's versions it follows (None: it
speaks the base version) on ``app.state``; a route declares
``driver: Driver`` and gets the one of the app serving the request.  Dependencies that
read only the request add nothing to the OpenAPI.

``actor: Actor`` is who the audit trail (:mod:`sync_core.audit`) names for a privileged
action: ``request.state.actor`` when something before the route set it (the subject of a
verified access token), else the ``X-Actor`` request header, else ``anonymous``.  The
header is the caller's word, not proof: it attributes actions on a core that checks no
tokens, and is ignored once a verified subject is there.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError

from sync_core.audit import ANONYMOUS, check_actor
from sync_core.drivers.asyncio import LiveDriver
from sync_core.mappers.erp_versions import ErpVersions
from sync_core.metrics import CoreMetrics

__all__ = ["Actor", "Driver", "ErpVersionsFollowed", "Metrics", "Subscriptions"]


def _driver(request: Request) -> LiveDriver:
    driver: LiveDriver = request.app.state.driver
    return driver


def _metrics(request: Request) -> CoreMetrics:
    metrics: CoreMetrics = request.app.state.metrics
    return metrics


def _subscriptions(request: Request) -> dict[str, Any]:
    subscriptions: dict[str, Any] = request.app.state.subscriptions
    return subscriptions


def _erp_versions(request: Request) -> ErpVersions | None:
    versions: ErpVersions | None = getattr(request.app.state, "erp_versions", None)
    return versions


XActor = Annotated[
    str | None,
    Header(
        alias="X-Actor",
        max_length=200,
        description="who asks, for the audit trail: 1 to 200 printable characters, not "
        "blank (ignored when a verified token names the caller; anonymous without it)",
    ),
]


def _actor(request: Request, x_actor: XActor = None) -> str:
    actor = getattr(request.state, "actor", None)
    if actor:
        try:
            return check_actor(str(actor))
        except ValueError as e:  # a subject the trail cannot name: refuse, never a 500
            raise HTTPException(422, f"the caller cannot be named in the audit trail: {e}") from e
    if x_actor is None:
        return ANONYMOUS
    try:
        return check_actor(x_actor)
    except ValueError as e:
        where = ("header", "X-Actor")
        raise RequestValidationError([{"loc": where, "msg": str(e), "type": "value_error"}]) from e


Actor = Annotated[str, Depends(_actor)]
Driver = Annotated[LiveDriver, Depends(_driver)]
ErpVersionsFollowed = Annotated[ErpVersions | None, Depends(_erp_versions)]
Metrics = Annotated[CoreMetrics, Depends(_metrics)]
Subscriptions = Annotated[dict[str, Any], Depends(_subscriptions)]
