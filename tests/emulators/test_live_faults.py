"""Faults over HTTP: the latency fault delays requests, admin calls stay prompt — in virtual time.

The web app is called in process (httpx's ASGI transport) on an asyncio loop
whose clock is virtual: when nothing is ready to run, the loop jumps straight
to its next timer instead of waiting for it (trio's ``MockClock(autojump)``,
for asyncio).  The delay the latency fault puts on a request is then read off
that clock exactly, whatever the machine's load: no wall-clock timing, no
tolerance.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

import httpx
import pytest

from emulators.web.wms_app import wms_system
from tests.emulators.harness import live_system


class _JumpingSelector(selectors.DefaultSelector):
    """Never waits for a timer: an idle wait moves the loop's virtual clock instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> Any:
        if timeout is None:  # nothing scheduled: wait for a thread or the self-pipe
            return super().select(None)
        ready = super().select(0)
        if not ready:
            self.now += timeout
        return ready


class _VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.jumping = _JumpingSelector()
        super().__init__(self.jumping)

    def time(self) -> float:
        return self.jumping.now


def test_latency_fault_delays_requests_but_not_the_admin_api() -> None:
    live = live_system(wms_system)
    loop = _VirtualTimeLoop()
    transport = httpx.ASGITransport(app=live.app)

    async def scenario() -> list[float]:
        async with httpx.AsyncClient(transport=transport, base_url="http://wms") as client:

            async def delay(method: str, path: str, **kwargs: Any) -> float:
                started = loop.time()
                reply = await client.request(method, path, **kwargs)
                assert reply.is_success, reply.text
                return loop.time() - started

            url = "/wms/api/v1/inventory"
            latency = {"latency": {"median_ms": 400, "sigma": 0}}
            return [
                await delay("GET", url),
                await delay("PUT", "/__admin/faults", json=latency),
                await delay("GET", url),
                await delay("GET", "/__admin/faults"),
                await delay("DELETE", "/__admin/faults"),
                await delay("GET", url),
            ]

    try:
        before, put, during, admin, delete, after = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert during == pytest.approx(0.4, abs=1e-9)  # the fault's median, sigma 0
    assert before == put == admin == delete == after == 0.0
