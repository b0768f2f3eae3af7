"""The asyncio driver in-process: a fake connector, a real SQLite store file."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from pathlib import Path
from typing import Any

from sync_core.delivery import DeliveryPlanner, RetryPolicy
from sync_core.drivers.asyncio import LiveDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import Decision, Inbound, Kind, Request, Response, StateView
from sync_core.store_sqlite import SqliteStore


class FakeConnector:
    """Answers every call with the next scripted status (200 once the script runs out)."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [])
        self.calls: list[Request] = []

    def knows(self, request: Request) -> str | None:
        return None if request.target in ("erp", "wms", "supplier") else "no such target"

    async def call(self, request: Request) -> Response:
        self.calls.append(request)
        status = self.script.pop(0) if self.script else 200
        return Response(status, {"detail": "scripted"} if status >= 400 else {})

    async def close(self) -> None:
        pass


class Poisoned(Engine):
    """The real engine, except that one message id makes it fail (a bug in a flow)."""

    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        if message.message_id == "poison":
            raise KeyError("LineNumber")
        return super().handle(message, now, state)


def planner() -> DeliveryPlanner:
    policy = RetryPolicy(first_s=0.01, cap_s=0.05, max_attempts=3)
    return DeliveryPlanner(policy, random.Random(1))


def write(target: str, key: str) -> Request:
    return Request(target, "upsert_expected_receipts", {}, body={"k": key}, idempotency_key=key)


async def run(store: Path, connector: FakeConnector, body: Any) -> LiveDriver:
    engine = Poisoned(EngineConfig("HOSPNET01", {}))
    driver = LiveDriver(engine, lambda: SqliteStore(store), connector, planner())
    await driver.start()
    try:
        await body(driver)
        for _ in range(200):  # bounded: 2 s
            if not driver.stats.in_flight and driver._queue.empty():
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # let the last done marks commit
    finally:
        await driver.stop()
    return driver


def test_a_poison_message_is_dead_lettered_and_the_next_one_goes_on(tmp_path: Path) -> None:
    connector = FakeConnector()

    async def body(driver: LiveDriver) -> None:
        outcomes = await asyncio.gather(
            driver.submit(Inbound("poison", Kind.ERP_PO_CHANGED, {"OrderNumber": "1"})),
            driver.submit(Inbound("e2", Kind.ERP_PO_CHANGED, {"OrderNumber": "2"})),
            driver.submit(Inbound("e2", Kind.ERP_PO_CHANGED, {"OrderNumber": "2"})),
        )
        assert outcomes == ["dead_lettered", "accepted", "duplicate"]

    asyncio.run(run(tmp_path / "s.sqlite", connector, body))
    with SqliteStore(tmp_path / "s.sqlite") as store:
        letters = {d.message_id: d for d in store.dead_letters()}
        assert "KeyError" in letters["poison"].reason
        # e2's read went out; its (empty, fake) reply was the engine's to dead-letter
        assert set(letters) == {"poison", "reply:1"}
        assert store.consumed("e2") and store.pending() == []
    assert [c.params for c in connector.calls] == [{"order_number": "2"}]


def test_a_refused_write_is_dead_lettered_once_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with SqliteStore(path) as store:  # decided and committed, then the process died
        store.commit(Decision("m1", ("m1",), requests=(write("wms", "k1"), write("wms", "k2"))))
    connector = FakeConnector([422, 503, 200])

    async def nothing(driver: LiveDriver) -> None:
        pass

    driver = asyncio.run(run(path, connector, nothing))
    assert driver.stats.recovered_rows == 2
    with SqliteStore(path) as store:
        assert store.pending() == []
        (letter,) = store.dead_letters()
        assert (
            "answered 422: scripted" in letter.reason and letter.kind == "upsert_expected_receipts"
        )
    keys = sorted(c.idempotency_key or "" for c in connector.calls)
    assert keys == ["k1", "k2", "k2"]  # k2 retried after its 503, k1 never again
    asyncio.run(run(path, FakeConnector(), nothing))  # a restart sends nothing more
    with SqliteStore(path) as store:
        assert len(store.dead_letters()) == 1


def test_a_request_for_an_unknown_target_is_dead_lettered_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with SqliteStore(path) as store:
        store.commit(Decision("m1", ("m1",), requests=(write("crm", "k1"),)))
    connector = FakeConnector()

    async def nothing(driver: LiveDriver) -> None:
        pass

    asyncio.run(run(path, connector, nothing))
    assert connector.calls == []
    with SqliteStore(path) as store:
        assert [d.reason for d in store.dead_letters()] == ["no such target"]
        assert store.pending() == []


def test_a_replayed_request_is_delivered_again_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with SqliteStore(path) as store:
        store.commit(Decision("m1", ("m1",), requests=(write("wms", "k1"),)))
    connector = FakeConnector([409])

    async def replay_after_the_fix(driver: LiveDriver) -> None:
        for _ in range(200):  # bounded: wait for the 409 to be dead-lettered
            if await driver.db(lambda s: s.dead_letter_records()):
                break
            await asyncio.sleep(0.01)
        (record,) = await driver.db(lambda s: s.dead_letter_records())
        replayed = await driver.replay(record.id)
        assert replayed.status.value == "replayed"

    asyncio.run(run(path, connector, replay_after_the_fix))
    assert [c.idempotency_key for c in connector.calls] == ["k1", "k1"]
    with SqliteStore(path) as store:
        assert store.pending() == []
        assert [r.status.value for r in store.dead_letter_records()] == ["replayed"]


def test_submit_returns_only_once_the_message_is_durable(tmp_path: Path) -> None:
    """What a webhook acknowledges after ``submit`` is on disk: another connection sees it."""
    path = tmp_path / "s.sqlite"

    async def body(driver: LiveDriver) -> None:
        for n in range(20):
            message = Inbound(f"evt-{n}", Kind.ERP_PO_CHANGED, {"OrderNumber": str(n)})
            await driver.submit(message)
            with SqliteStore(path) as other:
                assert other.consumed(message.message_id)

    asyncio.run(run(path, FakeConnector(), body))


class Gated(FakeConnector):
    """Answers only once ``gate`` is set: a delivery still on the wire at SIGTERM."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def call(self, request: Request) -> Response:
        await self.gate.wait()
        return await super().call(request)


def test_a_stop_keeps_the_done_marks_of_deliveries_answered_after_sigterm(
    tmp_path: Path,
) -> None:
    """SIGTERM stops the consumer; a delivery answered after that is still marked done,
    so a restart does not send it again."""
    path = tmp_path / "s.sqlite"
    with SqliteStore(path) as store:
        store.commit(Decision("m1", ("m1",), requests=(write("wms", "k1"),)))
    connector = Gated()

    async def main() -> None:
        engine = Poisoned(EngineConfig("HOSPNET01", {}))
        driver = LiveDriver(engine, lambda: SqliteStore(path), connector, planner())
        await driver.start()
        assert driver.status()["outbox_pending"] == 1
        driver.begin_shutdown()  # SIGTERM: the server drains its requests before stop()
        await asyncio.sleep(0.05)  # the consumer commits its last group and ends
        connector.gate.set()
        for _ in range(200):  # bounded: 2 s
            if connector.calls and not driver.stats.in_flight:
                break
            await asyncio.sleep(0.01)
        assert driver.status()["outbox_pending"] == 1  # answered; its mark not yet written
        await driver.stop()

    asyncio.run(main())
    assert [c.idempotency_key for c in connector.calls] == ["k1"]
    with SqliteStore(path) as store:
        assert store.pending() == []
