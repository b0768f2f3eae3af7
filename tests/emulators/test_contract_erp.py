"""ERP contract: the same cases in-process and over HTTP (see harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any, get_args

import pytest

from emulators.erp import MATCH_STATUSES, Erp
from emulators.faults import Faults, RateLimitStorm
from emulators.web.erp_api import ERP_API, ERP_PREFIX
from emulators.web.erp_app import erp_system
from emulators.web.erp_models import InvoiceStatusPost
from tests.builders import erp_ack, erp_receipt
from tests.emulators.fuzz import fuzz
from tests.emulators.harness import (
    Table,
    assert_problem,
    live_system,
    outage_and_recovery,
    refused_unchanged,
    subscribed,
    world,
    world_fixtures,
)

PO = {
    "SupplierNumber": "S1001",
    "ShipToLocationGLN": "0860001000018",
    "RequesterDepartment": "CC-01-110",
    "NeedByDate": "2026-03-09",
    "lines": [
        {"SupplierItem": "1001-00001", "ItemGTIN": "30710000000014", "Quantity": 12,
         "UOMCode": "CA", "Price": 41.5, "CriticalSupply": "Y"},
        {"SupplierItem": "1001-00002", "ItemGTIN": "30710000000021", "Quantity": 3,
         "UOMCode": "BX", "Price": 9},
    ],
}  # fmt: skip
VENDOR = {"SupplierNumber": "S1001", "Name": "Medline"}
ITEM = {"ItemNumber": "IT-1", "GTIN": "30710000000014", "Description": "Gloves nitrile M",
        "UOMCode": "CA", "ListPrice": 50}  # fmt: skip
PRICE = {"SupplierNumber": "S1001", "ItemNumber": "IT-1", "ContractPrice": 40.0,
         "EffectiveFrom": "2026-01-01"}  # fmt: skip
# PO's other item: once the ERP has an item master, every item of a PO must be in it
ITEM_2 = {"ItemNumber": "IT-SY10", "GTIN": "30710000000021", "Description": "Syringe 10 mL",
          "UOMCode": "BX", "ListPrice": 9}  # fmt: skip


P = ERP_PREFIX
# the cases' short keywords for the table's params
TABLE = Table(
    ERP_API,
    names={"number": "order_number", "supplier": "supplier_number", "item": "item_number",
           "invoice": "invoice_number", "gln": "location_gln", "since": "updated_since"},
)  # fmt: skip


def test_the_tables_cover_every_api_method_of_the_erp() -> None:
    public = {name for name in vars(Erp) if not name.startswith("_")}
    for base in Erp.__mro__[1:]:
        public |= {name for name in vars(base) if not name.startswith("_")}
    # the ERP's own screens (buyers and clerks), not its API: no HTTP route
    screens = {"create_purchase_order", "edit_confirmation"}
    # configuration when the ERP is built (a scenario's masters), not its API
    configuration = {"seed_masters"}
    api = public - {"system", "reset", "snapshot", "listeners", *screens, *configuration}
    assert {op.name for op in ERP_API.operations} == api


erp, erp_http = world_fixtures("erp", erp_system, TABLE)


@pytest.fixture(params=["in-process", "http"])
def limited_erp(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An ERP whose API admits one call per second (a bucket one call deep)."""
    with world(erp_system, TABLE, request.param, rate_limit_per_s=1.0) as api:
        yield api


def ack_body(revision: int = 1, confirmed: int = 5) -> dict[str, Any]:
    """Line 1 (12 ordered) confirmed in part, the rest backordered."""
    return erp_ack(confirmed, 12 - confirmed, revision=revision)


def create_po(erp: Any, **changes: Any) -> str:
    reply = erp.call("post_purchase_order", body={**PO, **changes})
    assert reply.status == 201, reply.body
    return str(reply.body["OrderNumber"])


def masters(erp: Any, po_items: bool = True) -> None:
    """VENDOR, ITEM and its PRICE; with ``po_items``, also PO's other item (ITEM_2)."""
    for operation, body in (("create_vendor", VENDOR), ("create_item", ITEM),
                            ("create_contract_price", PRICE)):  # fmt: skip
        assert erp.call(operation, body=body).status == 201
    if po_items:
        assert erp.call("create_item", body=ITEM_2).status == 201


