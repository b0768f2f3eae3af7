"""The cases every store must pass, MemoryStore included; subclasses say how to make one."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_core.messages import DeadLetter, Decision, Entity, Inbound, Kind
from sync_core.store import (
    AlreadyConsumed,
    AuditRecord,
    DeadLetterError,
    DeadLetterRecord,
    DeadLetterStatus,
    GroupCommit,
    OutboxItem,
    Store,
)
from tests.sync_core.store_contract.helpers import (
    ENGINE_IDS,
    ENGINE_KEYS,
    NOW,
    decision,
    engine,
    engine_messages,
    observe,
    request,
)
from tests.sync_core.store_contract.trail import TrailCases


class StoreContract(TrailCases, ABC):
    """The cases every store must pass; subclasses say how to make one."""

    tmp_path: Path

    @abstractmethod
    def create_store(self) -> Store:
        """A new, empty store (a new file for a file-backed one)."""

    @pytest.fixture(autouse=True)
    def _stores(self, tmp_path: Path) -> Iterator[None]:
        self.tmp_path = tmp_path
        self._opened: list[Store] = []
        yield
        for store in self._opened:
            store.close()

    def store(self) -> Store:
        store = self.create_store()
        self._opened.append(store)
        return store

    def test_a_new_store_is_empty(self) -> None:
        store = self.store()
        assert not store.consumed("m1")
        assert store.entity("po", "1") is None
        assert (store.pending(), store.dead_letters(), store.audit()) == ([], [], [])
        assert store.audit_trail() == []

    def test_consumed_after_commit(self) -> None:
        store = self.store()
        store.commit(decision("page:1", consumed=["page:1", "edi:1", "edi:2"]))
        assert all(store.consumed(m) for m in ("page:1", "edi:1", "edi:2"))
        assert not store.consumed("edi:3")

    def test_entity_versions_are_stored_and_read_back(self) -> None:
        store = self.store()
        po = Entity("po", "4500000001", 1, {"lines": [{"qty": 10, "price": 45.5}], "note": "é"})
        store.commit(decision("m1", entities=[po, Entity("sequence", "isa", 7, None)]))
        assert store.entity("po", "4500000001") == po
        assert store.entity("sequence", "isa") == Entity("sequence", "isa", 7, None)
        assert store.entity("ack", "4500000001") is None

        newer = Entity("po", "4500000001", 3, {"lines": []})
        store.commit(decision("m2", entities=[newer]))
        assert store.entity("po", "4500000001") == newer

    def test_entities_of_one_kind_are_listed_by_key(self) -> None:
        store = self.store()
        b = Entity("exception", "4500000002:1", 1, {"open": True})
        a = Entity("exception", "4500000001:3", 2, {"open": False})
        store.commit(decision("m1", entities=[b, Entity("po", "4500000001", 1, None), a]))
        assert store.entities("exception") == [a, b]
        assert store.entities("ack") == []

    def test_a_stored_request_keeps_what_makes_it_supersedable(self) -> None:
        store = self.store()
        write = dataclasses.replace(request(1), supersedable=("ack", "4500000001", 2))
        store.commit(decision("m1", requests=[write]))
        assert [item.request for item in store.pending()] == [write]

    def test_outbox_rows_come_back_in_order_and_stay_pending_until_done(self) -> None:
        store = self.store()
        first = store.commit(decision("m1", requests=[request(1), request(2)]))
        second = store.commit(
            decision("m2", requests=[request(3, reply_kind=Kind.ERP_PO_DOCUMENT, critical=True)])
        )
        ids = [item.outbox_id for item in first + second]
        assert ids == sorted(ids) and len(set(ids)) == 3
        assert [i.request for i in first + second] == [
            request(1),
            request(2),
            request(3, reply_kind=Kind.ERP_PO_DOCUMENT, critical=True),
        ]
        assert store.pending() == first + second

        store.done(first[1].outbox_id)
        assert store.pending() == [first[0], *second]
        store.done(first[1].outbox_id)  # again: a no-op
        store.done(10_000)  # unknown: a no-op
        assert store.pending() == [first[0], *second]

    def test_outbox_ids_are_never_reused(self) -> None:
        store = self.store()
        [old] = store.commit(decision("m1", requests=[request(1)]))
        store.done(old.outbox_id)
        [new] = store.commit(decision("m2", requests=[request(2)]))
        assert new.outbox_id > old.outbox_id

    def test_dead_letters_are_listed_in_order(self) -> None:
        store = self.store()
        one = DeadLetter("edi:1", Kind.SUPPLIER_EDI, "X12 interchange: ISA: missing", {"p": "x"})
        two = DeadLetter("outbox:3", "post_edi", "supplier post_edi answered 400", "ISA*00~")
        three = DeadLetter("edi:9", "supplier.edi", "BAK03: never dispatched", None)
        store.commit(decision("page:1", consumed=["page:1", "edi:1"], dead=[one]))
        store.add_dead_letter(two)
        store.commit(decision("edi:9", dead=[three]))
        assert store.dead_letters() == [one, two, three]

    def test_all_parts_of_a_decision_are_visible_after_commit(self) -> None:
        store = self.store()
        letter = DeadLetter("edi:1", "supplier.edi", "bad", {"seq": 1})
        d = decision(
            "page:1",
            consumed=["page:1", "edi:1", "edi:2"],
            entities=[Entity("watermark", "supplier_mailbox", 2, None)],
            requests=[request(1), request(2)],
            dead=[letter],
        )
        added = store.commit(d)
        assert [i.request for i in added] == list(d.requests)
        assert observe(store, d.consumed, [("watermark", "supplier_mailbox")]) == {
            "consumed": ["edi:1", "edi:2", "page:1"],
            "entities": {("watermark", "supplier_mailbox"): d.changes[0].entity},
            "pending": added,
            "dead_letters": [letter],
            "dead_letter_records": [DeadLetterRecord(1, letter)],
            "pending_inbound": [],
            "audit": [AuditRecord("page:1", ("page:1", "edi:1", "edi:2"), 1, 2, 1)],
            "audit_trail": store.audit_trail(),  # its entry: the trail's own cases
        }
        assert [e.subject for e in store.audit_trail()] == ["dead_letter:1"]

    def test_a_duplicate_is_audited_and_changes_nothing_else(self) -> None:
        store = self.store()
        store.commit(decision("m1", requests=[request(1)]))
        before = observe(store, ["m1"], [])
        assert store.commit(Decision("m1")) == []
        after = observe(store, ["m1"], [])
        assert after["audit"] == [*before["audit"], AuditRecord("m1", (), 0, 0, 0)]
        assert {**after, "audit": None} == {**before, "audit": None}

    def test_commit_many_equals_sequential_commits(self) -> None:
        decisions = [
            decision("m1", entities=[Entity("po", "1", 1, {"a": 1})], requests=[request(1)]),
            decision("m2", consumed=["m2", "m3"], requests=[request(2), request(3)]),
            decision("m1", consumed=[]),  # a duplicate in the same group
            decision("m4", entities=[Entity("po", "1", 2, {"a": 2})], dead=[
                DeadLetter("m4", "k", "r", [1, 2])]),
            decision("m5"),
        ]  # fmt: skip
        one_by_one, grouped = self.store(), self.store()

        sequential = [one_by_one.commit(d) for d in decisions]
        together = grouped.commit_many(decisions)

        assert together == sequential
        ids = ["m1", "m2", "m3", "m4", "m5"]
        assert observe(grouped, ids, [("po", "1")]) == observe(one_by_one, ids, [("po", "1")])
        assert grouped.commit_many([]) == []
        assert len(grouped.audit()) == len(decisions)

    def test_a_decision_made_on_stale_state_is_refused_whole(self) -> None:
        store = self.store()
        store.commit(decision("m1", requests=[request(1)]))
        before = observe(store, ["m1", "m2", "m3"], [("po", "1")])
        fresh = decision("m2", entities=[Entity("po", "1", 1, None)], requests=[request(2)])
        stale = decision("m3", consumed=["m3", "m1"], requests=[request(3)])

        with pytest.raises(AlreadyConsumed) as caught:
            store.commit_many([fresh, stale])  # m1 was consumed before
        assert caught.value.message_ids == ("m1",)
        assert not caught.value.retriable
        with pytest.raises(AlreadyConsumed, match="m2"):
            store.commit_many([fresh, decision("m2", consumed=["m2"])])  # twice in one group
        with pytest.raises(AlreadyConsumed, match="m1"):
            store.commit(decision("m1"))

        assert observe(store, ["m1", "m2", "m3"], [("po", "1")]) == before
        store.commit(fresh)  # nothing of the refused groups stuck
        assert store.consumed("m2") and not store.consumed("m3")

    def test_group_commit_shows_staged_decisions_before_they_are_stored(self) -> None:
        store = self.store()
        group = GroupCommit(store)
        group.stage(decision("m1", entities=[Entity("po", "1", 1, "v1")], requests=[request(1)]))
        group.stage(decision("m2", entities=[Entity("po", "1", 2, "v2")], requests=[request(2)]))

        assert len(group) == 2
        assert group.consumed("m1") and not store.consumed("m1")
        assert group.entity("po", "1") == Entity("po", "1", 2, "v2")
        assert store.entity("po", "1") is None

        [first, second] = group.commit()

        assert len(group) == 0 and group.commit() == []
        assert store.consumed("m1") and store.consumed("m2")
        assert store.entity("po", "1") == Entity("po", "1", 2, "v2")
        assert store.pending() == first + second
        assert [i.request for i in first + second] == [request(1), request(2)]

    @pytest.mark.parametrize("group_size", [1, 3, 100])
    def test_engine_through_group_commit_equals_one_message_at_a_time(
        self, group_size: int
    ) -> None:
        eng = engine()
        one_by_one, grouped = self.store(), self.store()
        for message in engine_messages():
            one_by_one.commit(eng.handle(message, NOW, one_by_one))

        group = GroupCommit(grouped)
        added: list[OutboxItem] = []
        for message in engine_messages():
            group.stage(eng.handle(message, NOW, group))
            if len(group) == group_size:
                added += [item for items in group.commit() for item in items]
        added += [item for items in group.commit() for item in items]

        expected = observe(one_by_one, ENGINE_IDS, ENGINE_KEYS)
        assert observe(grouped, ENGINE_IDS, ENGINE_KEYS) == expected
        assert added == expected["pending"]
        assert len(expected["dead_letters"]) == 3  # two from the page, one thin event
        assert expected["audit"][2] == AuditRecord("tick:1", (), 0, 0, 0)

    # -- done_many, the dead-letter queue and its replay ----------------------------------

    def test_done_many_marks_several_rows_done_at_once(self) -> None:
        store = self.store()
        items = store.commit(decision("m1", requests=[request(n) for n in range(1, 5)]))
        store.done_many([items[0].outbox_id, items[2].outbox_id, 10_000])
        assert store.pending() == [items[1], items[3]]
        store.done_many([])
        store.done_many([items[0].outbox_id])  # done already: a no-op
        assert store.pending() == [items[1], items[3]]

    def test_dead_letters_get_ids_and_start_open(self) -> None:
        store = self.store()
        one = DeadLetter("edi:1", Kind.SUPPLIER_EDI, "bad ISA", {"p": "x"}, correlation_id="c1")
        two = DeadLetter("outbox:3", "post_edi", "answered 400", "ISA~", request=request(3), at=7.5)
        store.commit(decision("edi:1", dead=[one]))
        assert store.add_dead_letter(two) == 2
        assert store.dead_letter_records() == [DeadLetterRecord(1, one), DeadLetterRecord(2, two)]
        assert store.dead_letter_record(2).source == "request"
        assert store.dead_letter_record(1).source == "inbound"
        assert store.dead_letter_records(DeadLetterStatus.OPEN) == store.dead_letter_records()
        assert store.dead_letter_records(DeadLetterStatus.REPLAYED) == []
        with pytest.raises(DeadLetterError, match="dead letter 3: no such dead letter"):
            store.dead_letter_record(3)

    def test_replaying_a_request_letter_puts_the_same_request_back_in_the_outbox(self) -> None:
        store = self.store()
        [item] = store.commit(decision("m1", requests=[request(1, idempotency_key="k-1")]))
        store.done(item.outbox_id)
        body = item.request.body
        letter = DeadLetter(f"outbox:{item.outbox_id}", "op1", "erp answered 503 x6", body,
                            request=item.request, at=30.0)  # fmt: skip
        letter_id = store.add_dead_letter(letter)

        replayed = store.replay_dead_letter(letter_id)

        assert replayed.outbox is not None and replayed.inbound is None
        assert replayed.outbox.request == request(1, idempotency_key="k-1")
        assert replayed.outbox.outbox_id > item.outbox_id
        assert store.pending() == [replayed.outbox]
        expected = DeadLetterRecord(letter_id, letter, DeadLetterStatus.REPLAYED, 1,
                                    f"outbox:{replayed.outbox.outbox_id}")  # fmt: skip
        assert replayed.record == expected == store.dead_letter_record(letter_id)
        assert store.dead_letters() == [letter]  # every letter, whatever its status
        assert store.pending_inbound() == []

    def test_give_up_moves_an_outbox_row_to_the_dead_letters(self) -> None:
        store = self.store()
        keep, lost = store.commit(decision("m1", requests=[request(1), request(2)]))
        letter = DeadLetter(f"outbox:{lost.outbox_id}", "op2", "answered 400", lost.request.body,
                            request=lost.request, at=5.0)  # fmt: skip

        letter_id = store.give_up(lost.outbox_id, letter)

        assert store.pending() == [keep]
        assert store.dead_letter_record(letter_id) == DeadLetterRecord(letter_id, letter)

    def test_a_request_given_up_again_counts_its_replays_by_idempotency_key(self) -> None:
        store = self.store()
        req = request(1, idempotency_key="k-1")
        first = store.add_dead_letter(DeadLetter("outbox:1", "op1", "503", None, request=req))
        again = store.replay_dead_letter(first).outbox
        assert again is not None
        second = store.add_dead_letter(
            DeadLetter(f"outbox:{again.outbox_id}", "op1", "503", None, request=req)
        )
        assert store.replay_dead_letter(second).record.replays == 2

    def test_replaying_an_inbound_letter_queues_it_under_a_new_id(self) -> None:
        store = self.store()
        letter = DeadLetter("edi:1", Kind.SUPPLIER_EDI, "BAK03: never dispatched",
                            {"seq": 1, "payload": "ISA~"}, correlation_id="00-ab-cd-01",
                            query={"offset": 2})  # fmt: skip
        store.commit(decision("page:1", consumed=["page:1", "edi:1"], dead=[letter]))

        replayed = store.replay_dead_letter(1)

        message = Inbound("edi:1#replay1", Kind.SUPPLIER_EDI, {"seq": 1, "payload": "ISA~"},
                          "00-ab-cd-01", {"offset": 2})  # fmt: skip
        assert replayed.inbound == message and replayed.outbox is None
        assert replayed.record.replayed_as == "edi:1#replay1" and replayed.record.replays == 1
        assert store.pending_inbound() == [message]
        assert store.pending() == []

        store.commit(decision("edi:1#replay1"))  # a driver handed it to the engine
        assert store.pending_inbound() == []  # consumed: no longer handed on
        store.take_inbound(["edi:1#replay1", "unknown"])
        assert store.pending_inbound() == []

    def test_take_inbound_forgets_a_queued_message(self) -> None:
        store = self.store()
        store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "no number", {}))
        store.add_dead_letter(DeadLetter("ev:2", Kind.ERP_PO_CHANGED, "no number", {}))
        store.replay_dead_letter(1)
        store.replay_dead_letter(2)
        store.take_inbound(["ev:1#replay1"])
        assert [m.message_id for m in store.pending_inbound()] == ["ev:2#replay1"]

    def test_the_replay_number_skips_ids_already_taken(self) -> None:
        store = self.store()
        store.commit(decision("edi:1#replay1"))  # somebody used the id before
        store.add_dead_letter(DeadLetter("edi:1", "supplier.edi", "r", None))
        store.add_dead_letter(DeadLetter("edi:1", "supplier.edi", "r", None))  # twice
        assert store.replay_dead_letter(1).record.replayed_as == "edi:1#replay2"
        assert store.replay_dead_letter(2).record.replayed_as == "edi:1#replay3"

    def test_a_letter_that_is_not_open_is_neither_replayed_nor_discarded(self) -> None:
        store = self.store()
        for n in (1, 2):
            store.add_dead_letter(DeadLetter(f"ev:{n}", Kind.ERP_PO_CHANGED, "r", {}))
        store.replay_dead_letter(1)
        discarded = store.discard_dead_letter(2, "the PO was cancelled in the ERP")
        assert discarded.status is DeadLetterStatus.DISCARDED
        assert discarded.discard_reason == "the PO was cancelled in the ERP"
        before = observe(store, ["ev:1#replay1"], [])

        for call in (lambda n: store.replay_dead_letter(n),
                     lambda n: store.discard_dead_letter(n, "again")):  # fmt: skip
            with pytest.raises(DeadLetterError, match="dead letter 1: is replayed, not open") as e:
                call(1)
            assert e.value.status is DeadLetterStatus.REPLAYED and not e.value.retriable
            with pytest.raises(DeadLetterError, match="dead letter 2: is discarded, not open"):
                call(2)
            with pytest.raises(DeadLetterError, match="dead letter 9: no such dead letter"):
                call(9)
        assert observe(store, ["ev:1#replay1"], []) == before
        assert [r.status for r in store.dead_letter_records()] == [
            DeadLetterStatus.REPLAYED,
            DeadLetterStatus.DISCARDED,
        ]
        assert store.dead_letter_records(DeadLetterStatus.DISCARDED) == [discarded]

    def test_a_discard_needs_a_reason(self) -> None:
        store = self.store()
        store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "r", {}))
        with pytest.raises(DeadLetterError, match="a reason is required"):
            store.discard_dead_letter(1, "  ")
        assert store.dead_letter_record(1).status is DeadLetterStatus.OPEN

    def test_a_letter_with_no_request_and_no_known_kind_cannot_be_replayed(self) -> None:
        store = self.store()
        store.add_dead_letter(DeadLetter("outbox:3", "post_edi", "answered 400", "ISA~"))
        with pytest.raises(DeadLetterError, match="'post_edi' is not a message kind"):
            store.replay_dead_letter(1)
        assert store.dead_letter_record(1).status is DeadLetterStatus.OPEN
        assert store.pending() == [] and store.pending_inbound() == []
        store.discard_dead_letter(1, "sent by hand")  # it can still be given up

    def test_an_engine_letter_replayed_after_a_fix_then_again(self) -> None:
        store, eng = self.store(), engine()
        for message in engine_messages():
            store.commit(eng.handle(message, NOW, store))
        [thin] = [r for r in store.dead_letter_records() if r.letter.message_id == "ev:2"]

        first = store.replay_dead_letter(thin.id).inbound
        assert first is not None and first.kind is Kind.ERP_PO_CHANGED
        [queued] = store.pending_inbound()
        assert queued == first
        store.commit(eng.handle(queued, NOW, store))  # still no OrderNumber: dead again
        store.take_inbound([queued.message_id])
        [again] = store.dead_letter_records(DeadLetterStatus.OPEN)[-1:]
        assert again.letter.message_id == "ev:2#replay1"

        second = store.replay_dead_letter(again.id)
        assert second.record.replayed_as == "ev:2#replay2" and second.record.replays == 2
