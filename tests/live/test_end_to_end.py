"""The sync core as a live service: real processes, real sockets, a real store file.

The four emulators run in this process (uvicorn threads); the core runs as a
subprocess, so the crash test can SIGKILL it mid-run and restart it on the
same store file.  Judgement comes from the emulators' own histories: the ERP
journals ``confirmed_qty`` and the WMS ``expected_qty`` of each PO line once
per application, a repeat applied without its idempotency key would be
journalled again under another cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live._services import Core, Emulators, create_pos, emulators, facts, wait_until


@pytest.fixture
def systems() -> Iterator[Emulators]:
    with emulators() as running:
        yield running


def lines_of(pos: dict[str, int]) -> set[str]:
    return {f"po_line:{po}:{n}" for po, count in pos.items() for n in range(1, count + 1)}


def missing(host: object, field: str, expected: set[str]) -> set[str]:
    return expected - set(facts(host, field))


def assert_each_applied_once(host: object, field: str, expected: set[str]) -> None:
    records = facts(host, field)
    assert not expected - set(records), f"{field} never reached: {sorted(expected - set(records))}"
    twice = {e: [(r.value, r.cause) for r in records[e]] for e in expected if len(records[e]) != 1}
    assert not twice, f"{field} applied more than once: {twice}"
    keyless = {
        e: records[e][0].cause for e in expected if not records[e][0].cause.startswith("855:")
    }
    assert not keyless, f"{field} applied without the core's idempotency key: {keyless}"


def acknowledged_once_each(systems: Emulators, count: int) -> dict[str, int]:
    """Raise ``count`` POs; wait until every line's acknowledgment has reached the ERP and
    the WMS, each applied once under the core's key.  Returns PO number → lines."""
    pos = create_pos(systems.urls["erp"], count)
    expected = lines_of(pos)
    erp, wms = systems.hosts["erp"], systems.hosts["wms"]
    wait_until(
        lambda: (
            not missing(erp, "confirmed_qty", expected)
            and not missing(wms, "expected_qty", expected)
        ),
        timeout_s=15,
    )
    assert_each_applied_once(erp, "confirmed_qty", expected)
    assert_each_applied_once(wms, "expected_qty", expected)
    return pos


def test_acknowledgments_reach_erp_and_wms(systems: Emulators, tmp_path: Path) -> None:
    core = Core(tmp_path / "core.sqlite", systems.urls, tmp_path / "core.log")
    core.start()
    try:
        pos = acknowledged_once_each(systems, 6)
        # the ERP shows the acknowledgment on the PO itself
        number = next(iter(pos))
        po = httpx.get(
            f"{systems.urls['erp']}/fscmRestApi/resources/latest/purchaseOrders/{number}"
        ).json()
        assert po["AcknowledgmentRevision"] == 1
        assert all(line["AcknowledgmentStatus"] for line in po["lines"])
        # the core's experience API tells the same story
        known = httpx.get(f"{core.url}/purchase-orders/{number}").json()
        assert known["po"]["version"] == 1 and known["ack"]["version"] == 1
        assert len(known["ack"]["data"]["lines"]) == pos[number]
        status = httpx.get(f"{core.url}/status").json()
        assert status["outbox_pending"] == 0 and status["dead_letters"] == 0
        assert httpx.get(f"{core.url}/dlq").json() == []
        # the exception queue holds exactly the critical lines the ERP shows short
        short = set()
        for n in pos:
            order = httpx.get(
                f"{systems.urls['erp']}/fscmRestApi/resources/latest/purchaseOrders/{n}"
            ).json()
            short |= {
                (n, line["LineNumber"])
                for line in order["lines"]
                if line["CriticalSupply"] == "Y"
                and line["SupplierConfirmedQuantity"] < line["Quantity"]
            }
        queue = httpx.get(f"{core.url}/exceptions").json()
        assert queue["count"] == len(queue["items"])
        assert short and {(x["po_number"], x["line_no"]) for x in queue["items"]} == short
        assert httpx.get(f"{core.url}/backlog").json()["pending"] == 0
    finally:
        core.stop()
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly
    assert core.proc is not None and core.proc.returncode in (0, -15), core.log()
    assert "Traceback" not in core.log()


def test_batch_mode_pulls_without_webhooks(systems: Emulators, tmp_path: Path) -> None:
    """No subscription: a batch tick every 0.5 s pages the ERP and the supplier mailbox."""
    extra = ("--no-subscribe", "--batch-interval", "0.5")
    core = Core(tmp_path / "core.sqlite", systems.urls, tmp_path / "core.log", extra)
    core.start()
    try:
        acknowledged_once_each(systems, 4)
        for url in systems.urls.values():  # nobody subscribed: it all came by pulling
            assert httpx.get(f"{url}/__admin/subscription").json() == {"url": None}
    finally:
        core.stop()


