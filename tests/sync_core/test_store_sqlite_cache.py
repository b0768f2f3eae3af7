"""The SQLite store's read cache (``sync_core._store_cache``): fewer queries, same answers.

The read cache's contract (``store_contract.cache``) on SQLite, where another writer
is another connection to the same file (``PRAGMA data_version`` tells); and what only
SQLite has: a write by a plain connection is seen, and the cache is off by default.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sync_core.store import GroupCommit
from sync_core.store_sqlite import SqliteStore
from tests.sync_core.store_contract.cache import PO, ReadCacheContract
from tests.sync_core.store_contract.helpers import decision


class Stores:
    """Stores on files in the test's directory, closed when the test ends."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.files = 0
        self.opened: list[SqliteStore] = []

    def new_file(self) -> Path:
        self.files += 1
        return self.tmp_path / f"store-{self.files}.db"

    def open(self, path: Path | None = None, **options: Any) -> SqliteStore:
        store = SqliteStore(path or self.new_file(), synchronous="OFF", **options)
        self.opened.append(store)
        return store

    def pair(self) -> tuple[SqliteStore, SqliteStore]:
        """A store with the read cache and a plain one (another connection), on one file."""
        path = self.new_file()
        return self.open(path, read_cache=True), self.open(path)

    @contextmanager
    def fresh_pair(self) -> Iterator[tuple[SqliteStore, SqliteStore]]:
        path = self.new_file()
        cached = SqliteStore(path, synchronous="OFF", read_cache=True)
        other = SqliteStore(path, synchronous="OFF")
        try:
            yield cached, other
        finally:
            cached.close()
            other.close()
            path.unlink()

    def close(self) -> None:
        for store in self.opened:
            store.close()


class TestSqliteReadCache(ReadCacheContract):
    @pytest.fixture
    def stores(self, tmp_path: Path) -> Iterator[Stores]:  # type: ignore[override]
        made = Stores(tmp_path)
        yield made
        made.close()

    def test_a_write_by_a_plain_connection_is_seen(self, stores: Stores) -> None:
        """Any other connection's commit changes the data version, not only a store's."""
        cached = stores.open(read_cache=True)
        cached.commit(decision("m0"))
        assert GroupCommit(cached).entity("po", "1") is None
        db = sqlite3.connect(cached.path)
        try:
            db.execute("INSERT INTO entities VALUES ('po', '1', 1, '{\"lines\":[1,2]}')")
            db.commit()
        finally:
            db.close()
        assert GroupCommit(cached).entity("po", "1") == PO

    def test_the_cache_is_off_by_default(self, stores: Stores) -> None:
        store = stores.open()
        assert store.reader() is store
