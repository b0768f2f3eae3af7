"""The core's change orders: an 860 to the partners that take one, their 865s merged back."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from emulators.x12 import (
    Ack,
    AckLine,
    ChangedLine,
    Interchange,
    PurchaseOrderChangeAck,
    read_860,
    render_865,
)
from sync_core.engine import Engine, EngineConfig
from sync_core.mappers.x12 import line_changes, parse_interchange, write_860
from sync_core.messages import Decision
from sync_core.model import Acknowledgment
from tests.builders import GTIN_1, interchange_855, purchase_order
from tests.sync_core.test_core_997 import partner_997
from tests.sync_core.test_engine import NOW, Harness, edi, po_document

EPOCH = dt.datetime(2024, 1, 16, 9, 0)
Acks = list[tuple[str, int, str | None]]
PARTIAL: list[tuple[int, int, str, str, Acks]] = [
    (1, 10, "CA", "45.50", [("IA", 10, None)]),
    (2, 4, "BX", "12.00", [("IA", 1, None), ("IB", 3, "20240201")]),
]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"quantity": 12}, "QI"),
        ({"quantity": 8}, "QD"),
        ({"unit_price": 41.0}, "PC"),
        ({"quantity": 12, "unit_price": 41.0}, "CA"),
        ({"vendor_part": "NG-M2"}, "CA"),
    ],
)
def test_each_difference_of_a_line_has_its_poc02_code(change: dict[str, object], code: str) -> None:
    before = purchase_order()
    line = before.lines[0].model_copy(update=change)
    after = before.model_copy(update={"version": 2, "lines": (line, *before.lines[1:])})
    assert line_changes(before, after) == {1: code}


def test_lines_added_and_deleted_and_a_canceled_po() -> None:
    before = purchase_order()
    added = before.lines[0].model_copy(update={"line_no": 3})
    after = before.model_copy(update={"version": 2, "lines": (before.lines[1], added)})
    assert line_changes(before, after) == {1: "DI", 3: "AI"}
    canceled = before.model_copy(update={"version": 2, "canceled": True})
    assert line_changes(before, canceled) == {1: "DI", 2: "DI"}
    assert write_860(before, before, sequence=1, sender="HOSPNET01", receiver="SUPP1001", control=5,
                     now=EPOCH) is None  # fmt: skip


def test_the_supplier_reads_the_core_s_860() -> None:
    """Two translators: what the core writes, the supplier network's reads."""
    before = purchase_order()
    lines = (before.lines[0].model_copy(update={"quantity": 4}), before.lines[1])
    after = before.model_copy(update={"version": 3, "lines": lines})
    text = write_860(
        before, after, sequence=2, sender="HOSPNET01", receiver="SUPP1001", control=9, now=EPOCH
    )
    assert text is not None
    interchange = Interchange.parse(text)
    assert interchange.groups[0][0] == "PC"
    change = read_860(interchange.sets[0])
    assert (change["purpose"], change["customer_po"], change["sequence"]) == (
        "04",
        before.po_number,
        2,
    )
    assert [(c["po_line"], c["code"], c["qty"], c["gtin"]) for c in change["changes"]] == [
        (1, "QD", 4, GTIN_1)
    ]


def decide_revision(h: Harness, number: str, body: dict[str, object]) -> Decision:
    assert h.erp.change_purchase_order(number, body).ok
    return h.decide(po_document(copy.deepcopy(h.erp.orders[number])))


def supplier_write(decision: Decision) -> str:
    [post] = [r for r in decision.requests if r.operation == "post_edi"]
    return str(post.body)


def takes_860() -> Harness:
    h = Harness()
    h.engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"},
                                   change_orders=frozenset({"SUPP1001"})))  # fmt: skip
    return h


def test_a_change_goes_to_a_partner_that_takes_860s_as_an_860_never_superseded() -> None:
    h = takes_860()
    doc = h.create_po()
    first = h.decide(po_document(doc))
    assert "~ST*850*" in supplier_write(first)
    number = doc["OrderNumber"]
    second = decide_revision(h, number, {"lines": [{"LineNumber": 1, "Action": "CANCEL"}]})
    text = supplier_write(second)
    _, [ts] = parse_interchange(text)
    assert ts.code == "860"
    assert [s[:3] for s in ts.segments if s[0] == "POC"] == [("POC", "1", "DI")]
    [post] = [r for r in second.requests if r.operation == "post_edi"]
    assert post.supersedable is None  # an 860 says only what changed: none may be dropped
    [ap] = [r for r in second.requests if r.operation == "upsert_po_lines"]
    assert ap.supersedable == ("po", number, 2)
    assert [s[5] for s in ts.segments if s[0] == "BCH"] == ["1"]  # the PO's first change
    third = decide_revision(h, number, {"lines": [{"LineNumber": 2, "Quantity": 9}]})
    _, [ts] = parse_interchange(supplier_write(third))
    assert [s[5] for s in ts.segments if s[0] == "BCH"] == ["2"]  # applied after the first


