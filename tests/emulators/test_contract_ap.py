"""AP contract: the same cases in-process and over HTTP (see harness.py)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from emulators._base import Reply
from emulators.ap import Ap
from emulators.web.ap_api import AP_API, AP_PREFIX
from emulators.web.ap_app import ap_system
from tests.emulators.fuzz import fuzz
from tests.emulators.harness import (
    Table,
    assert_problem,
    live_system,
    outage_and_recovery,
    refused_unchanged,
    subscribed,
    world_fixtures,
)

PO = "4500000001"
VENDOR = "S1001"
INVOICE = f"invoice:{VENDOR}:INV-1"
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def po_lines(*lines: tuple[int, int, float], **over: Any) -> dict[str, Any]:
    """PO lines as (line, ordered qty, unit price); item ``ITEM-<line>`` by the CA."""
    return {
        "po_lines": [
            {"po_number": PO, "po_line_number": n, "item_id": f"ITEM-{n}",
             "quantity_ordered": qty, "unit_price": price, "uom": "CA", **over}
            for n, qty, price in lines
        ]
    }  # fmt: skip


LINES = po_lines((1, 100, 10.0), (2, 40, 100.0))


def receipt(number: str, received: dict[int, int], **over: Any) -> dict[str, Any]:
    rows = [{"po_line_number": n, "quantity_received": q} for n, q in received.items()]
    return {"receipt_num": number, "po_number": PO, "lines": rows, **over}


def invoice(
    number: str, *lines: tuple[int, int, float], total: float | None = None, **over: Any
) -> dict[str, Any]:
    """An invoice of (PO line, quantity, unit price); the total is the lines' sum unless given."""
    cents = sum(q * round(p * 100) for _, q, p in lines)
    return {
        "vendor_num": VENDOR,
        "invoice_num": number,
        "invoice_date": "2026-03-05",
        "po_number": PO,
        "invoice_amount": cents / 100 if total is None else total,
        "lines": [
            {"po_line_number": n, "quantity_invoiced": q, "unit_price": p} for n, q, p in lines
        ],
        **over,
    }


def price(unit_price: float, **over: Any) -> dict[str, Any]:
    row = {"vendor_num": VENDOR, "item_id": "ITEM-2", "uom": "CA", "unit_price": unit_price}
    return {"prices": [{**row, **over}]}


# the cases' short keywords for the table's params; every invoice is VENDOR's
TABLE = Table(
    AP_API, names={"number": "invoice_num", "code": "hold_code"}, defaults={"vendor_num": VENDOR}
)


ap, ap_http = world_fixtures("ap", ap_system, TABLE)


def facts(ap: Any, field: str, entity: str = INVOICE) -> list[Any]:
    return [c for c in ap.host.history if (c.entity, c.field) == (entity, field)]


def values(ap: Any, field: str, entity: str = INVOICE) -> list[Any]:
    return [c.value for c in facts(ap, field, entity)]


def open_codes(reply: Reply) -> list[str]:
    return [h["hold_code"] for h in reply.body["holds"] if h["hold_status"] == "open"]


def ready(ap: Any, received: dict[int, int] | None = None) -> None:
    """PO lines known to AP and (by default) fully received."""
    assert ap.call("upsert_po_lines", body=LINES).status == 200
    got = {1: 100, 2: 40} if received is None else received
    if got:
        assert ap.call("post_receipt", body=receipt("R-1", got)).status == 201


# -- match, approve, pay ------------------------------------------------------------


def test_a_matching_invoice_is_approved_then_paid(ap: Any) -> None:
    ready(ap)

    created = ap.call("post_invoice", body=invoice("INV-1", (1, 100, 10.0), (2, 40, 100.0)))
    assert created.status == 201
    assert (created.body["status"], created.body["holds"]) == ("approved", [])
    assert created.body["payment_status"] == "unpaid"
    assert [line["line_number"] for line in created.body["lines"]] == [1, 2]

    paid = ap.call("pay", number="INV-1", body={"payment_id": "PAY-1"})
    assert paid.status == 200
    assert (paid.body["status"], paid.body["payment_status"]) == ("paid", "paid")
    assert paid.body["payment_id"] == "PAY-1"
    assert ap.call("get_invoice", number="INV-1").body == paid.body

    assert values(ap, "match_status") == ["approved", "paid"]
    assert values(ap, "payment_status") == ["unpaid", "paid"]
    assert values(ap, "ap_invoiced_qty", f"po_line:{PO}:2") == [40]
    assert ap.host.webhooks.stats.published == 2


