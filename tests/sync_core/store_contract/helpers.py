"""What the store contract cases share: small builders and one view of everything a reader sees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sync_core.engine import Engine, EngineConfig
from sync_core.messages import DeadLetter, Decision, Entity, Inbound, Kind, PutEntity, Request
from sync_core.store import Store

ROOT = Path(__file__).parents[3]
NOW = dt.datetime(2024, 1, 15, 9, 30)
NOW_AT = "2024-01-15T09:30:00.000000Z"  # NOW as the audit trail writes it


def clock() -> float:
    """The stores' audit clock in these cases: always NOW (UTC), so two stores compare equal."""
    return NOW.replace(tzinfo=dt.UTC).timestamp()


def request(n: int, **fields: Any) -> Request:
    return Request("erp", f"op{n}", {"n": n}, body={"line": [n, 1.5, None]}, **fields)


def decision(
    message_id: str,
    *,
    consumed: Iterable[str] | None = None,
    entities: Iterable[Entity] = (),
    requests: Iterable[Request] = (),
    dead: Iterable[DeadLetter] = (),
) -> Decision:
    return Decision(
        message_id,
        tuple([message_id] if consumed is None else consumed),
        tuple(PutEntity(e) for e in entities),
        tuple(requests),
        tuple(dead),
    )


def observe(store: Store, ids: Iterable[str], keys: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Everything a reader can see of ``store`` about these message ids and entity keys."""
    return {
        "consumed": sorted(m for m in set(ids) if store.consumed(m)),
        "entities": {k: store.entity(*k) for k in sorted(set(keys))},
        "pending": store.pending(),
        "dead_letters": store.dead_letters(),
        "dead_letter_records": store.dead_letter_records(),
        "pending_inbound": store.pending_inbound(),
        "audit": store.audit(),
        "audit_trail": store.audit_trail(),
    }


def engine() -> Engine:
    return Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, page_size=10))


def engine_messages() -> list[Inbound]:
    """Messages the engine handles without any emulator, duplicates included."""
    bad = {"seq": 1, "supplier": "SUPP1001", "payload": "not X12"}
    page = {"documents": [bad, {**bad, "seq": 2}], "hasMore": True}
    return [
        Inbound("tick:1", Kind.BATCH_TICK, {"at": "2024-01-15T09:00:00"}),
        Inbound("ev:1", Kind.ERP_PO_CHANGED, {"OrderNumber": "4500000001"}),
        Inbound("tick:1", Kind.BATCH_TICK, {"at": "2024-01-15T09:00:00"}),  # duplicate
        Inbound("reply:7", Kind.SUPPLIER_MAILBOX_PAGE, page),
        Inbound("edi:2", Kind.SUPPLIER_EDI, bad),  # consumed from the page above
        Inbound("tick:2", Kind.BATCH_TICK, {"at": "2024-01-15T10:00:00"}),
        Inbound("ev:2", Kind.ERP_PO_CHANGED, {"Order": "no number"}),  # dead-lettered
    ]


ENGINE_IDS = ["tick:1", "tick:2", "ev:1", "ev:2", "reply:7", "edi:1", "edi:2"]
ENGINE_KEYS = [("watermark", "erp"), ("watermark", "supplier_mailbox")]
