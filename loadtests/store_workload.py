"""The acknowledgment workload of ``bench_store``: POs, their 855s and the engine's decisions.

Purchase orders are created in the ERP emulator and dispatched by the real
:class:`~sync_core.engine.Engine` (an 850 each); then one X12 855 per PO (a line
accepted, a line partly backordered) is decided: an ``ack`` entity and two outbox
requests per message.  :func:`replicate` copies the decisions up to any count by
rewriting the PO number and message id (same length, so the same bytes);
:func:`stored_bytes` is what the SQLite store writes for one of them.  The tests
use the same POs and 855s (``tests/sync_core``).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from emulators._base import Journal
from emulators.erp import Erp
from sync_core.engine import Engine, EngineConfig
from sync_core.flows.base import traceparent
from sync_core.messages import Decision, Entity, Inbound, Kind, PutEntity
from sync_core.store import MemoryStore
from sync_core.store_json import decode_json, encode_json, request_from_json, request_to_json

EPOCH = dt.datetime(2024, 1, 15, 8, 0)
NOW = dt.datetime(2024, 1, 15, 9, 30)
INT_BYTES = 8  # what an integer column is counted as


# -- timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    rate: float  # messages per second of wall time
    cpu_us: float  # CPU time of this process per message, in microseconds


class Stopwatch:
    """Wall and process CPU time of one measured loop."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def run(self, messages: int) -> Run:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        return Run(messages / wall, cpu / messages * 1e6)


# -- the workload ------------------------------------------------------------------------


def _check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


GLN = _check_digit("061414100001")
ITEMS = [  # supplier item, GTIN, UOM, price, critical
    ("NG-M", _check_digit("1001234567890"), "CA", 45.5, "N"),
    ("SY-10", _check_digit("5012345000017"), "BX", 12.0, "Y"),
    ("GL-L", _check_digit("0031234567890"), "BX", 8.25, "N"),
    ("IV-20", _check_digit("0061414100734"), "EA", 3.1, "Y"),
]


def _isa(control: int) -> str:
    return "*".join(
        ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "SUPP1001".ljust(15), "ZZ",
         "HOSPNET01".ljust(15), "240116", "0900", "U", "00401", f"{control:09d}", "0", "P", ">"]
    )  # fmt: skip


