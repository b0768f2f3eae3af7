"""``/metrics``, ``/health``, ``/status``: is the core alive and how is it doing.

Each answers from memory, however busy the store (the engine decides in the store's
thread), so a probe or a scrape is never held up by a huge message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from sync_core.metrics import CONTENT_TYPE
from sync_core.service.access import requires
from sync_core.service.deps import Driver, Metrics, Subscriptions

__all__ = ["router"]

# the unversioned routes, each deprecated for its /v1 successor (layers.py)
router = APIRouter(tags=["status"], deprecated=True)


@router.get("/metrics", response_class=Response, dependencies=[requires("status:read")])
async def prometheus(metrics: Metrics) -> Response:
    """The Prometheus text exposition (metric names: README, sync_core.metrics)."""
    return Response(metrics.render(), media_type=CONTENT_TYPE)


@router.get("/health", dependencies=[requires(None)])
async def health(subscriptions: Subscriptions) -> dict[str, Any]:
    return {"status": "ok", "subscriptions": subscriptions}


@router.get("/status", dependencies=[requires("status:read")])
async def status(driver: Driver) -> dict[str, Any]:
    """From memory, however busy the store; the dead-letter count is refreshed in the
    background (``store``: ``ok``, ``busy (N s)`` or ``failing: reason``)."""
    driver.refresh_status()
    return driver.status()
