"""The full 856: how the supplier packs and labels a shipment, and what the emulators'
reader holds a ship notice to (BSN05 against the levels sent, SSCC check digits)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean

from emulators.supplier import SupplierProfile
from emulators.x12 import (
    Interchange,
    Party,
    ShipNotice,
    ShippedItem,
    ShippedOrder,
    X12Error,
    read_856,
    render_856,
    sscc_valid,
)
from tests.emulators.test_supplier import CLEAN, GTIN, World, only_set
from tests.emulators.test_supplier_x12 import fault_856

SUPPLIER_GLN = "0701000000013"
SHIPPING = dataclasses.replace(CLEAN, ship_notices=True, gln=SUPPLIER_GLN)
FOUR_LINES = [(10, "CA", "45.50"), (4, "BX", "12.00"), (7, "EA", "3.25"), (2, "CA", "9.00")]


def shipped(profile: SupplierProfile = SHIPPING) -> tuple[list[list[str]], ShipNotice]:
    world = World(profile)
    world.order("4500000001", FOUR_LINES)
    world.run()
    [doc] = world.docs("856")
    segments = only_set(doc)
    return segments, read_856(segments)


def test_the_supplier_packs_three_lines_a_pack_each_labelled_with_an_sscc() -> None:
    segments, notice = shipped()

    [order] = notice.orders
    packs = [item.sscc for item in order.items]
    assert packs[0] == packs[1] == packs[2] != packs[3]  # lines 1-3, then line 4
    assert all(sscc_valid(s) and s[1:8] == SUPPLIER_GLN[:7] for s in packs)  # its prefix
    levels = [s[3] for s in segments if s[0] == "HL"]
    assert levels == ["S", "O", "P", "I", "I", "I", "P", "I"]
    assert [s[5] for s in segments if s[0] == "BSN"] == ["0001"]
    # the shipment level: packs and weight, carrier, bill of lading, shipped date, parties
    assert (notice.lading_qty, notice.weight_lb) == (2, 10 * 20 + 4 * 2 + 7 * 0 + 2 * 20)
    assert (notice.carrier, notice.routing) == ("ODFL", "LTL GROUND")
    bol = notice.bill_of_lading
    assert len(bol) == 17 and ean.calc_check_digit(bol[:-1]) == bol[-1]
    assert (notice.shipped_on, notice.shipped_at) == (notice.date, notice.time)
    assert notice.ship_to == Party("SHIP TO", "0614141000012")  # the 850's N1*ST
    assert notice.ship_from == Party("SUPP1001", SUPPLIER_GLN)
    assert ["TD5", "B", "2", "ODFL", "M", "LTL GROUND"] in segments
    assert all(item.gtin == GTIN for item in order.items)


def test_a_supplier_without_a_gln_labels_under_gs1s_example_prefix() -> None:
    _, notice = shipped(dataclasses.replace(SHIPPING, gln=""))
    assert notice.ship_from == Party("SUPP1001", "")
    assert all(i.sscc[1:8] == "0614141" for o in notice.orders for i in o.items)


SSCC = "106141411234567897"  # the GS1 General Specifications' example SSCC
ITEM = ShippedItem(1, 4, "CA", "NG-M", "", "L1", "20270101", SSCC)
PACKED = ShipNotice("SH1", "20240118", "0930", (ShippedOrder("PO1", (ITEM,)),))


@pytest.mark.parametrize(
    ("change", "where"),
    [  # BSN05 says 0004 (no packs) but a pack level comes
        (lambda s: [*s[:5], "0004"] if s[0] == "BSN" else s, "HL03 (segment 6)"),
        (lambda s: ["MAN", "GM", SSCC[:-1] + "0"] if s[0] == "MAN" else s, "MAN02 (segment 7)"),
        (lambda s: ["MAN", "GM", ""] if s[0] == "MAN" else s, "MAN02 (segment 7)"),
    ],
)
def test_read_856_holds_the_levels_to_bsn05_and_checks_each_sscc(
    change: Callable[[list[str]], list[str]], where: str
) -> None:
    assert fault_856(PACKED, change) == where


def test_0001_without_its_pack_level_is_refused() -> None:
    """The old skeleton's fault: BSN05 0001 with items right under the order."""
    unpacked = dataclasses.replace(ITEM, sscc="")
    segments = render_856(
        dataclasses.replace(PACKED, orders=(ShippedOrder("PO1", (unpacked,)),)), "1"
    )
    assert segments[1][5] == "0004"
    segments[1] = [*segments[1][:5], "0001"]
    with pytest.raises(X12Error) as err:
        read_856(segments)
    assert err.value.segment == "HL02 (segment 6)"


def test_render_refuses_a_notice_with_some_items_unpacked() -> None:
    loose = dataclasses.replace(ITEM, po_line=2, sscc="")
    doc = dataclasses.replace(PACKED, orders=(ShippedOrder("PO1", (ITEM, loose)),))
    with pytest.raises(X12Error) as err:
        render_856(doc, "0001")
    assert err.value.segment == "MAN02"


ssccs = (
    st.integers(0, 10**17 - 1)
    .map(lambda n: f"{n:017d}")
    .map(lambda body: body + ean.calc_check_digit(body))
)
texts = st.text("ABCXYZ0123456789-", min_size=1, max_size=12)
items = st.builds(ShippedItem, st.integers(1, 99), st.integers(1, 999),
                  st.sampled_from(["CA", "BX", "EA"]), texts, st.just(""), texts,
                  st.none() | st.just("20270101"), ssccs)  # fmt: skip
packed_notices = st.builds(
    ShipNotice, texts, st.just("20240118"), st.just("0930"),
    st.lists(st.builds(ShippedOrder, texts, st.lists(items, min_size=1, max_size=4).map(tuple)),
             min_size=1, max_size=3).map(tuple),
    ship_to=st.none() | st.builds(Party, texts, st.just("0614141000012")),
    ship_from=st.none() | st.builds(Party, texts, st.just("")),
    carrier=st.just("") | texts, bill_of_lading=st.just("") | texts,
    lading_qty=st.integers(0, 99), weight_lb=st.integers(0, 9999),
)  # fmt: skip


@given(packed_notices)
def test_a_packed_856_round_trips_through_the_envelope(doc: ShipNotice) -> None:
    if doc.weight_lb and not doc.lading_qty:
        doc = dataclasses.replace(doc, weight_lb=0)  # TD1 is only sent with its lading quantity
    text = Interchange("SUPP1001", "HOSPNET01", 12, [render_856(doc, "0001")]).render(
        "SH", dt.datetime(2024, 1, 18, 9, 30)
    )
    assert read_856(Interchange.parse(text).sets[0]) == doc
