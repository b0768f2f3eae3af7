"""Change orders at the supplier: an 860 (or a replacement 850) keeps what was allocated.

The story of issue 16: a critical line confirmed 17 with 20 backordered must stay so
when the buyer cancels another line — a replacement 850 used to make the supplier
decide every line again ("accepted 37").  Each test swaps the profile after the
first acknowledgment to one that would decide the line otherwise, so a supplier that
decides again is caught.
"""

from __future__ import annotations

import dataclasses

import pytest

from emulators.supplier import SupplierProfile
from emulators.x12 import (
    Interchange,
    X12Error,
    read_855,
    read_860,
    read_865,
)
from tests.emulators.test_supplier import CLEAN, EPOCH, GTIN, SUPPLIER, World, only_set

# the critical line: 37 ordered, 17 confirmed now (17/37 of it), 20 backordered
PARTIAL = dataclasses.replace(
    CLEAN, critical_partial_rate=1.0, partial_fill=(17 / 37, 17 / 37), ack_delay_median_s=60.0
)
TAKES_860 = dataclasses.replace(PARTIAL, change_orders="860", change_ack="865")
NUMBER = "4500000001"


def po_850(lines: list[tuple[int, int, bool]], *, revision: int = 1, control: int = 1) -> str:
    """An 850 of (line number, quantity, critical) lines; BEG01 05 after revision 1."""
    segs = [["ST", "850", "0001"], ["BEG", "00" if revision == 1 else "05", "SA", NUMBER, "",
            "20240115"], ["REF", "PP", str(revision)]]  # fmt: skip
    for number, qty, critical in lines:
        segs.append(["PO1", str(number), str(qty), "CA", "45.50", "", "VC", f"NG-{number}",
                     "UK", GTIN])  # fmt: skip
        if critical:
            segs.append(["CSH", "P2"])
    segs += [["CTT", str(len(lines))], ["SE", str(len(segs) + 2), "0001"]]
    return Interchange("HOSPNET01", SUPPLIER, control, [segs]).render("PO", EPOCH)


def po_860(
    pocs: list[tuple[int, str, int, str]],
    *,
    sequence: int = 1,
    control: int = 2,
    purpose: str = "04",
    revision: int | None = None,
    critical: frozenset[int] = frozenset(),
) -> str:
    """The PO's 860 number ``sequence`` (BCH05) of (line, POC02, quantity now ordered,
    unit price) changes; ``revision`` the PO revision (REF*PP), ``critical`` the lines
    that carry CSH*P2 in their POC loop."""
    segs = [["ST", "860", "0001"], ["BCH", purpose, "SA", NUMBER, "", str(sequence), "20240115"]]
    if revision is not None:
        segs.append(["REF", "PP", str(revision)])
    for number, code, qty, price in pocs:
        segs.append(["POC", str(number), code, str(qty), str(qty), "CA", price, "", "VC",
                     f"NG-{number}", "UK", GTIN])  # fmt: skip
        if number in critical:
            segs.append(["CSH", "P2"])
    segs += [["CTT", str(len(pocs))], ["SE", str(len(segs) + 2), "0001"]]
    return Interchange("HOSPNET01", SUPPLIER, control, [segs]).render("PC", EPOCH)


def acks(segments: list[list[str]], line: int) -> list[tuple[str, int]]:
    """The (ACK01, ACK02) of one line of an 855 or 865."""
    out, current = [], None
    for seg in segments:
        if seg[0] in ("PO1", "POC"):
            current = int(seg[1])
        elif seg[0] == "ACK" and current == line:
            out.append((seg[1], int(seg[2])))
    return out


def started(profile: SupplierProfile) -> World:
    """A critical line 1 confirmed 17 + 20 backordered, lines 2 and 3 accepted whole."""
    world = World(profile)
    reply = world.net.receive_edi(po_850([(1, 37, True), (2, 5, False), (3, 8, False)]))
    assert reply.status == 202, reply.body
    world.run()
    [first] = world.docs("855")
    assert acks(only_set(first), 1) == [("IA", 17), ("IB", 20)]
    # from now on the same supplier would fill the critical line whole: deciding it
    # again would show
    world.net.profiles[SUPPLIER] = dataclasses.replace(profile, critical_partial_rate=0.0)
    return world


def send(world: World, text: str) -> None:
    reply = world.net.receive_edi(text)
    assert reply.status == 202, reply.body
    world.run()


def test_a_replacement_850_leaves_the_untouched_critical_line_as_allocated() -> None:
    world = started(PARTIAL)
    send(world, po_850([(1, 37, True), (3, 8, False)], revision=2, control=2))  # line 2 out
    second = only_set(world.docs("855")[-1])
    assert acks(second, 1) == [("IA", 17), ("IB", 20)]  # not "IA 37"
    assert world.facts_of("confirmed_qty")[f"po_line:{NUMBER}:1"] == [17, 17]
    assert world.facts_of("ordered_qty")[f"po_line:{NUMBER}:2"] == [5, 0]


