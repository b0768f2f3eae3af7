"""The ERP's business rules as its users see them: buyer changes, receipts against the
open commitment, invoice status, masters, and case POs."""

from __future__ import annotations

import pytest

from emulators.erp import PurchaseOrderRefused
from tests.builders import EPOCH, GTIN_2, create_erp_po, erp_ack, erp_po_body, erp_receipt
from tests.emulators.erp_world import World, etag_of


@pytest.fixture
def w() -> World:
    return World.made()


# -- buyer changes ----------------------------------------------------------------------


def test_a_change_bumps_the_revision_and_emits_one_thin_event(w: World) -> None:
    number = w.po()
    w.events.clear()

    reply = w.erp.change_purchase_order(
        number,
        {
            "lines": [
                {"LineNumber": 1, "Quantity": 12},
                {"LineNumber": 2, "Action": "CANCEL"},
                {"Action": "ADD", "SupplierItem": "GZ-4", "ItemGTIN": GTIN_2, "Quantity": 5,
                 "UOMCode": "PK", "Price": 3.25},
            ]
        },
    )  # fmt: skip

    assert reply.status == 200 and reply.headers["etag"] == etag_of(w.erp, number)
    order = w.erp.get_purchase_order(number).body
    assert order["RevisionNumber"] == 2
    assert w.events == [
        {
            "eventId": w.events[0]["eventId"],
            "eventType": "PurchaseOrderChanged",
            "OrderNumber": number,
            "RevisionNumber": 2,
            "ChangeType": "REVISION",
        }
    ]
    one, two, three = order["lines"]
    assert (one["Quantity"], one["OpenCommitmentQuantity"]) == (12, 12)
    assert (two["LineStatus"], two["OpenCommitmentQuantity"]) == ("CANCELED", 0)
    assert (three["LineNumber"], three["Quantity"], three["LineStatus"]) == (3, 5, "OPEN")
    assert [f.value for f in w.facts_of("ordered_qty", f"po_line:{number}:1")] == [10, 12]
    assert [f.value for f in w.facts_of("line_status", f"po_line:{number}:2")] == ["CANCELED"]
    assert [f.value for f in w.facts_of("ordered_qty", f"po_line:{number}:3")] == [5]


def test_canceling_a_po_before_receipt_cancels_every_line(w: World) -> None:
    number = w.po()

    assert w.erp.change_purchase_order(number, {"Action": "CANCEL"}).ok

    order = w.erp.get_purchase_order(number).body
    assert order["Status"] == "CANCELED" and order["RevisionNumber"] == 2
    assert {ln["LineStatus"] for ln in order["lines"]} == {"CANCELED"}
    assert len(w.facts_of("line_status")) == 2
    refused = w.erp.post_receipt(number, erp_receipt(1))
    assert refused.status == 409


def test_canceling_after_receipt_is_409_and_changes_nothing(w: World) -> None:
    number = w.po()
    w.erp.post_receipt(number, erp_receipt(2))
    before, facts = w.erp.snapshot(), len(w.facts)

    whole = w.erp.change_purchase_order(number, {"Action": "CANCEL"})
    line = w.erp.change_purchase_order(number, {"lines": [{"LineNumber": 1, "Action": "CANCEL"}]})

    assert whole.status == 409 and whole.body["field"] == "Action"
    assert line.status == 409 and line.body["field"] == "lines[0].LineNumber"
    assert w.erp.snapshot() == before and len(w.facts) == facts
    # the unreceived line may still be canceled
    assert w.erp.change_purchase_order(
        number, {"lines": [{"LineNumber": 2, "Action": "CANCEL"}]}
    ).ok


def test_a_change_that_fails_on_its_last_line_applies_none_of_the_others(w: World) -> None:
    number = w.po()
    w.erp.post_receipt(number, erp_receipt(4, line=2))  # line 2 fully received
    before = w.erp.snapshot()

    reply = w.erp.change_purchase_order(
        number, {"lines": [{"LineNumber": 1, "Quantity": 20}, {"LineNumber": 2, "Quantity": 9}]}
    )

    assert reply.status == 409 and reply.body["field"] == "lines[1].LineNumber"
    assert w.erp.snapshot() == before


