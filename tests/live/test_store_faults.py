"""Faults of the core's own store: a full disk, a read-only disk, a file another process locked.

The store lives on a real file system of 2 MiB (a tmpfs mounted for the test:
root only, skipped with the reason otherwise), so a full disk is SQLite's own
``SQLITE_FULL``.  A read-only disk is injected instead: the kernel refuses to
remount a file system read-only while the store holds its file open for
writing (``mount: mount point is busy``), so :class:`ReadOnlyAtWill` fails the
store's writes as SQLite's ``SQLITE_READONLY`` does.  A lock is real: another
process holds ``BEGIN EXCLUSIVE`` on the file.

In each case the core must answer webhooks 503 problem+json with
``Retry-After`` (the sender sends again), keep what it had acknowledged, keep
answering ``/status``, and accept the same webhook once the disk is back.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync_core.delivery import DeliveryPlanner, RetryPolicy
from sync_core.drivers.asyncio import LiveDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.service.app import create_app
from sync_core.store import StoreError
from sync_core.store_sqlite import SqliteStore
from tests.live.test_driver import FakeConnector


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


class ReadOnlyAtWill(SqliteStore):
    """A SQLite store whose writes fail as on a read-only disk while ``read_only`` is set."""

    read_only = False

    def commit_many(self, decisions: Any) -> Any:
        if type(self).read_only:
            raise StoreError(
                "commit", f"{self.path}: SQLITE_READONLY: attempt to write a readonly database"
            )
        return super().commit_many(decisions)


def supplier_doc(seq: int, size: int) -> dict[str, Any]:
    """A supplier document the engine cannot read: dead-lettered with its body (``size``
    bytes to store), so accepting it means writing that much."""
    return {"seq": seq, "supplier": "SUPP1001", "type": "855", "payload": "X" * size}


def erp_event(n: int) -> dict[str, Any]:
    return {"eventId": f"evt-{n}", "eventType": "PurchaseOrderChanged", "OrderNumber": str(n)}


def run_core(store: Path, body: Any) -> None:
    async def make() -> LiveDriver:
        policy = RetryPolicy(first_s=0.01, cap_s=0.05, max_attempts=3)
        driver = LiveDriver(
            Engine(EngineConfig("HOSPNET01", {})),
            lambda: ReadOnlyAtWill(store, busy_timeout_s=0.3),
            FakeConnector(),
            DeliveryPlanner(policy, random.Random(1)),
            answer_within_s=3.0,
        )
        await driver.start()
        return driver

    async def scenario() -> None:
        app = create_app(make)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
                await body(client)

    asyncio.run(scenario())


def assert_retry_later(reply: httpx.Response, reason: str) -> None:
    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.headers["retry-after"] == "1"
    assert reason in reply.json()["detail"], reply.json()


async def status(client: httpx.AsyncClient) -> dict[str, Any]:
    reply = await client.get("/status")
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def test_a_full_then_read_only_disk_is_503_and_the_core_recovers(small_disk: Path) -> None:
    store = small_disk / "core.sqlite"

    async def body(client: httpx.AsyncClient) -> None:
        assert (await client.post("/webhooks/erp", json=erp_event(1))).status_code == 202

        filler = fill(small_disk)
        full = await client.post("/webhooks/supplier", json=supplier_doc(1, 300_000))
        assert_retry_later(full, "full")
        assert (await status(client))["store"].startswith("failing")
        filler.unlink()  # the disk comes back
        again = await client.post("/webhooks/supplier", json=supplier_doc(1, 300_000))
        assert again.status_code == 202, again.text
        assert again.json()["outcome"] == "dead_lettered"

        ReadOnlyAtWill.read_only = True
        try:
            read_only = await client.post("/webhooks/supplier", json=supplier_doc(2, 300_000))
            assert_retry_later(read_only, "readonly")
            assert (await status(client))["store"].startswith("failing")
        finally:
            ReadOnlyAtWill.read_only = False
        back = await client.post("/webhooks/supplier", json=supplier_doc(2, 300_000))
        assert back.status_code == 202, back.text
        assert (await client.post("/webhooks/erp", json=erp_event(2))).status_code == 202
        after = await status(client)
        assert after["store"] == "ok"

    run_core(store, body)
    with SqliteStore(store) as kept:  # everything acknowledged, nothing else
        for message_id in ("evt-1", "evt-2", "edi:1", "edi:2"):
            assert kept.consumed(message_id), message_id
        assert len(kept.dead_letters()) == 2 + 2  # two documents; two reads with no ERP
        assert [r.message_id for r in kept.audit()].count("edi:1") == 1


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


def test_a_store_locked_by_another_process_is_503_until_it_lets_go(tmp_path: Path) -> None:
    store = tmp_path / "core.sqlite"
    SqliteStore(store).close()

    async def body(client: httpx.AsyncClient) -> None:
        assert (await client.post("/webhooks/erp", json=erp_event(1))).status_code == 202
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(store)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
            locked = await client.post("/webhooks/erp", json=erp_event(2))
            assert_retry_later(locked, "locked")
            assert (await status(client))["store"].startswith("failing")
        finally:
            assert locker.stdin is not None
            locker.stdin.write("\n")
            locker.stdin.close()
            locker.wait(timeout=10)
            if locker.stdout is not None:
                locker.stdout.close()
        again = await client.post("/webhooks/erp", json=erp_event(2))
        assert again.status_code == 202, again.text

    run_core(store, body)
    with SqliteStore(store) as kept:
        assert kept.consumed("evt-1") and kept.consumed("evt-2")
    assert sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone() == ("ok",)
