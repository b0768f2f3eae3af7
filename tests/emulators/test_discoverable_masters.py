"""Issue 14, item 2: master data a reader can discover, and a PO that names unknown data refused.

The ERP built from a scenario lists the vendors, items, contract prices and locations it was
seeded with, keeps them through a reset, and answers 422 problem+json naming the field for a
PO whose supplier, ship-to location or item it does not know; the supplier network lists its
trading partners with the ERP's supplier number beside the EDI id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from emulators.web.ap_app import ap_system
from emulators.web.erp_api import ERP_PREFIX
from emulators.web.erp_app import erp_system
from emulators.web.supplier_app import supplier_system
from scenarios.live.setup import emulator_setup
from scenarios.spec.load import load_scenario
from scenarios.spec.masterdata import generate, po_lines
from tests.emulators.harness import live_system, served

SETUP = emulator_setup(load_scenario("partial_confirmation"), 600.0, dt.date(2026, 3, 2))
MASTER = generate(load_scenario("partial_confirmation").network, SETUP.seed)


def _build(factory: Any, system: str) -> Any:
    return live_system(factory, **SETUP.options[system])


def _po(**changes: Any) -> dict[str, Any]:
    import random

    supplier = MASTER.suppliers[0]
    items = MASTER.catalog(supplier.supplier_id)[:2]
    body = {
        "SupplierNumber": supplier.supplier_id,
        "ShipToLocationGLN": MASTER.hospitals[0].gln,
        "RequesterDepartment": "CC-01-100",
        "NeedByDate": "2026-03-09",
        "lines": po_lines(items, random.Random(1), (5, 5)),
    }
    return {**body, **changes}


def _all(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = client.get(f"{ERP_PREFIX}/{path}", params={"offset": len(rows), "limit": 500})
        assert page.status_code == 200, page.text
        rows += page.json()["items"]
        if not page.json()["hasMore"]:
            return rows


def test_the_erp_lists_what_it_was_seeded_with_and_keeps_it_through_a_reset() -> None:
    live = _build(erp_system, "erp")
    with served(live.app) as base, httpx.Client(base_url=base) as client:
        listed = {p: _all(client, p) for p in ("vendors", "items", "contractPrices", "locations")}
        assert [v["SupplierNumber"] for v in listed["vendors"]] == sorted(
            s.supplier_id for s in MASTER.suppliers
        )
        assert {i["GTIN"] for i in listed["items"]} == {i.gtin for i in MASTER.items}
        assert len(listed["contractPrices"]) == len(MASTER.items)
        glns = {loc["LocationGLN"]: loc["Kind"] for loc in listed["locations"]}
        assert glns[MASTER.procurement_office.gln] == "PROCUREMENT_OFFICE"
        assert {h.gln for h in MASTER.hospitals} <= set(glns)
        assert {d.gln for d in MASTER.distribution_centers} <= set(glns)
        one = client.get(f"{ERP_PREFIX}/locations/{MASTER.hospitals[0].gln}")
        assert one.status_code == 200 and one.json()["Kind"] == "HOSPITAL"

        assert client.post("/__admin/reset").status_code == 204
        again = {p: _all(client, p) for p in ("vendors", "items", "contractPrices", "locations")}
        assert again == listed
        assert client.get("/__admin/history").json() == []  # seeding is not a change


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"SupplierNumber": "S9999"}, "SupplierNumber"),
        ({"ShipToLocationGLN": "0860001009998"}, "ShipToLocationGLN"),
        ("unknown item", "lines[1].ItemGTIN"),
    ],
)
def test_a_po_naming_unknown_master_data_is_422_naming_the_field(changes: Any, field: str) -> None:
    live = _build(erp_system, "erp")
    if changes == "unknown item":
        body = _po()
        body["lines"][1]["ItemGTIN"] = "10614141999996"
    else:
        body = _po(**changes)
    with served(live.app) as base, httpx.Client(base_url=base) as client:
        refused = client.post(f"{ERP_PREFIX}/purchaseOrders", json=body)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["field"] == field
        assert live.host.behaviour.orders == {} and live.host.history == []
        assert client.post(f"{ERP_PREFIX}/purchaseOrders", json=_po()).status_code == 201


def test_an_erp_without_masters_still_takes_any_po() -> None:
    """The standalone ERP (no scenario) checks nothing: its masters are empty."""
    live = live_system(erp_system)
    with served(live.app) as base, httpx.Client(base_url=base) as client:
        body = _po(SupplierNumber="S9999", ShipToLocationGLN="0860001009998")
        assert client.post(f"{ERP_PREFIX}/purchaseOrders", json=body).status_code == 201


def test_a_location_is_created_and_then_required() -> None:
    live = live_system(erp_system)
    with served(live.app) as base, httpx.Client(base_url=base) as client:
        gln = MASTER.hospitals[0].gln
        body = {"LocationGLN": gln, "Name": "General", "Kind": "HOSPITAL"}
        assert client.post(f"{ERP_PREFIX}/locations", json=body).status_code == 201
        assert client.post(f"{ERP_PREFIX}/locations", json=body).status_code == 409
        bad = client.post(f"{ERP_PREFIX}/locations", json={**body, "Kind": "CLINIC"})
        assert bad.status_code == 422 and bad.json()["field"] == "Kind"
        elsewhere = client.post(
            f"{ERP_PREFIX}/purchaseOrders", json=_po(ShipToLocationGLN=MASTER.hospitals[1].gln)
        )
        assert elsewhere.status_code == 422 and elsewhere.json()["field"] == "ShipToLocationGLN"
        assert client.post(f"{ERP_PREFIX}/purchaseOrders", json=_po()).status_code == 201


def test_the_supplier_network_lists_its_partners_with_the_erp_supplier_number() -> None:
    live = _build(supplier_system, "supplier")
    with served(live.app) as base:
        partners = httpx.get(f"{base}/edi/partners").json()["partners"]
    assert [(p["EdiId"], p["SupplierNumber"], p["Name"]) for p in partners] == [
        (s.edi_id, s.supplier_id, s.name) for s in MASTER.suppliers
    ]
    profile = load_scenario("partial_confirmation").suppliers.profile()
    assert partners[0]["profile"]["ack_delay_median_s"] == profile.ack_delay_median_s / 600


def test_the_default_partners_name_their_erp_supplier_numbers() -> None:
    live = live_system(supplier_system)
    with served(live.app) as base:
        partners = httpx.get(f"{base}/edi/partners").json()["partners"]
    assert [(p["EdiId"], p["SupplierNumber"]) for p in partners] == [
        (f"SUPP{n}", f"S{n}") for n in range(1001, 1007)
    ]


def test_ap_keeps_its_seeded_prices_through_a_reset() -> None:
    live = _build(ap_system, "ap")
    before = live.host.snapshot()["prices"]
    assert len(before) == len(MASTER.items)
    live.host.reset()
    assert live.host.snapshot()["prices"] == before