def test_short_closing_a_partly_received_line_closes_the_po_for_receiving(w: World) -> None:
    number = w.po()
    w.erp.post_receipt(number, erp_receipt(4, line=2))
    w.erp.post_receipt(number, erp_receipt(7, line=1))

    too_low = w.erp.change_purchase_order(number, {"lines": [{"LineNumber": 1, "Quantity": 6}]})
    closed = w.erp.change_purchase_order(number, {"lines": [{"LineNumber": 1, "Quantity": 7}]})

    assert too_low.status == 422 and too_low.body["field"] == "lines[0].Quantity"
    assert closed.ok and closed.body["Status"] == "CLOSED_FOR_RECEIVING"
    assert closed.body["lines"][0]["LineStatus"] == "RECEIVED"


# -- receipts and invoices ------------------------------------------------------------


def test_a_receipt_relieves_the_open_commitment(w: World) -> None:
    number = w.po()
    w.erp.post_acknowledgment(number, erp_ack(confirmed=6, backordered=4))

    reply = w.erp.post_receipt(number, erp_receipt(4))

    assert reply.status == 201
    line = w.erp.get_purchase_order(number).body["lines"][0]
    assert (line["ReceivedQuantity"], line["OpenCommitmentQuantity"]) == (4, 6)
    assert line["LineStatus"] == "PARTIALLY_RECEIVED"
    assert w.erp.get_purchase_order(number).body["Status"] == "PARTIALLY_RECEIVED"
    [fact] = w.facts_of("erp_received_qty", f"po_line:{number}:1")
    assert fact.value == 4
    assert w.erp.post_receipt(number, erp_receipt(6, number="R-2")).ok
    line = w.erp.get_purchase_order(number).body["lines"][0]
    assert (line["ReceivedQuantity"], line["OpenCommitmentQuantity"], line["LineStatus"]) == (
        10,
        0,
        "RECEIVED",
    )


def test_receiving_up_to_ten_percent_over_is_accepted_and_beyond_is_422(w: World) -> None:
    number = w.po(quantity=10)

    over = w.erp.post_receipt(number, erp_receipt(12))
    assert over.status == 422 and over.body["field"] == "lines[0].QuantityReceived"
    assert w.facts_of("erp_received_qty") == []
    assert w.erp.post_receipt(number, erp_receipt(11)).status == 201


def test_the_over_receipt_tolerance_is_a_setting() -> None:
    w = World()
    w.make(over_receipt_tolerance=0.0)
    number = w.po(quantity=10)
    assert w.erp.post_receipt(number, erp_receipt(11)).status == 422


def test_invoice_status_is_journalled_per_supplier_invoice_and_paid_is_final(w: World) -> None:
    number = w.po()
    for status in ("ON_HOLD", "MATCHED", "PAID"):
        body = {"InvoiceNumber": "INV-7", "MatchStatus": status, "CorrelationId": "c-1"}
        assert w.erp.post_invoice_status(number, body).ok

    late = w.erp.post_invoice_status(number, {"InvoiceNumber": "INV-7", "MatchStatus": "ON_HOLD"})

    assert late.status == 409 and late.body["field"] == "MatchStatus"
    facts = w.facts_of("erp_match_status", "invoice:S1001:INV-7")
    assert [f.value for f in facts] == ["ON_HOLD", "MATCHED", "PAID"]
    assert facts[0].correlation_id == "c-1"
    assert w.erp.get_invoice("S1001", "INV-7").body["MatchStatus"] == "PAID"


# -- masters ----------------------------------------------------------------------------


