"""What a route needs from the running app, as ``Annotated`` dependencies.

Why: the driver exists only once the app has started (its lifespan builds it in the
server's event loop), so routers cannot be handed it when they are built.  The app keeps
it, its metrics registry and the subscriptions on ``app.state``; a route declares
``driver: Driver`` and gets the one of the app serving the request.  Dependencies that
read only the request add nothing to the OpenAPI.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from sync_core.drivers.asyncio import LiveDriver
from sync_core.metrics import CoreMetrics

__all__ = ["Driver", "Metrics", "Subscriptions"]


def _driver(request: Request) -> LiveDriver:
    driver: LiveDriver = request.app.state.driver
    return driver


def _metrics(request: Request) -> CoreMetrics:
    metrics: CoreMetrics = request.app.state.metrics
    return metrics


def _subscriptions(request: Request) -> dict[str, Any]:
    subscriptions: dict[str, Any] = request.app.state.subscriptions
    return subscriptions


Driver = Annotated[LiveDriver, Depends(_driver)]
Metrics = Annotated[CoreMetrics, Depends(_metrics)]
Subscriptions = Annotated[dict[str, Any], Depends(_subscriptions)]
