"""The supplier network's own X12 translator, and its agreement with the sync core's."""

from __future__ import annotations

import datetime as dt

import pytest

from emulators.x12 import Interchange, X12Error, read_850, write_855
from sync_core.mappers.x12 import acknowledgments_from_855, parse_interchange, write_850
from sync_core.model import LineStatus, PurchaseOrder, PurchaseOrderLine, Uom


def mod10(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


GLN = "061414100001" + mod10("061414100001")
GTIN_1 = "1001234567890" + mod10("1001234567890")
GTIN_2 = "5012345000017" + mod10("5012345000017")
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
    po = PurchaseOrder(
        po_number="4500000001",
        supplier_id="S1001",
        ship_to=GLN,
        department="CC-01-120",
        order_date=dt.date(2024, 1, 15),
        requested_date=dt.date(2024, 1, 20),
        version=2,
        lines=(
            PurchaseOrderLine(line_no=1, gtin=GTIN_1, vendor_part="NG-M", quantity=10,
                              uom=Uom.CA, unit_price=45.5),
            PurchaseOrderLine(line_no=2, gtin=GTIN_2, vendor_part="SY-10", quantity=4,
                              uom=Uom.BX, unit_price=12.0, critical=True),
        ),
    )  # fmt: skip
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
    acks = [[("IA", 4, None), ("IB", 6, "20240201")], [("IA", 4, None)]]
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
