"""A supplier that bills a pack-ordered line by the each, and names a drug by its NDC."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from emulators.x12 import read_810
from tests.emulators.test_supplier import CLEAN, LINES, World, only_set

# the catalog of the lines of LINES (vendor parts NG-1..3): a CA of 24 bags by NDC, a BX of
# 100, and an item ordered by the each
CATALOG = (("NG-1", "CA", 24, "90002000101"), ("NG-2", "BX", 100, ""), ("NG-3", "EA", 1, ""))
BILLING = dataclasses.replace(CLEAN, ship_notices=True, invoices=True, catalog=CATALOG)


def billed(rate: float, orders: int = 1, seed: int = 7) -> list:
    world = World(dataclasses.replace(BILLING, invoice_uom_mismatch_rate=rate), seed=seed)
    for n in range(orders):
        world.order(f"45000000{n + 1:02d}", LINES, control=n + 1)
    world.run()
    return [(world, read_810(only_set(d))) for d in world.docs("810")]


def test_the_fault_bills_each_pack_ordered_line_by_the_each() -> None:
    [(world, invoice)] = billed(1.0)
    got = [(ln.qty, ln.uom, ln.price, ln.ndc) for ln in invoice.lines]
    assert got == [
        (240, "EA", "1.8958", "90002000101"),  # 10 CA of 24 at 45.50 / 24
        (400, "EA", "0.12", ""),  # 4 BX of 100 at 12.00 / 100
        (7, "EA", "3.25", ""),  # ordered by the each: as ordered
    ]
    # 240 x 1.8958 + 400 x 0.12 + 7 x 3.25: within rounding of what was ordered
    ordered = sum(Decimal(q) * Decimal(p) for q, _, p in LINES)
    assert abs(Decimal(invoice.total_cents) / 100 - ordered) < Decimal("0.05")
    # the supplier tells the buyer no quantity in the ordered unit for those lines
    assert world.facts_of("invoiced_uom") == {
        "po_line:4500000001:1": ["EA"],
        "po_line:4500000001:2": ["EA"],
    }
    assert set(world.facts_of("invoiced_qty")) == {"po_line:4500000001:3"}


def test_without_the_fault_every_line_is_billed_as_ordered_and_a_drug_names_its_ndc() -> None:
    [(world, invoice)] = billed(0.0)
    assert [(ln.qty, ln.uom, ln.price) for ln in invoice.lines] == LINES
    assert [ln.ndc for ln in invoice.lines] == ["90002000101", "", ""]
    [segments] = [s for s in world.net.mailbox_docs if s["type"] == "810"]
    assert "*VC*NG-1*UK*10012345678902*N4*90002000101~" in segments["payload"]  # IT1 N4
    assert world.facts_of("invoiced_uom") == {}


def test_the_rate_is_a_share_of_invoices() -> None:
    invoices = [inv for _, inv in billed(0.3, orders=40, seed=11)]
    by_each = [inv for inv in invoices if inv.lines[0].uom == "EA"]
    assert len(invoices) == 40 and 4 <= len(by_each) <= 20
    assert all(inv.lines[1].uom == "EA" for inv in by_each)  # the whole invoice, not a line
