"""The supplier network's own X12 translator, and its agreement with the sync core's."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulators.x12 import (
    ACK_CODES,
    BAK_CODES,
    UOM_CODES,
    Ack,
    AckLine,
    Interchange,
    Invoice,
    InvoiceLine,
    PurchaseOrderAck,
    ShipNotice,
    ShippedItem,
    ShippedOrder,
    X12Error,
    read_810,
    read_850,
    read_855,
    read_856,
    render_810,
    render_855,
    render_856,
    write_855,
)
from sync_core.mappers.x12 import acknowledgments_from_855, parse_interchange, write_850
from sync_core.model import LineStatus
from tests.builders import GLN, GTIN_1, GTIN_2, purchase_order

STAMP = dt.datetime(2024, 1, 16, 9, 0)

SEGMENTS_855 = [
    ["ST", "855", "0001"],
    ["BAK", "00", "AC", "4500000001", "20240116"],
    ["PO1", "1", "10", "CA", "45.50", "", "VC", "NG-M"],
    ["ACK", "IA", "10", "CA"],
    ["CTT", "1"],
    ["SE", "6", "0001"],
]


def order_record() -> dict[str, object]:
    return {
        "customer_po": "4500000001",
        "lines": [
            {"po_line": 1, "qty": 10, "uom": "CA", "price": "45.50", "vendor_part": "NG-M",
             "gtin": GTIN_1, "critical": False},
            {"po_line": 2, "qty": 4, "uom": "BX", "price": "12.00", "vendor_part": "SY-10",
             "gtin": GTIN_2, "critical": True},
        ],
    }  # fmt: skip


def test_render_then_parse_round_trips() -> None:
    second = [[*seg[:2], "0002"] if seg[0] in ("ST", "SE") else seg for seg in SEGMENTS_855]
    sent = Interchange("SUPP1001", "HOSPNET01", 17, [SEGMENTS_855, second])

    text = sent.render("PR", STAMP)
    back = Interchange.parse(text)

    assert back == sent
    assert text.endswith(f"GE*2*17~IEA*1*{17:09d}~")


def test_read_850_reads_what_the_sync_core_writes() -> None:
    po = purchase_order(version=2)
    text = write_850(po, sender="HOSPNET01", receiver="SUPP1001", control=5, now=STAMP)

    interchange = Interchange.parse(text)
    [segments] = interchange.sets
    order = read_850(segments)

    assert (interchange.sender, interchange.receiver, interchange.control) == (
        "HOSPNET01",
        "SUPP1001",
        5,
    )
    assert order["customer_po"] == "4500000001"
    assert order["po_date"] == "20240115"
    assert order["revision"] == 2
    assert order["ship_to_gln"] == GLN
    assert [(ln["po_line"], ln["qty"], ln["uom"]) for ln in order["lines"]] == [
        (1, 10, "CA"),
        (2, 4, "BX"),
    ]
    assert [(ln["vendor_part"], ln["gtin"]) for ln in order["lines"]] == [
        ("NG-M", GTIN_1),
        ("SY-10", GTIN_2),
    ]
    assert [ln["critical"] for ln in order["lines"]] == [False, True]


def test_write_855_is_read_by_the_sync_core() -> None:
    order = order_record()
    acks: list[list[tuple[str, int, str | None]]] = [
        [("IA", 4, None), ("IB", 6, "20240201")],
        [("IA", 4, None)],
    ]
    segments = write_855(
        order, acks, ack_type="AC", revision=2, stamp=dt.date(2024, 1, 16), control="0003"
    )
    text = Interchange("SUPP1001", "HOSPNET01", 3, [segments]).render("PR", STAMP)

    _, sets = parse_interchange(text)
    ack = acknowledgments_from_855(sets[0])

    assert ack.po_number == "4500000001"
    assert ack.revision == 2
    one, two = ack.lines
    assert one.status == "IA/IB"
    assert (one.confirmed_quantity, one.backordered_quantity) == (4, 6)
    assert one.acks[1].expected_date == dt.date(2024, 2, 1)
    assert (two.line_no, two.confirmed_quantity, two.acks[0].status) == (2, 4, LineStatus.IA)


def test_write_855_rejects_an_unknown_ack_code() -> None:
    with pytest.raises(X12Error) as err:
        write_855(
            order_record(),
            [[("IA", 10, None)], [("ZZ", 4, None)]],
            ack_type="AC",
            revision=1,
            stamp=dt.date(2024, 1, 16),
            control="0001",
        )
    assert err.value.segment == "ACK01"
    assert "ZZ" in err.value.reason


def test_se01_mismatch_raises_x12_error_naming_se01() -> None:
    wrong = [*SEGMENTS_855[:-1], ["SE", "5", "0001"]]  # the set has 6 segments
    text = Interchange("SUPP1001", "HOSPNET01", 1, [wrong]).render("PR", STAMP)
    with pytest.raises(X12Error) as err:
        Interchange.parse(text)
    assert err.value.segment == "SE01"
    assert "6" in err.value.reason


# -- a minimal 4010 855 (ASC X12 004010), and what is rejected ----------------------------------

MINIMAL_855 = (
    "ST*855*0001~BAK*00*AC*PO123456*20240115~PO1*1*10*CA*45.50**VC*12345~"
    "ACK*IA*10*CA*068*20240117~PO1*2*4*BX*12.00**VC*67890~ACK*IB*4*BX*068*20240201~"
    "CTT*2~SE*8*0001~"
)


def wrap(set_text: str, group: str = "PR", control: int = 9) -> str:
    """Put transaction-set text into the emulator's envelope."""
    segments = [s.split("*") for s in set_text.split("~") if s]
    return Interchange("SUPP1001", "HOSPNET01", control, [segments]).render(group, STAMP)


