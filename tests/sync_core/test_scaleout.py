"""The scale-out core's pieces on a real PostgreSQL: slots, partitions, owned and adopted
outbox rows, the decision lock; the envelope without a server.

Each test has schemas of its own (the ``postgres`` fixture); skipped without a server,
failed instead when ``SUPPLYSYNC_REQUIRE_SERVICES=1`` (``conftest.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sync_core.messages import Inbound, Kind
from sync_core.scaleout.envelope import decode, encode, entity_key
from sync_core.scaleout.membership import (
    Membership,
    owned_partitions,
    store_schema,
    with_schema,
)
from sync_core.store import StoreError
from tests.sync_core.conftest import PostgresSchemas
from tests.sync_core.store_contract.helpers import decision, request


def test_an_envelope_carries_the_message_unchanged_keyed_by_its_po() -> None:
    message = Inbound("ev-1", Kind.ERP_PO_CHANGED, {"eventId": "ev-1", "OrderNumber": "4500000007",
                      "note": "é\u0000"}, "corr", {"q": [1]})  # fmt: skip
    envelope = decode(encode(message, queued=True))
    assert envelope.message == message and envelope.queued
    assert entity_key(message) == "4500000007"
    receipt = Inbound("r1", Kind.WMS_RECEIPT_CREATED, {"receipt_id": "R1", "po_nbr": "4500000007"})
    assert entity_key(receipt) == "4500000007"  # the same PO: the same partition
    assert entity_key(Inbound("edi:9", Kind.SUPPLIER_EDI, {"seq": 9})) == "edi:9"
    with pytest.raises(ValueError, match="not a supplysync envelope"):
        decode(b'{"id": 1}')


def test_partitions_are_dealt_to_the_live_slots_each_exactly_once() -> None:
    live = [0, 3, 7]
    dealt = [owned_partitions(s, live, 32) for s in live]
    assert set().union(*dealt) == set(range(32))
    assert sum(len(d) for d in dealt) == 32 and all(len(d) in (10, 11) for d in dealt)
    # slot 3 dies: slots 0 and 7 share its partitions
    assert owned_partitions(0, [0, 7], 32) | owned_partitions(7, [0, 7], 32) == set(range(32))
    # without takeover a slot keeps its own share, whoever lives
    assert owned_partitions(1, [1], 8, takeover=False, expected=2) == {1, 3, 5, 7}


def test_a_store_url_names_its_schema() -> None:
    url = with_schema("postgresql://postgres@127.0.0.1:5432/test", "tenant_a")
    assert store_schema(url) == "tenant_a"
    assert store_schema("postgresql://postgres@127.0.0.1/test") is None


@pytest.fixture
def schema(postgres: PostgresSchemas) -> Iterator[str]:
    name = postgres.new_schema()
    postgres.open(name).close()
    yield name


def _member(postgres: PostgresSchemas, schema: str) -> Membership:
    member = Membership(postgres.url, schema)
    member.join()
    return member


def _gone(member: Membership, survivor: Membership) -> None:
    """``member`` dies; return once the server has released its slot (it notices the
    closed session a moment later, as it notices a killed process)."""
    slot = member.slot
    member.leave()
    deadline = time.monotonic() + 10
    while slot in survivor.live() and time.monotonic() < deadline:
        time.sleep(0.01)


def _store(postgres: PostgresSchemas, schema: str, slot: int, **kw: Any) -> Any:
    from sync_core.scaleout.store import WorkerStore

    return WorkerStore(postgres.url, slot=slot, schema=schema, **kw)


def test_a_dead_workers_slot_is_freed_and_taken_again(
    postgres: PostgresSchemas, schema: str
) -> None:
    a, b = _member(postgres, schema), _member(postgres, schema)
    assert (a.slot, b.slot) == (0, 1) and a.live() == [0, 1]
    other = Membership(postgres.url, postgres.new_schema())  # another store: its own slots
    assert other.join() == 0
    _gone(a, b)  # the session ends, as with kill -9: the server releases the lock
    assert b.live() == [1]
    c = _member(postgres, schema)
    assert c.slot == 0 and b.live() == [0, 1]
    for m in (b, c, other):
        m.leave()


def test_a_worker_delivers_its_own_rows_and_adopts_a_dead_workers_once(
    postgres: PostgresSchemas, schema: str
) -> None:
    a, b = _member(postgres, schema), _member(postgres, schema)
    store_a, store_b = _store(postgres, schema, 0), _store(postgres, schema, 1)
    rows_a = store_a.commit(decision("m1", requests=[request(1), request(2)]))
    rows_b = store_b.commit(decision("m2", requests=[request(3)]))
    assert [r.outbox_id for r in store_a.pending()] == [r.outbox_id for r in rows_a]
    assert [r.outbox_id for r in store_b.pending()] == [r.outbox_id for r in rows_b]
    assert store_b.adopt(b.live()) == []  # slot 0 lives: nothing to adopt
    _gone(a, b)  # worker A dies with its rows undelivered
    adopted = store_b.adopt(b.live())
    assert [r.outbox_id for r in adopted] == [r.outbox_id for r in rows_a]
    assert adopted[0].request == request(1)
    assert store_b.adopt(b.live()) == []  # adopted once: now B's own
    assert len(store_b.pending()) == 3
    revived = _store(postgres, schema, 0)  # a worker restarted on slot 0 finds nothing
    assert revived.pending() == []
    for s in (store_a, store_b, revived):
        s.close()
    b.leave()


def test_two_workers_adopting_at_once_take_disjoint_rows(
    postgres: PostgresSchemas, schema: str
) -> None:
    dead = _member(postgres, schema)
    writer = _store(postgres, schema, dead.slot or 0)
    for n in range(40):
        writer.commit(decision(f"m{n}", requests=[request(n)]))
    writer.close()
    b, c = _member(postgres, schema), _member(postgres, schema)
    _gone(dead, b)
    stores = [_store(postgres, schema, m.slot or 0) for m in (b, c)]

    def adopt_all(store: Any) -> list[int]:
        taken: list[int] = []
        while batch := store.adopt(b.live(), limit=3):
            taken += [r.outbox_id for r in batch]
        return taken

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(adopt_all, stores)
    assert not set(first) & set(second)
    assert len(first) + len(second) == 40
    for s in stores:
        s.close()
    for m in (b, c):
        m.leave()


def test_rows_nobody_owns_are_adopted_by_one_worker(postgres: PostgresSchemas, schema: str) -> None:
    plain = postgres.open(schema)  # the ingress's store: a replay's row has no owner
    [rows] = plain.commit_many([decision("m1", requests=[request(1)])])
    member = _member(postgres, schema)
    store = _store(postgres, schema, member.slot or 0)
    assert [r.outbox_id for r in store.adopt(member.live())] == [rows[0].outbox_id]
    assert store.adopt(member.live()) == []
    for s in (plain, store):
        s.close()
    member.leave()


def test_decisions_of_two_workers_take_turns(postgres: PostgresSchemas, schema: str) -> None:
    a = _store(postgres, schema, 0)
    b = _store(postgres, schema, 1, lock_timeout_s=0.2)
    a.lock_decisions()
    with pytest.raises(StoreError) as raised:
        b.lock_decisions()
    assert raised.value.retriable  # a lock wait past lock_timeout: try again
    a.unlock_decisions()
    b.lock_decisions()  # free now
    b.unlock_decisions()
    for s in (a, b):
        s.close()


def test_a_store_of_the_previous_schema_version_is_refused(
    postgres: PostgresSchemas, schema: str
) -> None:
    with postgres.raw(schema) as db:
        db.execute("UPDATE store_meta SET version = 2")
    with pytest.raises(StoreError, match="schema version 2 is older than this store's"):
        postgres.open(schema)
