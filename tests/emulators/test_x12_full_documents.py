"""The fuller 850, 855 and 810 (ASC X12 004010) between the core and the supplier network.

The core's 850 with its cross reference, as the supplier's order entry reads it;
the supplier's 855 and 810, as the core reads them; and what each reader refuses,
naming the element.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from emulators.x12 import (
    Interchange,
    Invoice,
    InvoiceLine,
    PurchaseOrderAck,
    X12Error,
    read_850,
    render_810,
    render_855,
)
from sync_core.errors import MappingError
from sync_core.mappers.x12 import (
    CrossReference,
    ItemReference,
    Party,
    acknowledgments_from_855,
    invoice_from_810,
    parse_interchange,
    write_850,
)
from sync_core.model import Uom
from tests.builders import GLN, GTIN_1, GTIN_2, purchase_order, with_check_digit

STAMP = dt.datetime(2024, 1, 15, 9, 30)
OFFICE = Party("Central Procurement Office", with_check_digit("086000100001"))
VENDOR = Party("Acme Medical", with_check_digit("070100000001"))
NDC = "00338004904"  # sodium chloride 0.9 %, 0338-0049-04 in the 11-digit billing form
XREF = CrossReference(
    bill_to=OFFICE,
    buyer=OFFICE,
    vendors={"S1001": VENDOR},
    contracts={"S1001": "GPO-S1001"},
    items={
        GTIN_1: ItemReference("100234", "Nitrile exam gloves, size M",
                              ladder=(("CA", 10, "BX"), ("BX", 100, "EA"))),
        GTIN_2: ItemReference("100777", "Sodium chloride 0.9 % injection, 250 mL bag", NDC,
                              ladder=(("CA", 24, "EA"),)),
    },
    sites={GLN: "Springfield General Hospital"},
)  # fmt: skip


def the_850(po: object = None, xref: CrossReference | None = XREF) -> list[list[str]]:
    order = po if po is not None else purchase_order(version=3)
    text = write_850(
        order, sender="HOSPNET01", receiver="SUPP1001", control=5, now=STAMP, xref=xref
    )  # type: ignore[arg-type]
    [segments] = Interchange.parse(text).sets
    return segments


def test_the_supplier_reads_the_parties_contract_and_items_of_the_cores_850() -> None:
    segments = the_850()
    order = read_850(segments)

    assert order["revision"] == 3  # REF*PP
    assert order["contract"] == "GPO-S1001"  # REF*CT
    parties = {p: (order[f"{p}_name"], order[f"{p}_gln"]) for p in ("bill_to", "buyer", "vendor")}
    assert parties == {
        "bill_to": (OFFICE.name, OFFICE.gln),
        "buyer": (OFFICE.name, OFFICE.gln),
        "vendor": (VENDOR.name, VENDOR.gln),
    }
    assert (order["ship_to_name"], order["ship_to_gln"]) == ("Springfield General Hospital", GLN)
    gloves, saline = order["lines"]
    assert (gloves["buyer_item"], gloves["price_basis"], gloves["ndc"]) == ("100234", "CT", "")
    assert (saline["buyer_item"], saline["ndc"]) == ("100777", NDC)  # N4
    assert saline["description"] == "Sodium chloride 0.9 % injection, 250 mL bag"  # PID*F
    # PO4: a CA of gloves holds 10 BX of 100 EA; the saline line is ordered by the BX,
    # which its ladder (CA of 24 EA) does not hold: no PO4 rather than a wrong one
    assert (gloves["pack"], saline.get("pack")) == ((10, 100, "EA"), None)
    assert [ln["critical"] for ln in order["lines"]] == [False, True]  # CSH*P2 on line 2
    assert not [s for s in segments if s[:2] == ["REF", "ZZ"]]


def test_without_a_cross_reference_the_850_says_what_the_po_says() -> None:
    order = read_850(the_850(xref=None))
    assert (order["revision"], order["ship_to_gln"]) == (3, GLN)
    assert "contract" not in order and "vendor_gln" not in order
    assert [(ln["buyer_item"], ln["price_basis"]) for ln in order["lines"]] == [("", "")] * 2
    assert [ln["critical"] for ln in order["lines"]] == [False, True]


def test_the_pack_follows_the_ladder_of_the_unit_ordered() -> None:
    gloves = XREF.items[GTIN_1]
    assert gloves.pack("CA") == (10, 100, "EA")  # 10 BX of 100 EA
    assert gloves.pack("BX") == (100, 1, "EA")
    assert gloves.pack("EA") is None  # the smallest unit is no pack
    assert gloves.pack("PK") is None  # a unit the ladder does not hold


def test_a_line_ordered_by_an_inner_unit_says_what_that_unit_holds() -> None:
    """Gauze comes CA of 12 BX of 5 PK of 5 EA: ordered by the PK or the BX, the PO4
    follows the ladder from that unit down."""
    ladder = (("CA", 12, "BX"), ("BX", 5, "PK"), ("PK", 5, "EA"))
    gauze = ItemReference("100301", "Sterile gauze dressing, 10x10 cm", ladder=ladder)
    xref = dataclasses.replace(XREF, items={GTIN_1: gauze})
    packs = {}
    for uom in ("CA", "BX", "PK", "EA"):
        line = purchase_order().lines[0].model_copy(update={"uom": Uom(uom)})
        order = read_850(the_850(purchase_order(lines=(line,)), xref))
        packs[uom] = order["lines"][0].get("pack")
    assert packs == {"CA": (12, 25, "EA"), "BX": (5, 5, "EA"), "PK": (5, 1, "EA"), "EA": None}


def _edited(segments: list[list[str]], tag: str, index: int, value: str) -> list[list[str]]:
    """``segments`` with element ``index`` of the first ``tag`` segment set to ``value``."""
    out = [list(s) for s in segments]
    seg = next(s for s in out if "*".join(s).startswith(tag))
    seg[index] = value
    return out


@pytest.mark.parametrize(
    ("tag", "index", "value", "where"),
    [
        pytest.param("N1*VN", 4, GLN[:-1] + str((int(GLN[-1]) + 1) % 10), "N104", id="VN-GLN"),
        pytest.param("N1*BT", 4, "123", "N104", id="BT-GLN-short"),
        pytest.param("PO1*2", 5, "ZZ", "PO105", id="price-basis"),
        pytest.param("PO1*2", 13, "0033800490", "PO113", id="NDC-10-digits"),
        pytest.param("PO1*2", 13, "00000004904", "PO113", id="NDC-zero-labeler"),
        pytest.param("PO4", 3, "XX", "PO403", id="PO4-unit"),
        pytest.param("REF*PP", 2, "0", "REF02", id="revision-zero"),
    ],
)
def test_the_supplier_refuses_a_bad_element_naming_it(
    tag: str, index: int, value: str, where: str
) -> None:
    with pytest.raises(X12Error) as err:
        read_850(_edited(the_850(), tag, index, value))
    assert err.value.element == where


def test_the_core_orders_the_suppliers_855s_by_their_ref_pp() -> None:
    doc = PurchaseOrderAck("4500000001", "AT", "20240116", (), revision=2, time="093015")
    segments = render_855(doc, "0007")
    assert segments[1][:2] == ["BAK", "05"]  # a later acknowledgment replaces the first
    assert ["DTM", "097", "20240116", "093015"] in segments
    text = Interchange("SUPP1001", "HOSPNET01", 7, [segments]).render("PR", STAMP)
    _, [ts] = parse_interchange(text)
    assert acknowledgments_from_855(ts).revision == 2


def _invoice(**fields: object) -> str:
    line = InvoiceLine(1, 10, "CA", "45.50", "NG-M", GTIN_1)
    base: dict[str, object] = {
        "remit_to": VENDOR.gln, "bill_to": OFFICE.gln, "ship_to": GLN,
        "net_days": 30, "shipped_on": "20240117",
    }  # fmt: skip
    doc = Invoice("INV000001", "20240118", "4500000001", (line,), "20240115", **{**base, **fields})  # type: ignore[arg-type]
    return Interchange("SUPP1001", "HOSPNET01", 9, [render_810(doc, "0009")]).render("IN", STAMP)


def test_the_core_reads_the_810s_parties_terms_and_shipped_date() -> None:
    _, [ts] = parse_interchange(_invoice())
    assert ["ITD", "01", "3", "", "", "", "", "30"] in [list(s) for s in ts.segments]
    invoice = invoice_from_810(ts, "S1001")
    assert (invoice.remit_to, invoice.bill_to, invoice.ship_to) == (VENDOR.gln, OFFICE.gln, GLN)
    assert (invoice.net_days, invoice.shipped_on) == (30, dt.date(2024, 1, 17))
    assert invoice.total == 455.0


def test_the_core_refuses_an_810_whose_remit_to_gln_is_wrong_naming_n104() -> None:
    wrong = VENDOR.gln[:-1] + str((int(VENDOR.gln[-1]) + 1) % 10)
    _, [ts] = parse_interchange(_invoice(remit_to=wrong))
    with pytest.raises(MappingError) as err:
        invoice_from_810(ts, "S1001")
    assert err.value.field == "N104 (segment 3)"


def test_the_core_refuses_an_810_with_an_impossible_shipped_date() -> None:
    text = _invoice().replace("DTM*011*20240117", "DTM*011*20240231")
    _, [ts] = parse_interchange(text)
    with pytest.raises(MappingError) as err:
        invoice_from_810(ts, "S1001")
    assert err.value.field.startswith("DTM02")