def test_the_minimal_855_of_domain_md_parses() -> None:
    [segments] = Interchange.parse(wrap(MINIMAL_855)).sets
    ack = read_855(segments)

    assert ack == PurchaseOrderAck(
        po_number="PO123456",
        ack_type="AC",
        date="20240115",
        lines=(
            AckLine(1, 10, "CA", "45.50", "12345", acks=(Ack("IA", 10, "CA", "20240117"),)),
            AckLine(2, 4, "BX", "12.00", "67890", acks=(Ack("IB", 4, "BX", "20240201"),)),
        ),
    )
    assert ack.revision is None


def test_the_minimal_855_with_a_wrong_segment_count_is_rejected_on_se01() -> None:
    with pytest.raises(X12Error) as err:
        Interchange.parse(wrap(MINIMAL_855.replace("SE*8*", "SE*9*")))
    assert err.value.segment == "SE01"
    assert "8" in err.value.reason and "9" in err.value.reason


def test_the_minimal_855_with_an_unknown_ack01_is_rejected_naming_the_segment() -> None:
    [segments] = Interchange.parse(wrap(MINIMAL_855.replace("ACK*IB*", "ACK*XX*"))).sets
    with pytest.raises(X12Error) as err:
        read_855(segments)
    assert err.value.segment == "ACK01 (segment 6)"
    assert err.value.element == "ACK01"
    assert "XX" in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("BAK*00*AC*", "BAK*00*ZZ*", "BAK02 (segment 2)"),
        ("PO1*2*4*BX*", "PO1*2*4*BOX*", "PO103 (segment 5)"),
        ("ACK*IA*10*CA*", "ACK*IA*10*XX*", "ACK03 (segment 4)"),
        ("ACK*IA*10*CA*068*20240117", "ACK*IA*10*CA*068*20241317", "ACK05 (segment 4)"),
        ("ACK*IA*10*CA*068*", "ACK*IA*10*CA*002*", "ACK04 (segment 4)"),
        ("PO1*1*10*CA*45.50*", "PO1*1*10*CA*-1*", "PO104 (segment 3)"),
        ("CTT*2~SE*8", "CTT*3~SE*8", "CTT01 (segment 7)"),
        ("ACK*IA*10*CA*068*20240117~", "", "PO1 (segment 3)"),  # a line without ACK
    ],
)
def test_read_855_names_the_element_at_fault(old: str, new: str, where: str) -> None:
    text = MINIMAL_855.replace(old, new)
    count = text.count("~")
    text = text.replace("SE*8*", f"SE*{count}*")
    [segments] = Interchange.parse(wrap(text)).sets
    with pytest.raises(X12Error) as err:
        read_855(segments)
    assert err.value.segment == where


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("GE*1*9~", "GE*2*9~", "GE01"),
        ("GE*1*9~", "GE*1*8~", "GE02"),
        ("IEA*1*", "IEA*2*", "IEA01"),
        ("IEA*1*000000009", "IEA*1*000000008", "IEA02"),
        ("SE*8*0001", "SE*8*0002", "SE02"),
        ("GS*PR*", "GS*IN*", "GS01"),
        ("*00401*", "*00501*", "ISA12"),
        ("*000000009*", "*00000000X*", "ISA13"),
        ("~GE*1*9~", "~", "GE"),
        ("CTT*2~SE*8*0001~", "CTT*2~", "SE"),
    ],
)
def test_the_envelope_is_checked_element_by_element(old: str, new: str, where: str) -> None:
    text = wrap(MINIMAL_855)
    assert old in text
    with pytest.raises(X12Error) as err:
        Interchange.parse(text.replace(old, new))
    assert err.value.segment == where


