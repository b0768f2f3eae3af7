"""The audit trail's cases, part of the contract every store passes (``cases.StoreContract``).

Every dead letter a store records, and every replay and discard with the actor who
asked, is an entry chained onto the one before; what is refused leaves no entry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import pytest

from sync_core.audit import ANONYMOUS, GENESIS, SYSTEM_ACTOR, verify
from sync_core.messages import DeadLetter, Kind
from sync_core.store import DeadLetterError, DeadLetterStatus, Store
from tests.sync_core.store_contract.helpers import NOW_AT, decision, request


def what(store: Store) -> list[tuple[int, str, str, str]]:
    """The trail as (seq, actor, action, subject)."""
    return [(e.seq, e.actor, e.action, e.subject) for e in store.audit_trail()]


class TrailCases(ABC):
    @abstractmethod
    def store(self) -> Store: ...

    def test_every_dead_letter_and_who_replayed_or_discarded_it_is_in_the_trail(self) -> None:
        store = self.store()
        store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "no number", {}))
        edi = [DeadLetter(f"edi:{n}", "supplier.edi", "bad", None) for n in (1, 2)]
        store.commit(decision("m1", dead=edi))
        [item] = store.commit(decision("m2", requests=[request(1)]))
        store.give_up(item.outbox_id, DeadLetter("outbox:1", "op1", "503", None, request(1)))
        store.replay_dead_letter(4, actor="alice")
        store.discard_dead_letter(1, "the PO was cancelled", actor="bob")
        store.replay_dead_letter(2)

        assert what(store) == [
            (1, SYSTEM_ACTOR, "dead_letter", "dead_letter:1"),
            (2, SYSTEM_ACTOR, "dead_letter", "dead_letter:2"),
            (3, SYSTEM_ACTOR, "dead_letter", "dead_letter:3"),
            (4, SYSTEM_ACTOR, "dead_letter", "dead_letter:4"),
            (5, "alice", "replay", "dead_letter:4"),
            (6, "bob", "discard", "dead_letter:1"),
            (7, ANONYMOUS, "replay", "dead_letter:2"),
        ]
        trail = store.audit_trail()
        assert trail[3].detail == {"message_id": "outbox:1", "kind": "op1", "source": "request",
                                   "reason": "503", "target": "erp"}  # fmt: skip
        replayed_as = store.dead_letter_record(4).replayed_as
        assert trail[4].detail == {"message_id": "outbox:1", "replays": 1,
                                   "replayed_as": replayed_as}  # fmt: skip
        assert trail[5].detail == {"message_id": "ev:1", "reason": "the PO was cancelled"}
        assert {e.at for e in trail} == {NOW_AT}  # the store's clock
        assert trail[0].prev_hash == GENESIS[1]
        assert [e.prev_hash for e in trail[1:]] == [e.hash for e in trail[:-1]]
        assert verify(trail).intact

    def test_append_audit_chains_any_action_onto_the_trail(self) -> None:
        store = self.store()
        first = store.append_audit("ops@hospital", "fault_change", "erp", {"error_rate": 0.5})
        store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "r", {}))
        last = store.append_audit("ops@hospital", "token_write", "erp", {"scopes": ["replay"]})

        trail = store.audit_trail()
        assert trail[0] == first and trail[-1] == last
        assert (first.seq, first.prev_hash, last.seq) == (1, GENESIS[1], 3)
        assert first.detail == {"error_rate": 0.5} and first.hash == first.computed_hash()
        assert verify(trail).intact

    def test_what_is_refused_leaves_no_entry(self) -> None:
        store = self.store()
        for n in (1, 2):
            store.add_dead_letter(DeadLetter(f"ev:{n}", Kind.ERP_PO_CHANGED, "r", {}))
        store.replay_dead_letter(1, actor="alice")
        before = store.audit_trail()

        with pytest.raises(DeadLetterError):
            store.replay_dead_letter(1, actor="alice")  # not open any more
        with pytest.raises(DeadLetterError):
            store.discard_dead_letter(2, " ", actor="alice")  # no reason
        with pytest.raises(DeadLetterError):
            store.discard_dead_letter(9, "x", actor="alice")  # no such letter
        for actor in ("", "  ", "a\nb", "x" * 201):
            with pytest.raises(ValueError, match="actor"):
                store.discard_dead_letter(2, "x", actor=actor)
            with pytest.raises(ValueError, match="actor"):
                store.append_audit(actor, "fault_change", "erp", {})

        assert store.audit_trail() == before
        assert store.dead_letter_record(2).status is DeadLetterStatus.OPEN
