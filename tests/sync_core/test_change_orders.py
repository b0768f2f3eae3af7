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
    read_850,
    read_860,
    render_865,
)
from sync_core.engine import Engine, EngineConfig
from sync_core.mappers.x12 import change_ack_from_865, line_changes, parse_interchange, write_860
from sync_core.messages import Decision
from sync_core.model import Acknowledgment
from tests.builders import GTIN_1, interchange_855, purchase_order
from tests.emulators.test_x12_full_documents import XREF, the_850
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
    """Two translators: what the core writes, the supplier network's reads — the PO
    revision in REF*PP, a critical line's CSH*P2 in its POC loop, no REF*ZZ."""
    before = purchase_order()
    gloves, syringes = before.lines  # the syringes are critical
    lines = (gloves.model_copy(update={"quantity": 4}), syringes.model_copy(update={"quantity": 6}))
    after = before.model_copy(update={"version": 3, "lines": lines})
    text = write_860(
        before, after, sequence=2, sender="HOSPNET01", receiver="SUPP1001", control=9, now=EPOCH
    )
    assert text is not None
    interchange = Interchange.parse(text)
    assert interchange.groups[0][0] == "PC"
    change = read_860(interchange.sets[0])
    assert (change["purpose"], change["customer_po"], change["sequence"], change["revision"]) == (
        "04",
        before.po_number,
        2,
        3,
    )
    found = [
        (c["po_line"], c["code"], c["qty"], c["gtin"], c["critical"]) for c in change["changes"]
    ]
    assert found == [(1, "QD", 4, GTIN_1, False), (2, "QI", 6, syringes.gtin, True)]
    assert not [s for s in interchange.sets[0] if s[:2] == ["REF", "ZZ"]]
    assert not [s for s in interchange.sets[0] if s[0] == "N1"]  # no cross reference


def test_the_860_names_the_parties_the_850_names() -> None:
    before = purchase_order()
    after = before.model_copy(update={"version": 2, "lines": before.lines[:1]})
    text = write_860(before, after, sequence=1, sender="HOSPNET01", receiver="SUPP1001",
                     control=9, now=EPOCH, xref=XREF)  # fmt: skip
    assert text is not None
    [segments] = Interchange.parse(text).sets
    parties = [s[1:] for s in segments if s[0] == "N1"]
    order = read_850(the_850(xref=XREF))
    assert parties == [
        [code, order[f"{name}_name"], "UL", order[f"{name}_gln"]]
        for code, name in (("BT", "bill_to"), ("BY", "buyer"), ("ST", "ship_to"), ("VN", "vendor"))
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
    assert [s[:3] for s in ts.segments if s[0] == "POC"] == [["POC", "1", "DI"]]
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


def interchange_865(
    number: str, lines: list[ChangedLine], revision: int | None, control: int, time: str = ""
) -> str:
    doc = PurchaseOrderChangeAck(
        number, "AC", "20240115", "20240116", 2, tuple(lines), revision, time
    )
    return Interchange("SUPP1001", "HOSPNET01", control, [render_865(doc, "0001")]).render(
        "CA", EPOCH
    )


def test_an_865_without_a_revision_is_ordered_as_an_855_without_one() -> None:
    """DTM*097 (when it was made), else BCA10 at midnight, then ISA13: a later 865 is
    never taken as older than one made before it."""
    line = AckLine(1, 5, "CA", "45.50", "VP1", "", (Ack("IA", 5, "CA"),))

    def revision(control: int, time: str = "") -> int:
        text = interchange_865("4500000001", [ChangedLine("QI", line)], None, control, time)
        _, [ts] = parse_interchange(text)
        return change_ack_from_865(ts).revision

    assert revision(3, "101500") > revision(9, "091500")  # made later, sent with a lower ISA13
    assert revision(3, "000001") > revision(9)  # BCA10 at midnight: before any time that day
    assert revision(9) > revision(3)  # the same moment: ISA13 decides
    with_pp = interchange_865("4500000001", [ChangedLine("QI", line)], 4, 3, "101500")
    assert "~REF*PP*4~DTM*097*20240116*101500~" in with_pp
    assert change_ack_from_865(parse_interchange(with_pp)[1][0]).revision == 4


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