def test_a_revision_that_changes_no_line_tells_an_860_partner_nothing() -> None:
    h = takes_860()
    doc = h.create_po()
    h.decide(po_document(doc))
    number, price = doc["OrderNumber"], doc["lines"][1]["Price"]
    same = decide_revision(h, number, {"lines": [{"LineNumber": 2, "Price": price}]})
    assert h.erp.orders[number]["RevisionNumber"] == 2
    assert not [r for r in same.requests if r.operation == "post_edi"]
    assert h.store.entity("fa", "2") is None  # no 997 awaited for an interchange not sent


def test_other_partners_still_get_a_replacement_850() -> None:
    h = Harness()
    doc = h.create_po()
    h.decide(po_document(doc))
    second = decide_revision(h, doc["OrderNumber"], {"lines": [{"LineNumber": 2, "Quantity": 6}]})
    assert "~BEG*05*SA*" in supplier_write(second)


def interchange_865(number: str, lines: list[ChangedLine], revision: int, control: int) -> str:
    doc = PurchaseOrderChangeAck(number, "AC", "20240115", "20240116", 2, tuple(lines), revision)
    return Interchange("SUPP1001", "HOSPNET01", control, [render_865(doc, "0001")]).render(
        "CA", EPOCH
    )


def test_an_865_is_merged_over_the_acknowledgment_held() -> None:
    h = takes_860()
    doc = h.create_po()
    h.decide(po_document(doc))
    number = doc["OrderNumber"]
    h.decide(edi(1, interchange_855(number, PARTIAL)))  # 1: IA 10; 2: IA 1 + IB 3
    decide_revision(h, number, {"lines": [{"LineNumber": 1, "Action": "CANCEL"}]})
    deleted = AckLine(1, 0, "CA", "45.50", "VP1", "", (Ack("ID", 0, "CA"),))
    decision = h.decide(edi(2, interchange_865(number, [ChangedLine("DI", deleted)], 2, 2)), NOW)
    held = h.store.entity("ack", number)
    assert held is not None and held.version == 2
    ack = Acknowledgment.model_validate(held.data)
    assert [(ln.line_no, ln.status, ln.confirmed_quantity) for ln in ack.lines] == [(2, "IA/IB", 1)]
    [to_erp] = [r for r in decision.requests if r.operation == "post_acknowledgment"]
    assert to_erp.idempotency_key == f"865:{number}:2:erp"
    assert [ln["LineNumber"] for ln in to_erp.body["lines"]] == [2]
    # the same 865 again (the VAN's duplicate): nothing new
    again = h.decide(edi(3, interchange_865(number, [ChangedLine("DI", deleted)], 2, 3)), NOW)
    assert not [r for r in again.requests if r.operation == "post_acknowledgment"]


def test_an_865_for_a_po_never_dispatched_is_dead_lettered_naming_bca03() -> None:
    h = takes_860()
    line = AckLine(1, 5, "CA", "45.50", "VP1", "", (Ack("IA", 5, "CA"),))
    decision = h.decide(edi(1, interchange_865("4599999999", [ChangedLine("QI", line)], 2, 1)))
    [dead] = decision.dead_letters
    assert "BCA03" in dead.reason and "never dispatched" in dead.reason


def test_an_860_the_partner_rejects_is_dead_lettered_as_that_very_860() -> None:
    """Its replay sends the same interchange: a later revision cannot rebuild an 860 (it
    says what changed since the revision before, which the core no longer holds)."""
    h = Harness()
    h.engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, functional_acks=True,
                                   change_orders=frozenset({"SUPP1001"})))  # fmt: skip
    doc = h.create_po()
    h.decide(po_document(doc))
    number = doc["OrderNumber"]
    sent = supplier_write(decide_revision(h, number, {"lines": [{"LineNumber": 2, "Quantity": 6}]}))
    envelope, _ = parse_interchange(sent)
    errors = ("AK3*POC*3**8", "AK4*5*355*7*BX")  # POC05, the unit, not a code it takes
    body = partner_997(envelope.control_number, "R", errors).replace("AK2*850*", "AK2*860*")
    decision = h.decide(edi(9, body.replace("AK1*PO*", "AK1*PC*")), NOW)
    [letter] = decision.dead_letters
    assert letter.reason.startswith(f"860 for PO {number} rev 2 rejected by SUPP1001 (997 AK9 R)")
    assert letter.request is not None and letter.request.body == sent