def test_a_contract_price_change_is_journalled_and_announced(w: World) -> None:
    w.masters()
    w.events.clear()

    reply = w.erp.update_contract_price("S1001", "IT-1", {"ContractPrice": 37.25})

    assert reply.status == 200 and reply.body["ContractPrice"] == 37.25
    assert [f.value for f in w.facts_of("contract_price", "price:S1001:IT-1")] == [40.0, 37.25]
    [event] = w.events
    assert event == {
        "eventId": event["eventId"],
        "eventType": "ContractPriceChanged",
        "SupplierNumber": "S1001",
        "ItemNumber": "IT-1",
    }


def test_a_contract_price_needs_a_known_vendor_and_item_and_sane_dates(w: World) -> None:
    w.masters()
    price = {"SupplierNumber": "S9", "ItemNumber": "IT-1", "ContractPrice": 1.0,
             "EffectiveFrom": "2024-01-01"}  # fmt: skip
    assert w.erp.create_contract_price(price).body["field"] == "SupplierNumber"
    price["SupplierNumber"], price["ItemNumber"] = "S1001", "IT-9"
    assert w.erp.create_contract_price(price).body["field"] == "ItemNumber"
    dates = {"EffectiveTo": "2023-12-31"}
    assert w.erp.update_contract_price("S1001", "IT-1", dates).body["field"] == "EffectiveTo"


def test_pos_for_an_inactive_vendor_are_refused(w: World) -> None:
    w.masters()
    assert w.erp.update_vendor("S1001", {"Status": "INACTIVE"}).ok
    w.facts.clear()
    w.events.clear()

    reply = w.erp.post_purchase_order(erp_po_body())

    assert reply.status == 422 and reply.body["field"] == "SupplierNumber"
    with pytest.raises(PurchaseOrderRefused) as refused:
        create_erp_po(w.erp, need_by=EPOCH.date())
    assert refused.value.reply.body["field"] == "SupplierNumber"
    assert w.erp.orders == {} and w.facts == [] and w.events == []
    # a vendor the master lacks is refused too, once the master holds any (issue 14)
    unknown = w.erp.post_purchase_order(erp_po_body(supplier="S2002"))
    assert (unknown.status, unknown.body["field"]) == (422, "SupplierNumber")
    assert "S2002" in unknown.body["detail"]


def test_a_master_key_cannot_be_changed_or_created_twice(w: World) -> None:
    w.masters()
    moved = w.erp.update_item("IT-1", {"ItemNumber": "IT-2"})
    twice = w.erp.create_vendor({"SupplierNumber": "S1001", "Name": "Again"})

    assert moved.status == 422 and moved.body["field"] == "ItemNumber"
    assert twice.status == 409 and twice.body["field"] == "SupplierNumber"
    assert w.erp.get_vendor("S1001").body["Name"] == "Medline"


def test_a_case_po_names_the_patient_and_the_procedure_date_both_or_neither(w: World) -> None:
    """A case PO (a case cart, a bill-only implant) keeps both fields as the buyer sent
    them; one without the other, or a date that does not exist, is 422 naming the field."""
    case = {"PatientMRN": "H01-0000001", "ProcedureDate": "2024-01-14"}
    created = w.erp.post_purchase_order({**erp_po_body(), **case})
    assert created.status == 201
    order = w.erp.get_purchase_order(created.body["OrderNumber"]).body
    assert {k: order[k] for k in case} == case
    assert "PatientMRN" not in w.erp.get_purchase_order(w.po()).body  # a stock PO names no one
    for body, missing in (({"PatientMRN": "H01-0000001"}, "ProcedureDate"),
                          ({"ProcedureDate": "2024-01-14"}, "PatientMRN"),
                          ({**case, "ProcedureDate": "2024-02-30"}, "ProcedureDate")):  # fmt: skip
        reply = w.erp.post_purchase_order({**erp_po_body(), **body})
        assert reply.status == 422 and reply.body["field"] == missing, body
    assert not any("2024-01-14" in str(f.value) or "H01" in str(f.value) for f in w.facts)