def test_bad_webhooks_are_refused_and_lose_nothing(systems: Emulators, tmp_path: Path) -> None:
    core = Core(tmp_path / "core.sqlite", systems.urls, tmp_path / "core.log")
    core.start()
    try:
        pos = create_pos(systems.urls["erp"], 2)
        hooks = f"{core.url}/webhooks"
        cases = [
            ("erp", b"{not json", 400, "body"),
            ("erp", b'{"eventType": "PurchaseOrderChanged", "OrderNumber": "1"}', 422, "eventId"),
            ("erp", b'{"eventId": "x", "eventType": "Nope"}', 422, "eventType"),
            (
                "supplier",
                b'{"seq": "1", "supplier": "S", "type": "855", "payload": ""}',
                422,
                "seq",
            ),
            ("wms", b"[]", 422, "body"),
            ("ap", b'{"eventId": "a", "eventType": "InvoiceStatusChanged"}', 422, "invoice"),
            ("crm", b"{}", 404, "system"),
        ]
        for system, body, status, field in cases:
            r = httpx.post(f"{hooks}/{system}", content=body,
                           headers={"content-type": "application/json"})  # fmt: skip
            assert r.status_code == status, (system, body, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["field"] == field, r.json()
        for method, path, body, status in [
            ("GET", "/dlq/999", None, 404),
            ("POST", "/dlq/999/replay", None, 404),
            ("POST", "/dlq/1/discard", {"reason": " "}, 422),
            ("GET", "/dlq?status=lost", None, 422),
            ("GET", "/purchase-orders/nope", None, 404),
        ]:
            r = httpx.request(method, core.url + path, json=body)
            assert r.status_code == status, (path, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        expected = lines_of(pos)
        wait_until(lambda: not missing(systems.hosts["erp"], "confirmed_qty", expected), 15)
        assert_each_applied_once(systems.hosts["erp"], "confirmed_qty", expected)
    finally:
        core.stop()


def test_sigkill_during_a_run_loses_nothing_and_doubles_nothing(
    systems: Emulators, tmp_path: Path
) -> None:
    """Kill -9 the core three times while 36 POs flow, restart it on the same store.

    The ERP and the WMS answer slowly and now and then fail (500), and both
    emulators deliver some webhooks twice, so at every kill calls are in flight,
    retries are waiting and duplicates are arriving.
    """
    flaky = {"latency": {"median_ms": 120}, "error_rate": {"rate": 0.1},
             "webhooks": {"duplicate": 0.2}}  # fmt: skip
    for system in ("erp", "wms", "supplier"):
        r = httpx.put(f"{systems.urls[system]}/__admin/faults", json=flaky)
        assert r.status_code == 200, r.text
    core = Core(tmp_path / "core.sqlite", systems.urls, tmp_path / "core.log")
    core.start()
    created: dict[str, int] = {}

    def buyers() -> None:
        created.update(create_pos(systems.urls["erp"], 36, pause_s=0.05))

    buying = threading.Thread(target=buyers)
    buying.start()
    try:
        for _ in range(3):
            time.sleep(0.9)
            core.kill()
            core.start()
        buying.join(timeout=30)
        assert not buying.is_alive()
        expected = lines_of(created)
        erp, wms = systems.hosts["erp"], systems.hosts["wms"]
        converged = wait_until(
            lambda: (
                not missing(erp, "confirmed_qty", expected)
                and not missing(wms, "expected_qty", expected)
            ),
            timeout_s=25,
        )
        assert converged, (
            f"lost: erp {sorted(missing(erp, 'confirmed_qty', expected))[:5]}, "
            f"wms {sorted(missing(wms, 'expected_qty', expected))[:5]}\n{core.log()}"
        )
        assert_each_applied_once(erp, "confirmed_qty", expected)
        assert_each_applied_once(wms, "expected_qty", expected)
        # the supplier entered each PO once although some 850s were sent again
        assert core.starts == 4
        assert "re-delivering" in core.log(), "no kill found work in flight"
        stats = {s: h.webhooks.stats for s, h in systems.hosts.items() if h.webhooks}
        assert all(s.failed == 0 for s in stats.values()), stats
        status = httpx.get(f"{core.url}/status").json()
        assert status["dead_letters"] == 0, httpx.get(f"{core.url}/dlq").json()
    finally:
        buying.join(timeout=30)
        core.stop()