def test_ap_numbers_the_payment_when_no_id_is_given(ap: Any) -> None:
    ready(ap)
    ap.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0)))

    paid = ap.call("pay", number="INV-1")

    assert paid.status == 200 and paid.body["payment_id"] == "PAY0000001"


def test_a_payment_id_is_used_once(ap: Any) -> None:
    ready(ap)
    ap.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0)))
    ap.call("post_invoice", body=invoice("INV-2", (1, 20, 10.0)))
    assert ap.call("pay", number="INV-1", body={"payment_id": "PAY-1"}).status == 200

    assert_problem(ap.call("pay", number="INV-2", body={"payment_id": "PAY-1"}), 409, "payment_id")
    assert ap.call("get_invoice", number="INV-2").body["payment_status"] == "unpaid"


def test_approving_an_approved_invoice_is_409_naming_status(ap: Any) -> None:
    ready(ap)
    ap.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0)))

    assert_problem(ap.call("approve", number="INV-1"), 409, "status")


def test_an_unknown_invoice_is_404_naming_the_invoice_number(ap: Any) -> None:
    assert_problem(ap.call("get_invoice", number="INV-9"), 404, "invoice_num")
    assert_problem(ap.call("pay", number="INV-9"), 404, "invoice_num")
    assert_problem(ap.call("approve", number="INV-9"), 404, "invoice_num")
    assert_problem(
        ap.call("release_hold", number="INV-9", code="PRICE", body={"reason": "ok"}),
        404,
        "invoice_num",
    )


# -- holds --------------------------------------------------------------------------


def test_a_price_outside_tolerance_holds_price_with_the_difference(ap: Any) -> None:
    ready(ap)

    held = ap.call("post_invoice", body=invoice("INV-1", (2, 40, 102.5)))  # 2.5 % over

    assert held.status == 201 and held.body["status"] == "on_hold"
    [hold] = held.body["holds"]
    assert (hold["hold_code"], hold["hold_status"], hold["basis"]) == ("PRICE", "open", "order")
    assert (hold["expected"], hold["actual"], hold["difference"]) == (100.0, 102.5, 2.5)
    assert hold["amount"] == 100.0  # 2.50 over on 40 cases
    assert values(ap, "match_status") == ["on_hold"]
    assert values(ap, "holds") == [["PRICE"]]


def test_a_contract_price_is_the_reference_and_a_new_one_clears_the_hold(ap: Any) -> None:
    ready(ap)
    assert ap.call("upsert_prices", body=price(101.0)).status == 200

    held = ap.call("post_invoice", body=invoice("INV-1", (2, 40, 105.0)))
    [hold] = held.body["holds"]
    assert (hold["hold_code"], hold["basis"], hold["expected"]) == ("PRICE", "contract", 101.0)

    assert ap.call("upsert_prices", body=price(105.0, effective_date="2026-03-01")).status == 200

    after = ap.call("get_invoice", number="INV-1").body
    assert after["status"] == "approved"
    assert after["holds"][0]["hold_status"] == "cleared"
    assert values(ap, "ap_contract_price", f"price:{VENDOR}:ITEM-2:CA") == [101.0, 105.0]


def test_a_late_receipt_clears_qty_rec(ap: Any) -> None:
    ready(ap, received={1: 50})

    held = ap.call("post_invoice", body=invoice("INV-1", (1, 100, 10.0)))
    assert held.body["status"] == "on_hold" and open_codes(held) == ["QTY REC"]

    ap.clock.t = 3600
    assert ap.call("post_receipt", body=receipt("R-2", {1: 50}), key="rcv-2").status == 201

    after = ap.call("get_invoice", number="INV-1").body
    assert after["status"] == "approved"
    assert (after["holds"][0]["hold_status"], after["holds"][0]["release_reason"]) == (
        "cleared",
        "re-matched",
    )
    assert values(ap, "match_status") == ["on_hold", "approved"]
    assert values(ap, "holds") == [["QTY REC"], []]
    last = facts(ap, "match_status")[-1]
    assert (last.t, last.cause) == (3600, "rcv-2")


def test_releasing_the_hold_approves_the_invoice(ap: Any) -> None:
    ready(ap)
    ap.call("post_invoice", body=invoice("INV-1", (2, 40, 102.5)))

    released = ap.call(
        "release_hold", number="INV-1", code="PRICE", body={"reason": "price agreed"}
    )

    assert released.status == 200 and released.body["status"] == "approved"
    [hold] = released.body["holds"]
    assert (hold["hold_status"], hold["release_reason"]) == ("released", "price agreed")
    assert values(ap, "match_status") == ["on_hold", "approved"]
    assert values(ap, "holds") == [["PRICE"], []]
    again = ap.call("release_hold", number="INV-1", code="PRICE", body={"reason": "price agreed"})
    assert_problem(again, 409, "status")


