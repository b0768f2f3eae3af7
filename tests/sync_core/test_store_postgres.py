"""The durable store contract (``store_contract.durable``) on PostgreSQL, a schema per store.

Each store lives in a fresh schema (the ``postgres`` fixture, ``conftest.py``):
skipped without a server, failed instead when ``SUPPLYSYNC_REQUIRE_SERVICES=1``.
The hooks inject failures with a PL/pgSQL trigger, crash the process by
replacing the store's last write of a commit with ``os._exit`` (the server
rolls the open transaction back), and hold a lock from a second connection
with an uncommitted inbox row.  What only PostgreSQL has follows the hooks:
schemas, several writers, reconnection, the text it refuses.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from sync_core.messages import DeadLetter, Entity, Kind
from sync_core.store import AlreadyConsumed, StoreError
from tests.sync_core.store_contract.durable import DurableStoreContract
from tests.sync_core.store_contract.helpers import clock, decision, observe, request

if TYPE_CHECKING:
    from sync_core.store_postgres import PostgresStore
    from tests.sync_core.conftest import PostgresSchemas


class TestPostgresStore(DurableStoreContract):
    SHORT_LOCK_WAIT: ClassVar[dict[str, Any]] = {"lock_timeout_s": 0.05}
    OLDER_VERSION = 1  # the schema before the audit trail

    pg: PostgresSchemas

    @pytest.fixture(autouse=True)
    def _postgres(self, postgres: PostgresSchemas) -> None:
        self.pg = postgres

    def new_place(self) -> str:
        return self.pg.new_schema()

    def open(self, place: Any = None, **options: Any) -> PostgresStore:
        store = self.pg.open(place, **{"clock": clock, **options})
        self._opened.append(store)
        return store

    def add_failing_trigger(self, place: str, table: str = "audit", event: str = "INSERT") -> None:
        with self.pg.raw(place) as db:
            db.execute(
                "CREATE OR REPLACE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RAISE EXCEPTION 'simulated failure'; END $$"
            )
            db.execute(f"CREATE TRIGGER fail BEFORE {event} ON {table} EXECUTE FUNCTION fail()")

    def drop_failing_trigger(self, place: str, table: str = "audit") -> None:
        with self.pg.raw(place) as db:
            db.execute(f"DROP TRIGGER fail ON {table}")

    def failure_cause(self) -> type[BaseException]:
        import psycopg

        return psycopg.errors.RaiseException

    def lock_cause(self) -> type[BaseException]:
        import psycopg

        return psycopg.errors.LockNotAvailable

    @contextmanager
    def hold_write_lock(self, place: str) -> Iterator[None]:
        with self.pg.raw(place) as other:
            other.execute("BEGIN")
            other.execute("INSERT INTO inbox VALUES ('m1')")
            try:
                yield
            finally:
                other.execute("ROLLBACK")

    def set_schema_version(self, place: str, version: int) -> None:
        with self.pg.raw(place) as db:
            db.execute("UPDATE store_meta SET version = %s", (version,))

    def make_foreign(self, place: str) -> None:
        with self.pg.raw() as db:
            db.execute(f'CREATE SCHEMA "{place}"')
            db.execute(f'CREATE TABLE "{place}".t (x int)')

    def crash_script(self, place: str) -> tuple[str, str]:
        opening = (
            "from sync_core.store_postgres import PostgresStore\n"
            f"store = PostgresStore({self.pg.url!r}, schema={place!r})"
        )
        # the test reaches in to die at the right moment: the audit row is the last write
        arming = "store._insert_audit = lambda db, columns: os._exit(70)"
        return opening, arming

    # -- what only PostgreSQL has ---------------------------------------------------------

    def test_stores_in_other_schemas_see_nothing_of_each_other(self) -> None:
        one, two = self.store(), self.store()
        one.commit(decision("m1", entities=[Entity("po", "1", 1, None)], requests=[request(1)]))
        assert not two.consumed("m1") and two.entity("po", "1") is None
        assert two.pending() == [] and two.audit() == []

    def test_two_writers_on_one_schema_share_the_inbox(self) -> None:
        schema = self.new_place()
        one, two = self.open(schema), self.open(schema)
        [item] = one.commit(decision("m1", requests=[request(1)]))
        assert two.consumed("m1") and two.pending() == [item]

        with pytest.raises(AlreadyConsumed, match="m1"):  # decided on stale state
            two.commit(decision("m1", requests=[request(2)]))
        [other] = two.commit(decision("m2", requests=[request(2)]))

        assert one.pending() == [item, other]
        assert [a.message_id for a in one.audit()] == ["m1", "m2"]

    def test_a_writer_waits_for_another_writers_transaction_on_the_same_message(self) -> None:
        schema = self.new_place()
        store = self.open(schema)
        with self.pg.raw(schema) as other:
            other.execute("BEGIN")
            other.execute("INSERT INTO inbox VALUES ('m1')")
            timer = threading.Timer(0.2, lambda: other.execute("COMMIT"))
            timer.start()
            try:
                with pytest.raises(AlreadyConsumed, match="m1"):  # blocked until the COMMIT
                    store.commit(decision("m1", requests=[request(1)]))
            finally:
                timer.join()
        assert store.pending() == []

    def test_a_lost_connection_is_retriable_and_the_next_call_reconnects(self) -> None:
        store = self.open()
        store.commit(decision("m1"))
        pid = store._db.info.backend_pid  # type: ignore[union-attr]  # the test reaches in
        with self.pg.raw() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StoreError) as caught:
            store.commit(decision("m2"))
        assert caught.value.retriable, caught.value

        store.commit(decision("m2"))  # the same call, unchanged, on a new connection
        assert store.consumed("m1") and store.consumed("m2")

    def test_a_closed_store_is_refused_not_retried(self) -> None:
        store = self.store()
        store.close()
        with pytest.raises(StoreError, match=r"consumed: .*closed") as caught:
            store.consumed("m1")
        assert not caught.value.retriable

    def test_no_server_is_a_retriable_error_naming_it(self) -> None:
        from sync_core.store_postgres import PostgresStore

        with pytest.raises(StoreError, match=r"open: postgresql://127.0.0.1:1/x") as caught:
            PostgresStore("postgresql://u:secret@127.0.0.1:1/x", connect_timeout_s=1)
        assert caught.value.retriable and "secret" not in str(caught.value)

    def test_values_postgresql_cannot_hold_are_refused_naming_why(self) -> None:
        store = self.store()
        with pytest.raises(StoreError, match="cannot store a value: bigint out of range"):
            store.commit(decision("m2", entities=[Entity("po", "1", 2**64, None)]))
        with pytest.raises(StoreError, match=r"cannot store a value: .*0x00"):
            store.commit(decision("m3", consumed=["m3", "bad\x00id"]))
        assert observe(store, ["m2", "m3"], [("po", "1")])["consumed"] == []
        assert store.pending() == [] and store.audit() == []

    def test_free_text_with_nul_and_exotic_characters_round_trips(self) -> None:
        store = self.store()
        req = request(1, idempotency_key="k\x00\U0001f600", correlation_id="c\x00")
        letter = DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "bad \x00 byte", {"\x00": "\ud800"},
                            request=req, correlation_id="\x00", at=-0.0)  # fmt: skip
        store.add_dead_letter(letter)
        store.discard_dead_letter(1, "why\x00")
        assert store.dead_letters() == [letter]
        assert store.dead_letter_record(1).discard_reason == "why\x00"

    def test_the_session_settings(self) -> None:
        settings = self.open().settings()
        assert settings["synchronous_commit"] == "on"
        assert settings["transaction_isolation"] == "read committed"
        assert self.open(synchronous_commit=False).settings()["synchronous_commit"] == "off"


class TestPostgresStoreReadCache(TestPostgresStore):
    """The same contract with the read cache on: a group commit reads through it
    (``test_store_postgres_cache`` has what only the cache has)."""

    def open(self, place: Any = None, **options: Any) -> PostgresStore:
        return super().open(place, **{"read_cache": True, **options})
