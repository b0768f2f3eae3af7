"""OpenTelemetry traces in a live run: one trace per PO, across every service it touches.

The four emulators and the core run in this process (uvicorn threads, the core built
with :func:`sync_core.service.app.create_app`), each with a tracer of its own exporting to
an in-memory exporter.  The core derives a PO's trace id from its number
(``sha256(po)[:32]``, :func:`sync_core.flows.base.traceparent`) and sends it on every request;
the emulators' server spans join it, and so does what they send back (the 855, the ERP's
PO-created webhook).  ``serve all --otlp-endpoint`` is started for real, exporting to a
port nobody listens on: serving must not suffer.
"""

from __future__ import annotations

import contextlib
import hashlib
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
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from emulators.web._tracing import enable_tracing
from emulators.web._tracing import setup_tracing as emulator_tracing
from emulators.web.serve import LiveClock, build_system
from emulators.web.supplier_app import DEFAULT_SUPPLIERS
from scenarios.sim.network import OUR_EDI_ID
from sync_core.connectors import HttpConnector
from sync_core.delivery import default_planner
from sync_core.drivers.asyncio import LiveDriver
from sync_core.engine import Engine, EngineConfig
from sync_core.service.app import create_app
from sync_core.store_sqlite import SqliteStore
from sync_core.tracing import setup_tracing as core_tracing
from tests.emulators.harness import served
from tests.live._services import ERP_POS, FAST_ACKS, create_pos, master_data, po_body, wait_until
from tests.ports import free_port
from tests.scenarios.test_cli_serve import free_base

SYSTEMS = ("erp", "supplier", "wms", "ap")


@dataclass
class Traced:
    urls: dict[str, str]  # the four emulators' and the core's ("core")
    hosts: dict[str, Any]
    exporter: InMemorySpanExporter  # every service's spans

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


@contextmanager
def traced_services(store: Path) -> Iterator[Traced]:
    """The four emulators and the core in this process, all traced, the core subscribed."""
    exporter = InMemorySpanExporter()
    clock = LiveClock()
    profiles = {edi: FAST_ACKS for edi in DEFAULT_SUPPLIERS}
    with ExitStack() as stack:
        urls, hosts = {}, {}
        for system in SYSTEMS:
            live = build_system(system, seed=1, clock=clock, profiles=profiles)
            tracer = emulator_tracing(system, processors=[SimpleSpanProcessor(exporter)])
            assert tracer is not None
            enable_tracing(live, tracer)
            urls[system] = stack.enter_context(served(live.app))
            hosts[system] = live.host
        emulator_urls = dict(urls)
        partners = {s.supplier_id: s.edi_id for s in master_data().suppliers}
        engine = Engine(EngineConfig(OUR_EDI_ID, partners, functional_acks=True))

        async def make_driver() -> LiveDriver:
            driver = LiveDriver(
                engine,
                lambda: SqliteStore(store),
                HttpConnector(emulator_urls),
                default_planner(1),
            )
            await driver.start()
            return driver

        tracing = core_tracing("supplysync-core", processors=[SimpleSpanProcessor(exporter)])
        assert tracing is not None
        urls["core"] = stack.enter_context(served(create_app(make_driver, tracing=tracing)))
        for system in SYSTEMS:
            hook = {"url": f"{urls['core']}/webhooks/{system}"}
            r = httpx.put(f"{urls[system]}/__admin/subscription", json=hook, timeout=5)
            assert r.status_code == 200, r.text
        yield Traced(urls, hosts, exporter)


def trace_id(po_number: str) -> int:
    """The trace id the core gives a PO (``sync_core.flows.base.traceparent``)."""
    return int(hashlib.sha256(po_number.encode()).hexdigest()[:32], 16)


def service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"]).removeprefix("supplysync-")


def acknowledged(hosts: dict[str, Any], pos: dict[str, int]) -> bool:
    """Every line's acknowledgment applied at the ERP and the WMS."""
    lines = {f"po_line:{po}:{n}" for po, count in pos.items() for n in range(1, count + 1)}
    for system, field in (("erp", "confirmed_qty"), ("wms", "expected_qty")):
        seen = {c.entity for c in hosts[system].history if c.field == field}
        if lines - seen:
            return False
    return True


EVERY_PO_SPANS = {
    ("erp", "erp webhook"),  # the PO-created event, joined to the PO by its number
    ("core", "core webhook erp.po_changed"),
    ("core", "core erp get_purchase_order"),  # the thin event's read ...
    ("erp", "erp get_purchase_order"),  # ... as the ERP served it
    ("core", "core supplier post_edi"),  # the 850 ...
    ("supplier", "supplier receive_edi"),
    ("supplier", "supplier webhook"),  # ... its 855 ...
    ("core", "core webhook supplier.edi"),
    ("core", "core wms upsert_expected_receipts"),  # ... to the WMS and the ERP
    ("wms", "wms upsert_expected_receipts"),
    ("erp", "erp post_acknowledgment"),
    ("core", "core ap upsert_po_lines"),
    ("ap", "ap upsert_po_lines"),
}


