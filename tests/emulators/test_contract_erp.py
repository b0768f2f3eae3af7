"""ERP contract: the same cases in-process and over HTTP (see harness.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from emulators.faults import Faults, Outage, RateLimitStorm
from emulators.web.erp_app import ERP_PREFIX, erp_system
from tests.emulators.fuzz import fuzz
from tests.emulators.harness import FakeClock, HttpRequest, InProcess, OverHttp, served

PO = {
    "SupplierNumber": "S1001",
    "ShipToLocationGLN": "0860001000018",
    "RequesterDepartment": "CC-01-110",
    "NeedByDate": "2026-03-09",
    "lines": [
        {"SupplierItem": "1001-00001", "ItemGTIN": "30710000000014", "Quantity": 12,
         "UOMCode": "CA", "Price": 41.5, "CriticalSupply": "Y"},
        {"SupplierItem": "1001-00002", "ItemGTIN": "30710000000021", "Quantity": 3,
         "UOMCode": "BX", "Price": 9.99},
    ],
}  # fmt: skip


def _create(erp: Any, body: dict[str, Any]) -> Any:
    from emulators._base import Reply

    order = erp.create_purchase_order(
        supplier_number=body["SupplierNumber"],
        ship_to_gln=body["ShipToLocationGLN"],
        department=body["RequesterDepartment"],
        need_by=dt.date.fromisoformat(body["NeedByDate"]),
        lines=[{"CriticalSupply": "N", **line} for line in body["lines"]],
    )
    return Reply(201, order)


IN_PROCESS = {
    "create": _create,
    "get": lambda erp, number: erp.get_purchase_order(number),
    "list": lambda erp, since="1970-01-01T00:00:00", offset=0, limit=25: erp.list_purchase_orders(
        updated_since=since, offset=offset, limit=limit
    ),
    "ack": lambda erp, number, body, key=None: erp.post_acknowledgment(number, body, key),
}
OVER_HTTP = {
    "create": lambda body: HttpRequest("POST", f"{ERP_PREFIX}/purchaseOrders", json=body),
    "get": lambda number: HttpRequest("GET", f"{ERP_PREFIX}/purchaseOrders/{number}"),
    "list": lambda since="1970-01-01T00:00:00", offset=0, limit=25: HttpRequest(
        "GET", f"{ERP_PREFIX}/purchaseOrders",
        params={"updatedSince": since, "offset": offset, "limit": limit},
    ),
    "ack": lambda number, body, key=None: HttpRequest(
        "POST", f"{ERP_PREFIX}/purchaseOrders/{number}/acknowledgments", json=body,
        headers={"Idempotency-Key": key} if key else {},
    ),
}  # fmt: skip


@pytest.fixture(params=["in-process", "http"])
def erp(request: pytest.FixtureRequest) -> Iterator[Any]:
    clock = FakeClock()
    live = erp_system(seed=1, clock=clock, schedule=lambda delay, action: None)
    behaviour = live.host.behaviour
    if request.param == "in-process":
        api: Any = InProcess(live.host, behaviour, IN_PROCESS)
        api.clock = clock
        yield api
    else:
        with served(live.app) as base:
            api = OverHttp(base, live.host, behaviour, OVER_HTTP)
            api.clock = clock
            yield api
            api.close()


def ack_body(revision: int = 1, confirmed: int = 5) -> dict[str, Any]:
    return {
        "AcknowledgmentRevision": revision,
        "lines": [
            {"LineNumber": 1, "SupplierConfirmedQuantity": confirmed,
             "BackorderedQuantity": 12 - confirmed, "AcknowledgmentStatus": "IA/IB"},
        ],
    }  # fmt: skip


def test_create_then_read_back(erp: Any) -> None:
    created = erp.call("create", body=PO)
    assert created.status == 201
    number = created.body["OrderNumber"]
    got = erp.call("get", number=number)
    assert got.status == 200
    assert got.body["lines"][0]["OpenCommitmentQuantity"] == 12
    assert got.body["lines"][1]["ItemGTIN"] == "30710000000021"
    assert got.headers["etag"]


def test_unknown_po_is_404_problem_naming_the_field(erp: Any) -> None:
    reply = erp.call("get", number="999")
    assert reply.status == 404
    assert reply.body["field"] == "OrderNumber" and reply.body["status"] == 404


def test_paging_returns_every_po_once(erp: Any) -> None:
    numbers = {erp.call("create", body=PO).body["OrderNumber"] for _ in range(7)}
    seen, offset = [], 0
    while True:
        page = erp.call("list", offset=offset, limit=3).body
        seen += [item["OrderNumber"] for item in page["items"]]
        if not page["hasMore"]:
            break
        offset += 3
    assert sorted(seen) == sorted(numbers)


def test_acknowledgment_moves_commitment_and_honours_idempotency_key(erp: Any) -> None:
    number = erp.call("create", body=PO).body["OrderNumber"]
    first = erp.call("ack", number=number, body=ack_body(confirmed=5), key="k1")
    again = erp.call("ack", number=number, body=ack_body(confirmed=5), key="k1")
    assert first.status == again.status == 200
    line = erp.call("get", number=number).body["lines"][0]
    assert line["SupplierConfirmedQuantity"] == 5 and line["AcknowledgmentStatus"] == "IA/IB"
    writes = [c for c in erp.host.history if c.field == "confirmed_qty"]
    assert len(writes) == 1  # the repeat with the same key applied nothing
    erp.call("ack", number=number, body=ack_body(confirmed=5))
    erp.call("ack", number=number, body=ack_body(confirmed=5))
    keyless = [c for c in erp.host.history if c.field == "confirmed_qty"][1:]
    assert len(keyless) == 2 and keyless[0].cause == keyless[1].cause  # a visible duplicate


def test_bad_acknowledgment_is_4xx_naming_the_field_and_changes_nothing(erp: Any) -> None:
    number = erp.call("create", body=PO).body["OrderNumber"]
    bad = ack_body()
    del bad["lines"][0]["BackorderedQuantity"]
    reply = erp.call("ack", number=number, body=bad)
    assert 400 <= reply.status < 500
    assert "BackorderedQuantity" in reply.body["field"]
    assert erp.call("get", number=number).body["lines"][0]["SupplierConfirmedQuantity"] is None


def test_outage_answers_503_with_retry_after_then_recovers(erp: Any) -> None:
    number = erp.call("create", body=PO).body["OrderNumber"]
    erp.host.set_faults(Faults(outages=(Outage(start_s=10, end_s=70),)))
    erp.clock.t = 30
    down = erp.call("get", number=number)
    assert down.status == 503 and down.headers["retry-after"] == "40"
    erp.clock.t = 70
    assert erp.call("get", number=number).status == 200
    statuses = [r.status for r in erp.host.requests]
    assert statuses[-2:] == [503, 200]


def test_rate_limit_storm_answers_429(erp: Any) -> None:
    erp.host.set_faults(Faults(rate_limit_storms=(RateLimitStorm(start_s=0, end_s=5,
                                                                 retry_after_s=7),)))  # fmt: skip
    reply = erp.call("list")
    assert reply.status == 429 and reply.headers["retry-after"] == "7"


test_erp_openapi_fuzz = pytest.mark.filterwarnings("ignore::DeprecationWarning")(fuzz("erp"))
