"""The PostgreSQL store's read cache (``sync_core._store_cache``): fewer queries, same answers.

The read cache's contract (``store_contract.cache``) on PostgreSQL, where another
writer is another store on the same schema; and what only PostgreSQL has: a group
whose check waits for a commit half way, and the scale-out workers' store without
the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from sync_core.store import GroupCommit
from tests.sync_core.store_contract.cache import PO, ReadCacheContract
from tests.sync_core.store_contract.helpers import decision

if TYPE_CHECKING:
    from sync_core.store_postgres import PostgresStore
    from tests.sync_core.conftest import PostgresSchemas


class Stores:
    """Stores on the test's schemas (the ``postgres`` fixture), closed when the test ends."""

    def __init__(self, postgres: PostgresSchemas) -> None:
        self.pg = postgres
        self.opened: list[PostgresStore] = []

    def open(self, schema: str | None = None, **options: Any) -> PostgresStore:
        store = self.pg.open(schema, **options)
        self.opened.append(store)
        return store

    def pair(self) -> tuple[PostgresStore, PostgresStore]:
        """A store with the read cache and a plain one, on one schema."""
        schema = self.pg.new_schema()
        return self.open(schema, read_cache=True), self.open(schema)

    @contextmanager
    def fresh_pair(self) -> Iterator[tuple[PostgresStore, PostgresStore]]:
        with self.pg.fresh() as schema:
            cached = self.pg.open(schema, read_cache=True)
            other = self.pg.open(schema)
            try:
                yield cached, other
            finally:
                cached.close()
                other.close()


class TestPostgresReadCache(ReadCacheContract):
    @pytest.fixture
    def stores(self, postgres: PostgresSchemas) -> Iterator[Stores]:  # type: ignore[override]
        made = Stores(postgres)
        yield made
        for store in made.opened:
            store.close()

    def test_a_group_waits_for_a_commit_half_way_and_reads_what_it_wrote(
        self, postgres: PostgresSchemas, stores: Stores
    ) -> None:
        schema = postgres.new_schema()
        cached = stores.open(schema, read_cache=True)
        cached.commit(decision("m0"))
        with postgres.raw(schema) as other:
            # another writer's commit, as commit_many makes it, stopped after taking its number
            other.execute("BEGIN")
            other.execute("INSERT INTO entities VALUES ('po', '1', 1, '{\"lines\":[1,2]}')")
            other.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                          (f"supplysync-commits:{schema}",))  # fmt: skip
            other.execute("SELECT nextval('audit_batch_seq')")
            timer = threading.Timer(0.2, lambda: other.execute("COMMIT"))
            timer.start()
            try:
                seen = GroupCommit(cached).entity("po", "1")  # waits for the COMMIT
            finally:
                timer.join()
        assert seen == PO


def test_the_scale_out_workers_store_reads_without_the_cache(postgres: PostgresSchemas) -> None:
    from sync_core.scaleout.store import WorkerStore

    with WorkerStore(postgres.url, slot=0, schema=postgres.new_schema()) as store:
        assert store.reader() is store  # other workers' commits would clear it at every group