def facts(erp: Any, field: str) -> list[Any]:
    return [c for c in erp.host.history if c.field == field]


# -- purchase orders ------------------------------------------------------------------


def test_create_then_read_back(erp: Any) -> None:
    created = erp.call("post_purchase_order", body=PO)
    assert created.status == 201 and created.headers["etag"] == '"1.0.1"'
    number = created.body["OrderNumber"]
    got = erp.call("get_purchase_order", number=number)
    assert got.status == 200 and got.body == created.body
    assert got.body["lines"][0]["OpenCommitmentQuantity"] == 12
    assert got.body["lines"][1]["ItemGTIN"] == "30710000000021"
    assert got.body["lines"][1]["Price"] == 9 and got.body["lines"][1]["CriticalSupply"] == "N"
    assert got.headers["etag"] == created.headers["etag"]


def test_a_repeated_create_with_its_key_makes_one_po(erp: Any) -> None:
    first = erp.call("post_purchase_order", body=PO, key="po-1")
    again = erp.call("post_purchase_order", body=PO, key="po-1")
    assert (again.status, again.body) == (first.status, first.body)
    assert erp.call("list_purchase_orders").body["count"] == 1
    other = erp.call("post_purchase_order", body={**PO, "RequesterDepartment": "X"}, key="po-1")
    assert_problem(other, 422, "Idempotency-Key")


def test_unknown_po_is_404_problem_naming_the_field(erp: Any) -> None:
    assert_problem(erp.call("get_purchase_order", number="999"), 404, "OrderNumber")


def test_paging_returns_every_po_once(erp: Any) -> None:
    numbers = {create_po(erp) for _ in range(7)}
    seen, offset = [], 0
    while True:
        page = erp.call("list_purchase_orders", offset=offset, limit=3).body
        seen += [item["OrderNumber"] for item in page["items"]]
        if not page["hasMore"]:
            break
        offset += 3
    assert sorted(seen) == sorted(numbers)


def test_paging_out_of_range_is_the_erps_400_naming_the_parameter(erp: Any) -> None:
    assert_problem(erp.call("list_purchase_orders", offset=-1), 400, "offset")
    assert_problem(erp.call("list_items", limit=0), 400, "limit")
    assert_problem(erp.call("list_vendors", limit=501), 400, "limit")
    assert_problem(erp.call("list_purchase_orders", since="yesterday"), 400, "updatedSince")


def test_if_none_match_with_the_current_etag_is_304_without_a_body(erp: Any) -> None:
    number = create_po(erp)
    etag = erp.call("get_purchase_order", number=number).headers["etag"]

    unchanged = erp.call("get_purchase_order", number=number, if_none_match=etag)
    assert unchanged.status == 304 and unchanged.body is None
    assert unchanged.headers["etag"] == etag
    assert erp.call("get_purchase_order", number=number, if_none_match=f"W/{etag}").status == 304

    erp.call("post_acknowledgment", number=number, body=ack_body())
    changed = erp.call("get_purchase_order", number=number, if_none_match=etag)
    assert changed.status == 200 and changed.headers["etag"] != etag


def test_stale_if_match_is_412_and_changes_nothing(erp: Any) -> None:
    number = create_po(erp)
    stale = erp.call("get_purchase_order", number=number).headers["etag"]
    erp.call("post_acknowledgment", number=number, body=ack_body(), if_match=stale)
    current = erp.call("get_purchase_order", number=number).headers["etag"]
    before, history = erp.host.snapshot(), list(erp.host.history)

    change = {"lines": [{"LineNumber": 1, "Quantity": 20}]}
    refused = [
        erp.call("change_purchase_order", number=number, body=change, if_match=stale),
        erp.call("post_receipt", number=number, body=erp_receipt(2), if_match=stale),
        erp.call("post_acknowledgment", number=number, body=ack_body(2), if_match=stale),
    ]

    for reply in refused:
        assert_problem(reply, 412, "If-Match")
        assert reply.headers["etag"] == current
    assert erp.host.snapshot() == before and erp.host.history == history
    applied = erp.call("change_purchase_order", number=number, body=change, if_match=current)
    assert applied.status == 200 and applied.body["lines"][0]["Quantity"] == 20


