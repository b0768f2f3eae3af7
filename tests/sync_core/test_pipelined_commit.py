"""The pipelined group commit (``sync_core._pipelined_commit``): overlapped, same outcome.

The next group reads what the groups handed off wrote before they are stored; their
requests come back only once their commit returned; a failed commit discards its group
and the one staged on top, and deciding those again ends where the sequential
``GroupCommit`` ends — in memory, and on the real PostgreSQL with the read cache.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

from loadtests.bench_store import NOW, build_workload
from sync_core._pipelined_commit import CommitFailed, Committed, PipelinedCommit
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import Decision, Entity, Inbound
from sync_core.store import GroupCommit, MemoryStore, OutboxItem, Store, StoreError
from tests.sync_core.store_contract.helpers import decision, observe, request
from tests.sync_core.test_store_postgres_cache import counted

if TYPE_CHECKING:
    from tests.sync_core.conftest import PostgresSchemas

PO1 = Entity("po", "1", 1, {"lines": [1]})
PO2 = Entity("po", "1", 2, {"lines": [1, 2]})
KINDS = ("po", "ack", "exception")


class GatedStore(MemoryStore):
    """A memory store whose commits wait for ``gate``; commit number ``fail_at`` raises."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.fail_at, self.calls = fail_at, 0

    def commit_many(self, decisions: Sequence[Decision]) -> list[list[OutboxItem]]:
        self.calls += 1
        assert self.gate.wait(10), "the test never opened the gate"
        if self.calls == self.fail_at:
            raise StoreError("commit", "injected: the connection was lost")
        return super().commit_many(decisions)


@pytest.fixture(scope="module")
def acknowledgments() -> tuple[list[Decision], list[Inbound]]:
    """Twelve POs dispatched by the engine, and the supplier's 855 for each."""
    work = build_workload(12, seed=3)
    return work.dispatches, work.messages


def engine() -> Engine:
    return Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))


def test_the_next_group_reads_the_groups_handed_off_before_they_are_stored() -> None:
    store = GatedStore()
    store.gate.clear()
    with PipelinedCommit(store) as pipe:
        pipe.stage(decision("m1", entities=[PO1]))
        assert pipe.hand_off() == []
        pipe.stage(decision("m2", entities=[PO2]))

        assert pipe.consumed("m1") and pipe.consumed("m2")
        assert pipe.entity("po", "1") == PO2  # the newest layer first
        assert not store.consumed("m1") and store.entity("po", "1") is None
        store.gate.set()
        done = pipe.flush()
    assert [[d.message_id for d in c.decisions] for c in done] == [["m1"], ["m2"]]
    assert store.entity("po", "1") == PO2 and store.consumed("m1")


def test_requests_come_back_only_once_their_commit_returned() -> None:
    store = GatedStore()
    store.gate.clear()
    with PipelinedCommit(store, depth=2) as pipe:
        pipe.stage(decision("m1", requests=[request(1)]))
        assert pipe.hand_off() == []
        pipe.stage(decision("m2", requests=[request(2)]))
        assert pipe.hand_off() == []  # depth 2: handed off behind the first, not waited for
        assert store.pending() == []
        store.gate.set()
        done = pipe.flush()
    assert done == [
        Committed([decision("m1", requests=[request(1)])], [[OutboxItem(1, request(1))]]),
        Committed([decision("m2", requests=[request(2)])], [[OutboxItem(2, request(2))]]),
    ]
    assert store.pending() == [OutboxItem(1, request(1)), OutboxItem(2, request(2))]


def test_a_failed_commit_discards_its_group_and_the_one_staged_on_top() -> None:
    store = GatedStore(fail_at=2)
    with PipelinedCommit(store) as pipe:
        pipe.stage(decision("m1", entities=[PO1]))
        assert pipe.hand_off() == []
        pipe.stage(decision("m2", entities=[PO2]))
        done = pipe.hand_off()  # depth 1: waits for the first commit
        pipe.stage(decision("m3", consumed=["m3", "m2"]))  # read m2's state to decide
        with pytest.raises(CommitFailed) as failed:
            pipe.hand_off()  # waits for the second commit, which fails
        assert [[d.message_id for d in c.decisions] for c in done] == [["m1"]]
        assert failed.value.committed == []
        assert [d.message_id for d in failed.value.redecide] == ["m2", "m3"]
        assert "injected" in str(failed.value.error)
        # nothing of the discarded groups is read any more: only what was stored
        assert len(pipe) == 0 and pipe.entity("po", "1") == PO1 and not pipe.consumed("m2")
        assert pipe.flush() == []
    assert store.entity("po", "1") == PO1 and not store.consumed("m2")


def test_a_failure_nobody_collected_is_raised_when_the_pipeline_closes() -> None:
    store = GatedStore(fail_at=1)
    pipe = PipelinedCommit(store)
    pipe.stage(decision("m1", entities=[PO1]))
    pipe.hand_off()
    with pytest.raises(CommitFailed) as failed:
        pipe.close()
    assert [d.message_id for d in failed.value.redecide] == ["m1"]
    assert not store.consumed("m1")


