"""What only a durable store promises, written once for SQLite and PostgreSQL.

A durable backend names a *place* (a file, a schema) that outlives the store
object, so these cases open, close and reopen stores on one place, break a
write half-way (a trigger that raises: failure injection), kill the process
in the middle of a commit (a crash script run in a subprocess), hold a lock
from another connection, and tamper with the schema version.  How each of
those is done differs per backend and is a hook below; what must follow is
the same and is written once.
"""

from __future__ import annotations

import subprocess
import sys
from abc import abstractmethod
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import pytest

from sync_core.audit import verify
from sync_core.messages import DeadLetter, Entity, Kind, Request
from sync_core.store import DeadLetterStatus, GroupCommit, Store, StoreError
from tests.sync_core.store_contract.cases import StoreContract
from tests.sync_core.store_contract.helpers import (
    ENGINE_IDS,
    ENGINE_KEYS,
    NOW,
    ROOT,
    decision,
    engine,
    engine_messages,
    observe,
    request,
)


class DurableStoreContract(StoreContract):
    """The store contract plus reopening, failure injection and a crash, on hooks."""

    #: options that make a store give up a lock wait quickly
    SHORT_LOCK_WAIT: ClassVar[dict[str, Any]]
    #: True when outbox ids have no gaps even after a crash (SQLite; a sequence has gaps)
    GAPLESS_IDS: ClassVar[bool] = False
    #: a schema version older than the store's
    OLDER_VERSION: ClassVar[int]

    # -- hooks ----------------------------------------------------------------------------

    @abstractmethod
    def new_place(self) -> Any:
        """A new, empty place for a store (a file path, a schema name)."""

    @abstractmethod
    def open(self, place: Any = None, **options: Any) -> Store:
        """A store on ``place`` (a new place by default), closed when the test ends."""

    @abstractmethod
    def add_failing_trigger(self, place: Any, table: str = "audit", event: str = "INSERT") -> None:
        """Make every ``event`` on ``table`` fail with 'simulated failure'."""

    @abstractmethod
    def drop_failing_trigger(self, place: Any, table: str = "audit") -> None:
        """Remove what :meth:`add_failing_trigger` added to ``table``."""

    @abstractmethod
    def failure_cause(self) -> type[BaseException]:
        """The driver's error the simulated failure is raised as."""

    @abstractmethod
    def lock_cause(self) -> type[BaseException]:
        """The driver's error for a lock wait beyond the store's timeout."""

    @abstractmethod
    def hold_write_lock(self, place: Any) -> AbstractContextManager[None]:
        """Another connection holds what a commit of message ``m1`` must wait for."""

    @abstractmethod
    def set_schema_version(self, place: Any, version: int) -> None:
        """Overwrite the schema version a store on ``place`` recorded."""

    @abstractmethod
    def make_foreign(self, place: Any) -> None:
        """Make ``place`` hold a table of somebody else's (not a store)."""

    @abstractmethod
    def crash_script(self, place: Any) -> tuple[str, str]:
        """Python code (unindented lines): one opening ``store`` on ``place``, one arming a
        crash (``os._exit(70)``) inside the next commit's transaction, after its other writes."""

    # -- cases ----------------------------------------------------------------------------

    def create_store(self) -> Store:
        return self.open()

    def full_store(self, place: Any) -> tuple[Store, dict[str, Any]]:
        """A store with something in every table, and what it shows."""
        store = self.open(place)
        eng = engine()
        for message in engine_messages():
            store.commit(eng.handle(message, NOW, store))
        store.done(store.pending()[1].outbox_id)
        store.add_dead_letter(DeadLetter("outbox:9", "post_edi", "answered 400", "ISA~"))
        store.add_dead_letter(DeadLetter("outbox:10", "op1", "503", None, request=request(1),
                                         correlation_id="c", at=12.25))  # fmt: skip
        letters = store.dead_letter_records()
        store.replay_dead_letter(letters[0].id)  # inbound: queued
        store.replay_dead_letter(letters[-1].id)  # request: back in the outbox
        store.discard_dead_letter(letters[1].id, "fixed by hand")
        return store, observe(store, ENGINE_IDS, ENGINE_KEYS)

    def test_reopening_gives_back_the_same_state(self) -> None:
        place = self.new_place()
        store, before = self.full_store(place)
        last_id = store.pending()[-1].outbox_id
        store.close()

        again = self.open(place)

        assert observe(again, ENGINE_IDS, ENGINE_KEYS) == before
        assert before["pending"] and before["dead_letters"] and before["audit"]
        assert len(before["audit_trail"]) == 8 and verify(before["audit_trail"]).intact
        assert before["pending_inbound"]
        assert {r.status for r in before["dead_letter_records"]} == set(DeadLetterStatus)
        [new] = again.commit(decision("m9", requests=[request(9)]))
        assert new.outbox_id == last_id + 1

    def test_outbox_ids_are_never_reused_across_a_reopen(self) -> None:
        place = self.new_place()
        store = self.open(place)
        items = store.commit(decision("m1", requests=[request(1), request(2)]))
        for item in items:
            store.done(item.outbox_id)
        store.close()

        [new] = self.open(place).commit(decision("m2", requests=[request(3)]))

        assert new.outbox_id == items[-1].outbox_id + 1

    def test_a_failure_inside_a_commit_keeps_none_of_the_decision(self) -> None:
        place = self.new_place()
        store, before = self.full_store(place)
        self.add_failing_trigger(place)
        failing = decision(
            "m9",
            consumed=["m9", "m10"],
            entities=[Entity("watermark", "erp", 99, "x"), Entity("po", "9", 1, {})],
            requests=[request(9)],
            dead=[DeadLetter("m10", "k", "r", None)],
        )

        with pytest.raises(StoreError, match="simulated failure") as caught:
            store.commit(failing)
        with pytest.raises(StoreError):
            store.commit_many([decision("m11", requests=[request(11)]), failing])

        assert isinstance(caught.value.__cause__, self.failure_cause())
        assert not caught.value.retriable
        ids, keys = [*ENGINE_IDS, "m9", "m10", "m11"], [*ENGINE_KEYS, ("po", "9")]
        unchanged = {**before, "entities": {**before["entities"], ("po", "9"): None}}
        assert observe(store, ids, keys) == unchanged
        store.close()
        again = self.open(place)
        assert observe(again, ids, keys) == unchanged

        self.drop_failing_trigger(place)
        again.commit(failing)  # the store still works once the cause is gone
        assert again.consumed("m10") and again.entity("po", "9") == Entity("po", "9", 1, {})

    def test_a_failed_group_commit_clears_the_group(self) -> None:
        place = self.new_place()
        store = self.open(place)
        self.add_failing_trigger(place)
        group = GroupCommit(store)
        group.stage(decision("m1", entities=[Entity("po", "1", 1, None)]))

        with pytest.raises(StoreError):
            group.commit()

        assert len(group) == 0
        assert not group.consumed("m1") and group.entity("po", "1") is None

    def test_a_failure_inside_a_replay_keeps_none_of_it(self) -> None:
        place = self.new_place()
        store = self.open(place)
        store.add_dead_letter(DeadLetter("outbox:1", "op1", "503", None, request=request(1)))
        store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "no number", {}))
        self.add_failing_trigger(place, "dead_letters", "UPDATE")
        before = observe(store, ["ev:1#replay1"], [])

        for letter_id in (1, 2):
            with pytest.raises(StoreError, match="simulated failure"):
                store.replay_dead_letter(letter_id)

        assert observe(store, ["ev:1#replay1"], []) == before
        assert store.pending() == [] and store.pending_inbound() == []

    def test_a_dead_letter_whose_audit_entry_fails_is_not_kept(self) -> None:
        """The entry is written in the transaction of what it records: both or neither."""
        place = self.new_place()
        store = self.open(place)
        self.add_failing_trigger(place, "audit_trail")
        letter = DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "no number", {})

        with pytest.raises(StoreError, match="simulated failure"):
            store.add_dead_letter(letter)
        with pytest.raises(StoreError, match="simulated failure"):
            store.commit(decision("m1", dead=[letter]))

        assert store.dead_letters() == [] and not store.consumed("m1")
        self.drop_failing_trigger(place, "audit_trail")
        letter_id = store.add_dead_letter(letter)  # a sequence: maybe not 1
        self.add_failing_trigger(place, "audit_trail")
        with pytest.raises(StoreError, match="simulated failure"):
            store.replay_dead_letter(letter_id, actor="alice")
        with pytest.raises(StoreError, match="simulated failure"):
            store.discard_dead_letter(letter_id, "x", actor="alice")
        assert store.dead_letter_record(letter_id).status is DeadLetterStatus.OPEN
        assert store.pending_inbound() == [] and len(store.audit_trail()) == 1

    def test_a_crash_inside_a_commit_keeps_none_of_the_decision(self) -> None:
        """The process dies half-way through the transaction; none of it is kept."""
        place = self.new_place()
        opening, arming = self.crash_script(place)
        commit = (
            'store.commit(Decision("{m}", ("{m}",), (PutEntity(Entity("po", "1", {v}, "v{v}")),),'
            ' (Request("erp", "op{v}"),)))'
        )
        script = "\n".join([
            "import os, sys",
            f"sys.path.insert(0, {str(ROOT)!r})",
            "from sync_core.messages import Decision, Entity, PutEntity, Request",
            opening,
            commit.format(m="m1", v=1),
            arming,
            commit.format(m="m2", v=2),
            "sys.exit(0)",
        ])  # fmt: skip

        run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)

        assert run.returncode == 70, run.stderr.decode()
        store = self.open(place)
        assert store.consumed("m1") and not store.consumed("m2")
        assert store.entity("po", "1") == Entity("po", "1", 1, "v1")
        assert [i.request for i in store.pending()] == [Request("erp", "op1")]
        assert [a.message_id for a in store.audit()] == ["m1"]
        [new] = store.commit(decision("m3", requests=[request(3)]))
        if self.GAPLESS_IDS:
            assert new.outbox_id == 2
        else:  # never reused; the lost commit's id is a gap
            assert new.outbox_id > 1
        assert [i.request for i in store.pending()] == [Request("erp", "op1"), request(3)]

    def test_a_lock_wait_beyond_the_timeout_is_a_retriable_error(self) -> None:
        place = self.new_place()
        store = self.open(place, **self.SHORT_LOCK_WAIT)
        with self.hold_write_lock(place), pytest.raises(StoreError) as caught:
            store.commit(decision("m1"))
        assert caught.value.retriable
        assert isinstance(caught.value.__cause__, self.lock_cause())
        assert not store.consumed("m1")
        store.commit(decision("m1"))
        assert store.consumed("m1")

    def test_values_that_are_not_json_or_not_storable_are_refused_whole(self) -> None:
        store = self.store()
        bad = decision("m1", requests=[request(1), Request("erp", "op", body={"at": NOW})])
        with pytest.raises(StoreError, match="not a JSON value"):
            store.commit(bad)
        with pytest.raises(StoreError, match="cannot store a value"):
            store.commit(decision("m2", entities=[Entity("po", "1", 2**64, None)]))
        assert observe(store, ["m1", "m2"], [("po", "1")])["consumed"] == []
        assert store.pending() == [] and store.audit() == []

    def test_a_place_of_an_older_schema_is_refused(self) -> None:
        place = self.new_place()
        self.open(place).close()
        self.set_schema_version(place, self.OLDER_VERSION)
        older = rf"schema version {self.OLDER_VERSION} is older .* start a new store"
        with pytest.raises(StoreError, match=older):
            self.open(place)

    def test_a_place_that_is_not_a_store_or_is_newer_is_refused(self) -> None:
        other = self.new_place()
        self.make_foreign(other)
        with pytest.raises(StoreError, match="not a store"):
            self.open(other)

        newer = self.new_place()
        self.open(newer).close()
        self.set_schema_version(newer, 99)
        with pytest.raises(StoreError, match="schema version 99, expected"):
            self.open(newer)
