"""AP's three-way match and a line billed in another unit than ordered (``uom_mismatch``)."""

from __future__ import annotations

from typing import Any

from tests.emulators.ap_world import VENDOR, invoice, open_holds, ready, receipt


def by_unit(number: str, *lines: tuple[int, int, float, str | None]) -> dict[str, Any]:
    """An invoice of (PO line, quantity, unit price, unit or None: no unit named)."""
    body = invoice(number, *((n, q, p) for n, q, p, _ in lines))
    for row, (*_, uom) in zip(body["lines"], lines, strict=True):
        if uom is not None:
            row["uom"] = uom
    return body


def test_a_case_ordered_line_billed_by_the_each_holds_uom_naming_both_units() -> None:
    world = ready((1, 10, 45.60), (2, 5, 12.00))  # both by the CA, received in full
    reply = world.ap.post_invoice(by_unit("INV-1", (1, 240, 1.90, "EA"), (2, 5, 12.00, "CA")))

    assert reply.status == 201 and reply.body["status"] == "on_hold"
    [hold] = open_holds(reply)
    assert hold["hold_code"] == "UOM" and hold["basis"] == "uom_mismatch"
    assert (hold["po_line_number"], hold["ordered_uom"], hold["invoiced_uom"]) == (1, "CA", "EA")
    assert hold["quantity_invoiced"] == 240
    # no quantity variance for the line: 240 eaches are no count of cases
    assert world.facts("po_line:4500000001:1", "ap_invoiced_qty") == []
    assert world.facts("po_line:4500000001:2", "ap_invoiced_qty") == [5]
    assert world.facts(f"invoice:{VENDOR}:INV-1", "uom_mismatch") == [
        [
            {
                "po_number": "4500000001",
                "line_number": 1,
                "po_line_number": 1,
                "ordered_uom": "CA",
                "invoiced_uom": "EA",
                "quantity_invoiced": 240,
            }
        ]
    ]
    assert world.facts(f"invoice:{VENDOR}:INV-1", "holds") == [["UOM"]]


def test_an_invoice_in_the_ordered_unit_or_naming_none_is_matched_as_before() -> None:
    world = ready((1, 10, 45.60))
    reply = world.ap.post_invoice(by_unit("INV-1", (1, 4, 45.60, "CA")))
    assert reply.body["status"] == "approved" and open_holds(reply) == []
    reply = world.ap.post_invoice(by_unit("INV-2", (1, 6, 45.60, None)))
    assert reply.body["status"] == "approved" and open_holds(reply) == []
    assert world.facts(f"invoice:{VENDOR}:INV-1", "uom_mismatch") == []


def test_no_re_match_clears_a_uom_hold_only_a_person_does() -> None:
    world = ready((1, 10, 45.60), received=0)
    reply = world.ap.post_invoice(by_unit("INV-1", (1, 240, 1.90, "EA")))
    assert [h["hold_code"] for h in open_holds(reply)] == ["UOM"]
    assert world.ap.post_receipt(receipt("R-9", {1: 10})).ok  # new reference data: re-match
    assert world.ap.get_invoice(VENDOR, "INV-1").body["status"] == "on_hold"
    reply = world.ap.release_hold(VENDOR, "INV-1", "UOM", "supplier rebilled by the case")
    assert reply.status == 200 and reply.body["status"] == "approved"
