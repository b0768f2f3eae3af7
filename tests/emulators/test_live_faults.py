"""Faults over real HTTP: the latency fault delays requests, admin calls stay prompt."""

from __future__ import annotations

import time

import httpx

from emulators.web.wms_app import wms_system
from tests.emulators.harness import FakeClock, served


def test_latency_fault_delays_requests_but_not_the_admin_api() -> None:
    live = wms_system(seed=1, clock=FakeClock(), schedule=lambda delay, action: None)
    with served(live.app) as base, httpx.Client(base_url=base, timeout=10) as client:
        url = "/wms/api/v1/inventory"

        def timed(path: str) -> float:
            started = time.perf_counter()
            assert client.get(path).status_code == 200
            return time.perf_counter() - started

        fast = min(timed(url) for _ in range(3))
        put = client.put("/__admin/faults", json={"latency": {"median_ms": 400, "sigma": 0}})
        assert put.status_code == 200
        assert timed(url) >= 0.4 > fast
        assert timed("/__admin/faults") < 0.4
        assert client.delete("/__admin/faults").status_code == 204
        assert timed(url) < 0.4