def every_po_traced(spans: list[ReadableSpan], pos: dict[str, int]) -> bool:
    """Each PO's trace holds every span it must (a caller's span is exported when the
    answer has reached it, after the callee's)."""
    names: dict[int, set[tuple[str, str]]] = {}
    for span in spans:
        names.setdefault(span.context.trace_id, set()).add((service(span), span.name))
    return all(names.get(trace_id(po), set()) >= EVERY_PO_SPANS for po in pos)


def senders_finished(spans: list[ReadableSpan]) -> bool:
    """Every webhook span of the core has its sender's span among the finished ones."""
    ids = {s.context.span_id for s in spans}
    return all(
        s.parent is not None and s.parent.span_id in ids
        for s in spans
        if s.name.startswith("core webhook")
    )


def test_each_po_is_one_trace_across_erp_core_supplier_and_wms(tmp_path: Path) -> None:
    with traced_services(tmp_path / "core.sqlite") as run:
        pos = create_pos(run.urls["erp"], 4)
        assert wait_until(lambda: acknowledged(run.hosts, pos), timeout_s=20)
        # a span is exported when it ends, and a webhook's sending span ends only after the
        # core's answer reaches it: the ERP's last po_changed may still be in flight here
        wait_until(lambda: senders_finished(run.spans()), timeout_s=10)
        # and the core's call to the WMS may have been answered, its span not yet ended
        wait_until(lambda: every_po_traced(run.spans(), pos), timeout_s=10)
        spans = run.spans()
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        by_trace.setdefault(span.context.trace_id, []).append(span)
    for po in pos:
        mine = by_trace.get(trace_id(po), [])
        names = {(service(s), s.name) for s in mine}
        assert {service(s) for s in mine} >= {"erp", "core", "supplier", "wms"}, (po, names)
        assert names >= EVERY_PO_SPANS, (po, sorted(names))
        # every webhook the core took is the child of the span that sent it
        by_id = {s.context.span_id: s for s in mine}
        for hook in (s for s in mine if s.name.startswith("core webhook")):
            assert hook.parent is not None and hook.parent.span_id in by_id, hook.name
            sender = by_id[hook.parent.span_id]
            assert sender.name.endswith("webhook") and not hook.links, hook.name
    # the buyer's create request started before the PO had a number: a trace of its own,
    # which the ERP's webhook links to
    created = [s for s in spans if s.name == "erp post_purchase_order"]
    assert len(created) == len(pos)
    links = {link.context.span_id for s in spans if s.name == "erp webhook" for link in s.links}
    assert {s.context.span_id for s in created} <= links
    assert not {s.context.trace_id for s in created} & {trace_id(po) for po in pos}
    # the 997s the core sends answer a group of documents, not a PO: traces of their own
    acks = [s for s in spans if str((s.attributes or {}).get("supplysync.idempotency_key", ""))
            .startswith("997:")]  # fmt: skip
    assert acks and not {s.context.trace_id for s in acks} & {trace_id(po) for po in pos}


def test_serve_all_with_an_otlp_endpoint_nobody_listens_on_serves_and_stops(
    tmp_path: Path,
) -> None:
    base, collector = free_base(), free_port()
    err = tmp_path / "serve.err"
    with (tmp_path / "serve.out").open("w") as out, err.open("w") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scenarios.cli.main", "serve", "all", "--port-base", str(base),
             "--store", str(tmp_path / "core.sqlite"),
             "--otlp-endpoint", f"http://127.0.0.1:{collector}"],
            cwd=tmp_path, stdout=out, stderr=errors, text=True,
        )  # fmt: skip
    children: list[int] = []
    try:
        urls = [f"http://127.0.0.1:{base + k}" for k in range(5)]

        def healthy() -> bool:
            assert proc.poll() is None, err.read_text()
            try:
                return all(httpx.get(f"{u}/health", timeout=1).status_code == 200 for u in urls)
            except httpx.HTTPError:
                return False

        assert wait_until(healthy, timeout_s=60), err.read_text()
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
                    .read_text().split()]  # fmt: skip
        # a PO the whole way to the core: spans made, their export refused, serving goes on
        r = httpx.post(f"{urls[1]}{ERP_POS}", json=po_body(master_data(), 0), timeout=10)
        assert r.status_code == 201, r.text
        number = r.json()["OrderNumber"]
        known = f"{urls[0]}/purchase-orders/{number}"
        assert wait_until(lambda: httpx.get(known, timeout=2).status_code == 200, timeout_s=20)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
        took = time.monotonic() - started
    finally:
        for pid in [*children, proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    log = err.read_text()
    assert code == 0, log
    # the core flushes within SHUTDOWN_S of its stop, well before it would be killed
    assert took < 7.0, f"stopping took {took:.1f} s: {log[-2000:]}"
    assert "Traceback" not in log
    assert "Failed to export" in log or "Transient error" in log  # it did try to export
