"""The core stays responsive while it works on one huge PO, and stops in bounded time.

The core runs as a real process (``python -m scenarios.live.serve_core``) against a
stand-in for the four systems: a small HTTP server that answers the ERP's PO
read-back with a PO of ``LINES`` lines (more than the ERP emulator admits: the
core must cope with what a foreign system sends) and accepts every write.
While the engine decides that PO, ``/health`` and ``/status`` must answer within
1 s; SIGTERM must end the process within 10 s; the store must hold everything
the core acknowledged, and a restart must finish the work.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from sync_core.store_sqlite import SqliteStore
from tests.live._services import Core, master_data, wait_until

LINES = 120_000
NUMBER = "4500000001"


def huge_po(lines: int) -> dict[str, Any]:
    master = master_data()
    supplier = master.suppliers[0]
    item = master.catalog(supplier.supplier_id)[0]
    return {
        "OrderNumber": NUMBER,
        "SupplierNumber": supplier.supplier_id,
        "ShipToLocationGLN": master.hospitals[0].gln,
        "RequesterDepartment": "CC-01-100",
        "OrderDate": "2026-03-02",
        "NeedByDate": "2026-03-09",
        "RevisionNumber": 1,
        "LastUpdateDate": "2026-03-02T08:00:00.000",
        "lines": [
            {"LineNumber": n, "SupplierItem": item.vendor_part, "ItemGTIN": item.gtin,
             "Quantity": 5, "UOMCode": item.order_uom.value, "Price": item.unit_price,
             "CriticalSupply": "N"}
            for n in range(1, lines + 1)
        ],
    }  # fmt: skip


@contextmanager
def systems_standing_in(po: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """One server for erp, supplier, wms and ap: the PO on a GET, 200 to any write."""
    document = json.dumps(po).encode()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            seen.append(f"GET {self.path}")
            if re.search(rf"/purchaseOrders/{NUMBER}$", self.path):
                self._answer(200, document)
            else:
                self._answer(404, b'{"detail": "no such thing"}')

        def _write(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(f"{self.command} {self.path}")
            self._answer(200, b"{}")

        do_POST = do_PUT = do_PATCH = _write

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def event(n: int) -> dict[str, Any]:
    return {"eventId": f"evt-{n}", "eventType": "PurchaseOrderChanged", "OrderNumber": NUMBER,
            "RevisionNumber": 1, "ChangeType": "CREATE"}  # fmt: skip


def timed_get(client: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    start = time.monotonic()
    reply = client.get(path, timeout=5)
    return time.monotonic() - start, reply


def test_health_status_and_sigterm_answer_while_the_core_decides_a_huge_po(
    tmp_path: Path,
) -> None:
    store = tmp_path / "core.sqlite"
    with systems_standing_in(huge_po(LINES)) as (url, seen):
        urls = {system: url for system in ("erp", "supplier", "wms", "ap")}
        core = Core(store, urls, tmp_path / "core.log", extra=("--no-subscribe",))
        core.start()
        try:
            with httpx.Client(base_url=core.url) as client:
                first = client.post("/webhooks/erp", json=event(1), timeout=5)
                assert first.status_code == 202, first.text
                # the core reads the PO back, then decides it in its store thread
                assert wait_until(lambda: any("purchaseOrders" in s for s in seen), 10, 0.02)
                latencies: list[tuple[str, float]] = []
                busy_seen = False
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    took, health = timed_get(client, "/health")
                    latencies.append(("/health", took))
                    assert health.status_code == 200
                    took, status = timed_get(client, "/status")
                    latencies.append(("/status", took))
                    assert status.status_code == 200
                    if status.json()["store"].startswith("busy"):
                        busy_seen = True
                        break
                    time.sleep(0.05)
                assert busy_seen, f"never saw the store busy: {core.log()}"
                for _ in range(5):  # a little longer, while it works
                    latencies.append(("/health", timed_get(client, "/health")[0]))
                    latencies.append(("/status", timed_get(client, "/status")[0]))
                slow = [(p, round(t, 3)) for p, t in latencies if t >= 1.0]
                assert not slow, f"answered in 1 s or more while busy: {slow}"

                # SIGTERM while the engine still works on the PO
                assert client.get("/status").json()["store"].startswith("busy")
                assert core.proc is not None
                stopped_at = time.monotonic()
                core.proc.send_signal(signal.SIGTERM)
                core.proc.wait(timeout=15)
                took = time.monotonic() - stopped_at
                assert took < 10, f"SIGTERM took {took:.1f} s: {core.log()}"
        finally:
            core.kill()

        # what the core acknowledged is kept; the rest is consistent
        with SqliteStore(store) as kept:
            assert kept.consumed("evt-1")
            po = kept.entity("po", NUMBER)
            operations = {item.request.operation for item in kept.pending()}
            if po is None:  # abandoned mid-decision: the read-back is still to do
                assert "get_purchase_order" in operations
            else:  # decided and committed whole: its writes are in the outbox or done
                assert len(po.data["lines"]) == LINES

        # a restart finishes the work: the 850 reaches the supplier
        core.start()
        try:
            delivered = ("/edi/inbound", "/po-lines")  # the 850, and AP's PO lines
            assert wait_until(lambda: all(any(d in s for s in seen) for d in delivered), 60, 0.2), (
                core.log()
            )
            assert wait_until(
                lambda: httpx.get(f"{core.url}/status").json()["outbox_pending"] == 0, 30, 0.2
            )
        finally:
            core.stop()
        with SqliteStore(store) as kept:
            po = kept.entity("po", NUMBER)
            assert po is not None and len(po.data["lines"]) == LINES
            assert kept.pending() == []
