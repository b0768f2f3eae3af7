"""The accounts-payable emulator: three-way match, holds, payment, as a user sees them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulators.ap import Tolerances
from tests.emulators.ap_world import (
    PO,
    VENDOR,
    invoice,
    make_world,
    open_holds,
    ready,
    receipt,
)

# -- price ----------------------------------------------------------------------


def test_a_price_within_tolerance_is_approved_without_holds() -> None:
    world = ready((1, 40, 100.00))

    reply = world.ap.post_invoice(invoice("INV-1", (1, 40, 102.00)))  # exactly 2 % over

    assert reply.status == 201
    assert reply.body["status"] == "approved"
    assert reply.body["holds"] == []
    entity = f"invoice:{VENDOR}:INV-1"
    assert world.facts(entity, "match_status") == ["approved"]
    assert world.facts(entity, "holds") == [[]]


def test_a_price_above_tolerance_holds_price_with_the_difference() -> None:
    world = ready((1, 40, 100.00))

    reply = world.ap.post_invoice(invoice("INV-1", (1, 40, 102.50)))

    assert reply.body["status"] == "on_hold"
    [hold] = open_holds(reply)
    assert hold["hold_code"] == "PRICE"
    assert (hold["line_number"], hold["po_line_number"]) == (1, 1)
    assert (hold["expected"], hold["actual"], hold["difference"]) == (100.0, 102.5, 2.5)
    assert hold["difference_pct"] == 2.5
    assert hold["amount"] == 100.0  # 2.50 over on 40 cases
    assert world.facts(f"invoice:{VENDOR}:INV-1", "holds") == [["PRICE"]]


def test_under_billing_never_holds() -> None:
    world = ready((1, 40, 100.00))

    reply = world.ap.post_invoice(invoice("INV-1", (1, 30, 80.00)))

    assert reply.body["status"] == "approved"


@pytest.mark.parametrize(
    ("qty", "expected_status"),
    [(9, "approved"), (10, "on_hold")],  # 5.00 over on 9 cases = 45 < 50; on 10 = 50
)
def test_the_amount_floor_lets_a_small_price_difference_pass(
    qty: int, expected_status: str
) -> None:
    world = ready((1, 10, 100.00))

    reply = world.ap.post_invoice(invoice("INV-1", (1, qty, 105.00)))  # 5 % over

    assert reply.body["status"] == expected_status


def test_tolerances_are_configurable_per_instance() -> None:
    strict = ready((1, 40, 100.00), tolerances=Tolerances(price_pct=1.0, amount_floor=0.0))

    reply = strict.ap.post_invoice(invoice("INV-1", (1, 40, 101.50)))

    assert [h["hold_code"] for h in open_holds(reply)] == ["PRICE"]


# -- quantity -------------------------------------------------------------------


def test_billing_more_than_received_holds_qty_rec_and_a_late_receipt_clears_it() -> None:
    world = ready((1, 100, 10.00), received=50)
    entity = f"invoice:{VENDOR}:INV-1"

    held = world.ap.post_invoice(invoice("INV-1", (1, 100, 10.00)))
    [hold] = open_holds(held)
    assert (hold["hold_code"], hold["expected"], hold["difference"]) == ("QTY REC", 50.0, 50.0)
    assert hold["amount"] == 500.0

    world.ap.post_receipt(receipt("R-2", {1: 20}))  # 70 of 100: still short
    assert world.ap.get_invoice(VENDOR, "INV-1").body["status"] == "on_hold"

    world.now[0] = 3600.0
    world.ap.post_receipt(receipt("R-3", {1: 30}), idempotency_key="rcv-3")

    after = world.ap.get_invoice(VENDOR, "INV-1").body
    assert after["status"] == "approved"
    assert after["holds"][0]["hold_status"] == "cleared"
    assert world.facts(entity, "match_status") == ["on_hold", "approved"]
    assert world.facts(entity, "holds") == [["QTY REC"], []]
    last = [c for c in world.changes if c.entity == entity][-1]
    assert (last.t, last.cause) == (3600.0, "rcv-3")
    assert [e["invoice"]["invoice_num"] for e in world.events] == ["INV-1", "INV-1"]


def test_billing_more_than_ordered_holds_qty_ord_counting_earlier_invoices() -> None:
    world = ready((1, 100, 10.00), received=200)

    first = world.ap.post_invoice(invoice("INV-1", (1, 60, 10.00)))
    second = world.ap.post_invoice(invoice("INV-2", (1, 60, 10.00), date="2024-03-06"))

    assert first.body["status"] == "approved"
    [hold] = open_holds(second)
    assert (hold["hold_code"], hold["actual"], hold["difference"]) == ("QTY ORD", 120.0, 20.0)
    assert world.facts(f"po_line:{PO}:1", "ap_invoiced_qty") == [60, 120]


def test_a_quantity_within_tolerance_passes() -> None:
    world = ready((1, 100, 10.00), received=100, tolerances=Tolerances(amount_floor=0.0))

    ok = world.ap.post_invoice(invoice("INV-1", (1, 103, 10.00)))  # 3 % over
    assert ok.body["status"] == "approved"
    held = world.ap.post_invoice(invoice("INV-2", (1, 1, 10.00)))  # 104 billed: 4 % over
    assert {h["hold_code"] for h in open_holds(held)} == {"QTY ORD", "QTY REC"}


# -- header amount ----------------------------------------------------------------


def test_a_header_total_that_differs_from_the_lines_holds_amount() -> None:
    world = ready((1, 10, 45.50), (2, 4, 12.00))

    reply = world.ap.post_invoice(invoice("INV-1", (1, 10, 45.50), (2, 4, 12.00), total=504.00))

    [hold] = open_holds(reply)
    assert hold["hold_code"] == "AMOUNT"
    assert (hold["expected"], hold["actual"], hold["difference"]) == (503.0, 504.0, 1.0)
    assert hold["line_number"] is None


def test_a_header_total_off_by_a_rounding_cent_passes() -> None:
    world = ready((1, 3, 33.33))

    reply = world.ap.post_invoice(invoice("INV-1", (1, 3, 33.33), total=100.00))

    assert reply.body["status"] == "approved"


# -- releasing holds and paying ---------------------------------------------------


def test_releasing_every_hold_approves_the_invoice_and_pay_makes_it_paid() -> None:
    world = ready((1, 40, 100.00))
    world.ap.post_invoice(invoice("INV-1", (1, 40, 110.00), total=1.00))
    entity = f"invoice:{VENDOR}:INV-1"
    assert world.facts(entity, "holds") == [["AMOUNT", "PRICE"]]

    first = world.ap.release_hold(VENDOR, "INV-1", "PRICE", reason="contract price confirmed")
    assert first.body["status"] == "on_hold"
    second = world.ap.release_hold(VENDOR, "INV-1", "AMOUNT", reason="header keyed wrong")
    assert second.body["status"] == "approved"
    assert [h["release_reason"] for h in second.body["holds"]] == [
        "contract price confirmed",
        "header keyed wrong",
    ]

    paid = world.ap.pay(VENDOR, "INV-1", payment_id="CHK-0001")

    assert paid.status == 200
    assert (paid.body["status"], paid.body["payment_id"]) == ("paid", "CHK-0001")
    assert world.facts(entity, "holds") == [["AMOUNT", "PRICE"], ["AMOUNT"], []]
    assert world.facts(entity, "match_status") == ["on_hold", "approved", "paid"]
    assert world.facts(entity, "payment_status") == ["unpaid", "paid"]
    assert len(world.events) == 3


def test_paying_an_invoice_on_hold_is_a_conflict_naming_the_status() -> None:
    world = ready((1, 40, 100.00))
    world.ap.post_invoice(invoice("INV-1", (1, 40, 110.00)))
    before = world.ap.snapshot()

    reply = world.ap.pay(VENDOR, "INV-1")

    assert reply.status == 409
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["field"] == "status"
    assert "on_hold" in reply.body["detail"]
    assert world.ap.snapshot() == before


def test_releasing_a_hold_the_invoice_does_not_have_is_a_conflict() -> None:
    world = ready((1, 40, 100.00))
    world.ap.post_invoice(invoice("INV-1", (1, 40, 110.00)))

    reply = world.ap.release_hold(VENDOR, "INV-1", "QTY REC", reason="why not")

    assert (reply.status, reply.body["field"]) == (409, "hold_code")
    assert world.ap.get_invoice(VENDOR, "INV-1").body["status"] == "on_hold"


def test_an_invoice_is_paid_once() -> None:
    world = ready((1, 10, 10.00))
    world.ap.post_invoice(invoice("INV-1", (1, 10, 10.00)))

    first = world.ap.pay(VENDOR, "INV-1", idempotency_key="pay-1")
    retried = world.ap.pay(VENDOR, "INV-1", idempotency_key="pay-1")
    again = world.ap.pay(VENDOR, "INV-1")

    assert first.status == 200 and first.body["payment_id"] == "PAY0000001"
    assert retried == first
    assert (again.status, again.body["field"]) == (409, "status")
    assert world.facts(f"invoice:{VENDOR}:INV-1", "payment_status") == ["unpaid", "paid"]


def test_without_auto_approval_a_matched_invoice_waits_for_approval() -> None:
    world = ready((1, 10, 10.00), auto_approve=False)

    reply = world.ap.post_invoice(invoice("INV-1", (1, 10, 10.00)))
    assert reply.body["status"] == "matched"
    assert world.ap.pay(VENDOR, "INV-1").status == 409

    assert world.ap.approve(VENDOR, "INV-1").body["status"] == "approved"
    assert world.ap.approve(VENDOR, "INV-1").status == 409


# -- duplicates -------------------------------------------------------------------


def test_a_repeated_invoice_number_is_rejected_and_changes_nothing() -> None:
    world = ready((1, 10, 10.00))
    world.ap.post_invoice(invoice("INV-1", (1, 10, 10.00)))
    before, journalled = world.ap.snapshot(), len(world.changes)

    reply = world.ap.post_invoice(invoice("INV-1", (1, 5, 10.00), date="2024-03-09"))

    assert (reply.status, reply.body["field"]) == (409, "invoice_num")
    assert world.ap.snapshot() == before
    assert len(world.changes) == journalled


def test_a_retried_invoice_with_its_idempotency_key_returns_the_first_reply() -> None:
    world = ready((1, 10, 10.00))

    first = world.ap.post_invoice(invoice("INV-1", (1, 10, 10.00)), idempotency_key="inv-1")
    again = world.ap.post_invoice(invoice("INV-1", (1, 10, 10.00)), idempotency_key="inv-1")

    assert again == first
    assert world.facts(f"po_line:{PO}:1", "ap_invoiced_qty") == [10]


def test_same_supplier_date_and_amount_under_another_number_is_held_as_suspected() -> None:
    world = ready((1, 10, 10.00), (2, 10, 10.00))
    world.ap.post_invoice(invoice("INV-1", (1, 5, 10.00)))

    reply = world.ap.post_invoice(invoice("INV-1A", (2, 5, 10.00)))
    other_day = world.ap.post_invoice(invoice("INV-2", (2, 5, 10.00), date="2024-03-06"))

    [hold] = open_holds(reply)
    assert (hold["hold_code"], hold["basis"]) == ("DUPLICATE", "invoice INV-1")
    assert other_day.body["status"] == "approved"


def test_dates_compare_as_dates_whatever_iso_form_they_came_in() -> None:
    world = ready((1, 10, 10.00), (2, 10, 10.00))
    world.ap.post_invoice(invoice("INV-1", (1, 5, 10.00), date="2024-03-05"))

    reply = world.ap.post_invoice(invoice("INV-2", (2, 5, 10.00), date="20240305"))

    assert reply.body["invoice_date"] == "2024-03-05"
    assert [h["hold_code"] for h in open_holds(reply)] == ["DUPLICATE"]


# -- receipts ---------------------------------------------------------------------


def test_a_receipt_resent_under_a_new_number_counts_again_without_a_key() -> None:
    world = ready((1, 100, 10.00), received=0)

    world.ap.post_receipt(receipt("R-1", {1: 10}))
    world.ap.post_receipt(receipt("R-1-resent", {1: 10}))

    assert world.facts(f"po_line:{PO}:1", "ap_received_qty") == [10, 20]


def test_a_receipt_repeated_with_its_key_or_its_number_counts_once() -> None:
    world = ready((1, 100, 10.00), received=0)

    world.ap.post_receipt(receipt("R-1", {1: 10}), idempotency_key="k-1")
    world.ap.post_receipt(receipt("R-1-resent", {1: 10}), idempotency_key="k-1")
    repeat = world.ap.post_receipt(receipt("R-1", {1: 10}))

    assert (repeat.status, repeat.body["duplicate"]) == (200, True)
    assert world.facts(f"po_line:{PO}:1", "ap_received_qty") == [10]
    assert [c.cause for c in world.changes if c.field == "ap_received_qty"] == ["k-1"]


# -- contract prices --------------------------------------------------------------


def test_an_effective_contract_price_becomes_the_reference_and_clears_price_holds() -> None:
    world = ready((1, 100, 10.00))
    held = world.ap.post_invoice(invoice("INV-1", (1, 100, 11.00)))
    assert [h["hold_code"] for h in open_holds(held)] == ["PRICE"]
    price = {"vendor_num": VENDOR, "item_id": "ITEM-1", "uom": "CA", "unit_price": 11.0}

    world.ap.upsert_prices({"prices": [{**price, "effective_date": "2024-03-06"}]})
    assert world.ap.get_invoice(VENDOR, "INV-1").body["status"] == "on_hold"  # not yet in force
    world.ap.upsert_prices({"prices": [price]}, idempotency_key="price-1")

    assert world.ap.get_invoice(VENDOR, "INV-1").body["status"] == "approved"
    assert world.facts(f"price:{VENDOR}:ITEM-1:CA", "ap_contract_price") == [11.0, 11.0]
    later = world.ap.post_invoice(invoice("INV-2", (1, 100, 11.00), date="2024-03-07"))
    assert [h["hold_code"] for h in open_holds(later)] == ["QTY ORD", "QTY REC"]  # 200 of 100


# -- bad input --------------------------------------------------------------------


def _without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def _line(body: dict[str, Any], i: int, **changes: Any) -> dict[str, Any]:
    lines = [dict(x) for x in body["lines"]]
    lines[i].update(changes)
    return {**body, "lines": lines}


GOOD = invoice("INV-9", (1, 10, 10.00), (2, 5, 20.00))


@pytest.mark.parametrize(
    ("call", "body", "status", "field_path"),
    [
        ("post_invoice", _without(GOOD, "invoice_date"), 422, "invoice_date"),
        ("post_invoice", {**GOOD, "invoice_date": "05/03/2024"}, 422, "invoice_date"),
        ("post_invoice", _line(GOOD, 1, quantity_invoiced=-5), 422, "lines[1].quantity_invoiced"),
        ("post_invoice", _line(GOOD, 1, quantity_invoiced=True), 422, "lines[1].quantity_invoiced"),
        ("post_invoice", _line(GOOD, 0, unit_price="10.00"), 422, "lines[0].unit_price"),
        ("post_invoice", _line(GOOD, 0, unit_price=0), 422, "lines[0].unit_price"),
        ("post_invoice", {**GOOD, "invoice_amount": -150.0}, 422, "invoice_amount"),
        ("post_invoice", _line(GOOD, 1, po_line_number=7), 422, "lines[1].po_line_number"),
        ("post_invoice", _line(GOOD, 1, po_line_number=1), 422, "lines[1].po_line_number"),
        ("post_invoice", {**GOOD, "po_number": "4599999999"}, 422, "po_number"),
        ("post_invoice", {**GOOD, "invoice_amount": float("nan")}, 422, "invoice_amount"),
        ("post_invoice", {**GOOD, "lines": []}, 422, "lines"),
        ("post_invoice", [GOOD], 400, ""),
        ("post_receipt", receipt("R-9", {1: -1}), 422, "lines[0].quantity_received"),
        ("post_receipt", _without(receipt("R-9", {1: 1}), "receipt_num"), 422, "receipt_num"),
        ("post_receipt", receipt("R-9", {3: 1}), 422, "lines[0].po_line_number"),
        ("upsert_po_lines", {"po_lines": [{"po_number": PO}]}, 422, "po_lines[0].po_line_number"),
        ("upsert_prices", {"prices": [{"vendor_num": VENDOR}]}, 422, "prices[0].item_id"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    call: str, body: Any, status: int, field_path: str
) -> None:
    world = ready((1, 10, 10.00), (2, 5, 20.00))
    before, journalled = world.ap.snapshot(), len(world.changes)

    reply = getattr(world.ap, call)(body)

    assert reply.status == status
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["field"] == field_path
    assert world.ap.snapshot() == before
    assert (len(world.changes), world.events) == (journalled, [])


def test_an_unknown_invoice_is_not_found() -> None:
    world = make_world()

    for reply in (
        world.ap.get_invoice(VENDOR, "NOPE"),
        world.ap.pay(VENDOR, "NOPE"),
        world.ap.release_hold(VENDOR, "NOPE", "PRICE", reason="x"),
    ):
        assert (reply.status, reply.body["field"]) == (404, "invoice_num")


# -- reads, events, snapshot --------------------------------------------------------


def test_list_invoices_filters_by_status_and_pages() -> None:
    world = ready((1, 100, 10.00))
    for n in range(5):
        price = 20.00 if n % 2 else 10.00  # odd ones held for PRICE
        world.ap.post_invoice(invoice(f"INV-{n}", (1, 10, price), date=f"2024-03-0{n + 1}"))

    page = world.ap.list_invoices(status="approved", offset=0, limit=2).body
    rest = world.ap.list_invoices(status="approved", offset=2, limit=2).body

    assert [i["invoice_num"] for i in page["items"]] == ["INV-0", "INV-2"]
    assert page["hasMore"] is True
    assert ([i["invoice_num"] for i in rest["items"]], rest["hasMore"]) == (["INV-4"], False)
    assert world.ap.list_invoices(status="on_hold").body["count"] == 2
    assert world.ap.list_invoices(status="lost").body["field"] == "status"
    assert world.ap.list_invoices(limit=0).status == 400


def test_events_are_thin_and_numbered() -> None:
    world = ready((1, 10, 10.00))

    world.ap.post_invoice(invoice("INV-1", (1, 10, 10.00)))

    assert world.events == [
        {
            "eventId": "ap-evt-1",
            "eventType": "InvoiceStatusChanged",
            "invoice": {"vendor_num": VENDOR, "invoice_num": "INV-1"},
        }
    ]


def test_snapshot_is_json_and_reset_forgets_everything() -> None:
    world = ready((1, 10, 10.00))
    world.ap.post_invoice(invoice("INV-1", (1, 10, 12.00)))

    state = json.loads(json.dumps(world.ap.snapshot()))
    assert [i["invoice_num"] for i in state["invoices"]] == ["INV-1"]
    assert state["po_lines"][0]["quantity_invoiced"] == 10

    world.ap.reset()

    assert world.ap.snapshot() == {"po_lines": [], "receipts": [], "prices": [], "invoices": []}
    assert world.ap.get_invoice(VENDOR, "INV-1").status == 404
