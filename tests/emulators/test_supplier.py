"""The supplier network's behaviour, driven directly with a hand-fired timer list.

No SimPy and no HTTP: ``World.schedule`` keeps (due, action) pairs and
``World.run`` fires them in order of their due time, moving the clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from stdnum import ean

from emulators._base import FactChange, Journal, Reply
from emulators.supplier import SupplierNetwork, SupplierProfile
from emulators.x12 import Interchange, read_810, read_855, read_856
from sync_core.mappers.x12 import acknowledgments_from_855, parse_interchange

EPOCH = dt.datetime(2024, 1, 15, 8, 0)
SUPPLIER = "SUPP1001"
GTIN = "10012345678902"
# every line accepted in full unless a test says otherwise
CLEAN = SupplierProfile(
    partial_rate=0.0, backorder_rate=0.0, critical_partial_rate=0.0, critical_backorder_rate=0.0
)
Line = tuple[int, str, str]  # quantity, unit, price


def po_850(number: str, lines: list[Line], *, control: int = 1, revision: int | None = None) -> str:
    segs = [["ST", "850", "0001"], ["BEG", "00", "SA", number, "", "20240115"]]
    if revision is not None:
        segs.append(["REF", "PP", str(revision)])
    segs.append(["N1", "ST", "SHIP TO", "UL", "0614141000012"])
    for i, (qty, uom, price) in enumerate(lines, start=1):
        segs.append(["PO1", str(i), str(qty), uom, price, "", "VC", f"NG-{i}", "UK", GTIN])
    segs += [["CTT", str(len(lines))], ["SE", str(len(segs) + 2), "0001"]]
    return Interchange("HOSPNET01", SUPPLIER, control, [segs]).render("PO", EPOCH)


class World:
    def __init__(self, profile: SupplierProfile, seed: int = 7) -> None:
        self.t = 0.0
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.facts: list[FactChange] = []
        self.pushed: list[dict[str, Any]] = []
        clock = self.clock
        self.net = SupplierNetwork(
            Journal("supplier", clock, self.facts.append),
            clock,
            EPOCH,
            self.schedule,
            {SUPPLIER: profile},
            seed,
        )
        self.net.listeners.append(self.pushed.append)

    def clock(self) -> float:
        return self.t

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.timers, (self.t + delay, next(self._order), action))

    def run(self, until: float = float("inf")) -> None:
        while self.timers and self.timers[0][0] <= until:
            due, _, action = heapq.heappop(self.timers)
            self.t = due
            action()

    def order(self, number: str, lines: list[Line], **kw: Any) -> Reply:
        reply = self.net.receive_edi(po_850(number, lines, **kw))
        assert reply.status == 202, reply.body
        return reply

    def docs(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.net.mailbox_docs if d["type"] == kind]

    def facts_of(self, name: str) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for f in self.facts:
            if f.field == name:
                out.setdefault(f.entity, []).append(f.value)
        return out


def only_set(doc: dict[str, Any]) -> list[list[str]]:
    [segments] = Interchange.parse(doc["payload"]).sets
    return segments


def isa13(doc: dict[str, Any]) -> int:
    return Interchange.parse(doc["payload"]).control


LINES: list[Line] = [(10, "CA", "45.50"), (4, "BX", "12.00"), (7, "EA", "3.25")]


# -- the fill, as before -----------------------------------------------------------


def test_defaults_keep_the_fill_draws_of_the_original_supplier() -> None:
    """Golden values from the supplier before exceptions, shipping and invoicing existed."""
    profile = SupplierProfile(
        partial_rate=0.3,
        backorder_rate=0.2,
        critical_partial_rate=0.5,
        critical_backorder_rate=0.25,
        backorder_days=(7, 21),
    )
    world = World(profile, seed=42)
    for k in range(1, 4):
        segs = [["ST", "850", "0001"], ["BEG", "00", "SA", f"450000000{k}", "", "20240115"]]
        for i in range(1, 5):
            segs.append(["PO1", str(i), str(10 * i), "CA", "12.50", "", "VC", f"P-{i}"])
            if i % 2 == 0:
                segs.append(["CSH", "P2"])
        segs += [["CTT", "4"], ["SE", str(len(segs) + 2), "0001"]]
        text = Interchange("HOSPNET01", SUPPLIER, k, [segs]).render("PO", EPOCH)
        assert world.net.receive_edi(text).status == 202
    world.run()

    confirmed = [f for f in world.facts if f.field == "confirmed_qty"]
    status = [f.value for f in world.facts if f.field == "ack_status"]
    got = [
        (f.entity.split(":", 1)[1], f.value, s, round(f.t, 1))
        for f, s in zip(confirmed, status, strict=True)
    ]
    assert got == [
        ("4500000002:1", 10, "IA", 1092.2),
        ("4500000002:2", 10, "IA/IB", 1092.2),
        ("4500000002:3", 0, "IB", 1092.2),
        ("4500000002:4", 23, "IA/IB", 1092.2),
        ("4500000003:1", 0, "IB", 2733.8),
        ("4500000003:2", 10, "IA/IB", 2733.8),
        ("4500000003:3", 15, "IA/IB", 2733.8),
        ("4500000003:4", 40, "IA", 2733.8),
        ("4500000001:1", 5, "IA/IB", 5389.4),
        ("4500000001:2", 0, "IB", 5389.4),
        ("4500000001:3", 30, "IA", 5389.4),
        ("4500000001:4", 24, "IA/IB", 5389.4),
    ]
    assert {d["type"] for d in world.net.mailbox_docs} == {"855"}


def test_turning_on_exceptions_shipping_and_invoices_leaves_the_fill_alone() -> None:
    base = SupplierProfile(partial_rate=0.4, backorder_rate=0.2)
    busy = dataclasses.replace(
        base,
        duplicate_rate=0.5,
        ship_notices=True,
        invoices=True,
        duplicate_invoice_rate=0.5,
    )

    def fills(profile: SupplierProfile) -> list[tuple[str, Any, float]]:
        world = World(profile, seed=3)
        for k in range(1, 6):
            world.order(f"45000000{k:02d}", LINES, control=k)
        world.run()
        return [(f.entity, f.value, f.t) for f in world.facts if f.field == "confirmed_qty"]

    assert fills(busy) == fills(base)


# -- line exceptions ----------------------------------------------------------------


def test_reject_rate_1_rejects_every_line_and_confirms_nothing() -> None:
    world = World(dataclasses.replace(CLEAN, reject_rate=1.0, ship_notices=True))
    world.order("4500000001", LINES)
    world.run()

    [doc] = world.docs("855")
    ack = read_855(only_set(doc))
    assert ack.ack_type == "RD"
    assert [[a.code for a in ln.acks] for ln in ack.lines] == [["IR"], ["IR"], ["IR"]]
    assert world.facts_of("confirmed_qty") == {f"po_line:4500000001:{i}": [0] for i in (1, 2, 3)}
    assert {v for values in world.facts_of("ack_status").values() for v in values} == {"IR"}
    assert world.docs("856") == []  # nothing confirmed, nothing shipped
    # the sync core reads it the same way
    _, [ts] = parse_interchange(doc["payload"])
    assert [ln.confirmed_quantity for ln in acknowledgments_from_855(ts).lines] == [0, 0, 0]


def test_substitution_carries_the_substitute_vendor_part_and_gtin() -> None:
    world = World(dataclasses.replace(CLEAN, substitution_rate=1.0, ship_notices=True))
    world.order("4500000001", LINES)
    world.run()

    ack = read_855(only_set(world.docs("855")[0]))
    substitutes = []
    for i, line in enumerate(ack.lines, start=1):
        [one] = line.acks
        assert (one.code, one.qty) == ("IS", LINES[i - 1][0])
        [(qualifier, part)] = one.product
        assert qualifier == "VC" and part != f"NG-{i}" and part.startswith(f"NG-{i}-S")
        assert line.vendor_part == f"NG-{i}"  # PO1 still names what was ordered
        substitutes.append(part)
    assert world.facts_of("confirmed_qty")["po_line:4500000001:1"] == [10]
    notice = read_856(only_set(world.docs("856")[0]))
    shipped = [(i.vendor_part, i.gtin) for i in notice.orders[0].items]
    assert [part for part, _ in shipped] == substitutes
    # each substitute ships under a GTIN of its own (scannable at the dock), not the ordered one
    gtins = [gtin for _, gtin in shipped]
    assert all(ean.is_valid(g) and len(g) == 14 and g != GTIN for g in gtins)
    assert len(set(gtins)) == len(set(substitutes))


def test_price_change_carries_the_new_price_and_the_invoice_bills_it() -> None:
    profile = dataclasses.replace(
        CLEAN, price_change_rate=1.0, price_change=(1.05, 1.10), ship_notices=True, invoices=True
    )
    world = World(profile)
    world.order("4500000001", LINES)
    world.run()

    ack = read_855(only_set(world.docs("855")[0]))
    for line, (_, _, ordered) in zip(ack.lines, LINES, strict=True):
        assert [a.code for a in line.acks] == ["IP"]
        ratio = Decimal(line.price) / Decimal(ordered)
        assert Decimal("1.04") < ratio < Decimal("1.11"), (line.price, ordered)
    invoice = read_810(only_set(world.docs("810")[0]))
    assert [ln.price for ln in invoice.lines] == [ln.price for ln in ack.lines]
    assert world.facts_of("invoice_price")["po_line:4500000001:1"] == [float(ack.lines[0].price)]


def test_price_change_only_touches_the_confirmed_part_of_a_partial_line() -> None:
    profile = dataclasses.replace(CLEAN, partial_rate=1.0, price_change_rate=1.0)
    world = World(profile)
    world.order("4500000001", [(10, "CA", "45.50")])
    world.run()

    [line] = read_855(only_set(world.docs("855")[0])).lines
    assert [a.code for a in line.acks] == ["IP", "IB"]
    assert line.acks[1].expected is not None
    assert world.facts_of("ack_status") == {"po_line:4500000001:1": ["IP/IB"]}


# -- delivery of the 855 ----------------------------------------------------------------


def test_missing_ack_rate_1_sends_no_855_at_all() -> None:
    world = World(dataclasses.replace(CLEAN, missing_ack_rate=1.0))
    world.order("4500000001", LINES)
    world.order("4500000002", LINES, control=2)
    world.run()

    assert world.net.mailbox_docs == [] and world.pushed == []
    assert world.net.mailbox().body == {"documents": [], "hasMore": False}
    assert world.facts_of("confirmed_qty") == {}  # nobody was told, nothing to learn
    assert world.net.counters[SUPPLIER]["acks_withheld"] == 2


def test_duplicate_rate_1_delivers_the_same_855_twice_under_a_new_isa13() -> None:
    world = World(dataclasses.replace(CLEAN, duplicate_rate=1.0, duplicate_delay_s=600.0))
    world.order("4500000001", LINES)
    world.run()

    first, again = world.docs("855")
    assert only_set(first) == only_set(again)  # ST..SE identical, ST02 included
    assert isa13(first) != isa13(again)
    assert (first["seq"], again["seq"]) == (1, 2)
    assert world.pushed == [first, again]
    # the supplier changed its mind once: one confirmation per line in the journal
    assert all(len(v) == 1 for v in world.facts_of("confirmed_qty").values())


# -- shipping and billing -------------------------------------------------------------------


def test_ship_notice_follows_the_ack_with_lot_expiry_and_the_confirmed_quantities() -> None:
    profile = dataclasses.replace(
        CLEAN, partial_rate=1.0, ship_notices=True, ship_delay_median_s=7200.0
    )
    world = World(profile)
    world.order("4500000001", LINES)
    world.run()

    [ack_doc] = world.docs("855")
    [ship_doc] = world.docs("856")
    assert ship_doc["seq"] > ack_doc["seq"]
    shipped_at = [f.t for f in world.facts if f.field == "shipped_qty"]
    acked_at = [f.t for f in world.facts if f.field == "confirmed_qty"]
    assert min(shipped_at) > max(acked_at)

    notice = read_856(only_set(ship_doc))
    [order] = notice.orders
    assert order.po_number == "4500000001"
    confirmed = {e: v[-1] for e, v in world.facts_of("confirmed_qty").items()}
    assert all(0 < q < LINES[i][0] for i, q in enumerate(confirmed.values()))  # partial
    assert {f"po_line:4500000001:{i.po_line}": i.qty for i in order.items} == confirmed
    assert {e: v[-1] for e, v in world.facts_of("shipped_qty").items()} == confirmed
    ship_date = dt.datetime.strptime(notice.date, "%Y%m%d").date()
    for item in order.items:
        assert item.lot and item.gtin == GTIN
        assert item.expiry is not None
        assert dt.datetime.strptime(item.expiry, "%Y%m%d").date() > ship_date + dt.timedelta(179)
    causes = {f.cause for f in world.facts if f.field == "shipped_qty"}
    assert causes == {f"856:{notice.shipment_id}"}


def test_nothing_confirmed_nothing_shipped() -> None:
    world = World(dataclasses.replace(CLEAN, backorder_rate=1.0, ship_notices=True))
    world.order("4500000001", LINES)
    world.run()
    assert world.docs("856") == [] and world.facts_of("shipped_qty") == {}


def test_invoice_total_is_the_sum_of_quantity_times_price_in_cents() -> None:
    profile = dataclasses.replace(CLEAN, partial_rate=0.5, ship_notices=True, invoices=True)
    world = World(profile, seed=11)
    for k in range(1, 5):
        world.order(f"450000000{k}", [*LINES, (3, "DZ", "19.99")], control=k)
    world.run()

    invoices = world.docs("810")
    assert len(invoices) == 4
    for doc in invoices:
        segments = only_set(doc)
        it1 = [s for s in segments if s[0] == "IT1"]
        [tds] = [s for s in segments if s[0] == "TDS"]
        expected = sum(int(s[2]) * Decimal(s[4]) for s in it1) * 100
        assert Decimal(tds[1]) == expected
        invoice = read_810(segments)
        assert invoice.total_cents == int(expected)
    # the shipped quantities are billed, at the acknowledged price
    invoiced = {e: v[-1] for e, v in world.facts_of("invoiced_qty").items()}
    assert invoiced == {e: v[-1] for e, v in world.facts_of("shipped_qty").items()}
    assert set(world.facts_of("invoice_price")["po_line:4500000001:4"]) == {19.99}
    first_810 = min(d["seq"] for d in invoices)
    assert first_810 > min(d["seq"] for d in world.docs("856"))


def test_a_duplicate_invoice_repeats_the_invoice_number_under_a_new_isa13() -> None:
    profile = dataclasses.replace(
        CLEAN, ship_notices=True, invoices=True, duplicate_invoice_rate=1.0
    )
    world = World(profile)
    world.order("4500000001", LINES)
    world.run()

    first, again = world.docs("810")
    assert read_810(only_set(first)) == read_810(only_set(again))
    assert isa13(first) != isa13(again)
    assert all(len(v) == 1 for v in world.facts_of("invoiced_qty").values())
    assert world.net.counters[SUPPLIER]["invoice_duplicates"] == 1


def test_a_revised_po_is_acknowledged_with_the_next_revision() -> None:
    world = World(CLEAN)
    world.order("4500000001", LINES, revision=1)
    world.run()
    world.order("4500000001", [(12, "CA", "45.50"), *LINES[1:]], control=2, revision=2)
    world.order("4500000001", LINES, control=3, revision=2)  # a repeat: ignored
    world.run()

    first, second = world.docs("855")
    assert (read_855(only_set(first)).revision, read_855(only_set(second)).revision) == (1, 2)
    assert world.facts_of("confirmed_qty")["po_line:4500000001:1"] == [10, 12]
    assert world.net.counters[SUPPLIER]["repeats_ignored"] == 1


def test_a_revision_ships_only_what_was_not_shipped_yet() -> None:
    world = World(dataclasses.replace(CLEAN, ship_notices=True))
    world.order("4500000001", LINES, revision=1)
    world.run()
    world.order("4500000001", [(12, "CA", "45.50"), *LINES[1:]], control=2, revision=2)
    world.run()

    first, second = (read_856(only_set(d)) for d in world.docs("856"))
    assert [(i.po_line, i.qty) for i in first.orders[0].items] == [(1, 10), (2, 4), (3, 7)]
    assert [(i.po_line, i.qty) for i in second.orders[0].items] == [(1, 2)]
    assert (first.shipment_id, second.shipment_id) == ("4500000001-1", "4500000001-2")
    assert world.facts_of("shipped_qty")["po_line:4500000001:1"] == [10, 12]


def test_the_trucks_carry_each_shipment_as_its_856_reads_before_the_856_is_pushed() -> None:
    """The dock takes the packing list from the truck: what the 856 says, handed over
    before the 856 goes to the listeners (the dock's draws come first, as they did)."""
    world = World(dataclasses.replace(CLEAN, ship_notices=True))
    loads: list[tuple[Any, int]] = []
    world.net.trucks.append(lambda notice: loads.append((notice, len(world.pushed))))
    world.order("4500000001", LINES, revision=1)
    world.run()
    world.order("4500000001", [(12, "CA", "45.50"), *LINES[1:]], control=2, revision=2)
    world.run()

    pushed = [(n, d) for n, d in enumerate(world.pushed) if d["type"] == "856"]
    assert len(loads) == len(pushed) == 2
    for (notice, pushed_before), (n, doc) in zip(loads, pushed, strict=True):
        assert notice == read_856(only_set(doc))
        assert pushed_before == n  # the truck left just before its 856 was pushed


# -- determinism, documents, control ------------------------------------------------------------


def busy_run(seed: int) -> list[dict[str, Any]]:
    profile = SupplierProfile(
        partial_rate=0.3,
        backorder_rate=0.1,
        reject_rate=0.1,
        substitution_rate=0.1,
        price_change_rate=0.2,
        duplicate_rate=0.3,
        ship_notices=True,
        invoices=True,
        duplicate_invoice_rate=0.3,
    )
    world = World(profile, seed=seed)
    for k in range(1, 7):
        world.order(f"45000000{k:02d}", LINES, control=k)
    world.run()
    return world.net.mailbox_docs


def test_the_same_seed_yields_the_same_documents() -> None:
    first, again, other = busy_run(5), busy_run(5), busy_run(6)
    assert first == again
    assert {d["type"] for d in first} == {"855", "856", "810"}
    assert [d["payload"] for d in first] != [d["payload"] for d in other]


def test_every_document_carries_seq_supplier_type_and_payload() -> None:
    world = World(dataclasses.replace(CLEAN, ship_notices=True, invoices=True))
    world.order("4500000001", LINES)
    world.run()

    assert world.pushed == world.net.mailbox_docs
    assert [(d["seq"], d["supplier"], d["type"]) for d in world.pushed] == [
        (1, SUPPLIER, "855"),
        (2, SUPPLIER, "856"),
        (3, SUPPLIER, "810"),
    ]
    groups = [d["payload"].split("~")[1].split("*")[1] for d in world.pushed]
    assert groups == ["PR", "SH", "IN"]
    page = world.net.mailbox(after=1, limit=1).body
    assert [d["seq"] for d in page["documents"]] == [2] and page["hasMore"] is True


@pytest.mark.parametrize(
    ("mutate", "status", "field"),
    [
        (lambda t: t.replace("SE*7*0001", "SE*6*0001"), 400, "SE01"),
        (lambda t: t.replace("GE*1*", "GE*2*"), 400, "GE01"),
        (lambda t: t.replace("*4*BX*", "*4*XX*"), 422, "PO103 (segment 5)"),
        (lambda t: t.replace("*4*BX*", "*four*BX*"), 422, "PO102 (segment 5)"),
        (lambda t: t.replace("CTT*2", "CTT*3"), 422, "CTT01 (segment 6)"),
        (
            lambda t: t.replace("BEG*00*SA*4500000001**20240115", "BEG*00*SA*4500000001**2024"),
            422,
            "BEG05 (segment 2)",
        ),
    ],
)
def test_a_malformed_850_gets_a_problem_naming_the_segment(
    mutate: Callable[[str], str], status: int, field: str
) -> None:
    world = World(CLEAN)
    text = po_850("4500000001", LINES[:2])
    assert "SE*7*0001" in text
    reply = world.net.receive_edi(mutate(text))

    assert reply.status == status
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["field"] == field
    assert world.net.orders == {} and world.timers == [] and world.facts == []


def test_one_bad_set_refuses_the_whole_interchange() -> None:
    good = [
        ["ST", "850", "0001"],
        ["BEG", "00", "SA", "4500000001", "", "20240115"],
        ["PO1", "1", "2", "CA", "1.00", "", "VC", "A"],
        ["CTT", "1"],
        ["SE", "5", "0001"],
    ]
    bad = [
        ["ST", "850", "0002"],
        ["BEG", "00", "SA", "4500000002", "", "20240115"],
        ["PO1", "1", "2", "QQ", "1.00", "", "VC", "A"],
        ["CTT", "1"],
        ["SE", "5", "0002"],
    ]
    world = World(CLEAN)
    text = Interchange("HOSPNET01", SUPPLIER, 1, [good, bad]).render("PO", EPOCH)

    reply = world.net.receive_edi(text)
    assert (reply.status, reply.body["field"]) == (422, "PO103 (segment 3)")
    assert world.net.orders == {}


def test_an_unknown_trading_partner_is_422_on_isa08() -> None:
    world = World(CLEAN)
    text = po_850("4500000001", LINES).replace(SUPPLIER.ljust(15), "NOBODY".ljust(15))
    text = text.replace(f"*{SUPPLIER}*", "*NOBODY*")
    reply = world.net.receive_edi(text)
    assert (reply.status, reply.body["field"]) == (422, "ISA08")


def test_snapshot_is_plain_json_and_reset_starts_over_with_the_same_streams() -> None:
    profile = dataclasses.replace(CLEAN, partial_rate=0.5, ship_notices=True, invoices=True)
    world = World(profile)
    world.order("4500000001", LINES)
    world.run()
    before = [d["payload"] for d in world.net.mailbox_docs]

    snap = world.net.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    assert snap["mailbox_size"] == 3
    [order] = snap["orders"]
    assert order["supplier"] == SUPPLIER and order["customer_po"] == "4500000001"
    assert [ln["shipped"] for ln in order["lines"]] == [ln["confirmed"] for ln in order["lines"]]
    counters = snap["suppliers"][SUPPLIER]
    assert (counters["acks_sent"], counters["ship_notices"], counters["invoices"]) == (1, 1, 1)

    world.order("4500000002", LINES, control=2)  # a timer pending at the reset
    world.net.reset()
    assert world.net.snapshot() == {
        "orders": [],
        "mailbox_size": 0,
        "suppliers": {SUPPLIER: dict.fromkeys(counters, 0)},
    }
    world.run()
    assert world.net.mailbox_docs == []  # the old timer went off and did nothing

    world.t = 0.0
    world.order("4500000001", LINES)
    world.run()
    assert [d["payload"] for d in world.net.mailbox_docs] == before
    assert world.pushed[-3:] == world.net.mailbox_docs  # listeners survive a reset


@pytest.mark.parametrize(
    "change",
    [
        {"reject_rate": 1.5},
        {"duplicate_invoice_rate": -0.1},
        {"reject_rate": 0.6, "substitution_rate": 0.6},
        {"ship_delay_sigma": -1.0},
        {"shelf_life_days": (30, 10)},
    ],
)
def test_an_impossible_profile_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        dataclasses.replace(CLEAN, **change)


def test_an_850_our_855_could_not_carry_is_refused_at_once_naming_the_element() -> None:
    """Values are checked on receipt: a 202 must never end in an acknowledgment that
    cannot be written (it would be journalled, counted and then lost)."""
    world = World(CLEAN)
    # the buyer uses "|" between elements, so "*" is an ordinary character in its PO number
    text = po_850("POX1", [(5, "CA", "10.00")]).replace("*", "|").replace("POX1", "PO*1")
    reply = world.net.receive_edi(text)
    assert reply.status == 422 and reply.body["field"] == "BEG03"
    assert not world.timers and not world.net.orders and not world.facts
    # the same order with a plain PO number is fine with those delimiters
    ok = world.net.receive_edi(po_850("POX2", [(5, "CA", "10.00")]).replace("*", "|"))
    assert ok.status == 202
