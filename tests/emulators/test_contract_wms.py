"""WMS contract: the same cases in-process and over HTTP (see harness.py)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from emulators.web.wms_api import WMS_API, WMS_PREFIX
from emulators.web.wms_app import wms_system
from tests.emulators.fuzz import fuzz
from tests.emulators.harness import (
    Table,
    assert_problem,
    outage_and_recovery,
    refused_unchanged,
    world_fixtures,
)

GLN = "0860001000018"
EXPECTED: dict[str, Any] = {
    "receipts": [
        {"po_nbr": "P100", "po_line_nbr": 1, "item_id": "30710000000014", "dock_gln": GLN,
         "exp_qty": 12, "backorder_qty": 0, "qty_uom": "CA", "exp_date": "2026-03-09"},
        {"po_nbr": "P100", "po_line_nbr": 2, "item_id": "30710000000021", "dock_gln": GLN,
         "exp_qty": 3, "qty_uom": "BX"},
    ],
    "trace_id": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}  # fmt: skip


def asn_body(shipped: int = 10, asn_nbr: str = "ASN1", **line: Any) -> dict[str, Any]:
    return {
        "asn_nbr": asn_nbr, "po_nbr": "P100", "ship_date": "2026-03-01",
        "lines": [{"po_line_nbr": 1, "item_id": "30710000000014", "shipped_qty": shipped,
                   "qty_uom": "CA", "lot_nbr": "LOT-7", "expiry_date": "2027-06-30", **line}],
    }  # fmt: skip


def receipt_body(qty: int, **over: Any) -> dict[str, Any]:
    return {"asn_nbr": "ASN1", "po_line_nbr": 1, "received_qty": qty, **over}


# the cases' short keywords for the table's params
TABLE = Table(
    WMS_API, names={"po": "po_nbr", "n": "po_line_nbr", "asn": "asn_nbr", "item": "item_id"}
)


wms, wms_http = world_fixtures("wms", wms_system, TABLE)


def facts(wms: Any, field: str, line: int = 1) -> list[Any]:
    entity = f"po_line:P100:{line}"
    return [c for c in wms.host.history if (c.entity, c.field) == (entity, field)]


# -- expected receipts and ship notices -------------------------------------------


def test_upsert_then_read_expected_receipt(wms: Any) -> None:
    reply = wms.call("upsert_expected_receipts", body=EXPECTED)
    assert reply.status == 200 and reply.body == {"upserted": 2}

    got = wms.call("get_expected_receipt", po="P100", n=1)
    assert got.status == 200
    assert got.body == EXPECTED["receipts"][0]
    changes = facts(wms, "expected_qty")
    assert [c.value for c in changes] == [12]
    assert changes[0].correlation_id == EXPECTED["trace_id"]

    again = {"receipts": [{**EXPECTED["receipts"][0], "exp_qty": 10}]}
    assert wms.call("upsert_expected_receipts", body=again).status == 200
    assert wms.call("get_expected_receipt", po="P100", n=1).body["exp_qty"] == 10
    assert_problem(wms.call("get_expected_receipt", po="P100", n=9), 404, "po_nbr")


def test_ship_notice_is_read_back_with_its_lines_expected(wms: Any) -> None:
    created = wms.call("post_ship_notice", body=asn_body(10))
    assert created.status == 201
    got = wms.call("get_ship_notice", asn="ASN1")
    assert got.status == 200 and got.body == created.body
    assert got.body["lines"][0]["status"] == "expected"
    assert got.body["lines"][0]["lot_nbr"] == "LOT-7"
    assert [c.value for c in facts(wms, "shipped_qty")] == [10]
    assert_problem(wms.call("get_ship_notice", asn="ASN9"), 404, "asn_nbr")


# -- receiving --------------------------------------------------------------------


def test_short_receipt_then_the_rest_closes_the_line(wms: Any) -> None:
    wms.call("post_ship_notice", body=asn_body(10))

    short = wms.call("receive", body=receipt_body(4))
    assert short.status == 201
    assert short.body["line"]["status"] == "partially_received"
    assert short.body["receipt"]["receipt_id"] == "RCV-000001"
    assert short.body["receipt"]["lot_nbr"] == "LOT-7"  # taken from the ASN line

    rest = wms.call("receive", body=receipt_body(6))
    assert rest.status == 201 and rest.body["line"]["status"] == "received"

    line = wms.call("get_receiving_line", po="P100", n=1, asn="ASN1")
    assert line.status == 200
    assert (line.body["status"], line.body["received_qty"]) == ("received", 10)
    assert [c.value for c in facts(wms, "received_qty")] == [4, 10]
    got = wms.call("get_receipt", receipt_id="RCV-000002")
    assert got.status == 200 and got.body == rest.body["receipt"]
    page = wms.call("list_receipts", po="P100", limit=1)
    assert page.status == 200
    assert [r["receipt_id"] for r in page.body["items"]] == ["RCV-000001"]
    assert page.body["has_more"] is True
    assert wms.host.webhooks.stats.published == 2  # receipt.created, once per receipt


def test_receipt_against_the_po_line_without_an_asn(wms: Any) -> None:
    wms.call("upsert_expected_receipts", body=EXPECTED)
    reply = wms.call("receive", body={"po_nbr": "P100", "po_line_nbr": 2, "received_qty": 3})
    assert reply.status == 201 and reply.body["receipt"]["asn_nbr"] is None
    assert wms.call("get_receiving_line", po="P100", n=2).body["status"] == "received"


def test_over_receipt_beyond_tolerance_is_422_naming_received_qty(wms: Any) -> None:
    wms.call("post_ship_notice", body=asn_body(10))
    assert_problem(wms.call("receive", body=receipt_body(12)), 422, "received_qty")
    assert wms.call("receive", body=receipt_body(11)).status == 201  # within 10 %
    assert facts(wms, "received_qty")[-1].value == 11


def test_a_closed_line_refuses_more_receipts_with_409(wms: Any) -> None:
    wms.call("post_ship_notice", body=asn_body(10))
    assert wms.call("receive", body=receipt_body(10)).status == 201
    assert_problem(wms.call("receive", body=receipt_body(1)), 409, "po_line_nbr")
    assert len(facts(wms, "received_qty")) == 1


def test_rejected_quantity_carries_its_reason(wms: Any) -> None:
    wms.call("post_ship_notice", body=asn_body(10))
    body = receipt_body(8, rejected_qty=2, reject_reason="DAMAGED")
    reply = wms.call("receive", body=body)
    assert reply.status == 201
    assert reply.body["receipt"]["reject_reason"] == "DAMAGED"
    assert [c.value for c in facts(wms, "rejected_qty")] == [2]


# -- putaway and inventory --------------------------------------------------------


def test_putaway_moves_stock_and_inventory_shows_it(wms: Any) -> None:
    wms.call("post_ship_notice", body=asn_body(10))
    receipt_id = wms.call("receive", body=receipt_body(10)).body["receipt"]["receipt_id"]

    moved = wms.call("putaway", body={"receipt_id": receipt_id, "location": "A-01", "qty": 6})
    assert moved.status == 200
    assert (moved.body["remaining_qty"], moved.body["on_hand_qty"]) == (4, 6)

    stock = wms.call("inventory", location="A-01")
    assert stock.status == 200
    assert stock.body["items"] == [
        {"location": "A-01", "item_id": "30710000000014", "lot_nbr": "LOT-7", "on_hand_qty": 6}
    ]
    assert wms.call("inventory", item="30710000000021").body == {"items": [], "total_qty": 0}

    over = wms.call("putaway", body={"receipt_id": receipt_id, "location": "B-02", "qty": 5})
    assert_problem(over, 409, "qty")
    assert wms.call("inventory").body["total_qty"] == 6
    missing = {"receipt_id": "RCV-999999", "location": "A-01", "qty": 1}
    assert_problem(wms.call("putaway", body=missing), 404, "receipt_id")


# -- idempotency ------------------------------------------------------------------


def test_a_repeat_with_the_same_key_returns_the_first_reply_and_applies_once(wms: Any) -> None:
    wms.call("post_ship_notice", body=asn_body(10))

    first = wms.call("receive", body=receipt_body(4), key="dock-scan-1")
    again = wms.call("receive", body=receipt_body(4), key="dock-scan-1")

    assert (again.status, again.body) == (first.status, first.body)
    changes = facts(wms, "received_qty")
    assert [(c.value, c.cause) for c in changes] == [(4, "dock-scan-1")]
    assert wms.call("list_receipts").body["count"] == 1
    assert wms.host.webhooks.stats.published == 1


def test_a_keyless_repeat_is_journalled_twice_with_the_same_cause(wms: Any) -> None:
    wms.call("post_ship_notice", body=asn_body(10))

    wms.call("receive", body=receipt_body(3))
    wms.call("receive", body=receipt_body(3))

    changes = facts(wms, "received_qty")
    assert [c.value for c in changes] == [3, 6]
    assert changes[0].cause == changes[1].cause  # a visible duplicate effect
    assert changes[0].cause.startswith("wms:body:")


# -- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "body", "field"),
    [
        ("post_ship_notice", asn_body(shipped_qty=None), "lines[0].shipped_qty"),
        ("post_ship_notice", asn_body(shipped_qty="5"), "lines[0].shipped_qty"),
        ("post_ship_notice", {**asn_body(), "lines": []}, "lines"),
        ("post_ship_notice", asn_body(expiry_date="31/12/2026"), "lines[0].expiry_date"),
        ("receive", receipt_body(-1), "received_qty"),
        ("receive", receipt_body(2, lot_nbr=12), "lot_nbr"),
        ("receive", receipt_body(2, rejected_qty=1, reject_reason="SMELLS"), "reject_reason"),
        ("receive", {"po_line_nbr": 1, "received_qty": 2}, "po_nbr"),
        ("putaway", {"receipt_id": "RCV-000001", "location": "", "qty": 1}, "location"),
        ("putaway", {"receipt_id": "RCV-000001", "location": "A-01", "qty": 0}, "qty"),
        ("upsert_expected_receipts", {"receipts": []}, "receipts"),
        (
            "upsert_expected_receipts",
            {"receipts": [{**EXPECTED["receipts"][0], "exp_qty": "12"}]},
            "receipts[0].exp_qty",
        ),
    ],
)
def test_a_bad_body_is_a_4xx_problem_naming_the_field_and_changes_nothing(
    wms: Any, operation: str, body: dict[str, Any], field: str
) -> None:
    wms.call("post_ship_notice", body=asn_body(10))
    wms.call("receive", body=receipt_body(5))

    refused_unchanged(wms, operation, field, body=body)


# -- faults -----------------------------------------------------------------------


def test_outage_answers_503_with_retry_after_then_recovers(wms: Any) -> None:
    wms.call("post_ship_notice", body=asn_body(10))
    receive = partial(wms.call, "receive", body=receipt_body(4))

    outage_and_recovery(wms, receive, 201)
    assert facts(wms, "received_qty")[0].t == 70  # the first the behaviour saw of it


# -- the admin API (HTTP only) ----------------------------------------------------


def test_admin_requests_and_history_show_what_was_called_and_changed(wms_http: Any) -> None:
    wms_http.call("post_ship_notice", body=asn_body(10))
    wms_http.call("receive", body=receipt_body(4), key="k-1")
    wms_http.call("get_receipt", receipt_id="RCV-000001")

    history = wms_http.assert_logged(
        [("post_ship_notice", 201), ("receive", 201), ("get_receipt", 200)],
        [("po_line:P100:1", "shipped_qty", 10), ("po_line:P100:1", "received_qty", 4)],
    )
    assert history[1]["cause"] == "k-1"


def test_traceparent_else_trace_id_is_the_correlation_id_journalled(wms_http: Any) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    wms_http.client.post(
        f"{WMS_PREFIX}/ship-notices", json=asn_body(10), headers={"traceparent": traceparent}
    )
    wms_http.client.post(f"{WMS_PREFIX}/receipts", json=receipt_body(2, trace_id="t-body"))

    requests = wms_http.client.get("/__admin/requests").json()
    assert [r["correlation_id"] for r in requests] == [traceparent, "t-body"]


def test_admin_reset_empties_state(wms_http: Any) -> None:
    client = wms_http.client
    wms_http.call("upsert_expected_receipts", body=EXPECTED)
    wms_http.call("post_ship_notice", body=asn_body(10))
    wms_http.call("receive", body=receipt_body(10))
    assert client.get("/__admin/state").json()["receipts"]

    assert client.post("/__admin/reset").status_code == 204

    state = client.get("/__admin/state").json()
    assert (state["expected_receipts"], state["ship_notices"], state["receipts"]) == ([], [], [])
    assert state["inventory"] == [] and state["next_receipt_nbr"] == 1
    assert wms_http.admin("history") == wms_http.admin("requests") == []
    assert_problem(wms_http.call("get_ship_notice", asn="ASN1"), 404, "asn_nbr")


test_wms_openapi_fuzz = pytest.mark.filterwarnings("ignore::DeprecationWarning")(fuzz("wms"))
