"""The admin API every emulator serves alike (HTTP only: it has no in-process twin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulators.web.ap_app import ap_system
from emulators.web.erp_app import erp_system
from emulators.web.supplier_app import supplier_system
from emulators.web.tables import APIS
from emulators.web.wms_app import wms_system
from tests.emulators.harness import Table, world

#: each system's factory and a read that answers 200 when nothing is wrong
SYSTEMS: dict[str, tuple[Callable[..., Any], str]] = {
    "erp": (erp_system, "list_purchase_orders"),
    "supplier": (supplier_system, "mailbox"),
    "wms": (wms_system, "inventory"),
    "ap": (ap_system, "list_invoices"),
}


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_admin_faults_put_over_http_take_effect(system: str) -> None:
    factory, read = SYSTEMS[system]
    with world(factory, Table(APIS[system]), "http") as api:
        client = api.client
        faults = {"outages": [{"start_s": 0, "end_s": 60}]}
        assert client.put("/__admin/faults", json=faults).status_code == 200
        assert client.get("/__admin/faults").json()["outages"][0]["end_s"] == 60

        down = api.call(read)
        assert down.status == 503 and down.headers["retry-after"] == "60"

        assert client.delete("/__admin/faults").status_code == 204
        assert api.call(read).status == 200


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_the_admin_clock_is_the_journals_clock_and_no_fault_refuses_it(system: str) -> None:
    factory, read = SYSTEMS[system]
    with world(factory, Table(APIS[system]), "http") as api:
        api.clock.t = 42.5
        api.call(read)
        stamped = api.client.get("/__admin/requests").json()[-1]["t"]
        faults = {"outages": [{"start_s": 0, "end_s": 600}]}
        assert api.client.put("/__admin/faults", json=faults).status_code == 200
        answer = api.client.get("/__admin/clock")
        assert answer.status_code == 200
        assert answer.json() == {"system": system, "t": stamped} and stamped == 42.5
