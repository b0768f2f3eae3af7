"""Replays and discards over the core's API are in the audit trail, with who asked.

The app runs in-process (ASGI) around a real :class:`LiveDriver` on a SQLite store file;
the trail is read from that file afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from sync_core.audit import verify
from sync_core.auth import AuthConfig, load_auth, mint
from sync_core.drivers.asyncio import LiveDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import DeadLetter, Kind
from sync_core.service.app import create_app
from sync_core.store_sqlite import SqliteStore
from tests.live.test_access import AUTH
from tests.live.test_driver import FakeConnector, planner, write


def store_with_letters(path: Path, n: int) -> None:
    with SqliteStore(path) as store:
        store.add_dead_letter(DeadLetter("outbox:1", "op", "503", None, write("erp", "k1")))
        for i in range(2, n + 1):
            store.add_dead_letter(DeadLetter(f"ev:{i}", Kind.ERP_PO_CHANGED, "no number", {}))


def serve(
    path: Path,
    calls: Callable[[httpx.AsyncClient], Awaitable[None]],
    *,
    auth: AuthConfig | None = None,
) -> None:
    async def make() -> LiveDriver:
        engine = Engine(EngineConfig("HOSPNET01", {}))
        driver = LiveDriver(engine, lambda: SqliteStore(path), FakeConnector(), planner())
        await driver.start()
        return driver

    async def scenario() -> None:
        app = create_app(make, auth=auth)
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


def test_with_access_on_the_tokens_subject_is_the_actor_and_writes_are_audited(
    tmp_path: Path,
) -> None:
    """With ``--auth`` the verified subject names the actor (an ``X-Actor`` header is
    ignored); a token's first write under each scope, and a reconciliation asked for over
    the process API, are audit entries too."""
    path = tmp_path / "core.sqlite"
    store_with_letters(path, 2)
    (tmp_path / "auth.yaml").write_text(AUTH, encoding="utf-8")
    config = load_auth(tmp_path / "auth.yaml")
    scopes = ["dlq:replay", "dlq:discard", "reconcile:run"]
    token = mint(config, sub="svc-replayer", scopes=scopes, now=time.time(), ttl_s=600)

    async def calls(client: httpx.AsyncClient) -> None:
        headers = {"X-Actor": "mallory", "Authorization": f"Bearer {token}"}
        r = await client.post("/v1/process/dead-letters/1/replay", headers=headers)
        assert r.status_code == 200, r.text
        r = await client.post("/dlq/2/discard", json={"reason": "x"}, headers=headers)
        assert r.status_code == 200, r.text
        r = await client.post("/v1/process/reconcile", headers=headers)
        assert r.status_code == 202, r.text
        r = await client.post("/v1/process/reconcile", headers={"X-Actor": "mallory"})
        assert r.status_code == 401, r.text  # no token: nothing done, nothing recorded

    serve(path, calls, auth=config)

    # (the replayed request fails again at the fake connector: a new letter by sync-core)
    entries = [e for e in trail(path)[2:] if e[1] != "dead_letter"]
    assert [a for a, _, _ in entries] == ["svc-replayer"] * len(entries)
    assert [(action, subject) for _, action, subject in entries if action != "token_write"] == [
        ("replay", "dead_letter:1"),
        ("discard", "dead_letter:2"),
        ("reconcile", "reconcile"),
    ]
    used = [subject for _, action, subject in entries if action == "token_write"]
    assert len(used) == 3 and len(set(used)) == 1  # one token, its first use of each scope