def sequential(store: Store, messages: Sequence[Inbound], size: int) -> list[OutboxItem]:
    """The engine deciding ``messages`` through ``GroupCommit``; the outbox rows, in order."""
    decide, group, items = engine(), GroupCommit(store), []
    for message in messages:
        group.stage(decide.handle(message, NOW, group))
        if len(group) >= size:
            items += [i for rows in group.commit() for i in rows]
    return items + [i for rows in group.commit() for i in rows]


def pipelined(store: Store, messages: Sequence[Inbound], size: int) -> tuple[list[OutboxItem], int]:
    """The same through ``PipelinedCommit``, deciding again what a failure discards; the outbox
    rows in order, and how many messages were decided again."""
    decide, items, again = engine(), [], 0
    by_id = {m.message_id: m for m in messages}
    todo = deque(messages)
    with PipelinedCommit(store) as pipe:
        while True:
            try:
                while todo:
                    pipe.stage(decide.handle(todo.popleft(), NOW, pipe))
                    if len(pipe) >= size:
                        items += [i for c in pipe.hand_off() for rows in c.outbox for i in rows]
                items += [i for c in pipe.flush() for rows in c.outbox for i in rows]
                return items, again
            except CommitFailed as e:
                items += [i for c in e.committed for rows in c.outbox for i in rows]
                again += len(e.redecide)
                todo.extendleft(reversed([by_id[d.message_id] for d in e.redecide]))


def everything(store: Store, messages: Sequence[Inbound]) -> dict[str, Any]:
    """What a reader sees, outbox rows by their request (a failed PostgreSQL commit leaves a
    gap in the outbox ids: sequences are not transactional)."""
    seen = observe(store, [m.message_id for m in messages], [])
    seen["pending"] = [i.request for i in seen["pending"]]
    return {**seen, **{kind: store.entities(kind) for kind in KINDS}}


def test_deciding_again_after_a_failed_commit_ends_as_the_sequential_commit(
    acknowledgments: tuple[list[Decision], list[Inbound]],
) -> None:
    dispatches, messages = acknowledgments
    plain, failing = MemoryStore(), GatedStore(fail_at=2)
    for store in (plain, failing):
        store.commit_many(dispatches)
    failing.calls = 0

    expected = sequential(plain, messages, 3)
    items, again = pipelined(failing, messages, 3)

    assert again == 6  # the second group of three, and the third staged on top of it
    assert [i.request for i in items] == [i.request for i in expected]
    assert everything(failing, messages) == everything(plain, messages)


def test_on_postgresql_with_the_read_cache_a_failed_commit_is_decided_again_to_the_same_end(
    postgres: PostgresSchemas, acknowledgments: tuple[list[Decision], list[Inbound]]
) -> None:
    dispatches, messages = acknowledgments
    with postgres.open() as plain, postgres.open(read_cache=True) as cached:
        for store in (plain, cached):
            store.commit_many(dispatches)
        audit = cached._insert_audit  # the commit's last write: make the second one fail
        calls = [0]

        def failing_second(db: Any, columns: Sequence[Any]) -> int:
            calls[0] += 1
            if calls[0] == 2:
                db.execute("SELECT 1 / 0")  # rolls the group back
            return audit(db, columns)

        cached._insert_audit = failing_second  # type: ignore[method-assign]

        expected = sequential(plain, messages, 3)
        items, again = pipelined(cached, messages, 3)

        assert again == 6 and calls[0] == 5  # four groups, one of them twice
        assert [i.request for i in items] == [i.request for i in expected]
        assert everything(cached, messages) == everything(plain, messages)
        # what the pipeline read through the cache is what a query reads
        check = GroupCommit(cached)
        for kind in KINDS:
            assert [check.entity(kind, e.key) for e in plain.entities(kind)] == plain.entities(kind)


def test_on_postgresql_later_groups_read_the_commits_through_the_cache_without_a_query(
    postgres: PostgresSchemas,
) -> None:
    with postgres.open(read_cache=True) as cached:
        queries = counted(cached)  # the reads' queries (the commits do not go through it)
        with PipelinedCommit(cached) as pipe:
            assert pipe.entity("po", "1") is None and not pipe.consumed("m1")
            assert queries[0] == 3  # the check, the kind, the inbox
            pipe.stage(decision("m1", entities=[PO1]))
            pipe.hand_off()
            pipe.stage(decision("m2", entities=[PO2]))
            assert len(pipe.hand_off()) == 1  # m1's commit returned: read from the cache now
            assert pipe.entity("po", "1") == PO2
            assert [len(c.decisions) for c in pipe.flush()] == [1]
            assert pipe.entity("po", "1") == PO2 and pipe.consumed("m1") and pipe.consumed("m2")
            assert queries[0] == 3
        assert cached.entity("po", "1") == PO2
