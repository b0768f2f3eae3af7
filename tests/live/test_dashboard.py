"""The live dashboard in a real browser, during a live run with an ERP outage.

Playwright drives Debian's Chromium (``/usr/bin/chromium``; ``playwright install`` is never
run).  Without it the test skips, saying why; with ``SUPPLYSYNC_REQUIRE_SERVICES=1`` (CI)
the same reason fails it.  A screenshot of the dashboard is kept in the run's output folder
and in ``$SUPPLYSYNC_ARTIFACTS`` when set (a CI artefact).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sync_core.conftest import service_missing

pytestmark = pytest.mark.supplysync_live("regional_network", speedup=86400)

CHROMIUM = Path("/usr/bin/chromium")
OUTAGE_S = 5.0


def _browser_or_skip() -> Any:
    if not CHROMIUM.exists():
        service_missing(f"the dashboard's browser test needs Debian's chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the dashboard's browser test needs playwright: pip install playwright")
    return sync_playwright


def _orphan_po(services: Any) -> str:
    """A PO for a supplier the core has no EDI partner for: the core dead-letters it."""
    from scenarios.spec.masterdata import generate, po_lines

    master = generate(services.spec.network, services.spec.seed)
    erp = services.erp + "/fscmRestApi/resources/latest"
    vendor = {"SupplierNumber": "SUP-NO-PARTNER", "Name": "A supplier off the EDI network"}
    r = httpx.post(erp + "/vendors", json=vendor, timeout=10)  # the ERP knows it, the core not
    assert r.status_code in (201, 409), r.text
    rng = random.Random(7)
    body = {
        "SupplierNumber": "SUP-NO-PARTNER",
        "ShipToLocationGLN": master.hospitals[0].gln,
        "RequesterDepartment": "CC-01-100",
        "NeedByDate": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
        "lines": po_lines(master.items[:1], rng, services.spec.demand.quantity),
    }
    r = httpx.post(
        erp + "/purchaseOrders",
        json=body,
        headers={"Idempotency-Key": f"dashboard-orphan-{os.getpid()}"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["OrderNumber"])


def _max_lag(page: Any) -> float:
    return float(page.locator("#lag-chart").get_attribute("data-max-lag") or 0)


def test_the_dashboard_shows_an_erp_outage_and_replays_a_dead_letter(supplysync_live) -> None:
    sync_playwright = _browser_or_skip()
    services = supplysync_live
    assert services.dashboard.startswith(services.core + "/dashboard")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            page.goto(services.dashboard)
            expect_text = page.locator("#summary")
            # before the outage: POs flow, the lag chart has its first points
            numbers = services.create_pos(3)
            page.wait_for_function(
                "Number(document.querySelector('#lag-chart').dataset.maxLag || 0) > 0",
                timeout=15_000,
            )
            before = _max_lag(page)
            assert "handled" in (expect_text.text_content() or "")

            # the ERP goes down: the core's reads and writes to it fail, its circuit opens
            services.set_faults("erp", {"outages": [{"start_s": 0.3, "end_s": 0.3 + OUTAGE_S}]})
            numbers += services.create_pos(4)
            erp_circuit = page.locator('tr[data-target="erp"] [data-circuit]')
            page.wait_for_function(
                "document.querySelector('tr[data-target=\"erp\"] [data-circuit]')"
                "?.dataset.circuit === 'open'",
                timeout=15_000,
            )
            assert erp_circuit.get_attribute("data-circuit") == "open"

            # the outage ends: what waited is written, late: the lag chart rises. Not before
            # the open circuit lets a probe through (BreakerConfig.open_s, 30 s) and the
            # writes' backoff runs out: 30 s from here was a coin toss on a busy machine
            page.wait_for_function(
                f"Number(document.querySelector('#lag-chart').dataset.maxLag || 0) > {before} + 1",
                timeout=90_000,
            )
            assert _max_lag(page) > before + 1

            # one PO's story: the core's view, the ERP's, and a timeline
            page.get_by_label("PO number or trace id").fill(numbers[-1])
            page.get_by_role("button", name="Show").click()
            page.wait_for_selector("#story-timeline li", timeout=10_000)
            assert numbers[-1] in (page.locator("#story-title").text_content() or "")
            assert page.locator("#story-out [data-system='erp']").count() == 1

            # a dead letter made on purpose, replayed from the page: it leaves the queue
            orphan = _orphan_po(services)
            row = page.locator("#dlq-rows tr[data-letter]").first
            row.wait_for(timeout=15_000)
            letter = row.get_attribute("data-letter")
            page.screenshot(path=str(services.out_dir / "dashboard.png"), full_page=True)
            if artefacts := os.environ.get("SUPPLYSYNC_ARTIFACTS"):
                Path(artefacts).mkdir(parents=True, exist_ok=True)
                shutil.copy(services.out_dir / "dashboard.png", Path(artefacts) / "dashboard.png")
            page.get_by_role("button", name=f"Replay dead letter {letter}").click()
            page.locator(f'#dlq-rows tr[data-letter="{letter}"]').wait_for(
                state="detached", timeout=10_000
            )
            status = httpx.get(f"{services.core}/dlq/{letter}", timeout=10).json()["status"]
            assert status == "replayed", orphan
        finally:
            browser.close()
    services.clear_faults()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the ERP is back: its circuit closes again
        health = httpx.get(services.core + "/dashboard/feed.json", timeout=10).json()["health"]
        if {h["target"]: h["circuit"] for h in health}.get("erp") == "closed":
            break
        time.sleep(0.2)
    else:
        pytest.fail("the ERP's circuit did not close after the outage")
