"""The dead-letter queue as a person uses it, against both stores.

The story each backend must tell: an 855 arrives before its PO was dispatched
and is dead-lettered; an ERP write is given up on after the ERP kept failing.
Once the cause is fixed (the PO is dispatched, the ERP is back), replaying the
letters lets the engine and the outbox finish the work — and nothing that was
discarded or already replayed comes back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulators._base import Journal
from emulators.erp import Erp
from loadtests.store_workload import EPOCH, GLN, ITEMS, NOW, interchange_855
from sync_core import dlq
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import DeadLetter, Inbound, Kind, Request
from sync_core.store import DeadLetterError, DeadLetterStatus, MemoryStore, Store
from sync_core.store_sqlite import SqliteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "s.db")
    with made:
        yield made


def purchase_order() -> dict[str, Any]:
    erp = Erp(Journal("erp", lambda: 0.0, lambda change: None), lambda: 0.0, EPOCH)
    item, gtin, uom, price, critical = ITEMS[0]
    return erp.create_purchase_order(
        supplier_number="S1001",
        ship_to_gln=GLN,
        department="CC-01-120",
        need_by=dt.date(2024, 1, 20),
        lines=[{"SupplierItem": item, "ItemGTIN": gtin, "Quantity": 10, "UOMCode": uom,
                "Price": price, "CriticalSupply": critical}],
    )  # fmt: skip


ERP_WRITE = Request("erp", "post_acknowledgment", {"order_number": "4500000001"},
                    body={"status": "AC"}, idempotency_key="ack:4500000001:1",
                    correlation_id="00-aa-bb-01")  # fmt: skip


def early_855(store: Store, engine: Engine, order: dict[str, Any]) -> None:
    """The supplier's 855 arrives before the core dispatched the PO: dead-lettered."""
    payload = {"seq": 1, "supplier": "SUPP1001", "payload": interchange_855(order, 1)}
    store.commit(engine.handle(Inbound("edi:1", Kind.SUPPLIER_EDI, payload), NOW, store))


def given_up(store: Store) -> int:
    """The delivery planner gave up on an ERP write: dead-lettered with its request."""
    return store.add_dead_letter(
        DeadLetter(
            "outbox:7",
            ERP_WRITE.operation,
            "erp answered 503 six times",
            ERP_WRITE.body,
            request=ERP_WRITE,
            correlation_id=ERP_WRITE.correlation_id,
            at=3600.0,
        )
    )


def test_replay_after_the_fix_lets_the_engine_finish_the_work(store: Store) -> None:
    engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))
    order = purchase_order()
    early_855(store, engine, order)
    given_up(store)
    [inbound, request] = dlq.list_letters(store, status="open")
    assert "never dispatched" in inbound.letter.reason
    assert store.entity("ack", order["OrderNumber"]) is None

    # the fix: the PO is dispatched; the ERP is back
    po = Inbound(f"erp:po:{order['OrderNumber']}", Kind.ERP_PO_DOCUMENT, order)
    store.commit(engine.handle(po, NOW, store))
    pending_before = len(store.pending())
    replayed = dlq.replay(store, [inbound.id, request.id])

    assert [r.record.status for r in replayed] == [DeadLetterStatus.REPLAYED] * 2
    assert replayed[1].outbox is not None and replayed[1].outbox.request == ERP_WRITE
    assert len(store.pending()) == pending_before + 1
    [message] = store.pending_inbound()  # what a driver hands to the engine
    decision = engine.handle(message, NOW, store)
    store.commit(decision)
    store.take_inbound([message.message_id])

    assert decision.dead_letters == ()
    assert store.entity("ack", order["OrderNumber"]) is not None
    assert {r.operation for r in decision.requests} >= {"post_acknowledgment"}
    assert dlq.list_letters(store, status="open") == []
    with pytest.raises(DeadLetterError, match="is replayed, not open"):
        dlq.replay(store, [inbound.id])


def test_list_filters_by_status_source_kind_and_target(store: Store) -> None:
    engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))
    early_855(store, engine, purchase_order())
    request_id = given_up(store)
    store.add_dead_letter(DeadLetter("ev:9", Kind.ERP_PO_CHANGED, "no OrderNumber", {}))
    dlq.discard(store, 3, "the event was a test")

    def ids(**filters: Any) -> list[int]:
        return [r.id for r in dlq.list_letters(store, **filters)]

    assert ids() == [1, 2, 3]
    assert ids(status="open") == [1, 2] and ids(status=DeadLetterStatus.DISCARDED) == [3]
    assert ids(source="request") == [request_id] and ids(source="inbound") == [1, 3]
    assert ids(kind="supplier.edi") == [1] and ids(kind="post_acknowledgment") == [2]
    assert ids(target="erp") == [2] and ids(target="wms") == []
    assert ids(status="open", source="inbound") == [1]
    with pytest.raises(ValueError):
        dlq.list_letters(store, status="lost")


def test_replay_checks_every_id_before_replaying_any(store: Store) -> None:
    given_up(store)
    store.add_dead_letter(DeadLetter("ev:9", Kind.ERP_PO_CHANGED, "no OrderNumber", {}))
    store.add_dead_letter(DeadLetter("outbox:3", "post_edi", "answered 400", "ISA~"))  # old kind
    dlq.discard(store, 2, "duplicate of ev:8")

    for bad, message in [(2, "dead letter 2: is discarded, not open"), (9, "no such dead letter"),
                         (3, "holds no request")]:  # fmt: skip
        with pytest.raises(DeadLetterError, match=message):
            dlq.replay(store, [1, bad])
    assert store.dead_letter_record(1).status is DeadLetterStatus.OPEN
    assert store.pending() == []


def test_replay_all_replays_what_it_can_and_names_the_rest(store: Store) -> None:
    given_up(store)
    store.add_dead_letter(DeadLetter("ev:9", Kind.ERP_PO_CHANGED, "no OrderNumber", {}))
    store.add_dead_letter(DeadLetter("outbox:3", "post_edi", "answered 400", "ISA~"))
    store.add_dead_letter(DeadLetter("ev:10", Kind.ERP_PO_CHANGED, "no OrderNumber", {}))
    dlq.discard(store, 4, "not needed")

    report = dlq.replay_all(store)

    assert [r.record.id for r in report.replayed] == [1, 2]
    assert [(r.id, "holds no request" in why) for r, why in report.skipped] == [(3, True)]
    assert [m.message_id for m in store.pending_inbound()] == ["ev:9#replay1"]
    assert dlq.replay_all(store).replayed == []  # nothing open is replayable any more
    assert store.dead_letter_record(4).status is DeadLetterStatus.DISCARDED


def test_a_letter_as_json_holds_everything_needed_to_replay_it(store: Store) -> None:
    letter_id = given_up(store)
    shown = dlq.record_to_json(dlq.show(store, letter_id))
    assert json.loads(json.dumps(shown)) == shown
    assert shown["status"] == "open" and shown["source"] == "request" and shown["at"] == 3600.0
    assert shown["request"]["idempotency_key"] == "ack:4500000001:1"
    assert shown["request"]["params"] == {"order_number": "4500000001"}
    dlq.replay(store, [letter_id])
    again = dlq.record_to_json(dlq.show(store, letter_id))
    assert again["status"] == "replayed" and again["replays"] == 1
    assert again["replayed_as"].startswith("outbox:")
    with pytest.raises(DeadLetterError, match="no such dead letter"):
        dlq.show(store, 99)