def test_releasing_one_of_two_holds_keeps_the_invoice_on_hold(ap: Any) -> None:
    ready(ap, received={1: 50, 2: 40})
    held = ap.call("post_invoice", body=invoice("INV-1", (1, 100, 10.0), (2, 40, 102.5)))
    assert open_codes(held) == ["QTY REC", "PRICE"]

    released = ap.call(
        "release_hold", number="INV-1", code="PRICE", body={"reason": "price agreed"}
    )

    assert released.status == 200 and released.body["status"] == "on_hold"
    assert open_codes(released) == ["QTY REC"]
    missing = ap.call("release_hold", number="INV-1", code="AMOUNT", body={"reason": "fine"})
    assert_problem(missing, 409, "hold_code")
    blank = ap.call("release_hold", number="INV-1", code="QTY REC", body={"reason": " "})
    assert_problem(blank, 422, "reason")
    assert open_codes(ap.call("get_invoice", number="INV-1")) == ["QTY REC"]


def test_paying_an_invoice_on_hold_is_409_naming_status(ap: Any) -> None:
    ready(ap)
    ap.call("post_invoice", body=invoice("INV-1", (2, 40, 102.5)))

    assert_problem(ap.call("pay", number="INV-1", body={"payment_id": "PAY-1"}), 409, "status")

    got = ap.call("get_invoice", number="INV-1").body
    assert (got["status"], got["payment_status"], got["payment_id"]) == ("on_hold", "unpaid", None)
    assert values(ap, "payment_status") == ["unpaid"]


def test_a_header_total_off_the_lines_holds_amount(ap: Any) -> None:
    ready(ap)

    held = ap.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0), total=150.0))

    assert open_codes(held) == ["AMOUNT"]


# -- duplicates and idempotency -----------------------------------------------------


def test_a_duplicate_invoice_number_is_409_and_changes_nothing(ap: Any) -> None:
    ready(ap)
    first = ap.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0)))
    before, history = ap.host.snapshot(), list(ap.host.history)

    again = ap.call("post_invoice", body=invoice("INV-1", (1, 20, 10.0)))

    assert_problem(again, 409, "invoice_num")
    assert first.body["creation_date"] in again.body["detail"]
    assert ap.host.snapshot() == before and ap.host.history == history


def test_the_same_amount_and_date_under_another_number_is_held_duplicate(ap: Any) -> None:
    ready(ap)
    ap.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0)))

    suspect = ap.call("post_invoice", body=invoice("INV-2", (1, 10, 10.0)))

    assert suspect.status == 201 and open_codes(suspect) == ["DUPLICATE"]


def test_a_repeat_with_the_same_key_returns_the_first_reply_and_applies_once(ap: Any) -> None:
    ready(ap)
    body = invoice("INV-1", (1, 100, 10.0))

    first = ap.call("post_invoice", body=body, key="inv-1")
    again = ap.call("post_invoice", body=body, key="inv-1")

    assert (again.status, again.body) == (first.status, first.body) == (201, first.body)
    assert [(c.value, c.cause) for c in facts(ap, "match_status")] == [("approved", "inv-1")]
    assert values(ap, "ap_invoiced_qty", f"po_line:{PO}:1") == [100]

    paid = ap.call("pay", number="INV-1", key="pay-1")
    repaid = ap.call("pay", number="INV-1", key="pay-1")
    assert (repaid.status, repaid.body) == (paid.status, paid.body)
    assert values(ap, "payment_status") == ["unpaid", "paid"]
    assert ap.host.webhooks.stats.published == 2
    assert [r.operation for r in ap.host.requests][-4:] == [
        "post_invoice", "post_invoice", "pay", "pay",
    ]  # fmt: skip


def test_a_keyless_repeat_is_journalled_twice_with_the_same_cause(ap: Any) -> None:
    ap.call("upsert_po_lines", body=LINES)
    ap.call("upsert_po_lines", body=LINES)

    changes = facts(ap, "ap_ordered_qty", f"po_line:{PO}:1")
    assert [c.value for c in changes] == [100, 100]
    assert changes[0].cause == changes[1].cause  # a visible duplicate effect
    assert changes[0].cause.startswith("ap:po_lines:body:")


def test_a_receipt_sent_again_under_its_number_counts_once(ap: Any) -> None:
    ready(ap, received={1: 30})

    again = ap.call("post_receipt", body=receipt("R-1", {1: 30}))

    assert again.status == 200 and again.body == {"receipt_num": "R-1", "duplicate": True}
    assert values(ap, "ap_received_qty", f"po_line:{PO}:1") == [30]


