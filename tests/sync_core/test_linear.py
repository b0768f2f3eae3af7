"""No super-linear path in the engine on a big PO, caught by counting, never by timing.

A per-line search of one list in another (``line in po.lines``: each test a
pydantic ``__eq__``) costs N² operations: 0.96 s for a 1,000-line PO, 16 s for
4,000.  These tests count the Python function calls the engine makes deciding a
PO of N lines and of 4N lines (dispatch: an 850 and AP's PO lines; then the
supplier's 855: the ERP's acknowledgment and the WMS's expected receipts).  A
linear engine makes about 4 times the calls for 4 times the lines; a quadratic one about
16 times.  Counts do not depend on the machine's load, so the bound can be tight.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any, ClassVar

import pytest

from sync_core.engine import Engine, EngineConfig
from sync_core.mappers import ap
from sync_core.messages import Decision, Inbound, Kind
from sync_core.model import PurchaseOrder, PurchaseOrderLine, Uom
from sync_core.store import MemoryStore
from tests.builders import isa

NOW = dt.datetime(2024, 1, 15, 9, 30)
GLN = "0614141000012"
GTIN = "10012345678902"


def erp_po(lines: int, revision: int = 1, start: int = 1) -> dict[str, Any]:
    """An ERP purchase order document (the read-back the engine maps) of ``lines`` lines."""
    return {
        "OrderNumber": "4500000001",
        "SupplierNumber": "S1001",
        "ShipToLocationGLN": GLN,
        "RequesterDepartment": "CC-01-120",
        "OrderDate": "2024-01-15",
        "NeedByDate": "2024-01-20",
        "RevisionNumber": revision,
        "lines": [
            {"LineNumber": n, "ItemGTIN": GTIN, "SupplierItem": f"NG-{n}", "Quantity": 10,
             "UOMCode": "CA", "Price": 45.5, "CriticalSupply": "Y" if n % 5 == 0 else "N"}
            for n in range(start, start + lines)
        ],
    }  # fmt: skip


def interchange_855(lines: int) -> str:
    """The supplier's 855 for ``erp_po(lines)``: every line 6 accepted, 4 backordered."""
    body = [["ST", "855", "0001"], ["BAK", "00", "AC", "4500000001", "20240115"]]
    body.append(["REF", "PP", "1"])
    for n in range(1, lines + 1):
        body.append(["PO1", str(n), "10", "CA", "45.50", "", "VC", f"NG-{n}"])
        body.append(["ACK", "IA", "6", "CA", "068", "20240118"])
        body.append(["ACK", "IB", "4", "CA", "068", "20240201"])
    body.append(["CTT", str(lines)])
    body.append(["SE", str(len(body) + 1), "0001"])
    segments = [
        isa("SUPP1001", "HOSPNET01", 7),
        "GS*PR*SUPP1001*HOSPNET01*20240115*0930*7*X*004010",
        *("*".join(s) for s in body),
        "GE*1*7",
        "IEA*1*000000007",
    ]
    return "~".join(segments) + "~"


