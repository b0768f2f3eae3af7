"""The full 856 live: the supplier network ships over HTTP, the core (a subprocess) reads
the pack hierarchy and forwards each line's SSCC and GTIN to the WMS, and the dock
receives a whole pack by its SSCC and a substitute by its own GTIN, over HTTP."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.x12 import Interchange, read_856, sscc_valid
from tests.live._services import FAST_ACKS, Core, Emulators, create_pos, emulators, wait_until

WMS = "/wms/api/v1"
SHIPPING = dataclasses.replace(
    FAST_ACKS,
    ship_notices=True,
    ship_delay_median_s=0.3,
    ship_delay_sigma=0.1,
    substitution_rate=0.5,
    gln="0701000000013",
)


@pytest.fixture
def systems() -> Iterator[Emulators]:
    with emulators(SHIPPING) as running:
        yield running


def ship_notices(systems: Emulators) -> list[dict[str, Any]]:
    snapshot: dict[str, Any] = systems.hosts["wms"].behaviour.snapshot()
    return list(snapshot["ship_notices"])


def test_the_full_856_reaches_the_dock_which_receives_by_sscc_and_gtin(
    systems: Emulators, tmp_path: Path
) -> None:
    core = Core(tmp_path / "core.sqlite", systems.urls, tmp_path / "core.log")
    core.start()
    try:
        pos = create_pos(systems.urls["erp"], 4)
        assert wait_until(lambda: len(ship_notices(systems)) >= len(pos), 20), core.log()
    finally:
        core.stop()
    # what the live core's 850s said (its cross reference of the network's master data):
    # the parties and contract, each line's buyer item number, description and pack
    orders = list(systems.hosts["supplier"].behaviour.orders.values())
    assert orders and all(o["vendor_gln"] and o["bill_to_gln"] and o["contract"] for o in orders)
    assert all(ln["buyer_item"] and ln["description"] and ln["pack"]
               for o in orders for ln in o["lines"])  # fmt: skip
    # what the supplier sent: S/O/P/I with SSCCs, carrier, bill of lading, ship-to/from
    sent = systems.hosts["supplier"].behaviour.mailbox_docs
    notices = [read_856(Interchange.parse(d["payload"]).sets[0]) for d in sent
               if d["type"] == "856"]  # fmt: skip
    assert notices and all(n.packs and n.bill_of_lading and n.carrier for n in notices)
    assert all(n.ship_from and n.ship_from.gln == SHIPPING.gln for n in notices)
    # what the core forwarded: every line with its pack and its GTIN, the bill of lading
    asns = ship_notices(systems)
    lines = [(a, line) for a in asns for line in a["lines"]]
    assert all(a["bol_nbr"] and sscc_valid(line["sscc"]) and line["gtin"] for a, line in lines)
    substituted = [(a, ln) for a, ln in lines if "-S" in next(
        i.vendor_part for n in notices for o in n.orders for i in o.items if i.gtin == ln["gtin"]
    )]  # fmt: skip
    assert substituted, "no substitute shipped"
    with httpx.Client(base_url=systems.urls["wms"] + WMS, timeout=10) as dock:
        # an item scan: the substitute by its own GTIN
        asn, line = substituted[0]
        scan = {"asn_nbr": asn["asn_nbr"], "gtin": line["gtin"],
                "received_qty": line["shipped_qty"]}  # fmt: skip
        reply = dock.post("/receipts", json=scan)
        assert reply.status_code == 201, reply.text
        assert reply.json()["receipt"]["po_line_nbr"] == line["po_line_nbr"]
        # a pack scan: every line in another pack received in full
        pack = next(ln["sscc"] for a, ln in lines if ln["sscc"] != line["sscc"])
        reply = dock.post("/pack-receipts", json={"sscc": pack})
        assert reply.status_code == 201, reply.text
        inside = sorted(ln["po_line_nbr"] for a, ln in lines if ln["sscc"] == pack)
        assert sorted(r["po_line_nbr"] for r in reply.json()["receipts"]) == inside
        assert dock.post("/pack-receipts", json={"sscc": pack}).status_code == 409
    assert "Traceback" not in core.log()