def test_a_change_order_bumps_the_revision_and_the_etag(erp: Any) -> None:
    number = create_po(erp)
    etag = erp.call("get_purchase_order", number=number).headers["etag"]
    add = {**PO["lines"][1], "Action": "ADD", "SupplierItem": "1001-00003"}
    body = {"lines": [{"LineNumber": 1, "Quantity": 10, "Price": 40.0}, add]}

    changed = erp.call("change_purchase_order", number=number, body=body, if_match=etag)

    assert changed.status == 200 and changed.body["RevisionNumber"] == 2
    assert changed.headers["etag"] not in (etag, None)
    line1, line3 = changed.body["lines"][0], changed.body["lines"][2]
    assert (line1["Quantity"], line1["Price"], line1["OpenCommitmentQuantity"]) == (10, 40.0, 10)
    assert (line3["LineNumber"], line3["SupplierItem"]) == (3, "1001-00003")
    assert [c.value for c in facts(erp, "ordered_qty")] == [12, 3, 10, 3]
    # the prices ordered at creation, the change, and the added line's
    assert [c.value for c in facts(erp, "ordered_price")] == [41.5, 9, 40.0, 9]

    canceled = erp.call("change_purchase_order", number=number, body={"Action": "CANCEL"})
    assert canceled.status == 200 and canceled.body["RevisionNumber"] == 3
    assert canceled.body["Status"] == "CANCELED"
    assert {ln["OpenCommitmentQuantity"] for ln in canceled.body["lines"]} == {0}
    again = erp.call("change_purchase_order", number=number, body={"Action": "CANCEL"})
    assert_problem(again, 409, "Action")


def test_a_receipt_relieves_the_commitment_and_over_receipt_is_422(erp: Any) -> None:
    number = create_po(erp)
    part = erp.call("post_receipt", number=number, body=erp_receipt(5))
    assert part.status == 201
    assert part.body["lines"] == [{"LineNumber": 1, "ReceivedQuantity": 5,
                                   "OpenCommitmentQuantity": 7,
                                   "LineStatus": "PARTIALLY_RECEIVED"}]  # fmt: skip
    before, history = erp.host.snapshot(), list(erp.host.history)

    over = erp.call("post_receipt", number=number, body=erp_receipt(9, number="R-2"))

    assert_problem(over, 422, "lines[0].QuantityReceived")  # 14 > 12 + 10 %
    assert erp.host.snapshot() == before and erp.host.history == history
    rest = erp.call("post_receipt", number=number, body=erp_receipt(8, number="R-2"))
    assert rest.status == 201 and rest.body["lines"][0]["LineStatus"] == "RECEIVED"
    assert rest.body["lines"][0]["OpenCommitmentQuantity"] == 0  # 13 of 12: within 10 %
    po = erp.call("get_purchase_order", number=number).body
    assert po["Status"] == "PARTIALLY_RECEIVED"  # line 2 is still open
    assert [c.value for c in facts(erp, "erp_received_qty")] == [5, 13]


def test_acknowledgment_moves_commitment_and_honours_idempotency_key(erp: Any) -> None:
    number = create_po(erp)
    first = erp.call("post_acknowledgment", number=number, body=ack_body(confirmed=5), key="k1")
    again = erp.call("post_acknowledgment", number=number, body=ack_body(confirmed=5), key="k1")
    assert first.status == again.status == 200 and first.body == again.body
    line = erp.call("get_purchase_order", number=number).body["lines"][0]
    assert line["SupplierConfirmedQuantity"] == 5 and line["AcknowledgmentStatus"] == "IA/IB"
    assert len(facts(erp, "confirmed_qty")) == 1  # the repeat with the same key applied nothing
    erp.call("post_acknowledgment", number=number, body=ack_body(confirmed=5))
    erp.call("post_acknowledgment", number=number, body=ack_body(confirmed=5))
    keyless = facts(erp, "confirmed_qty")[1:]
    assert len(keyless) == 2 and keyless[0].cause == keyless[1].cause  # a visible duplicate


def test_an_acknowledgment_keeps_fields_the_erp_does_not_check(erp: Any) -> None:
    number = create_po(erp)
    body = ack_body()
    body["AcknowledgmentType"], body["X12Version"] = "AC", "005010"
    body["lines"][0]["PromisedDate"] = "2026-03-20"
    assert erp.call("post_acknowledgment", number=number, body=body).status == 200
    assert erp.call("get_purchase_order", number=number).body["lines"][0]["PromisedDate"] == (
        "2026-03-20"
    )


