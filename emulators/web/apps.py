"""App factories: one live emulator each, wired to its host, webhooks and admin API."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Body, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from emulators.erp import Erp
from emulators.host import Host
from emulators.web._common import ADMIN_PREFIX, make_app
from emulators.web.erp_app import erp_router
from emulators.webhooks import WebhookDispatcher

__all__ = ["FACTORIES", "Subscription", "erp_system"]

Schedule = Callable[[float, Callable[[], None]], None]


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, pattern=r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/")


@dataclass
class _Target:
    url: str | None = None


def _http_deliver(target: _Target, system: str) -> Callable[..., None]:
    """POST each event as JSON to the subscriber; 2xx is success, anything else retries."""
    import aiohttp

    session: list[aiohttp.ClientSession] = []

    async def post(event: dict[str, Any], done: Callable[[bool], None]) -> None:
        if not session:
            session.append(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)))
        try:
            async with session[0].post(
                target.url or "", json=event, headers={"x-emulator": system}
            ) as resp:
                done(200 <= resp.status < 300)
        except (aiohttp.ClientError, TimeoutError, OSError):
            done(False)

    def deliver(event: dict[str, Any], done: Callable[[bool], None]) -> None:
        if target.url is None:
            done(True)  # nobody subscribed: nothing to deliver
            return
        asyncio.get_running_loop().create_task(post(event, done))

    return deliver


def _webhooks(system: str, seed: int, schedule: Schedule, url: str | None) -> tuple[Any, _Target]:
    target = _Target(url)
    dispatcher = WebhookDispatcher(
        _http_deliver(target, system), schedule, random.Random(f"{seed}/webhooks/{system}")
    )
    return dispatcher, target


def _subscription_routes(app: FastAPI, target: _Target) -> None:
    @app.get(f"{ADMIN_PREFIX}/subscription", tags=["admin"])
    def get_subscription() -> Subscription:
        return Subscription(url=target.url)

    @app.put(f"{ADMIN_PREFIX}/subscription", tags=["admin"])
    def set_subscription(sub: Subscription = Body()) -> Subscription:  # noqa: B008
        target.url = sub.url
        return sub


def erp_system(
    *, seed: int, clock: Any, schedule: Schedule, webhook_target: str | None = None, **_: Any
) -> Any:
    from emulators.web.serve import LiveSystem

    host = Host("erp", clock, seed)
    erp = Erp(host.journal, clock, clock.epoch)
    dispatcher, target = _webhooks("erp", seed, schedule, webhook_target)
    host.attach(erp, dispatcher)
    app = make_app(host, "supplysync ERP emulator", "A cloud ERP's purchasing REST API.")
    app.include_router(erp_router(host, erp))
    _subscription_routes(app, target)
    return LiveSystem(host, app)


FACTORIES: dict[str, Callable[..., Any]] = {"erp": erp_system}
