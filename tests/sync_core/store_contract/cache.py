"""The read cache's contract (``sync_core._store_cache``), run on each SQL backend.

A group commit on a store opened with ``read_cache=True`` queries once per group (the
check, plus one load per kind and one of the inbox), decides exactly as without the
cache, and never serves what another writer on the same data changed since — whether it
committed before the group's first read or while the group was deciding.  A backend's
test module subclasses :class:`ReadCacheContract` and gives it a ``stores`` fixture: a
:class:`CacheStores` on its own places.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtests.store_workload import NOW, build_workload
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import Decision, Entity, Inbound
from sync_core.store import AlreadyConsumed, GroupCommit, Store
from tests.sync_core.store_contract.helpers import decision, observe

PO = Entity("po", "1", 1, {"lines": [1, 2]})


class CacheStores(Protocol):
    """Stores of one backend, closed (and their places dropped) when the test ends."""

    def open(self, **options: Any) -> Store:
        """A store on a new place of its own."""

    def pair(self) -> tuple[Store, Store]:
        """A store with the read cache and a plain one (another connection), on one place."""

    def fresh_pair(self) -> AbstractContextManager[tuple[Store, Store]]:
        """As ``pair`` for one block (one Hypothesis example): closed and dropped at its end."""


def counted(store: Store) -> list[int]:
    """Count the queries ``store``'s reads send from now on."""
    count = [0]
    select = store._select  # type: ignore[attr-defined]  # every read query goes through it

    def counting(operation: str, query: str, params: Sequence[Any] = ()) -> list[Any]:
        count[0] += 1
        return select(operation, query, params)  # type: ignore[no-any-return]

    store._select = counting  # type: ignore[attr-defined]
    return count


def decide(store: Store, messages: Sequence[Inbound], size: int) -> list[int]:
    """The engine deciding ``messages`` in groups of ``size``; the read queries of each group."""
    engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))
    count = counted(store)
    queries = []
    for first in range(0, len(messages), size):
        before = count[0]
        group = GroupCommit(store)
        for message in messages[first : first + size]:
            group.stage(engine.handle(message, NOW, group))
        queries.append(count[0] - before)
        group.commit()
    return queries


# a writer's step: (key, data) committed by the other writer between two groups, a group of
# the cached store (keys it reads, a key it then writes) with maybe the other writer
# committing while that group decides
_KEYS = st.sampled_from(["1", "2", "3"])
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("other"), _KEYS),
        st.tuples(st.just("group"), st.lists(_KEYS, max_size=3), _KEYS, st.booleans()),
    ),
    min_size=1,
    max_size=8,
)


class ReadCacheContract:
    """The cases; a subclass provides the ``stores`` fixture."""

    @pytest.fixture
    def stores(self) -> Iterator[CacheStores]:
        raise NotImplementedError  # each backend's module overrides this fixture

    @pytest.fixture(scope="class")
    @classmethod
    def acknowledgments(cls) -> tuple[list[Decision], list[Inbound]]:
        """Twelve POs dispatched by the engine, and the supplier's 855 for each."""
        work = build_workload(12, seed=3)
        return work.dispatches, work.messages

    def test_a_group_reads_with_one_query_and_decides_as_without_the_cache(
        self, stores: CacheStores, acknowledgments: tuple[list[Decision], list[Inbound]]
    ) -> None:
        dispatches, messages = acknowledgments
        plain, cached = stores.open(), stores.open(read_cache=True)
        for store in (plain, cached):
            store.commit_many(dispatches)

        without = decide(plain, messages, 4)
        with_cache = decide(cached, messages, 4)

        assert sum(without) >= 3 * len(messages)  # its id, its PO and its ack, at least
        # the first group checks, loads the inbox and each kind it reads; the others check
        assert with_cache[0] <= 1 + 1 + 3 and with_cache[1:] == [1, 1]
        ids = [m.message_id for m in messages]
        assert observe(cached, ids, []) == observe(plain, ids, [])
        for kind in ("po", "ack", "exception"):
            assert cached.entities(kind) == plain.entities(kind)

    def test_a_cached_read_returns_what_a_query_returns(self, stores: CacheStores) -> None:
        store = stores.open(read_cache=True)
        group = GroupCommit(store)
        assert group.entity("po", "1") is None  # the kind is loaded: the key is known absent
        group.stage(decision("m1", entities=[Entity("po", "1", 1, {"pair": (1, 2)})]))
        group.commit()  # kept current by the store's own commit, as the database holds it

        assert GroupCommit(store).entity("po", "1") == store.entity("po", "1")
        assert store.entity("po", "1") == Entity("po", "1", 1, {"pair": [1, 2]})

    def test_another_writers_commit_is_seen_by_the_next_group(self, stores: CacheStores) -> None:
        cached, other = stores.pair()
        group = GroupCommit(cached)
        assert group.entity("po", "1") is None and not group.consumed("m1")
        group.stage(decision("m0"))
        group.commit()

        other.commit(decision("m1", entities=[PO]))

        group = GroupCommit(cached)
        assert group.consumed("m1") and group.entity("po", "1") == PO

    def test_a_commit_by_another_writer_while_a_group_decides_is_seen_after(
        self, stores: CacheStores
    ) -> None:
        cached, other = stores.pair()
        cached.commit(decision("m0"))
        group = GroupCommit(cached)
        assert group.entity("po", "1") is None  # cached: absent

        other.commit(decision("m1", entities=[PO]))  # after the group's check, before its commit
        group.stage(decision("m2"))
        group.commit()

        group = GroupCommit(cached)
        assert group.entity("po", "1") == PO and group.consumed("m1")

    def test_a_group_refused_as_stale_clears_the_cache(self, stores: CacheStores) -> None:
        cached, other = stores.pair()
        group = GroupCommit(cached)
        assert not group.consumed("m1") and group.entity("po", "1") is None

        other.commit(decision("m1", entities=[PO]))
        group.stage(decision("m1"))
        with pytest.raises(AlreadyConsumed, match="m1"):
            group.commit()

        group = GroupCommit(cached)
        assert group.consumed("m1") and group.entity("po", "1") == PO

    # each subclass runs it on its own backend: an example is one backend's, whatever class
    # called it (differing executors)
    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.differing_executors])  # fmt: skip
    @given(steps=_STEPS)
    def test_a_groups_reads_equal_a_querys_whatever_the_other_writer_did(
        self, stores: CacheStores, steps: list[tuple[Any, ...]]
    ) -> None:
        """Each read a group makes before anyone else commits equals a query made then."""
        with stores.fresh_pair() as (cached, other):
            ids = [f"m{n}" for n in range(2 * len(steps) + 1)]
            for n, step in enumerate(steps):
                if step[0] == "other":
                    other.commit(decision(f"m{2 * n}", entities=[Entity("po", step[1], n, n)]))
                    continue
                _, reads, write, meanwhile = step
                group = GroupCommit(cached)
                for key in reads:
                    assert group.entity("po", key) == other.entity("po", key)
                assert [group.consumed(m) for m in ids] == [other.consumed(m) for m in ids]
                if meanwhile:
                    other.commit(decision(f"m{2 * n}", entities=[Entity("po", write, n, "o")]))
                group.stage(decision(f"m{2 * n + 1}", entities=[Entity("po", write, n, "c")]))
                group.commit()
            group = GroupCommit(cached)
            assert [group.entity("po", k) for k in "123"] == [other.entity("po", k) for k in "123"]