def test_a_line_changed_by_a_replacement_850_is_decided_again() -> None:
    world = started(PARTIAL)
    send(world, po_850([(1, 30, True), (2, 5, False), (3, 8, False)], revision=2, control=2))
    assert acks(only_set(world.docs("855")[-1]), 1) == [("IA", 30)]


def test_an_860_delete_is_answered_by_an_865_naming_only_that_line() -> None:
    world = started(TAKES_860)
    send(world, po_860([(2, "DI", 0, "45.50")]))
    [answer] = world.docs("865")
    change = read_865(only_set(answer))
    assert [(c.code, c.line.po_line, c.line.acks[0].code) for c in change.lines] == [
        ("DI", 2, "ID")
    ]
    assert (change.change_sequence, change.revision) == (1, 2)  # BCH05 1, the 2nd answer
    line1 = world.net.orders[(SUPPLIER, NUMBER)]["lines"][0]
    assert (line1["confirmed"], line1["ack_status"]) == (17, "IA/IB")
    assert world.facts_of("confirmed_qty")[f"po_line:{NUMBER}:1"] == [17]  # never re-told
    assert world.facts_of("ordered_qty")[f"po_line:{NUMBER}:2"] == [5, 0]
    assert len(world.docs("855")) == 1


def test_a_quantity_increase_fills_only_the_added_quantity() -> None:
    world = started(TAKES_860)
    # the supplier now backorders every new quantity: only the 12 added may be backordered
    world.net.profiles[SUPPLIER] = dataclasses.replace(TAKES_860, backorder_rate=1.0)
    send(world, po_860([(3, "QI", 20, "45.50")]))
    assert acks(only_set(world.docs("865")[-1]), 3) == [("IA", 8), ("IB", 12)]
    assert world.facts_of("confirmed_qty")[f"po_line:{NUMBER}:3"] == [8, 8]


@pytest.mark.parametrize(
    ("qty", "expected"),
    [(30, [("IA", 17), ("IB", 13)]), (10, [("IA", 10)])],
    ids=["the backorder first", "then the confirmed part"],
)
def test_a_quantity_decrease_takes_back(qty: int, expected: list[tuple[str, int]]) -> None:
    world = started(TAKES_860)
    send(world, po_860([(1, "QD", qty, "45.50")]))
    assert acks(only_set(world.docs("865")[-1]), 1) == expected


def test_a_price_change_keeps_the_quantities_at_the_new_price() -> None:
    world = started(TAKES_860)
    send(world, po_860([(1, "PC", 37, "41.00")]))
    [changed] = read_865(only_set(world.docs("865")[-1])).lines
    assert (changed.code, changed.line.price) == ("PC", "41.00")
    assert [(a.code, a.qty) for a in changed.line.acks] == [("IA", 17), ("IB", 20)]


def test_an_added_line_is_filled_and_named() -> None:
    world = started(TAKES_860)
    send(world, po_860([(4, "AI", 6, "45.50")]))
    [changed] = read_865(only_set(world.docs("865")[-1])).lines
    assert (changed.code, changed.line.po_line, changed.line.qty) == ("AI", 4, 6)
    assert world.facts_of("ordered_qty")[f"po_line:{NUMBER}:4"] == [6]


def test_an_added_critical_line_is_filled_as_critical_and_the_po_takes_the_revision() -> None:
    """CSH*P2 in the POC loop makes the added line critical (this profile fills a critical
    line 17/37, a routine one whole); REF*PP is the PO revision the order now holds."""
    world = started(TAKES_860)
    world.net.profiles[SUPPLIER] = TAKES_860
    send(world, po_860([(4, "AI", 37, "45.50"), (5, "AI", 37, "45.50")], revision=2,
                       critical=frozenset({4})))  # fmt: skip
    answer = only_set(world.docs("865")[-1])
    assert (acks(answer, 4), acks(answer, 5)) == ([("IA", 17), ("IB", 20)], [("IA", 37)])
    assert world.net.orders[(SUPPLIER, NUMBER)]["revision"] == 2


def test_a_partner_that_answers_changes_with_an_855_sends_every_line() -> None:
    world = started(dataclasses.replace(TAKES_860, change_ack="855"))
    send(world, po_860([(2, "DI", 0, "45.50")]))
    assert world.docs("865") == []
    revised = read_855(only_set(world.docs("855")[-1]))
    assert revised.revision == 2
    assert [(ln.po_line, [(a.code, a.qty) for a in ln.acks]) for ln in revised.lines] == [
        (1, [("IA", 17), ("IB", 20)]),
        (3, [("IA", 8)]),
    ]