def interchange_855(order: dict[str, Any], control: int) -> str:
    """The supplier's 855: every line accepted, the last one partly backordered."""
    body = [["ST", "855", "0001"], ["BAK", "00", "AC", order["OrderNumber"], "20240116"],
            ["REF", "PP", "1"]]  # fmt: skip
    lines = order["lines"]
    for n, line in enumerate(lines, 1):
        qty, uom = int(line["Quantity"]), line["UOMCode"]
        body.append(["PO1", str(n), str(qty), uom, f"{float(line['Price']):.2f}", "", "VC",
                     line["SupplierItem"]])  # fmt: skip
        if n < len(lines) or qty == 1:
            body.append(["ACK", "IA", str(qty), uom])
        else:
            body.append(["ACK", "IA", str(qty // 2), uom])
            body.append(["ACK", "IB", str(qty - qty // 2), uom, "068", "20240201"])
    body.append(["CTT", str(len(lines))])
    body.append(["SE", str(len(body) + 1), "0001"])
    return (
        f"{_isa(control)}~GS*PR*SUPP1001*HOSPNET01*20240116*0900*{control}*X*004010~"
        + "".join("*".join(s) + "~" for s in body)
        + f"GE*1*{control}~IEA*1*{control:09d}~"
    )


@dataclass
class Workload:
    dispatches: list[Decision]  # one per PO: the 850
    acks: list[Decision]  # one per PO: the 855's effects
    messages: list[Inbound]  # the 855 messages
    dispatch: Run  # the engine's rate on the dispatches, in memory
    ack: Run  # ... and on the 855s


def new_engine() -> Engine:
    """The engine of the workload: our EDI id and the one supplier's partner id."""
    return Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))


def decide(
    engine: Engine, store: MemoryStore, messages: list[Inbound]
) -> tuple[list[Decision], Run]:
    """``engine`` deciding ``messages`` in turn, each decision committed to ``store`` before
    the next is made, timed."""
    decisions = []
    watch = Stopwatch()
    for message in messages:
        decision = engine.handle(message, NOW, store)
        store.commit(decision)
        decisions.append(decision)
    return decisions, watch.run(len(messages))


def build_workload(pos: int, seed: int) -> Workload:
    """Create ``pos`` POs in the ERP emulator and let the engine dispatch and acknowledge them."""
    rng = random.Random(seed)
    erp = Erp(Journal("erp", lambda: 0.0, lambda change: None), lambda: 0.0, EPOCH)
    orders = []
    for _ in range(pos):
        lines = [
            {"SupplierItem": item, "ItemGTIN": gtin, "Quantity": rng.randint(2, 40),
             "UOMCode": uom, "Price": price, "CriticalSupply": critical}
            for item, gtin, uom, price, critical in rng.sample(ITEMS, rng.randint(1, 4))
        ]  # fmt: skip
        orders.append(
            erp.create_purchase_order(
                supplier_number="S1001",
                ship_to_gln=GLN,
                department="CC-01-120",
                need_by=dt.date(2024, 1, 20),
                lines=lines,
            )
        )
    engine, store = new_engine(), MemoryStore()

    po_docs = [
        Inbound(f"erp:po:{o['OrderNumber']}:r{o['RevisionNumber']}", Kind.ERP_PO_DOCUMENT, o)
        for o in orders
    ]
    dispatches, dispatch = decide(engine, store, po_docs)
    edi = [
        Inbound(f"edi:{n}", Kind.SUPPLIER_EDI,
                {"seq": n, "supplier": "SUPP1001", "payload": interchange_855(o, n)})
        for n, o in enumerate(orders, 1)
    ]  # fmt: skip
    acks, ack = decide(engine, store, edi)
    for d in acks:
        # the ack, plus an exception for each short clinical-critical line
        if d.dead_letters or len(d.requests) != 2 or d.changes[0].entity.kind != "ack":
            raise RuntimeError(f"unexpected 855 decision: {d}")
    return Workload(dispatches, acks, edi, dispatch, ack)


def engine_pass(work: Workload) -> Run:
    """The engine deciding ``work``'s 855s once more, as the first pass did (each decision
    committed to the store before the next is made), on a new engine and a new store that
    holds the same dispatches: every pass must decide exactly what the first did."""
    store = MemoryStore()
    for d in work.dispatches:
        store.commit(d)
    traceparent.cache_clear()  # a trace id per PO: in a stream of new POs each one misses
    # no collection first: the last pass's garbage is collected in this one, as in a stream
    decisions, run = decide(new_engine(), store, work.messages)
    if decisions != work.acks:
        raise RuntimeError("a later pass decided the 855s otherwise than the first")
    return run


def replicate(
    templates: Sequence[Decision], n: int, key_of: Callable[[Decision], str]
) -> list[Decision]:
    """``n`` decisions shaped like ``templates``, the PO number (and so every id) rewritten.

    The new number has the length of the old one, so a replica stores as many bytes.
    """
    texts = [
        (key_of(t), t, [encode_json(c.entity.data) for c in t.changes],
         [request_to_json(r) for r in t.requests])
        for t in templates
    ]  # fmt: skip
    out = []
    for i in range(n):
        old, t, data, requests = texts[i % len(texts)]
        new = f"9{i:0{len(old) - 1}d}"
        if len(new) != len(old):
            raise ValueError(f"PO number {old!r} too short for {n} messages")
        message_id = t.message_id.replace(old, new)
        if message_id == t.message_id:  # an 855: named after the mailbox sequence
            message_id = f"edi:{i + 1}"
        changes = tuple(
            PutEntity(Entity(c.entity.kind, c.entity.key.replace(old, new), c.entity.version,
                             decode_json(text.replace(old, new))))
            for c, text in zip(t.changes, data, strict=True)
        )  # fmt: skip
        sends = tuple(request_from_json(text.replace(old, new)) for text in requests)
        out.append(Decision(message_id, (message_id,), changes, sends))
    return out


def stored_bytes(d: Decision) -> int:
    """What the SQLite store writes for one decision: every key, JSON text and integer."""

    def size(text: str) -> int:
        return len(text.encode())

    total = sum(size(m) for m in d.consumed)  # inbox
    for c in d.changes:
        e = c.entity
        total += size(e.kind) + size(e.key) + INT_BYTES + size(encode_json(e.data))
    total += sum(INT_BYTES + size(request_to_json(r)) for r in d.requests)
    for letter in d.dead_letters:
        total += size(letter.message_id) + size(letter.kind) + size(letter.reason)
        total += size(encode_json(letter.body))
    # audit: "consumed itself" is stored as NULL
    consumed = 0 if d.consumed == (d.message_id,) else size(encode_json(d.consumed))
    return total + size(d.message_id) + consumed + 3 * INT_BYTES