def test_other_delimiters_declared_by_the_isa_are_honoured() -> None:
    text = wrap(MINIMAL_855).replace("*", "|").replace("~", "\n")
    [segments] = Interchange.parse(text).sets
    assert read_855(segments).po_number == "PO123456"


@pytest.mark.parametrize("delimiter", ["*", "~", ">"])
def test_render_refuses_a_value_holding_a_delimiter(delimiter: str) -> None:
    good = [["ST", "855", "0001"], ["BAK", "00", "AC", "PO1", "20240115"], ["SE", "3", "0001"]]
    bad = [["ST", "855", "0002"], ["BAK", "00", "AC", f"PO{delimiter}1", "20240115"],
           ["SE", "3", "0002"]]  # fmt: skip
    with pytest.raises(X12Error) as err:  # the second set's, named in its own numbering
        Interchange("SUPP1001", "HOSPNET01", 1, [good, bad]).render("PR", STAMP)
    assert err.value.segment == "BAK03 (segment 2)"
    assert delimiter in str(err.value)


def test_read_850_names_the_segment_of_a_bad_line() -> None:
    segments = [
        ["ST", "850", "0001"],
        ["BEG", "00", "SA", "4500000001", "", "20240115"],
        ["PO1", "1", "10", "CA", "45.50", "", "VC", "NG-M"],
        ["PO1", "1", "4", "BX", "12.00", "", "VC", "SY-10"],
        ["CTT", "2"],
        ["SE", "6", "0001"],
    ]
    with pytest.raises(X12Error) as err:
        read_850(segments)
    assert err.value.segment == "PO101 (segment 4)"  # line 1 twice


# -- 856 and 810 ---------------------------------------------------------------------

NOTICE = ShipNotice(
    "4500000001-1",
    "20240118",
    "1430",
    (
        ShippedOrder(
            "4500000001",
            (
                ShippedItem(1, 4, "CA", "NG-M", GTIN_1, "L2401180042", "20260118"),
                ShippedItem(2, 4, "BX", "SY-10-S3"),
            ),
        ),
    ),
)


def test_856_is_shipment_order_item_with_lot_and_expiry() -> None:
    segments = render_856(NOTICE, "0007")
    assert segments[1][5] == "0004"  # BSN05: Shipment, Order, Item (no pack level)
    tags = [s[0] for s in segments]
    assert tags == ["ST", "BSN", "HL", "HL", "PRF", "HL", "LIN", "SN1", "REF", "DTM",
                    "HL", "LIN", "SN1", "CTT", "SE"]  # fmt: skip
    assert [s[1:] for s in segments if s[0] == "HL"] == [
        ["1", "", "S"],
        ["2", "1", "O"],
        ["3", "2", "I"],
        ["4", "2", "I"],
    ]
    assert ["LIN", "1", "VC", "NG-M", "UK", GTIN_1] in segments
    assert ["SN1", "", "4", "CA"] in segments
    assert ["REF", "LT", "L2401180042"] in segments and ["DTM", "036", "20260118"] in segments
    assert segments[-2:] == [["CTT", "4"], ["SE", "15", "0007"]]


SSCC = "106141411234567897"  # the GS1 General Specifications' example SSCC


