"""The durable store contract (``store_contract.durable``) on SQLite, one file per store.

The hooks inject failures with SQLite triggers (``RAISE(ABORT, …)``), crash the
process from inside SQLite (a function that calls ``os._exit``, called by a
temporary trigger) and hold the write lock with ``BEGIN IMMEDIATE`` on a
second connection.  What only SQLite has follows the hooks.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sync_core.store import StoreError
from sync_core.store_sqlite import SqliteStore
from tests.sync_core.store_contract.durable import DurableStoreContract
from tests.sync_core.store_contract.helpers import clock


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the file at ``path``, committed and closed at the end."""
    db = sqlite3.connect(path)
    try:
        yield db
        db.commit()
    finally:
        db.close()


class TestSqliteStore(DurableStoreContract):
    SHORT_LOCK_WAIT: ClassVar[dict[str, Any]] = {"busy_timeout_s": 0.05}
    GAPLESS_IDS = True
    OLDER_VERSION = 2  # the schema before the audit trail

    @pytest.fixture(autouse=True)
    def _numbers(self) -> None:
        self.numbers = itertools.count(1)

    def new_place(self) -> Path:
        return self.tmp_path / f"store-{next(self.numbers)}.db"

    def open(self, place: Any = None, **options: Any) -> SqliteStore:
        store = SqliteStore(place or self.new_place(), **{"clock": clock, **options})
        self._opened.append(store)
        return store

    def add_failing_trigger(self, place: Path, table: str = "audit", event: str = "INSERT") -> None:
        with raw(place) as db:
            db.execute(
                f"CREATE TRIGGER fail_{table} BEFORE {event} ON {table}"
                " BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
            )

    def drop_failing_trigger(self, place: Path, table: str = "audit") -> None:
        with raw(place) as db:
            db.execute(f"DROP TRIGGER fail_{table}")

    def failure_cause(self) -> type[BaseException]:
        return sqlite3.IntegrityError

    def lock_cause(self) -> type[BaseException]:
        return sqlite3.OperationalError

    @contextmanager
    def hold_write_lock(self, place: Path) -> Iterator[None]:
        other = sqlite3.connect(place, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()

    def set_schema_version(self, place: Path, version: int) -> None:
        with raw(place) as db:
            db.execute(f"PRAGMA user_version = {version}")

    def make_foreign(self, place: Path) -> None:
        with raw(place) as db:
            db.execute("CREATE TABLE t (x)")

    def crash_script(self, place: Path) -> tuple[str, str]:
        opening = (
            f"from sync_core.store_sqlite import SqliteStore\nstore = SqliteStore({str(place)!r})"
        )
        arming = (
            "db = store._db  # the test reaches in to die inside SQLite's transaction\n"
            'db.create_function("crash", 0, lambda: os._exit(70))\n'
            'db.execute("CREATE TEMP TRIGGER crash BEFORE INSERT ON audit'
            ' BEGIN SELECT crash(); END")'
        )
        return opening, arming

    # -- what only SQLite has -------------------------------------------------------------

    def test_the_file_is_wal_and_synchronous_is_full_by_default(self) -> None:
        store = self.open(self.tmp_path / "a.db")
        assert store.pragmas() == {"journal_mode": "wal", "synchronous": "FULL"}
        relaxed = self.open(self.tmp_path / "b.db", synchronous="NORMAL")
        assert relaxed.pragmas()["synchronous"] == "NORMAL"
        with pytest.raises(ValueError, match="synchronous"):
            SqliteStore(self.tmp_path / "c.db", synchronous="SOMETIMES")  # type: ignore[arg-type]

    def test_driver_errors_are_translated(self) -> None:
        store = self.open()
        store.close()
        with pytest.raises(StoreError, match="consumed") as caught:
            store.consumed("m1")
        assert isinstance(caught.value.__cause__, sqlite3.ProgrammingError)
        with pytest.raises(StoreError, match="open"):
            SqliteStore(self.tmp_path / "no" / "such" / "dir.db")


class TestSqliteStoreReadCache(TestSqliteStore):
    """The same contract with the read cache on: a group commit reads through it
    (``test_store_sqlite_cache`` has what only the cache has)."""

    def open(self, place: Any = None, **options: Any) -> SqliteStore:
        return super().open(place, **{"read_cache": True, **options})
