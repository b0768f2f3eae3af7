"""The core's API when its store fails: 503 with Retry-After, never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from sync_core.service.app import create_app
from sync_core.store import StoreError


class LockedStore:
    """A driver whose store is locked by another writer (e.g. `supplysync dlq` on the file)."""

    stats: Any = None

    async def db(self, fn: Any) -> Any:
        raise StoreError("read", "database is locked", retriable=True)

    def begin_shutdown(self) -> None:
        self.told_to_stop = True

    async def stop(self) -> None:
        self.stopped = True


def test_a_locked_store_is_a_503_problem_for_every_read() -> None:
    locked = LockedStore()

    async def make() -> Any:
        return locked

    async def scenario() -> None:
        app = create_app(make)
        async with app.router.lifespan_context(app):  # starts and stops the "driver"
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
                for path in ("/dlq", "/dlq/1", "/exceptions", "/backlog",
                             "/purchase-orders/4500000001"):  # fmt: skip
                    reply = await client.get(path)
                    assert reply.status_code == 503, (path, reply.text)
                    assert reply.headers["content-type"] == "application/problem+json"
                    assert reply.headers["retry-after"] == "1"
                    assert "database is locked" in reply.json()["detail"]

    asyncio.run(scenario())
    assert locked.stopped  # the lifespan stopped the driver