def test_856_with_a_pack_level_reads_its_items_into_the_order() -> None:
    segments = render_856(NOTICE, "0001")
    # HL 3 becomes a pack under the order; the items hang under the pack (BSN05 0001)
    body = [s for s in segments if s[0] not in ("CTT", "SE")]
    out: list[list[str]] = []
    for seg in body:
        if seg[0] == "BSN":
            seg = [*seg[:5], "0001"]
        if seg[0] == "HL" and seg[3] == "I":
            seg = ["HL", str(int(seg[1]) + 1), "3", "I"]
        out.append(seg)
    at = next(i for i, s in enumerate(out) if s[:2] == ["HL", "4"])
    out[at:at] = [["HL", "3", "2", "P"], ["MAN", "GM", SSCC]]
    out += [["CTT", "5"], ["SE", str(len(out) + 2), "0001"]]

    [order] = NOTICE.orders
    packed = tuple(dataclasses.replace(item, sscc=SSCC) for item in order.items)
    assert read_856(out) == dataclasses.replace(
        NOTICE, orders=(ShippedOrder(order.po_number, packed),)
    )


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda s: ["HL", "3", "2", "X"] if s[:2] == ["HL", "3"] else s, "HL03 (segment 6)"),
        (lambda s: ["HL", "3", "1", "I"] if s[:2] == ["HL", "3"] else s, "HL02 (segment 6)"),
        (lambda s: ["HL", "5", "2", "I"] if s[:2] == ["HL", "3"] else s, "HL01 (segment 6)"),
        (lambda s: ["SN1", "", "4", "XX"] if s[:1] == ["SN1"] else s, "SN103 (segment 8)"),
        (lambda s: ["DTM", "036", "2026"] if s[:1] == ["DTM"] else s, "DTM02 (segment 10)"),
        (lambda s: ["CTT", "3"] if s[0] == "CTT" else s, "CTT01 (segment 14)"),
        (lambda s: ["PRF", ""] if s[0] == "PRF" else s, "PRF01 (segment 5)"),
    ],
)
def test_read_856_names_the_element_at_fault(
    change: Callable[[list[str]], list[str]], where: str
) -> None:
    assert fault_856(NOTICE, change) == where


def fault_856(notice: ShipNotice, change: Callable[[list[str]], list[str]]) -> str:
    """The place read_856 names at fault in ``notice`` rendered, ``change`` made to each
    of its segments."""
    segments = [change(s) for s in render_856(notice, "0001")]
    with pytest.raises(X12Error) as err:
        read_856(segments)
    return err.value.segment


INVOICE = Invoice(
    "INV000001",
    "20240125",
    "4500000001",
    (
        InvoiceLine(1, 4, "CA", "45.50", "NG-M", GTIN_1),
        InvoiceLine(2, 3, "BX", "12.125", "SY-10"),
    ),
    "20240115",
)


def test_810_totals_in_cents() -> None:
    segments = render_810(INVOICE, "0003")
    assert segments[1] == ["BIG", "20240125", "INV000001", "20240115", "4500000001"]
    assert ["IT1", "1", "4", "CA", "45.50", "", "VC", "NG-M", "UK", GTIN_1] in segments
    # 4 x 45.50 + 3 x 12.125 = 218.375 -> 21838 cents (rounded once, half up)
    assert ["TDS", "21838"] in segments
    assert segments[-2:] == [["CTT", "2"], ["SE", str(len(segments)), "0003"]]
    assert INVOICE.total_cents == 21838


def test_read_810_rejects_a_total_that_does_not_add_up() -> None:
    segments = [["TDS", "21837"] if s[0] == "TDS" else s for s in render_810(INVOICE, "0003")]
    with pytest.raises(X12Error) as err:
        read_810(segments)
    assert err.value.segment == "TDS01 (segment 5)"
    assert "21838" in err.value.reason


def test_a_reader_refuses_another_transaction_set() -> None:
    with pytest.raises(X12Error) as err:
        read_810(render_856(NOTICE, "0001"))
    assert err.value.segment == "ST01 (segment 1)"


def test_the_sync_core_reads_substitution_price_change_and_rejection() -> None:
    doc = PurchaseOrderAck(
        "4500000001",
        "AC",
        "20240116",
        (
            AckLine(1, 10, "CA", "45.50", "NG-M", GTIN_1,
                    (Ack("IS", 10, "CA", None, (("VC", "NG-M-S2"),)),)),
            AckLine(2, 4, "BX", "12.60", "SY-10", GTIN_2,
                    (Ack("IP", 3, "BX"), Ack("IB", 1, "BX", "20240201"))),
            AckLine(3, 5, "EA", "3.00", "GZ-1", "", (Ack("IR", 5, "EA"),)),
        ),
        revision=1,
    )  # fmt: skip
    text = Interchange("SUPP1001", "HOSPNET01", 4, [render_855(doc, "0004")]).render("PR", STAMP)

    _, [ts] = parse_interchange(text)
    ack = acknowledgments_from_855(ts)
    assert [ln.status for ln in ack.lines] == ["IS", "IP/IB", "IR"]
    assert [ln.confirmed_quantity for ln in ack.lines] == [10, 3, 0]
    assert ack.lines[1].unit_price == 12.60
    assert read_855(Interchange.parse(text).sets[0]) == doc


