"""The WMS as its users see it: ship notices, dock receiving, putaway, events and the journal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulators._base import FactChange, Journal
from emulators.wms import Wms
from tests.emulators.harness import assert_problem
from tests.emulators.wms_dock import EPOCH, Dock, asn_line, expected_receipt


@pytest.fixture
def dock() -> Dock:
    return Dock()


# -- ship notices ---------------------------------------------------------------


def test_ship_notice_creates_expected_lines(dock: Dock) -> None:
    reply = dock.wms.post_ship_notice(
        {
            "asn_nbr": "ASN1",
            "po_nbr": "P1",
            "lines": [
                asn_line(),
                {"po_line_nbr": 2, "item_id": "GTIN-2", "shipped_qty": 4, "qty_uom": "CA"},
            ],
        }
    )

    assert reply.status == 201
    lines = dock.wms.get_ship_notice("ASN1").body["lines"]
    assert [(ln["po_line_nbr"], ln["shipped_qty"], ln["status"]) for ln in lines] == [
        (1, 10, "expected"),
        (2, 4, "expected"),
    ]
    assert dock.line(n=2)["expected_qty"] == 4
    assert dock.facts_of("shipped_qty") == [10]
    assert dock.facts_of("shipped_qty", line=2) == [4]


def test_ship_notice_can_be_resent_until_receiving_starts(dock: Dock) -> None:
    dock.asn(shipped_qty=10)
    assert dock.asn(shipped_qty=12).status == 200
    assert dock.line()["expected_qty"] == 12
    assert dock.facts_of("shipped_qty") == [10, 12]

    dock.receive(3)
    refused = dock.asn(shipped_qty=20)

    assert_problem(refused, 409, "asn_nbr")
    assert dock.line()["expected_qty"] == 12


# -- receiving ------------------------------------------------------------------


def test_short_receipt_is_partially_received_and_journalled(dock: Dock) -> None:
    dock.asn(shipped_qty=10)

    reply = dock.receive(6)

    assert reply.status == 201
    assert reply.body["line"]["status"] == "partially_received"
    assert dock.facts_of("received_qty") == [6]
    dock.receive(4)
    assert dock.line()["status"] == "received"
    assert dock.facts_of("received_qty") == [6, 10]  # cumulative per PO line


def test_line_closes_within_the_close_tolerance(dock: Dock) -> None:
    dock.asn(shipped_qty=20)
    dock.asn("ASN2", "P2", shipped_qty=20)

    dock.receive(19)  # 19 >= 20 x 95 %
    dock.receive(18, asn_nbr="ASN2")

    assert dock.line()["status"] == "received"
    assert dock.line("ASN2", "P2")["status"] == "partially_received"


def test_over_receipt_within_tolerance_is_accepted(dock: Dock) -> None:
    dock.asn(shipped_qty=10)

    reply = dock.receive(11)

    assert reply.status == 201
    assert dock.line()["status"] == "received"
    assert dock.facts_of("received_qty") == [11]


def test_over_receipt_beyond_tolerance_is_422_naming_received_qty(dock: Dock) -> None:
    dock.asn(shipped_qty=10)
    dock.receive(6)
    before = dock.wms.snapshot()

    reply = dock.receive(6)  # 12 > 10 + 10 %

    assert_problem(reply, 422, "received_qty")
    assert dock.wms.snapshot() == before
    assert dock.facts_of("received_qty") == [6]


def test_over_receipt_tolerance_is_a_setting() -> None:
    strict = Dock(over_receipt_pct=0.0)
    strict.asn(shipped_qty=10)

    assert_problem(strict.receive(11), 422, "received_qty")
    assert strict.receive(10).status == 201


def test_expired_lot_is_rejected_with_reason_expired(dock: Dock) -> None:
    dock.asn(shipped_qty=10, lot_nbr="LOT-OLD", expiry_date="2024-02-29")  # day before EPOCH

    reply = dock.receive(10)

    receipt = reply.body["receipt"]
    assert (receipt["received_qty"], receipt["rejected_qty"], receipt["reject_reason"]) == (
        0,
        10,
        "EXPIRED",
    )
    assert dock.line()["status"] == "expected"
    assert dock.facts_of("rejected_qty") == [10]
    assert dock.facts_of("received_qty") == []


def test_expiry_on_the_receipt_overrides_the_ship_notice(dock: Dock) -> None:
    dock.asn(shipped_qty=10)  # the ASN announced a good lot; the dock reads another one
    expired = dock.receive(5, lot_nbr="LOT-X", expiry_date="2023-12-31")
    fresh = dock.receive(5, lot_nbr="LOT-Y", expiry_date=EPOCH.date().isoformat())  # today: ok

    assert expired.body["receipt"]["reject_reason"] == "EXPIRED"
    assert fresh.body["receipt"]["received_qty"] == 5


def test_damaged_goods_are_rejected_with_their_reason(dock: Dock) -> None:
    dock.asn(shipped_qty=10)

    assert_problem(dock.receive(8, rejected_qty=2), 422, "reject_reason")
    reply = dock.receive(8, rejected_qty=2, reject_reason="DAMAGED")

    assert reply.body["receipt"]["reject_reason"] == "DAMAGED"
    assert dock.line()["status"] == "partially_received"  # 8 < 95 % of 10
    assert dock.facts_of("received_qty") == [8]
    assert dock.facts_of("rejected_qty") == [2]
    dock.receive(1, rejected_qty=1, reject_reason="WRONG_ITEM")
    assert (dock.line()["received_qty"], dock.line()["rejected_qty"]) == (9, 3)
    assert dock.facts_of("rejected_qty") == [2, 3]


def test_closed_line_refuses_more_receipts(dock: Dock) -> None:
    dock.asn(shipped_qty=10)
    dock.receive(10)
    before = dock.wms.snapshot()

    more = dock.receive(1)
    rejected_only = dock.receive(0, rejected_qty=1, reject_reason="DAMAGED")

    assert_problem(more, 409, "po_line_nbr")
    assert_problem(rejected_only, 409, "po_line_nbr")
    assert dock.wms.snapshot() == before


def test_receiving_against_the_po_without_a_ship_notice(dock: Dock) -> None:
    dock.wms.upsert_expected_receipts(
        {
            "receipts": [expected_receipt(po_nbr="P9", po_line_nbr=2, item_id="GTIN-9")],
            "trace_id": None,
        }
    )

    reply = dock.wms.receive({"po_nbr": "P9", "po_line_nbr": 2, "received_qty": 5})

    assert reply.status == 201
    assert reply.body["receipt"]["asn_nbr"] is None
    assert dock.line(None, "P9", 2)["status"] == "received"
    assert dock.facts_of("received_qty", "P9", 2) == [5]
    assert dock.wms.get_expected_receipt("P9", 2).body["exp_qty"] == 5  # unchanged


def test_received_qty_adds_up_over_ship_notices_of_one_po_line(dock: Dock) -> None:
    dock.asn("ASN1", shipped_qty=4)
    dock.asn("ASN2", shipped_qty=6)

    dock.receive(4)
    dock.receive(6, asn_nbr="ASN2")

    assert dock.facts_of("shipped_qty") == [4, 10]
    assert dock.facts_of("received_qty") == [4, 10]


def test_receipt_ids_are_sequential_and_readable(dock: Dock) -> None:
    dock.asn(shipped_qty=10)

    ids = [dock.receive(2).body["receipt"]["receipt_id"] for _ in range(3)]

    assert ids == ["RCV-000001", "RCV-000002", "RCV-000003"]
    receipt = dock.wms.get_receipt("RCV-000002").body
    assert (receipt["po_nbr"], receipt["lot_nbr"], receipt["received_qty"]) == ("P1", "LOT-A", 2)
    assert receipt["received_at"] == EPOCH.isoformat(timespec="milliseconds")
    assert_problem(dock.wms.get_receipt("RCV-999999"), 404, "receipt_id")


def test_list_receipts_pages_with_has_more(dock: Dock) -> None:
    dock.asn(shipped_qty=10)
    dock.asn("ASN2", "P2", shipped_qty=10)
    for asn in ("ASN1", "ASN2", "ASN1"):
        dock.receive(1, asn_nbr=asn)

    first = dock.wms.list_receipts(limit=2).body
    rest = dock.wms.list_receipts(offset=2, limit=2).body
    of_p1 = dock.wms.list_receipts(po_nbr="P1").body

    assert ([r["receipt_id"] for r in first["items"]], first["has_more"]) == (
        ["RCV-000001", "RCV-000002"],
        True,
    )
    assert ([r["receipt_id"] for r in rest["items"]], rest["has_more"]) == (["RCV-000003"], False)
    assert [r["receipt_id"] for r in of_p1["items"]] == ["RCV-000001", "RCV-000003"]
    assert_problem(dock.wms.list_receipts(limit=0), 400, "limit")
    assert_problem(dock.wms.list_receipts(offset=-1), 400, "offset")


# -- putaway --------------------------------------------------------------------


def test_putaway_moves_received_stock_into_locations(dock: Dock) -> None:
    dock.asn(shipped_qty=10)
    receipt_id = dock.receive(10).body["receipt"]["receipt_id"]

    assert dock.wms.putaway(receipt_id, "A-01-01", 6).status == 200
    assert dock.wms.putaway(receipt_id, "B-02-03", 4).status == 200

    stock = dock.wms.inventory().body
    assert [
        (r["location"], r["item_id"], r["lot_nbr"], r["on_hand_qty"]) for r in stock["items"]
    ] == [
        ("A-01-01", "GTIN-1", "LOT-A", 6),
        ("B-02-03", "GTIN-1", "LOT-A", 4),
    ]
    assert stock["total_qty"] == 10
    assert dock.wms.inventory(location="B-02-03").body["total_qty"] == 4
    assert dock.wms.inventory(item_id="GTIN-OTHER").body["items"] == []


def test_putaway_refuses_more_than_is_left(dock: Dock) -> None:
    dock.asn(shipped_qty=10)
    receipt_id = dock.receive(8, rejected_qty=2, reject_reason="DAMAGED").body["receipt"][
        "receipt_id"
    ]
    dock.wms.putaway(receipt_id, "A-01-01", 5)
    before = dock.wms.snapshot()

    reply = dock.wms.putaway(receipt_id, "A-01-01", 4)  # 3 left; rejected goods never count

    assert_problem(reply, 409, "qty")
    assert dock.wms.snapshot() == before
    assert dock.wms.putaway(receipt_id, "A-01-01", 3).body["on_hand_qty"] == 8


@pytest.mark.parametrize(
    ("args", "status", "field"),
    [
        (("RCV-000404", "A-01", 1), 404, "receipt_id"),
        (("RCV-000001", "", 1), 422, "location"),
        (("RCV-000001", "A-01", 0), 422, "qty"),
        (("RCV-000001", "A-01", True), 422, "qty"),
    ],
)
def test_putaway_bad_input_changes_nothing(
    dock: Dock, args: tuple[Any, ...], status: int, field: str
) -> None:
    dock.asn(shipped_qty=10)
    dock.receive(10)
    before = dock.wms.snapshot()

    assert_problem(dock.wms.putaway(*args), status, field)
    assert dock.wms.snapshot() == before


# -- events ---------------------------------------------------------------------


def test_each_receipt_is_announced_with_keys_only(dock: Dock) -> None:
    dock.asn(shipped_qty=10)

    dock.receive(4)
    dock.receive(99)  # refused: no event
    dock.receive(4)

    assert dock.events == [
        {
            "event_id": "wms-evt-1",
            "event_type": "receipt.created",
            "receipt_id": "RCV-000001",
            "po_nbr": "P1",
            "po_line_nbr": 1,
        },
        {
            "event_id": "wms-evt-2",
            "event_type": "receipt.created",
            "receipt_id": "RCV-000002",
            "po_nbr": "P1",
            "po_line_nbr": 1,
        },
    ]


# -- idempotency ----------------------------------------------------------------


def test_a_repeat_with_the_same_key_is_a_no_op_returning_the_first_reply(dock: Dock) -> None:
    dock.asn(shipped_qty=10)

    first = dock.receive(4, key="dock-scan-1")
    again = dock.receive(4, key="dock-scan-1")

    assert again == first
    assert len(dock.wms.list_receipts().body["items"]) == 1
    assert dock.facts_of("received_qty") == [4]
    assert len(dock.events) == 1
    assert [f.cause for f in dock.facts if f.field == "received_qty"] == ["dock-scan-1"]


def test_a_keyless_repeat_is_applied_again_and_shows_as_a_duplicate_effect(dock: Dock) -> None:
    dock.asn(shipped_qty=10)

    dock.receive(4)
    dock.receive(4)

    receipts = [f for f in dock.facts if f.field == "received_qty"]
    assert [f.value for f in receipts] == [4, 8]
    assert receipts[0].cause == receipts[1].cause  # same content, same cause: a duplicate
    assert receipts[0].cause.startswith("wms:body:")
    assert dock.line()["received_qty"] == 8


def test_putaway_and_ship_notice_honour_the_key(dock: Dock) -> None:
    body = {
        "asn_nbr": "ASN1",
        "po_nbr": "P1",
        "lines": [{"po_line_nbr": 1, "item_id": "G", "shipped_qty": 5, "qty_uom": "EA"}],
    }
    dock.wms.post_ship_notice(body, "asn-key")
    dock.wms.post_ship_notice(body, "asn-key")
    receipt_id = dock.receive(5).body["receipt"]["receipt_id"]
    dock.wms.putaway(receipt_id, "A-01", 2, "put-key")
    dock.wms.putaway(receipt_id, "A-01", 2, "put-key")

    assert dock.facts_of("shipped_qty") == [5]
    assert dock.wms.inventory().body["total_qty"] == 2


def test_a_refused_request_does_not_burn_its_key(dock: Dock) -> None:
    dock.asn(shipped_qty=10)

    assert dock.receive(50, key="k").status == 422
    assert dock.receive(5, key="k").status == 201


# -- bad input ------------------------------------------------------------------

GOOD_LINE = {"po_line_nbr": 1, "item_id": "G", "shipped_qty": 5, "qty_uom": "EA"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ([], 400, ""),
        ({"po_nbr": "P1", "lines": [GOOD_LINE]}, 422, "asn_nbr"),
        ({"asn_nbr": "A", "lines": [GOOD_LINE]}, 422, "po_nbr"),
        ({"asn_nbr": "A", "po_nbr": "P1", "lines": []}, 422, "lines"),
        ({"asn_nbr": "A", "po_nbr": "P1", "lines": ["x"]}, 422, "lines[0]"),
        (
            {"asn_nbr": "A", "po_nbr": "P1", "lines": [GOOD_LINE, {**GOOD_LINE, "shipped_qty": 0}]},
            422,
            "lines[1].shipped_qty",
        ),
        (
            {"asn_nbr": "A", "po_nbr": "P1", "lines": [{**GOOD_LINE, "shipped_qty": "5"}]},
            422,
            "lines[0].shipped_qty",
        ),
        (
            {"asn_nbr": "A", "po_nbr": "P1", "lines": [{**GOOD_LINE, "item_id": ""}]},
            422,
            "lines[0].item_id",
        ),
        (
            {"asn_nbr": "A", "po_nbr": "P1", "lines": [{**GOOD_LINE, "expiry_date": "31/12/2026"}]},
            422,
            "lines[0].expiry_date",
        ),
        (
            {"asn_nbr": "A", "po_nbr": "P1", "lines": [GOOD_LINE, GOOD_LINE]},
            422,
            "lines[1].po_line_nbr",
        ),
        ({"asn_nbr": "ASN1", "po_nbr": "P2", "lines": [GOOD_LINE]}, 409, "po_nbr"),
    ],
)
def test_bad_ship_notice_changes_nothing(dock: Dock, body: Any, status: int, field: str) -> None:
    dock.asn()
    before, facts = dock.wms.snapshot(), len(dock.facts)

    assert_problem(dock.wms.post_ship_notice(body), status, field)
    assert dock.wms.snapshot() == before
    assert len(dock.facts) == facts


@pytest.mark.parametrize(
    ("over", "status", "field"),
    [
        ({"received_qty": -1}, 422, "received_qty"),
        ({"received_qty": 1.5}, 422, "received_qty"),
        ({"received_qty": 0}, 422, "received_qty"),
        ({"rejected_qty": -2}, 422, "rejected_qty"),
        ({"rejected_qty": 1, "reject_reason": "SMELLS"}, 422, "reject_reason"),
        ({"rejected_qty": 1, "reject_reason": ["DAMAGED"]}, 422, "reject_reason"),
        ({"reject_reason": "DAMAGED"}, 422, "reject_reason"),
        ({"po_line_nbr": "1"}, 422, "po_line_nbr"),
        ({"po_line_nbr": 7}, 404, "po_line_nbr"),
        ({"asn_nbr": "NOPE"}, 404, "asn_nbr"),
        (
            {"asn_nbr": None, "po_nbr": "P1"},
            404,
            "po_line_nbr",
        ),  # a PO receipt, but nothing expected on P1
        ({"asn_nbr": None, "po_nbr": None}, 422, "po_nbr"),
        ({"po_nbr": "P2"}, 422, "po_nbr"),  # the ASN is for P1
        ({"expiry_date": "2024-13-01"}, 422, "expiry_date"),
        ({"lot_nbr": 12}, 422, "lot_nbr"),
    ],
)
def test_bad_receipt_changes_nothing(
    dock: Dock, over: dict[str, Any], status: int, field: str
) -> None:
    dock.asn()
    body = {"asn_nbr": "ASN1", "po_line_nbr": 1, "received_qty": 3, **over}
    before, facts = dock.wms.snapshot(), len(dock.facts)

    assert_problem(dock.wms.receive(body), status, field)
    assert_problem(dock.wms.receive(body, "some-key"), status, field)
    assert dock.wms.snapshot() == before
    assert (len(dock.facts), dock.events) == (facts, [])


def test_a_body_that_is_not_an_object_is_400(dock: Dock) -> None:
    assert_problem(dock.wms.receive("received 5"), 400, "")


# -- control --------------------------------------------------------------------


def test_snapshot_is_json_and_reset_forgets_everything_but_subscribers(dock: Dock) -> None:
    dock.wms.upsert_expected_receipts({"receipts": [expected_receipt()]})
    dock.asn()
    receipt_id = dock.receive(3, key="k").body["receipt"]["receipt_id"]
    dock.wms.putaway(receipt_id, "A-01", 3)

    tables = ("expected_receipts", "ship_notices", "receipts", "inventory")
    snap = json.loads(json.dumps(dock.wms.snapshot()))
    assert [len(snap[k]) for k in tables] == [1, 1, 1, 1]
    assert snap["ship_notices"][0]["lines"][0]["status"] == "partially_received"

    dock.wms.reset()

    empty = dock.wms.snapshot()
    assert [len(empty[k]) for k in tables] == [0, 0, 0, 0]
    dock.asn()
    again = dock.receive(3, key="k")  # the key was forgotten with the rest
    assert again.body["receipt"]["receipt_id"] == "RCV-000001"
    assert len(dock.events) == 2


def test_the_plain_constructor_still_works() -> None:
    facts: list[FactChange] = []
    wms = Wms(Journal("wms", lambda: 0.0, facts.append))
    wms.upsert_expected_receipts(
        {
            "receipts": [expected_receipt()],
            "trace_id": "t-1",
        },
        "k1",
    )

    assert [(f.entity, f.field, f.value, f.cause, f.correlation_id) for f in facts] == [
        ("po_line:P1:1", "expected_qty", 5, "k1", "t-1")
    ]
    assert wms.receive({"po_nbr": "P1", "po_line_nbr": 1, "received_qty": 5}).status == 201


def test_the_clock_dates_receipts_and_decides_what_has_expired(dock: Dock) -> None:
    dock.asn(shipped_qty=10, expiry_date="2024-03-01")  # expires on EPOCH's day

    today = dock.receive(2)
    dock.t = 86_400.0 + 3_600.0
    tomorrow = dock.receive(2)

    assert today.body["receipt"]["received_qty"] == 2
    assert tomorrow.body["receipt"]["reject_reason"] == "EXPIRED"
    assert tomorrow.body["receipt"]["received_at"] == "2024-03-02T07:00:00.000"
