"""Replays and discards over the core's API are in the audit trail, with who asked.

The app runs in-process (ASGI) around a real :class:`LiveDriver` on a SQLite store file;
the trail is read from that file afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from sync_core.audit import verify
from sync_core.drivers.asyncio import LiveDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import DeadLetter, Kind
from sync_core.service.app import create_app
from sync_core.store_sqlite import SqliteStore
from tests.live.test_driver import FakeConnector, planner, write


def store_with_letters(path: Path, n: int) -> None:
    with SqliteStore(path) as store:
        store.add_dead_letter(DeadLetter("outbox:1", "op", "503", None, write("erp", "k1")))
        for i in range(2, n + 1):
            store.add_dead_letter(DeadLetter(f"ev:{i}", Kind.ERP_PO_CHANGED, "no number", {}))


def serve(
    path: Path, calls: Callable[[httpx.AsyncClient], Awaitable[None]], app_setup: Any = None
) -> None:
    async def make() -> LiveDriver:
        engine = Engine(EngineConfig("HOSPNET01", {}))
        driver = LiveDriver(engine, lambda: SqliteStore(path), FakeConnector(), planner())
        await driver.start()
        return driver

    async def scenario() -> None:
        app = create_app(make)
        if app_setup is not None:
            app_setup(app)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
                await calls(client)

    asyncio.run(scenario())


def trail(path: Path) -> list[tuple[str, str, str]]:
    with SqliteStore(path) as store:
        entries = store.audit_trail()
    assert verify(entries).intact
    return [(e.actor, e.action, e.subject) for e in entries]


def test_replay_and_discard_record_the_x_actor_header(tmp_path: Path) -> None:
    path = tmp_path / "core.sqlite"
    store_with_letters(path, 4)

    async def calls(client: httpx.AsyncClient) -> None:
        r = await client.post("/dlq/1/replay", headers={"X-Actor": "alice@hospital.org"})
        assert r.status_code == 200, r.text
        r = await client.post("/dlq/2/discard", json={"reason": "dup"},
                              headers={"X-Actor": "bob"})  # fmt: skip
        assert r.status_code == 200, r.text
        r = await client.post("/dlq/3/discard", json={"reason": "dup"})  # nobody says who
        assert r.status_code == 200, r.text
        for bad in (" ", "x" * 201, b"a\x85b", ""):  # bytes: sent as they are
            r = await client.post("/dlq/4/replay", headers={"X-Actor": bad})
            assert r.status_code == 422, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["field"] == "X-Actor"
        r = await client.post("/dlq/2/replay", headers={"X-Actor": "carol"})
        assert r.status_code == 409  # not open any more: nothing is recorded

    serve(path, calls)

    assert trail(path)[4:] == [
        ("alice@hospital.org", "replay", "dead_letter:1"),
        ("bob", "discard", "dead_letter:2"),
        ("anonymous", "discard", "dead_letter:3"),
    ]


def test_a_verified_subject_on_the_request_wins_over_the_header(tmp_path: Path) -> None:
    """What an authentication layer does: set ``request.state.actor`` before the route."""
    path = tmp_path / "core.sqlite"
    store_with_letters(path, 2)

    def authenticate(app: FastAPI) -> None:
        @app.middleware("http")
        async def subject(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            if "authorization" in request.headers:
                request.state.actor = request.headers["authorization"].removeprefix("Bearer ")
            return await call_next(request)

    async def calls(client: httpx.AsyncClient) -> None:
        headers = {"X-Actor": "mallory", "Authorization": "Bearer svc-replayer"}
        r = await client.post("/dlq/1/replay", headers=headers)
        assert r.status_code == 200, r.text
        r = await client.post("/dlq/2/discard", json={"reason": "x"},
                              headers={"Authorization": "Bearer \x7f"})  # fmt: skip
        assert r.status_code == 422, r.text  # a subject the trail cannot name
        assert "cannot be named in the audit trail" in r.json()["detail"]

    serve(path, calls, authenticate)

    assert trail(path)[2:] == [("svc-replayer", "replay", "dead_letter:1")]
