"""Every emulator's ``GET /metrics`` parses with the Prometheus client's own parser and
counts the traffic it served: requests by operation and status, webhooks published."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from emulators.web.serve import LiveClock, build_system
from tests.emulators.harness import served
from tests.live._services import ERP_POS, master_data, po_body


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    r = httpx.get(f"{url}/metrics", timeout=5)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    return sum(v for lab, v in samples.get(name, []) if labels.items() <= lab.items())


def test_each_emulator_exposes_its_own_requests_and_webhooks() -> None:
    clock = LiveClock()
    systems = {s: build_system(s, seed=1, clock=clock) for s in ("erp", "supplier", "wms", "ap")}
    with served(systems["erp"].app) as erp, served(systems["wms"].app) as wms:
        body = po_body(master_data(), 1)
        with httpx.Client(base_url=erp, timeout=10) as client:
            for n in range(3):
                r = client.post(ERP_POS, json=body, headers={"Idempotency-Key": f"m-{n}"})
                assert r.status_code == 201, r.text
            assert client.get(f"{ERP_POS}/NO-SUCH-PO").status_code == 404
            assert client.get("/no/such/route").status_code == 404
        httpx.get(f"{wms}/health", timeout=5)
        erp_metrics, wms_metrics = scrape(erp), scrape(wms)

    created = value(erp_metrics, "supplysync_emulator_requests_total", system="erp", status="201")
    assert created == 3
    missing = value(erp_metrics, "supplysync_emulator_requests_total", status="404")
    assert missing == 2
    assert value(erp_metrics, "supplysync_emulator_requests_total", operation="unmatched") == 1
    # every PO created is one PurchaseOrderChanged event; with no subscriber it is "delivered"
    assert value(erp_metrics, "supplysync_webhooks_published_total", system="erp") == 3
    assert value(erp_metrics, "supplysync_webhooks_delivered_total", system="erp") == 3
    assert value(erp_metrics, "supplysync_webhooks_dropped_total", system="erp") == 0
    # registries are per app: the WMS counts only its own request, never the ERP's
    assert value(wms_metrics, "supplysync_emulator_requests_total", system="erp") == 0
    assert value(wms_metrics, "supplysync_emulator_requests_total", operation="health") == 1
    assert value(wms_metrics, "supplysync_webhooks_published_total") == 0
