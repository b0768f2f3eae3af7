"""An ERP release mid-run, as the ERP's clients meet it: in-process and over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulators._base import Reply
from emulators.erp.releases import SENT_BY, TAKEN_BY, ErpReleases, Release
from emulators.web.erp_api import ERP_API, ERP_PREFIX
from emulators.web.erp_app import erp_system
from emulators.web.erp_releases import VERSION_PATH
from tests.builders import GLN, erp_lines
from tests.emulators.harness import FakeClock, live_system, served

RELEASE = Release(
    "2027.1",
    100.0,
    renames={
        "purchase_order": {"NeedByDate": "RequestedDeliveryDate"},
        "acknowledgment": {"SupplierConfirmedQuantity": "ConfirmedQuantity"},
    },
    envelope="data",
    headers={"REST-Framework-Version": "9"},
)
NEW = {"REST-Framework-Version": "9"}


def po_body(need_by: str = "NeedByDate") -> dict[str, Any]:
    return {"SupplierNumber": "S1001", "ShipToLocationGLN": GLN, "RequesterDepartment": "CC-01",
            need_by: "2026-03-20", "lines": erp_lines(5)}  # fmt: skip


def releases(clock: FakeClock) -> ErpReleases:
    return ErpReleases(clock, clock.epoch, "2026.4", [RELEASE])


def echo(body: Any) -> Reply:
    return Reply(200, body)


def test_the_api_switches_version_at_the_release_time() -> None:
    clock = FakeClock(t=99.9)
    erp = releases(clock)
    before = erp.handle("get_purchase_order", {}, None, lambda _: Reply(200, po_body()))
    assert before.headers["X-ERP-API-Version"] == "2026.4"
    assert before.body["NeedByDate"] == "2026-03-20"
    # RFC 9745: the version in use is deprecated from the release on (unix seconds)
    assert before.headers["Deprecation"] == "@1772438500"  # 2026-03-02 08:00 UTC + 100 s
    clock.t = 100.0
    after = erp.handle("get_purchase_order", NEW, None, lambda _: Reply(200, po_body()))
    assert after.headers["X-ERP-API-Version"] == "2027.1" and "Deprecation" not in after.headers
    assert after.body["RequestedDeliveryDate"] == "2026-03-20" and "NeedByDate" not in after.body


def test_a_call_without_the_new_header_is_a_400_naming_it_and_reaches_nothing() -> None:
    erp = releases(FakeClock(t=500))
    reached: list[Any] = []
    for headers, why in (({}, "is required"), ({"rest-framework-version": "8"}, "must be '9'")):
        reply = erp.handle("get_purchase_order", headers, None, reached.append)
        assert reply.status == 400 and reply.headers["content-type"] == "application/problem+json"
        assert reply.body["field"] == "REST-Framework-Version" and why in reply.body["detail"]
        assert reply.headers["X-ERP-API-Version"] == "2027.1"
    assert reached == []
    # header names are case-insensitive, as in HTTP
    assert erp.handle("get_item", {"rest-framework-version": "9"}, None, echo).status == 200


def test_a_renamed_field_is_taken_by_its_new_name_and_refused_by_its_old() -> None:
    erp = releases(FakeClock(t=500))
    taken: list[Any] = []

    def behaviour(body: Any) -> Reply:
        taken.append(body)
        return Reply(201, body)

    ack = {"lines": [{"LineNumber": 1, "ConfirmedQuantity": 4, "BackorderedQuantity": 0}]}
    assert erp.handle("post_acknowledgment", NEW, ack, behaviour).status == 201
    assert taken[-1]["lines"][0] == {"LineNumber": 1, "SupplierConfirmedQuantity": 4,
                                     "BackorderedQuantity": 0}  # fmt: skip
    old = erp.handle("post_purchase_order", NEW, po_body(), behaviour)
    assert old.status == 400 and old.body["field"] == "NeedByDate"
    assert "renamed RequestedDeliveryDate in API version 2027.1" in old.body["detail"]
    assert len(taken) == 1


def test_events_carry_the_version_and_move_into_the_envelope() -> None:
    clock = FakeClock(t=50)
    erp = releases(clock)
    event = {"eventId": "erp-evt-7", "eventType": "PurchaseOrderChanged", "OrderNumber": "45",
             "RevisionNumber": 2, "ChangeType": "REVISION"}  # fmt: skip
    assert erp.event(event) == event
    clock.t = 100
    assert erp.event(event) == {
        "eventId": "erp-evt-7",
        "eventType": "PurchaseOrderChanged",
        "apiVersion": "2027.1",
        "data": {"OrderNumber": "45", "RevisionNumber": 2, "ChangeType": "REVISION"},
    }


def test_the_documents_tables_name_operations_of_the_erp() -> None:
    names = {op.name for op in ERP_API.operations}
    assert set(SENT_BY) <= names and set(TAKEN_BY) <= names


def _post(client: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post(f"{ERP_PREFIX}/purchaseOrders", json=body, headers=headers)


@pytest.fixture
def live_erp() -> Any:
    clock = FakeClock()
    live = live_system(erp_system, clock, releases=[RELEASE])
    with served(live.app) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield clock, client


def test_over_http_the_erp_switches_version_and_says_so(live_erp: Any) -> None:
    clock, client = live_erp
    created = _post(client, po_body())
    assert created.status_code == 201 and created.headers["x-erp-api-version"] == "2026.4"
    number = created.json()["OrderNumber"]
    assert client.get(VERSION_PATH).json()["version"] == "2026.4"
    clock.t = 100.0
    assert client.get(VERSION_PATH).json()["version"] == "2027.1"
    missing = client.get(f"{ERP_PREFIX}/purchaseOrders/{number}")
    assert missing.status_code == 400
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["field"] == "REST-Framework-Version"
    read = client.get(f"{ERP_PREFIX}/purchaseOrders/{number}", headers=NEW)
    assert read.status_code == 200 and read.headers["x-erp-api-version"] == "2027.1"
    assert read.json()["RequestedDeliveryDate"] == "2026-03-20" and "NeedByDate" not in read.json()
    assert int(read.headers["content-length"]) == len(read.content)
    renamed = _post(client, po_body("RequestedDeliveryDate"), **NEW)
    assert renamed.status_code == 201
    assert renamed.json()["RequestedDeliveryDate"] == "2026-03-20"
    old = _post(client, po_body(), **NEW)
    assert old.status_code == 400 and old.json()["field"] == "NeedByDate"


def test_a_restart_counts_the_release_times_from_then() -> None:
    clock = FakeClock(t=250.0)
    erp = releases(clock)
    assert erp.version == "2027.1"
    erp.restart()  # a live run's clock starts at 250 s on the ERP's
    assert erp.version == "2026.4" and erp.schedule() == [("2027.1", 350.0)]
    before = erp.handle("get_purchase_order", {}, None, lambda _: Reply(200, po_body()))
    assert before.headers["Deprecation"] == "@1772438750"  # the release 350 s after 08:00
    clock.t = 349.9
    assert erp.version == "2026.4"
    clock.t = 350.0
    assert erp.version == "2027.1"


def test_over_http_the_release_timeline_restarts_and_the_trail_says_who(live_erp: Any) -> None:
    clock, client = live_erp
    clock.t = 120.0
    assert client.get(VERSION_PATH).json()["version"] == "2027.1"
    r = client.post("/__admin/releases/restart", headers={"X-Actor": "live-run"})
    assert r.status_code == 204
    assert client.get(VERSION_PATH).json() == {
        "version": "2026.4",
        "base": "2026.4",
        "releases": [{"version": "2027.1", "at_s": 220.0}],
    }
    created = _post(client, po_body())  # the old names work again until the release
    assert created.status_code == 201 and created.headers["x-erp-api-version"] == "2026.4"
    (entry,) = [e for e in client.get("/__admin/audit").json() if e["action"] != "reset"]
    assert (entry["actor"], entry["action"], entry["detail"]) == (
        "live-run",
        "releases_restarted",
        {"at_s": 120.0},
    )
    clock.t = 220.0
    assert client.get(VERSION_PATH).json()["version"] == "2027.1"


def test_an_erp_without_releases_has_no_timeline_to_restart() -> None:
    live = live_system(erp_system, FakeClock())
    with served(live.app) as base:
        r = httpx.post(f"{base}/__admin/releases/restart", timeout=10)
    assert r.status_code == 404
