"""The dock receives by scan: a whole pack by its SSCC-18, an item by its GTIN (in-process
and over HTTP, as the WMS contract suite runs)."""

from __future__ import annotations

from typing import Any

import pytest
from stdnum import ean

from emulators.web.wms_api import WMS_API
from emulators.web.wms_app import wms_system
from tests.emulators.harness import Table, assert_4xx_problem, assert_problem, world_fixtures

PACK_1 = "006141410000001019"  # SSCC-18: extension 0, prefix 0614141, serial, check digit
PACK_2 = "006141410000001026"


def gs1(body: str) -> str:
    return body + ean.calc_check_digit(body)


GTIN_A, GTIN_B, GTIN_SUB = gs1("3071000000001"), gs1("3071000000002"), gs1("3071000090001")

TABLE = Table(WMS_API, names={"po": "po_nbr", "n": "po_line_nbr", "asn": "asn_nbr"})
wms, wms_http = world_fixtures("wms", wms_system, TABLE)


def line(n: int, gtin: str, sscc: str, qty: int = 4) -> dict[str, Any]:
    return {"po_line_nbr": n, "item_id": gtin, "gtin": gtin, "shipped_qty": qty, "qty_uom": "CA",
            "lot_nbr": f"LOT-{n}", "expiry_date": "2027-06-30", "sscc": sscc}  # fmt: skip


def notice() -> dict[str, Any]:
    """Lines 1 and 2 in pack 1; line 3, a substitute under its own GTIN, in pack 2."""
    lines = [line(1, GTIN_A, PACK_1), line(2, GTIN_B, PACK_1, 6), line(3, GTIN_SUB, PACK_2, 2)]
    return {"asn_nbr": "ASN1", "po_nbr": "P100", "bol_nbr": "06141410000000014", "lines": lines}


def test_scanning_a_pack_receives_every_line_in_it_in_full(wms: Any) -> None:
    assert wms.call("post_ship_notice", body=notice()).status == 201

    reply = wms.call("receive_pack", body={"sscc": PACK_1})

    assert reply.status == 201
    got = [(r["po_line_nbr"], r["received_qty"], r["lot_nbr"]) for r in reply.body["receipts"]]
    assert got == [(1, 4, "LOT-1"), (2, 6, "LOT-2")]
    for n in (1, 2):
        assert wms.call("get_receiving_line", po="P100", n=n, asn="ASN1").body["status"] == (
            "received"
        )
    assert wms.call("get_receiving_line", po="P100", n=3, asn="ASN1").body["status"] == (
        "expected"
    )  # the other pack is still on the truck
    assert_problem(wms.call("receive_pack", body={"sscc": PACK_1}), 409, "sscc")  # once


def test_a_substitute_is_received_by_scanning_its_own_gtin(wms: Any) -> None:
    wms.call("post_ship_notice", body=notice())

    scan = {"asn_nbr": "ASN1", "gtin": GTIN_SUB, "received_qty": 2}
    reply = wms.call("receive", body=scan)

    assert reply.status == 201
    assert (reply.body["receipt"]["po_line_nbr"], reply.body["line"]["status"]) == (3, "received")
    # the GTIN that was ordered is on no line of this pack's substitute
    assert_problem(wms.call("receive", body={**scan, "gtin": gs1("3071000000003")}), 404, "gtin")


def test_an_item_scan_finds_a_po_line_without_an_asn(wms: Any) -> None:
    row = {"po_nbr": "P100", "po_line_nbr": 2, "item_id": GTIN_B, "dock_gln": "0860001000018",
           "exp_qty": 3, "qty_uom": "BX"}  # fmt: skip
    wms.call("upsert_expected_receipts", body={"receipts": [row]})
    reply = wms.call("receive", body={"po_nbr": "P100", "gtin": GTIN_B, "received_qty": 3})
    assert reply.status == 201 and reply.body["receipt"]["po_line_nbr"] == 2


@pytest.mark.parametrize(
    ("operation", "body", "field"),
    [
        ("receive_pack", {"sscc": PACK_1[:-1] + "8"}, "sscc"),  # wrong check digit
        ("receive_pack", {"sscc": "006141410000001033"}, "sscc"),  # on no line
        ("receive", {"asn_nbr": "ASN1", "gtin": GTIN_A[:-1] + "5", "received_qty": 1}, "gtin"),
        (
            "post_ship_notice",
            {**notice(), "asn_nbr": "ASN2", "lines": [line(1, GTIN_A, PACK_1[:-1] + "7")]},
            "lines[0].sscc",
        ),
    ],
)
def test_a_bad_scan_is_a_4xx_naming_the_field(
    wms: Any, operation: str, body: dict[str, Any], field: str
) -> None:
    wms.call("post_ship_notice", body=notice())
    assert_4xx_problem(wms.call(operation, body=body), field)