# -- listing ------------------------------------------------------------------------


def test_listing_pages_through_invoices_of_one_status(ap: Any) -> None:
    ready(ap)
    for n in range(1, 6):
        body = invoice(f"INV-{n}", (1, 1, 10.0), invoice_date=f"2026-03-0{n}")  # no DUPLICATE
        ap.call("post_invoice", body=body)
    ap.call("post_invoice", body=invoice("INV-6", (2, 1, 150.0)))  # PRICE: 50.00 over

    seen, offset = [], 0
    while True:
        page = ap.call("list_invoices", status="approved", offset=offset, limit=2).body
        seen += [item["invoice_num"] for item in page["items"]]
        if not page["hasMore"]:
            break
        offset += 2
    assert seen == [f"INV-{n}" for n in range(1, 6)]
    held = ap.call("list_invoices", status="on_hold").body
    assert [i["invoice_num"] for i in held["items"]] == ["INV-6"] and held["count"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "lost"}, "status"), ({"offset": -1}, "offset"), ({"limit": 501}, "limit")],
)
def test_a_bad_listing_query_is_a_4xx_naming_the_parameter(
    ap: Any, params: dict[str, Any], field: str
) -> None:
    reply = ap.call("list_invoices", **params)

    assert reply.status in (400, 422)  # the behaviour says 400, the HTTP schema 422
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["field"] == field


# -- bad input ----------------------------------------------------------------------


def _po_line(**over: Any) -> dict[str, Any]:
    return po_lines((1, 100, 10.0), **over)


@pytest.mark.parametrize(
    ("operation", "body", "field"),
    [
        ("upsert_po_lines", {"po_lines": []}, "po_lines"),
        ("upsert_po_lines", _po_line(quantity_ordered="5"), "po_lines[0].quantity_ordered"),
        ("upsert_po_lines", _po_line(quantity_ordered=-1), "po_lines[0].quantity_ordered"),
        ("upsert_po_lines", _po_line(unit_price=True), "po_lines[0].unit_price"),
        ("upsert_po_lines", _po_line(unit_price=-1.0), "po_lines[0].unit_price"),
        ("upsert_po_lines", _po_line(item_id="  "), "po_lines[0].item_id"),
        ("post_receipt", receipt("R-9", {1: 0}), "lines[0].quantity_received"),
        ("post_receipt", receipt("", {1: 5}), "receipt_num"),
        ("post_receipt", receipt("R-9", {7: 5}), "lines[0].po_line_number"),
        ("upsert_prices", price(90.0, effective_date="31/12/2026"), "prices[0].effective_date"),
        ("upsert_prices", price(90.0, effective_date=1772668800), "prices[0].effective_date"),
        ("upsert_prices", price(90.0, uom=None), "prices[0].uom"),
        ("post_invoice", invoice("INV-1", (1, 5, 10.0), invoice_date="2026-13-01"),
         "invoice_date"),
        ("post_invoice", invoice("INV-1", (1, 5, 10.0), invoice_amount=0), "invoice_amount"),
        ("post_invoice", invoice("INV-1", total=10.0), "lines"),
        ("post_invoice", invoice("INV-1", (1, 5, -10.0), total=50.0), "lines[0].unit_price"),
        ("post_invoice", invoice("INV-1", (1, 5, 10.0), correlation_id=7), "correlation_id"),
        ("post_invoice", invoice("INV-1", (1, 5, 10.0), po_number="4599"), "po_number"),
        ("post_invoice", invoice("INV-1", (9, 5, 10.0)), "lines[0].po_line_number"),
        ("post_invoice", invoice("INV-1", (1, 5, 10.0), (1, 5, 10.0)), "lines[1].po_line_number"),
    ],
)  # fmt: skip
def test_a_bad_body_is_a_4xx_problem_naming_the_field_and_changes_nothing(
    ap: Any, operation: str, body: dict[str, Any], field: str
) -> None:
    ready(ap, received={1: 50})
    ap.call("post_invoice", body=invoice("INV-0", (1, 50, 10.0)))

    refused_unchanged(ap, operation, field, body=body)


# -- faults -------------------------------------------------------------------------


def test_outage_answers_503_with_retry_after_then_recovers(ap: Any) -> None:
    ready(ap)
    post = partial(ap.call, "post_invoice", body=invoice("INV-1", (1, 10, 10.0)))

    outage_and_recovery(ap, post, 201)
    assert facts(ap, "match_status")[0].t == 70  # the first the behaviour saw of it


# -- over HTTP only: the admin API, correlation ids, webhooks -----------------------


