"""Live services for the tests: the four emulators in this process, the core as a subprocess.

The emulators run with :func:`tests.emulators.harness.served` (uvicorn in a
thread each), with suppliers that acknowledge within about a second so a run
takes seconds.  The core runs as ``python -m scenarios.live.serve_core`` — a real
process, so a test can SIGKILL it — on a store file the test owns.  Every wait
is bounded.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from emulators.supplier import SupplierProfile
from emulators.web.serve import LiveClock, build_system
from emulators.web.supplier_app import DEFAULT_SUPPLIERS
from scenarios.live.procs import hold_port
from scenarios.spec.masterdata import MasterData, generate
from scenarios.spec.models import NetworkSpec
from tests.emulators.harness import served

ROOT = Path(__file__).parents[2]
ERP_POS = "/fscmRestApi/resources/latest/purchaseOrders"
# fast acknowledgments; every clinical-critical line confirmed in part (the exception queue)
FAST_ACKS = SupplierProfile(
    ack_delay_median_s=0.3,
    ack_delay_sigma=0.3,
    critical_partial_rate=1.0,
    critical_backorder_rate=0.0,
)


@dataclass
class Emulators:
    urls: dict[str, str]
    hosts: dict[str, Any]


@contextmanager
def emulators(profile: SupplierProfile = FAST_ACKS) -> Iterator[Emulators]:
    clock = LiveClock()
    profiles = {edi: profile for edi in DEFAULT_SUPPLIERS}
    with ExitStack() as stack:
        urls, hosts = {}, {}
        for system in ("erp", "supplier", "wms", "ap"):
            live = build_system(system, seed=1, clock=clock, profiles=profiles)
            urls[system] = stack.enter_context(served(live.app))
            hosts[system] = live.host
        yield Emulators(urls, hosts)


class Core:
    """The sync core as a subprocess on ``store``; ``start``/``kill`` as often as needed."""

    def __init__(
        self, store: Path, urls: dict[str, str], log: Path, extra: tuple[str, ...] = ()
    ) -> None:
        self.store, self.urls, self.log_path, self.extra = store, urls, log, extra
        self.subscribes = "--no-subscribe" not in extra
        self.port = hold_port(self)  # for every restart, not only this test's
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout_s: float = 20.0) -> None:
        args = [sys.executable, "-m", "scenarios.live.serve_core", "--store", str(self.store),
                "--port", str(self.port)]  # fmt: skip
        for system, url in self.urls.items():
            args += [f"--{system}", url]
        args += self.extra
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"core exited with {self.proc.returncode}: {self.log()}")
            try:
                health = httpx.get(f"{self.url}/health", timeout=1).json()
                if not self.subscribes:
                    return
                if len(health["subscriptions"]) == len(self.urls) and all(
                    str(v).startswith("http") for v in health["subscriptions"].values()
                ):
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"core did not start within {timeout_s} s: {self.log()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def po_body(master: MasterData, n: int) -> dict[str, Any]:
    """The ``n``-th purchase order of a run: a supplier, a hospital and 1-4 catalog lines."""
    supplier = master.suppliers[n % len(master.suppliers)]
    hospital = master.hospitals[n % len(master.hospitals)]
    catalog = master.catalog(supplier.supplier_id)
    items = [catalog[(n + k) % len(catalog)] for k in range(1 + n % min(4, len(catalog)))]
    return {
        "SupplierNumber": supplier.supplier_id,
        "ShipToLocationGLN": hospital.gln,
        "RequesterDepartment": f"CC-{n % 7 + 1:02d}-100",
        "NeedByDate": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
        "lines": [
            {
                "SupplierItem": i.vendor_part,
                "ItemGTIN": i.gtin,
                "Quantity": 2 + (n + k) % 20,
                "UOMCode": i.order_uom.value,
                "Price": i.unit_price,
                "CriticalSupply": "Y" if i.critical else "N",
            }
            for k, i in enumerate(items)
        ],
    }


def master_data() -> MasterData:
    return generate(NetworkSpec(), 1)


def create_pos(erp_url: str, count: int, *, start: int = 0,
               pause_s: float = 0.0) -> dict[str, int]:  # fmt: skip
    """Create ``count`` POs in the ERP over HTTP; their numbers → line counts."""
    master = master_data()
    created = {}
    with httpx.Client(base_url=erp_url, timeout=10) as client:
        for n in range(start, start + count):
            body = po_body(master, n)
            key = {"Idempotency-Key": f"test-po-{erp_url}-{n}"}
            for _ in range(20):  # a buyer's client retries a failed create with its key
                r = client.post(ERP_POS, json=body, headers=key)
                if r.status_code < 500:
                    break
                time.sleep(0.05)
            assert r.status_code == 201, r.text
            created[r.json()["OrderNumber"]] = len(body["lines"])
            if pause_s:
                time.sleep(pause_s)
    return created


def facts(host: Any, field: str) -> dict[str, list[Any]]:
    """The emulator's history records of ``field``, by entity."""
    found: dict[str, list[Any]] = {}
    for change in host.history:
        if change.field == field:
            found.setdefault(change.entity, []).append(change)
    return found


def wait_until(predicate: Any, timeout_s: float, step_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())