# -- round trips ------------------------------------------------------------------------

ids = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
gtins = st.sampled_from(["", GTIN_1, GTIN_2])
uoms = st.sampled_from(sorted(UOM_CODES))
dates = st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)).map(lambda d: d.strftime("%Y%m%d"))
times = st.times().map(lambda t: t.strftime("%H%M"))
quantities = st.integers(1, 100_000)
prices = st.builds(
    lambda cents, places: f"{cents / 10**places:.{places}f}",
    st.integers(1, 10**7),
    st.integers(2, 4),
)


@st.composite
def acks(draw: st.DrawFn, uom: str) -> Ack:
    product = draw(st.lists(st.tuples(st.sampled_from(["VC", "VN", "UK"]), ids), max_size=2))
    return Ack(
        draw(st.sampled_from(sorted(ACK_CODES))),
        draw(st.integers(0, 100_000)),
        uom,
        draw(st.none() | dates),
        tuple(product),
    )


@st.composite
def ack_lines(draw: st.DrawFn, po_line: int) -> AckLine:
    uom = draw(uoms)
    return AckLine(
        po_line,
        draw(quantities),
        uom,
        draw(prices),
        draw(st.just("") | ids),
        draw(gtins),
        tuple(draw(st.lists(acks(uom), min_size=1, max_size=3))),
    )


@st.composite
def purchase_order_acks(draw: st.DrawFn) -> PurchaseOrderAck:
    count = draw(st.integers(0, 6))
    return PurchaseOrderAck(
        draw(ids),
        draw(st.sampled_from(sorted(BAK_CODES))),
        draw(dates),
        tuple(draw(ack_lines(n)) for n in range(1, count + 1)),
        draw(st.none() | st.integers(1, 99)),
        draw(st.just("") | st.times().map(lambda t: t.strftime("%H%M%S"))),
    )


shipped_items = st.builds(
    ShippedItem, st.integers(1, 999), quantities, uoms, st.just("") | ids, gtins,
    st.just("") | ids, st.none() | dates,
)  # fmt: skip
ship_notices = st.builds(
    ShipNotice, ids, dates, times,
    st.lists(st.builds(ShippedOrder, ids, st.lists(shipped_items, max_size=4).map(tuple)),
             max_size=3).map(tuple),
)  # fmt: skip
invoices = st.builds(
    Invoice, ids, dates, ids,
    st.lists(st.builds(InvoiceLine, st.integers(1, 999), quantities, uoms, prices,
                       st.just("") | ids, gtins), max_size=6).map(tuple),
    st.just("") | dates, st.sampled_from(["", GLN]), st.sampled_from(["", GLN]),
    st.sampled_from(["", GLN]), st.none() | st.integers(0, 120), st.just("") | dates,
)  # fmt: skip


def through_the_envelope(segments: list[list[str]], group: str) -> list[list[str]]:
    text = Interchange("SUPP1001", "HOSPNET01", 12, [segments]).render(group, STAMP)
    [back] = Interchange.parse(text).sets
    return back


@given(purchase_order_acks())
def test_855_round_trips(doc: PurchaseOrderAck) -> None:
    assert read_855(through_the_envelope(render_855(doc, "0001"), "PR")) == doc


@given(ship_notices)
def test_856_round_trips(doc: ShipNotice) -> None:
    assert read_856(through_the_envelope(render_856(doc, "0001"), "SH")) == doc


@given(invoices)
def test_810_round_trips(doc: Invoice) -> None:
    back = read_810(through_the_envelope(render_810(doc, "0001"), "IN"))
    assert back == doc
    assert back.total_cents == sum(
        (Decimal(ln.qty) * Decimal(ln.price) for ln in doc.lines), Decimal(0)
    ).scaleb(2).quantize(Decimal(1), ROUND_HALF_UP)