def calls_made(fn: Callable[[], Any]) -> int:
    """How many functions (Python and C) ``fn`` calls, all the way down."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def dispatch_and_acknowledge(lines: int) -> tuple[int, int]:
    """Calls the engine makes for an ``lines``-line PO: its dispatch, then its 855."""
    engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))
    store = MemoryStore()
    decisions: list[Decision] = []
    po = Inbound("erp:po:4500000001:r1", Kind.ERP_PO_DOCUMENT, erp_po(lines))
    ack = Inbound("edi:1", Kind.SUPPLIER_EDI, {"seq": 1, "payload": interchange_855(lines)})

    def decide(message: Inbound) -> None:
        decision = engine.handle(message, NOW, store)
        store.commit(decision)
        decisions.append(decision)

    dispatch = calls_made(lambda: decide(po))
    acknowledge = calls_made(lambda: decide(ack))
    dispatched, acknowledged = decisions
    assert [r.operation for r in dispatched.requests] == ["post_edi", "upsert_po_lines"]
    assert [r.operation for r in acknowledged.requests] == [
        "post_acknowledgment",
        "upsert_expected_receipts",
    ]
    assert len(acknowledged.requests[1].body["receipts"]) == lines
    return dispatch, acknowledge


def test_the_engine_does_linear_work_in_the_lines_of_a_po() -> None:
    small, large = dispatch_and_acknowledge(250), dispatch_and_acknowledge(1000)
    # linear: ≈ 4 times (a little less: a message has a fixed cost); quadratic: ≈ 16
    assert large[0] < 4.4 * small[0], (
        f"dispatch: {small[0]} calls → {large[0]} for 4 times the lines"
    )
    assert large[1] < 4.4 * small[1], f"855: {small[1]} calls → {large[1]} for 4 times the lines"


def test_a_change_that_drops_lines_does_linear_work() -> None:
    """Revision 2 keeps half the lines and cancels the rest: AP hears of both halves."""

    def change(lines: int) -> int:
        engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))
        store = MemoryStore()
        store.commit(engine.handle(Inbound("r1", Kind.ERP_PO_DOCUMENT, erp_po(lines)), NOW, store))
        second = Inbound("r2", Kind.ERP_PO_DOCUMENT, erp_po(lines // 2, revision=2))
        decisions: list[Decision] = []
        count = calls_made(lambda: decisions.append(engine.handle(second, NOW, store)))
        [to_ap] = [r for r in decisions[0].requests if r.operation == "upsert_po_lines"]
        quantities = Counter(row["quantity_ordered"] for row in to_ap.body["po_lines"])
        assert quantities == {10: lines // 2, 0: lines - lines // 2}
        return count

    small, large = change(250), change(1000)
    assert large < 4.4 * small, f"{small} calls → {large} for 4 times the lines"


class _CountingLine(PurchaseOrderLine):
    """A PO line that counts how often it is compared with another."""

    compared: ClassVar[int] = 0

    def __eq__(self, other: object) -> bool:
        type(self).compared += 1
        return super().__eq__(other)

    __hash__ = PurchaseOrderLine.__hash__


def test_ap_po_lines_never_compares_lines() -> None:
    """The regression itself: AP's PO lines searched the live lines for each line."""
    lines = tuple(
        _CountingLine(line_no=n, gtin=GTIN, vendor_part=f"P{n}", quantity=3, uom=Uom.CA,
                      unit_price=2.0)
        for n in range(1, 201)
    )  # fmt: skip
    po = PurchaseOrder(po_number="4500000001", supplier_id="S1001", ship_to=GLN,
                       department="CC", order_date=NOW.date(), requested_date=NOW.date(),
                       version=2, lines=lines[:100])  # fmt: skip
    _CountingLine.compared = 0
    body = ap.po_lines(po, None, lines[100:])
    assert _CountingLine.compared == 0
    assert [r["quantity_ordered"] for r in body["po_lines"]] == [3] * 100 + [0] * 100
    canceled = po.model_copy(update={"canceled": True})
    assert [r["quantity_ordered"] for r in ap.po_lines(canceled, None)["po_lines"]] == [0] * 100
    assert _CountingLine.compared == 0


class _CountingList(list[str]):
    """The ids a decision consumed, counting every search through them."""

    searched = 0

    def __contains__(self, item: object) -> bool:
        type(self).searched += 1
        return super().__contains__(item)


def test_a_page_of_documents_never_searches_the_ids_consumed_so_far(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each document of a page is checked against those consumed before it: by a set
    (a list searched for each of N documents is N² string comparisons)."""
    import sync_core.engine as engine_module
    from sync_core.flows.base import Work

    class CountingWork(Work):
        def __init__(self, base: Any) -> None:
            super().__init__(base)
            self.consumed = _CountingList()

    monkeypatch.setattr(engine_module, "Work", CountingWork)
    engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))
    page = {
        "documents": [
            {"seq": n, "supplier": "SUPP1001", "type": "855", "payload": "not X12"}
            for n in range(1, 301)
        ],
        "hasMore": False,
    }
    _CountingList.searched = 0
    decision = engine.handle(Inbound("page", Kind.SUPPLIER_MAILBOX_PAGE, page), NOW, MemoryStore())
    assert len(decision.consumed) == 301 and len(decision.dead_letters) == 300
    assert _CountingList.searched == 0
