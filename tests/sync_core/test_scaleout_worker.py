"""A scale-out worker on the in-process bus and a real PostgreSQL: every message is decided
once, committed, then acknowledged; one a dead worker committed but never acknowledged
comes back, is recognised by the inbox, and is acknowledged; a worker's requests are
delivered and its rows leave the outbox.

Skipped without PostgreSQL; failed instead when ``SUPPLYSYNC_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sync_core.bus import BusConfig, MemoryBus
from sync_core.delivery import default_planner
from sync_core.messages import Decision, Inbound, Kind, Request, Response, StateView
from sync_core.scaleout.envelope import encode, entity_key
from sync_core.scaleout.membership import Membership
from sync_core.scaleout.store import WorkerStore
from sync_core.scaleout.worker import Worker, WorkerDriver
from tests.sync_core.conftest import PostgresSchemas


class OneWrite:
    """An engine that consumes each message and asks for one write."""

    def handle(self, message: Inbound, now: dt.datetime, state: StateView) -> Decision:
        write = Request("erp", "put", {"id": message.message_id},
                        idempotency_key=f"k-{message.message_id}")  # fmt: skip
        return Decision(message.message_id, (message.message_id,), requests=(write,))


class Counting:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def knows(self, request: Request) -> str | None:
        return None

    async def call(self, request: Request) -> Response:
        self.sent.append(str(request.idempotency_key))
        return Response(200, {})

    async def close(self) -> None:
        pass


def test_each_message_is_committed_once_then_acked_and_delivered(
    postgres: PostgresSchemas,
) -> None:
    schema = postgres.new_schema()
    postgres.open(schema).close()
    messages = [Inbound(f"ev-{n}", Kind.ERP_PO_CHANGED, {"OrderNumber": f"45{n:08d}"})
                for n in range(20)]  # fmt: skip
    # a worker that died after its commit, before its ack: message 3 is in the inbox
    dead = WorkerStore(postgres.url, slot=7, schema=schema)
    dead.commit(OneWrite().handle(messages[3], dt.datetime.now(), dead))
    dead.done_many([item.outbox_id for item in dead.pending()])  # and was delivered
    dead.close()
    connector = Counting()
    bus = MemoryBus(BusConfig(partitions=4))

    def make_driver(slot: int) -> WorkerDriver:
        store = lambda: WorkerStore(postgres.url, slot=slot, schema=schema)  # noqa: E731
        return WorkerDriver(OneWrite(), store, connector, default_planner(1))

    async def scenario() -> dict[str, Any]:
        for m in messages:
            await bus.publish(entity_key(m), encode(m), dedup_id=m.message_id)
        worker = Worker(bus, Membership(postgres.url, schema), make_driver, tick_s=0.1)
        task = asyncio.create_task(worker.run())
        for _ in range(300):
            await asyncio.sleep(0.05)
            if worker.stats.acked == 20 and len(connector.sent) == 19:
                break
        await asyncio.sleep(0.3)  # room for a send or an ack too many, were there one
        status = worker.status()
        worker.stop()
        await asyncio.wait_for(task, 30)
        return status

    status = asyncio.run(scenario())
    assert status["acked"] == 20 and status["duplicates"] == 1
    assert sorted(connector.sent) == sorted(f"k-ev-{n}" for n in range(20) if n != 3)
    assert status["partitions"] == [0, 1, 2, 3]  # the only worker consumes them all
    check = postgres.open(schema)
    assert all(check.consumed(m.message_id) for m in messages)
    assert check.pending() == []  # every row delivered and marked done
    check.close()
