"""The audit trail's chain: how an entry is hashed, and what ``verify`` catches.

The tampering is done the way someone with the file would do it: ``sqlite3`` on the
real store file, behind the store's back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
import simpy

from scenarios.sim.network import _store
from sync_core.audit import GENESIS, AuditEntry, chain, format_at, verify
from sync_core.messages import DeadLetter, Kind, Request
from sync_core.store import MemoryStore
from sync_core.store_sqlite import SqliteStore


def trail_of(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    head = GENESIS
    for i in range(1, n + 1):
        entry = chain(head, 1_700_000_000 + i, "alice", "replay", f"dead_letter:{i}", {"n": i})
        entries.append(entry)
        head = (entry.seq, entry.hash)
    return entries


def test_an_entry_hashes_the_canonical_json_of_its_fields_and_the_previous_hash() -> None:
    first, second = trail_of(2)
    canonical = (
        '{"action":"replay","actor":"alice","at":"2023-11-14T22:13:21.000000Z",'
        '"detail":{"n":1},"prev_hash":"' + "0" * 64 + '","seq":1,"subject":"dead_letter:1"}'
    )
    assert first.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert second.prev_hash == first.hash and second.seq == 2
    assert format_at(0.25) == "1970-01-01T00:00:00.250000Z"


def test_an_intact_chain_passes_and_an_empty_one_is_no_verdict() -> None:
    verdict = verify(trail_of(3))
    assert verdict.intact
    assert verdict.summary() == f"3 records, chain intact (head {trail_of(3)[-1].hash})"

    empty = verify([])
    assert not empty.intact
    assert empty.summary() == "no audit records: nothing to verify"


def test_verify_names_the_first_bad_entry_of_a_tampered_list() -> None:
    one, two, three, four = trail_of(4)
    edited = dataclasses.replace(two, actor="mallory")
    rehashed = dataclasses.replace(edited, hash=edited.computed_hash())
    cases = {
        "edited": ([one, edited, three, four], 2, "hash mismatch"),
        "edited and rehashed": ([one, rehashed, three, four], 3, "prev_hash does not match"),
        "deleted": ([one, three, four], 3, "gap (record 2 missing"),
        "two deleted": ([one, four], 4, "gap (record 2-3 missing"),
        "reordered": ([one, three, two, four], 3, "out of order (seq 3 where 2 was due)"),
        "duplicated": ([one, two, two, three], 2, "out of order (seq 2 where 3 was due)"),
        "first removed": ([two, three, four], 2, "gap (record 1 missing"),
    }
    for name, (entries, seq, why) in cases.items():
        verdict = verify(entries)
        assert not verdict.intact, name
        assert verdict.bad_seq == seq, name
        assert verdict.problem is not None and verdict.problem.startswith(why), (name, verdict)
        assert verdict.summary().startswith(f"record {seq}: {why}"), name


# -- the real file -------------------------------------------------------------------


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    """A store file whose trail holds four entries: two dead letters, a replay, a discard."""
    path = tmp_path / "core.db"
    with SqliteStore(path) as store:
        for n in (1, 2):
            store.add_dead_letter(DeadLetter(f"ev:{n}", Kind.ERP_PO_CHANGED, "no number", {}))
        store.replay_dead_letter(1, actor="alice")
        store.discard_dead_letter(2, "cancelled in the ERP", actor="bob")
    return path


def verdict_of(path: Path) -> tuple[int | None, str]:
    with SqliteStore(path) as store:
        verdict = verify(store.audit_trail())
    return verdict.bad_seq, verdict.summary()


def tamper(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    try:
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()


def test_the_untouched_file_verifies(store_file: Path) -> None:
    bad, summary = verdict_of(store_file)
    assert bad is None and summary.startswith("4 records, chain intact (head ")


def test_an_edited_record_is_caught(store_file: Path) -> None:
    tamper(store_file, "UPDATE audit_trail SET actor = 'mallory' WHERE seq = 3")
    assert verdict_of(store_file) == (3, "record 3: hash mismatch (its fields were changed)")


def test_an_edited_detail_is_caught_even_when_it_is_no_json_any_more(store_file: Path) -> None:
    tamper(store_file, "UPDATE audit_trail SET detail = '{not json' WHERE seq = 2")
    assert verdict_of(store_file)[0] == 2


def test_an_edited_and_rehashed_record_breaks_the_next_link(store_file: Path) -> None:
    with SqliteStore(store_file) as store:
        third = store.audit_trail()[2]
    forged = dataclasses.replace(third, detail={**third.detail, "replays": 9})
    tamper(
        store_file,
        f"UPDATE audit_trail SET detail = '{json.dumps(forged.detail)}',"
        f" hash = '{forged.computed_hash()}' WHERE seq = 3",
    )
    bad, summary = verdict_of(store_file)
    assert bad == 4 and "prev_hash does not match the previous record's hash" in summary


def test_a_deleted_record_is_caught(store_file: Path) -> None:
    tamper(store_file, "DELETE FROM audit_trail WHERE seq = 2")
    assert verdict_of(store_file) == (3, "record 3: gap (record 2 missing before it)")


def test_a_reordered_record_is_caught(store_file: Path) -> None:
    """Rows 2 and 3 swap places: each keeps its fields, only the stored order changes."""
    columns = "seq, at, actor, action, subject, detail, prev_hash, hash"
    tamper(
        store_file,
        f"CREATE TEMP TABLE saved AS SELECT pos, {columns} FROM audit_trail",
        "DELETE FROM audit_trail WHERE pos IN (2, 3)",
        f"INSERT INTO audit_trail (pos, {columns})"
        f" SELECT 5 - pos, {columns} FROM saved WHERE pos IN (2, 3)",
    )
    with SqliteStore(store_file) as store:
        assert [e.seq for e in store.audit_trail()] == [1, 3, 2, 4]
    assert verdict_of(store_file) == (3, "record 3: out of order (seq 3 where 2 was due)")


def test_a_simulated_store_stamps_its_own_clock() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "r", {}))
    now[0] = 3600.5
    store.discard_dead_letter(1, "x", actor="alice")
    assert [e.at for e in store.audit_trail()] == [
        "1970-01-01T00:00:00.000000Z",
        "1970-01-01T01:00:00.500000Z",
    ]


def test_a_simulated_run_stamps_its_trail_in_simulated_time() -> None:
    """The simulation's store: the scenario's start, plus the simulated seconds."""
    env = simpy.Environment()
    store = _store(env, dt.datetime(2024, 1, 15))
    env.run(until=90.5)
    store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "r", {}))
    assert [e.at for e in store.audit_trail()] == ["2024-01-15T00:01:30.500000Z"]


def test_a_dead_letter_entry_keeps_the_first_200_characters_of_the_reason() -> None:
    store = MemoryStore()
    store.add_dead_letter(DeadLetter("outbox:1", "op", "é" * 300, None, Request("erp", "op")))
    [entry] = store.audit_trail()
    assert entry.detail == {"message_id": "outbox:1", "kind": "op", "source": "request",
                            "reason": "é" * 200, "target": "erp"}  # fmt: skip