def test_an_860_cancellation_stops_the_order() -> None:
    world = started(TAKES_860)
    send(world, po_860([(n, "DI", 0, "45.50") for n in (1, 2, 3)], purpose="01"))
    assert world.net.orders[(SUPPLIER, NUMBER)]["canceled"]
    assert world.facts_of("confirmed_qty")[f"po_line:{NUMBER}:1"] == [17, 0]
    assert world.docs("865") == []


def test_860s_are_applied_in_turn() -> None:
    """Before its PO, or before the change it follows, an 860 is too early (the buyer
    tries again: 425 is retriable); one already applied is a repeat."""
    world = World(TAKES_860)
    early = world.net.receive_edi(po_860([(1, "QI", 40, "45.50")]))
    assert (early.status, early.body["field"]) == (425, "BCH03"), early.body
    world = started(TAKES_860)
    second = po_860([(3, "QI", 9, "45.50")], sequence=2, control=3)
    early = world.net.receive_edi(second)  # overtook change 1
    assert (early.status, early.body["field"]) == (425, "BCH05"), early.body
    send(world, po_860([(2, "DI", 0, "45.50")], sequence=1, control=2))
    send(world, second)  # tried again: now in turn
    send(world, po_860([(2, "DI", 0, "45.50")], sequence=1, control=4))  # the VAN's repeat
    assert world.net.counters[SUPPLIER]["repeats_ignored"] == 1
    assert [[c.code for c in read_865(only_set(d)).lines] for d in world.docs("865")] == [
        ["DI"],
        ["QI"],
    ]


def test_the_860_reader_names_the_element_at_fault() -> None:
    [segments] = Interchange.parse(po_860([(2, "XX", 0, "45.50")])).sets
    with pytest.raises(X12Error, match=r"POC02 \(segment 3\): unknown line item change 'XX'"):
        read_860(segments)
    [segments] = Interchange.parse(po_860([(2, "QI", 0, "45.50")])).sets
    with pytest.raises(X12Error, match=r"POC03 \(segment 3\)"):
        read_860(segments)  # only a deleted line orders nothing
    reply = World(TAKES_860).net.receive_edi(po_860([(2, "XX", 0, "45.50")]))
    assert (reply.status, reply.body["field"]) == (422, "POC02 (segment 3)")


def test_the_865_reads_back_what_was_written() -> None:
    world = started(TAKES_860)
    send(world, po_860([(1, "QD", 30, "45.50"), (4, "AI", 6, "45.50")]))
    segments: list[list[str]] = only_set(world.docs("865")[-1])
    assert segments[1][:7] == ["BCA", "00", "AC", NUMBER, "", "1", "20240115"]
    change = read_865(segments)
    assert [c.code for c in change.lines] == ["QD", "AI"]
    assert Interchange.parse(world.docs("865")[-1]["payload"]).groups[0][0] == "CA"


def shipped_not_billed(profile: SupplierProfile) -> World:
    """The three-line order acknowledged and shipped within the hour, its invoice 10 h off."""
    shipping = dataclasses.replace(profile, ship_notices=True, invoices=True,
                                   ship_delay_median_s=60.0, invoice_delay_median_s=36_000.0,
                                   invoice_delay_sigma=0.0)  # fmt: skip
    world = World(shipping)
    placed = world.net.receive_edi(po_850([(1, 37, True), (2, 5, False), (3, 8, False)]))
    assert placed.status == 202
    world.run(until=3600)
    assert world.docs("856") and not world.docs("810")
    return world


def test_a_line_deleted_after_it_shipped_closes_at_what_shipped_and_is_still_billed() -> None:
    world = shipped_not_billed(TAKES_860)
    reply = world.net.receive_edi(po_860([(3, "DI", 0, "45.50")]))  # the buyer, too late
    assert reply.status == 202, reply.body
    world.run()
    order = world.net.orders[(SUPPLIER, NUMBER)]
    assert [ln["po_line"] for ln in order["lines"]] == [1, 2]
    [line3] = order["closed"]
    assert (line3["po_line"], line3["shipped"], line3["invoiced"]) == (3, 8, 8)
    assert world.docs("810")  # its shipment billed


def test_a_line_a_replacement_850_leaves_out_after_it_shipped_is_still_billed() -> None:
    world = shipped_not_billed(PARTIAL)
    send(world, po_850([(1, 37, True), (2, 5, False)], revision=2, control=2))
    [line3] = world.net.orders[(SUPPLIER, NUMBER)]["closed"]
    assert (line3["po_line"], line3["invoiced"]) == (3, 8)