# -- invoices ---------------------------------------------------------------------------


def test_invoice_status_is_recorded_and_paid_is_final(erp: Any) -> None:
    number = create_po(erp)
    held = {"InvoiceNumber": "INV-7", "MatchStatus": "ON_HOLD", "HoldReason": "PRICE"}
    assert erp.call("post_invoice_status", number=number, body=held).status == 200
    paid = erp.call("post_invoice_status", number=number,
                    body={"InvoiceNumber": "INV-7", "MatchStatus": "PAID"})  # fmt: skip
    assert paid.status == 200
    assert paid.body == {"SupplierNumber": "S1001", "InvoiceNumber": "INV-7", "OrderNumber": number,
                         "MatchStatus": "PAID", "HoldReason": None}  # fmt: skip
    assert erp.call("get_invoice", supplier="S1001", invoice="INV-7").body == paid.body

    back = erp.call("post_invoice_status", number=number,
                    body={"InvoiceNumber": "INV-7", "MatchStatus": "MATCHED"})  # fmt: skip
    assert_problem(back, 409, "MatchStatus")
    assert [c.value for c in facts(erp, "erp_match_status")] == ["ON_HOLD", "PAID"]
    assert facts(erp, "erp_match_status")[0].entity == "invoice:S1001:INV-7"
    assert_problem(erp.call("get_invoice", supplier="S1001", invoice="INV-8"), 404,
                   "InvoiceNumber")  # fmt: skip


def test_the_match_statuses_over_http_are_the_behaviours() -> None:
    assert get_args(InvoiceStatusPost.model_fields["MatchStatus"].annotation) == MATCH_STATUSES


# -- masters ----------------------------------------------------------------------------


def test_masters_create_update_and_page(erp: Any) -> None:
    masters(erp, po_items=False)
    for n in range(2, 6):
        item = {**ITEM, "ItemNumber": f"IT-{n}"}
        assert erp.call("create_item", body=item).status == 201
    assert_problem(erp.call("create_item", body=ITEM), 409, "ItemNumber")

    first = erp.call("list_items", offset=0, limit=2).body
    last = erp.call("list_items", offset=4, limit=2).body
    assert [r["ItemNumber"] for r in first["items"]] == ["IT-1", "IT-2"] and first["hasMore"]
    assert [r["ItemNumber"] for r in last["items"]] == ["IT-5"] and not last["hasMore"]

    etag = erp.call("get_item", item="IT-1").headers["etag"]
    assert erp.call("get_item", item="IT-1", if_none_match=etag).status == 304
    updated = erp.call("update_item", item="IT-1", body={"ListPrice": 48}, if_match=etag)
    assert updated.status == 200 and updated.body["ListPrice"] == 48
    assert updated.headers["etag"] != etag
    stale = erp.call("update_item", item="IT-1", body={"ListPrice": 47}, if_match=etag)
    assert_problem(stale, 412, "If-Match")
    moved = erp.call("update_item", item="IT-1", body={"ItemNumber": "IT-9"})
    assert_problem(moved, 422, "ItemNumber")

    price = erp.call("update_contract_price", supplier="S1001", item="IT-1",
                     body={"ContractPrice": 38.5}, key="p-1")  # fmt: skip
    assert price.status == 200 and price.body["ContractPrice"] == 38.5
    assert [c.value for c in facts(erp, "contract_price")] == [40.0, 38.5]
    got = erp.call("get_contract_price", supplier="S1001", item="IT-1")
    assert got.body["EffectiveTo"] is None
    assert erp.call("list_contract_prices", supplier="S1001").body["count"] == 1
    assert erp.call("list_contract_prices", supplier="S9").body["items"] == []

    inactive = erp.call("update_vendor", supplier="S1001", body={"Status": "INACTIVE"})
    assert inactive.status == 200 and inactive.body["Status"] == "INACTIVE"
    assert erp.call("get_vendor", supplier="S1001").body == inactive.body
    assert erp.call("list_vendors").body["count"] == 1
    assert_problem(erp.call("post_purchase_order", body=PO), 422, "SupplierNumber")


# -- bad input ----------------------------------------------------------------------------


def _line(**changes: Any) -> dict[str, Any]:
    return {**PO, "lines": [{**PO["lines"][0], **changes}]}


BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("PO qty as text", "post_purchase_order", {"body": _line(Quantity="12")}, "lines[0].Quantity"),
    ("PO qty as float", "post_purchase_order", {"body": _line(Quantity=12.0)},
     "lines[0].Quantity"),
    ("PO price bool", "post_purchase_order", {"body": _line(Price=True)}, "lines[0].Price"),
    ("PO line extra", "post_purchase_order", {"body": _line(Colour="red")}, "lines[0].Colour"),
    ("PO bad GLN", "post_purchase_order", {"body": {**PO, "ShipToLocationGLN": "12"}},
     "ShipToLocationGLN"),
    ("PO bad date", "post_purchase_order", {"body": {**PO, "NeedByDate": "9 March"}},
     "NeedByDate"),
    ("PO no lines", "post_purchase_order", {"body": {**PO, "lines": []}}, "lines"),
    ("change zero qty", "change_purchase_order",
     {"body": {"lines": [{"LineNumber": 1, "Quantity": 0}]}}, "lines[0].Quantity"),
    ("change null price", "change_purchase_order",
     {"body": {"lines": [{"LineNumber": 1, "Price": None}]}}, "lines[0].Price"),
    ("change extra on a change", "change_purchase_order",
     {"body": {"lines": [{"LineNumber": 1, "Quantity": 2, "SupplierItem": "x"}]}},
     "lines[0].SupplierItem"),
    ("change nothing", "change_purchase_order", {"body": {"lines": [{"LineNumber": 1}]}},
     "lines[0].LineNumber"),
    ("cancel with lines", "change_purchase_order",
     {"body": {"Action": "CANCEL", "lines": [{"LineNumber": 1}]}}, "lines"),
    ("receipt null date", "post_receipt",
     {"body": {**erp_receipt(1), "ReceiptDate": None}}, "ReceiptDate"),
    ("receipt zero", "post_receipt", {"body": erp_receipt(0)}, "lines[0].QuantityReceived"),
    ("ack no status", "post_acknowledgment",
     {"body": {**ack_body(), "lines": [{**ack_body()["lines"][0], "AcknowledgmentStatus": ""}]}},
     "lines[0].AcknowledgmentStatus"),
    ("ack revision 0", "post_acknowledgment", {"body": ack_body(revision=0)},
     "AcknowledgmentRevision"),
    ("invoice bad status", "post_invoice_status",
     {"body": {"InvoiceNumber": "I-1", "MatchStatus": "DONE"}}, "MatchStatus"),
    ("item price bool", "create_item", {"body": {**ITEM, "ItemNumber": "IT-2", "ListPrice": True}},
     "ListPrice"),
    ("vendor bad status", "update_vendor", {"supplier": "S1001", "body": {"Status": "GONE"}},
     "Status"),
    ("price ends early", "update_contract_price",
     {"supplier": "S1001", "item": "IT-1", "body": {"EffectiveTo": "2025-12-31"}},
     "EffectiveTo"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "operation", "args", "field"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_body_is_422_naming_the_field_and_changes_nothing(
    erp: Any, label: str, operation: str, args: dict[str, Any], field: str
) -> None:
    masters(erp)
    number = create_po(erp)
    if operation in ("change_purchase_order", "post_receipt", "post_acknowledgment",
                     "post_invoice_status"):  # fmt: skip
        args = {"number": number, **args}

    reply = refused_unchanged(erp, operation, field, 422, **args)
    assert reply.body["detail"]


# -- faults and limits ------------------------------------------------------------------


def test_outage_answers_503_with_retry_after_then_recovers(erp: Any) -> None:
    read = partial(erp.call, "get_purchase_order", number=create_po(erp))

    outage_and_recovery(erp, read, 200)


def test_rate_limit_storm_answers_429(erp: Any) -> None:
    erp.host.set_faults(Faults(rate_limit_storms=(RateLimitStorm(start_s=0, end_s=5,
                                                                 retry_after_s=7),)))  # fmt: skip
    reply = erp.call("list_purchase_orders")
    assert reply.status == 429 and reply.headers["retry-after"] == "7"


def test_the_erps_own_rate_limit_answers_429_and_recovers_with_the_clock(
    limited_erp: Any,
) -> None:
    erp = limited_erp
    number = create_po(erp)

    limited = erp.call("post_receipt", number=number, body=erp_receipt(2))

    assert limited.status == 429 and limited.headers["retry-after"] == "1"
    assert limited.headers["content-type"] == "application/problem+json"
    assert facts(erp, "erp_received_qty") == []  # nothing applied
    erp.clock.t = 0.5
    assert erp.call("get_purchase_order", number=number).status == 429  # reads count too
    erp.clock.t = 1.5
    assert erp.call("post_receipt", number=number, body=erp_receipt(2)).status == 201
    assert [r.status for r in erp.host.requests] == [201, 429, 429, 201]


# -- over HTTP only: headers, aliases, the admin API and webhooks -----------------------


def test_traceparent_else_correlation_id_is_the_requests_correlation(erp_http: Any) -> None:
    client, trace = erp_http.client, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    client.post(f"{P}/purchaseOrders", json=PO, headers={"traceparent": trace})
    client.post(f"{P}/purchaseOrders", json={**PO, "CorrelationId": "c-body"})

    requests = client.get("/__admin/requests").json()
    assert [r["correlation_id"] for r in requests] == [trace, "c-body"]
    history = client.get("/__admin/history").json()
    assert {h["correlation_id"] for h in history} == {None, "c-body"}  # facts: the body's


def test_a_change_order_may_also_be_posted(erp_http: Any) -> None:
    number = create_po(erp_http)
    body = {"lines": [{"LineNumber": 2, "Action": "CANCEL"}]}
    reply = erp_http.client.post(f"{P}/purchaseOrders/{number}/changeOrders", json=body)
    assert reply.status_code == 200 and reply.json()["lines"][1]["LineStatus"] == "CANCELED"
    assert [r["operation"] for r in erp_http.client.get("/__admin/requests").json()] == [
        "post_purchase_order",
        "change_purchase_order",
    ]


def test_openapi_documents_every_body() -> None:
    live = live_system(erp_system)
    paths = live.app.openapi()["paths"]
    bodies = {
        (method, path.removeprefix(P)): op["requestBody"]["content"]["application/json"]
        for path, ops in paths.items()
        for method, op in ops.items()
        if path.startswith(P) and "requestBody" in op
    }
    assert {ref["schema"]["$ref"].rsplit("/", 1)[1] for ref in bodies.values()} == {
        "PurchaseOrderCreate", "PurchaseOrderChange", "AcknowledgmentPost", "ReceiptCreate",
        "InvoiceStatusPost", "ItemCreate", "ItemUpdate", "VendorCreate", "VendorUpdate",
        "ContractPriceCreate", "ContractPriceUpdate", "LocationCreate",
    }  # fmt: skip
    headers = {p["name"] for p in paths[f"{P}/purchaseOrders/{{OrderNumber}}"]["patch"][
        "parameters"] if p["in"] == "header"}  # fmt: skip
    assert headers == {"If-Match", "Idempotency-Key", "traceparent"}


def test_a_subscriber_receives_thin_events_over_http(erp_http: Any) -> None:
    with subscribed(erp_http, "/hooks/erp") as receiver:
        number = create_po(erp_http)
        erp_http.call("post_acknowledgment", number=number, body=ack_body())
        erp_http.call("create_vendor", body=VENDOR)

        events = receiver.events(3)

        assert events == [
            {
                "eventId": "erp-evt-1",
                "eventType": "PurchaseOrderChanged",
                "OrderNumber": number,
                "RevisionNumber": 1,
                "ChangeType": "CREATE",
                "sequence": 1,
            },
            {
                "eventId": "erp-evt-2",
                "eventType": "PurchaseOrderChanged",
                "OrderNumber": number,
                "RevisionNumber": 1,
                "ChangeType": "ACKNOWLEDGMENT",
                "sequence": 2,
            },
            {
                "eventId": "erp-evt-3",
                "eventType": "SupplierChanged",
                "SupplierNumber": "S1001",
                "sequence": 3,
            },
        ]
        assert {headers["x-emulator"] for _, headers, _ in receiver.posts} == {"erp"}
        stats = erp_http.webhook_stats(delivered=3)
    assert (stats["published"], stats["delivered"], stats["failed"]) == (3, 3, 0)


test_erp_openapi_fuzz = pytest.mark.filterwarnings("ignore::DeprecationWarning")(fuzz("erp"))
