"""Reset returns an emulator to empty, its webhooks included, in both worlds.

In-process, the host's dispatcher delivers over a hand-driven timer queue (as the
simulated link does); over HTTP the WMS app is served by uvicorn, its webhooks go out
with aiohttp on the serving loop, and the reset is ``POST /__admin/reset``.  Either
way: after a reset the counters are zero, nothing queued or waiting for a retry is
delivered later, numbering starts at 1 again, and the subscriber stays subscribed.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from emulators.faults import Faults, WebhookFaults
from emulators.host import Host
from emulators.web.serve import loop_scheduler
from emulators.web.wms_api import WMS_PREFIX
from emulators.web.wms_app import wms_system
from emulators.webhooks import WebhookDispatcher
from emulators.wms import Wms
from tests.emulators.harness import FakeClock, WebhookReceiver, served
from tests.emulators.test_faults_webhooks import Timers

ASN = {
    "asn_nbr": "ASN1", "po_nbr": "P100", "ship_date": "2026-03-01",
    "lines": [{"po_line_nbr": 1, "item_id": "30710000000014", "shipped_qty": 10,
               "qty_uom": "CA"}],
}  # fmt: skip


def receipt(qty: int) -> dict[str, Any]:
    return {"asn_nbr": "ASN1", "po_line_nbr": 1, "received_qty": qty}


ZERO = {k: 0 for k in ("published", "attempts", "delivered", "retried", "pending", "failed")}


def counters(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: stats[k] for k in ZERO}


def test_reset_in_process_drops_queued_webhooks_and_restarts_numbering() -> None:
    timers = Timers()
    clock = FakeClock()
    reachable = [False]
    got: list[dict[str, Any]] = []

    def deliver(event: dict[str, Any], done: Callable[[bool], None]) -> None:
        if reachable[0]:
            got.append(event)
        done(reachable[0])

    host = Host("wms", clock, seed=1)
    wms = Wms(host.journal, clock, clock.epoch)
    host.attach(wms, WebhookDispatcher(deliver, timers.schedule, random.Random(1)))
    host.set_faults(Faults(webhooks=WebhookFaults(reorder=1.0)))
    host.invoke("post_ship_notice", lambda: wms.post_ship_notice(ASN))
    host.invoke("receive", lambda: wms.receive(receipt(4)))  # held back for reordering
    host.clear_faults()
    host.invoke("receive", lambda: wms.receive(receipt(3)))  # fails: waits for a retry
    assert host.webhooks is not None and host.webhooks.stats.pending == 2

    host.reset()
    reachable[0] = True
    timers.run()

    assert got == [] and counters(vars(host.webhooks.stats)) == ZERO
    assert host.history == [] and host.requests == [] and wms.receipts == {}
    host.invoke("post_ship_notice", lambda: wms.post_ship_notice(ASN))
    host.invoke("receive", lambda: wms.receive(receipt(2)))
    timers.run()
    assert [e["sequence"] for e in got] == [1]
    assert counters(vars(host.webhooks.stats)) == {**ZERO, "published": 1, "attempts": 1,
                                                   "delivered": 1}  # fmt: skip


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"  # nobody listens: every delivery fails


def _wait(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_reset_over_http_drops_queued_webhooks_and_keeps_the_subscription() -> None:
    live = wms_system(seed=1, clock=FakeClock(), schedule=loop_scheduler())
    assert live.host.webhooks is not None
    live.host.webhooks.first_backoff_s = 0.05  # retries come quickly, so a stale one would show
    with served(live.app) as base, httpx.Client(base_url=base, timeout=5) as client:

        def stats() -> dict[str, Any]:
            return dict(client.get("/__admin/webhooks").json())

        dead = _dead_url()
        client.put("/__admin/subscription", json={"url": dead}).raise_for_status()
        client.post(f"{WMS_PREFIX}/ship-notices", json=ASN).raise_for_status()
        client.post(f"{WMS_PREFIX}/receipts", json=receipt(4)).raise_for_status()
        _wait(lambda: stats()["retried"] >= 2)
        assert stats()["pending"] == 1

        with WebhookReceiver() as receiver:
            assert client.post("/__admin/reset").status_code == 204
            assert counters(stats()) == ZERO
            assert client.get("/__admin/subscription").json() == {"url": dead}
            client.put("/__admin/subscription", json={"url": receiver.url}).raise_for_status()
            time.sleep(0.6)  # several backoffs of the retry that was pending: none comes
            assert receiver.posts == [] and counters(stats()) == ZERO

            client.post(f"{WMS_PREFIX}/ship-notices", json=ASN).raise_for_status()
            client.post(f"{WMS_PREFIX}/receipts", json=receipt(2)).raise_for_status()
            events = receiver.wait_for(1)
            _wait(lambda: stats()["delivered"] == 1)
        assert [e["sequence"] for e in events] == [1]
        assert counters(stats()) == {**ZERO, "published": 1, "attempts": 1, "delivered": 1}
        assert client.get("/__admin/history").json()[0]["entity"] == "po_line:P100:1"