def test_admin_requests_and_history_show_what_was_called_and_changed(ap_http: Any) -> None:
    ap_http.call("upsert_po_lines", body=po_lines((1, 10, 10.0)))
    ap_http.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0)), key="k-1")
    ap_http.call("get_invoice", number="INV-1")

    line, inv = f"po_line:{PO}:1", INVOICE
    history = ap_http.assert_logged(
        [("upsert_po_lines", 200), ("post_invoice", 201), ("get_invoice", 200)],
        [
            (line, "ap_ordered_qty", 10),
            (line, "ap_unit_price", 10.0),
            (line, "ap_invoiced_qty", 10),
            (inv, "holds", ["QTY REC"]),
            (inv, "match_status", "on_hold"),
            (inv, "payment_status", "unpaid"),
        ],  # nothing received yet: QTY REC
    )
    assert {h["cause"] for h in history[2:]} == {"k-1"}


def test_traceparent_else_correlation_id_is_the_correlation_id(ap_http: Any) -> None:
    client = ap_http.client
    client.put(f"{AP_PREFIX}/po-lines", json=LINES, headers={"traceparent": TRACE})
    body = invoice("INV-1", (1, 10, 10.0), correlation_id="c-body")
    assert client.post(f"{AP_PREFIX}/invoices", json=body).status_code == 201

    requests = client.get("/__admin/requests").json()
    assert [r["correlation_id"] for r in requests] == [TRACE, "c-body"]
    history = client.get("/__admin/history").json()
    assert {h["correlation_id"] for h in history if h["entity"] == INVOICE} == {"c-body"}


def test_an_extra_field_is_refused_over_http(ap_http: Any) -> None:
    reply = ap_http.call("upsert_po_lines", body=_po_line(colour="blue"))

    assert_problem(reply, 422, "po_lines[0].colour")
    assert ap_http.host.history == []


def test_admin_reset_empties_state(ap_http: Any) -> None:
    client = ap_http.client
    ready(ap_http)
    ap_http.call("upsert_prices", body=price(100.0))
    ap_http.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0)))
    assert client.get("/__admin/state").json()["invoices"]

    assert client.post("/__admin/reset").status_code == 204

    assert client.get("/__admin/state").json() == {
        "po_lines": [], "receipts": [], "prices": [], "invoices": [],
    }  # fmt: skip
    assert ap_http.admin("history") == ap_http.admin("requests") == []
    assert_problem(ap_http.call("get_invoice", number="INV-1"), 404, "invoice_num")
    again = ap_http.call("post_invoice", body=invoice("INV-1", (1, 10, 10.0)))
    assert_problem(again, 422, "po_number")  # the PO lines went too


def test_a_subscriber_receives_the_thin_status_events(ap_http: Any) -> None:
    with subscribed(ap_http, "/hooks/ap") as receiver:
        ready(ap_http)
        ap_http.call("post_invoice", body=invoice("INV-1", (2, 40, 102.5)))  # on_hold
        ap_http.call(
            "release_hold", number="INV-1", code="PRICE", body={"reason": "agreed"}
        )  # approved
        ap_http.call("pay", number="INV-1")  # paid

        events = receiver.events(3)
        ref = {"vendor_num": VENDOR, "invoice_num": "INV-1"}
        assert events == [
            {
                "eventId": f"ap-evt-{n}",
                "eventType": "InvoiceStatusChanged",
                "invoice": ref,
                "sequence": n,
            }
            for n in (1, 2, 3)
        ]
        path, headers, _ = receiver.posts[0]
        assert path == "/hooks/ap" and headers["x-emulator"] == "ap"
        stats = ap_http.webhook_stats(delivered=3)
    assert (stats["published"], stats["delivered"], stats["failed"]) == (3, 3, 0)


def test_a_subscription_must_stay_on_loopback(ap_http: Any) -> None:
    reply = ap_http.client.put("/__admin/subscription", json={"url": "http://example.com/x"})

    assert reply.status_code == 422 and reply.json()["field"] == "url"


def test_the_behaviour_is_the_one_the_host_calls() -> None:
    live = live_system(ap_system)
    assert isinstance(live.host.behaviour, Ap) and live.host.system == "ap"
    paths = live.app.openapi()["paths"]
    assert f"{AP_PREFIX}/invoices/{{vendor_num}}/{{invoice_num}}/holds/{{hold_code}}/release" in (
        paths
    )
    body = paths[f"{AP_PREFIX}/invoices"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/InvoiceCreate")


test_ap_openapi_fuzz = pytest.mark.filterwarnings("ignore::DeprecationWarning")(fuzz("ap"))
