"""Time per PO line, from 10 lines to 10,000: the core and each emulator must stay flat.

    python -m loadtests.bench_lines [--sizes 10,100,1000,10000] [--min-seconds 0.3]
                                    [--out out/bench_lines.json]

Each case is one step of a PO's life, done in this process on the real
behaviour (no HTTP, no SimPy), with the documents the other steps produced,
each crossing a JSON "wire" first as it would between systems:

- ``core: dispatch`` — ``Engine.handle`` of the ERP's PO document (version
  checks, the ERP mapper, the 850 writer, AP's PO lines) over a MemoryStore;
- ``core: 855`` — ``Engine.handle`` of the supplier's 855 for that PO (the X12
  reader, the ERP acknowledgment, the WMS expected receipts, the shortage
  exceptions);
- ``erp: create PO`` — ``Erp.post_purchase_order`` of the buyer's document;
- ``supplier: 850 intake`` — ``SupplierNetwork.receive_edi`` of the core's 850;
- ``supplier: acknowledge`` — the supplier's scheduled acknowledgment (its 855);
- ``wms: expected receipts`` — ``Wms.upsert_expected_receipts`` of the core's body;
- ``ap: PO lines`` — ``Ap.upsert_po_lines`` of the core's body.

Each repetition gets fresh systems (set up outside the timing); a case repeats
until ``--min-seconds`` of measured time and at least 3 times, and reports the
fastest repetition (as ``timeit`` does: on a machine shared with other work,
load only ever adds time).  The garbage collector runs as in production, after a full collection
before each repetition; the documents the cases start from are frozen out of
the collector's sight (``gc.freeze``), since a service does not hold a
benchmark's fixtures and the collector would otherwise rescan them, more of
them the larger the PO.  The baseline, in the same run, is a pure linear
operation on the same documents — ``json.dumps`` then ``json.loads`` of the
ERP's PO document — so its ratio shows what the machine alone does to the
flatness (caches, allocator), against which the others are read.

The figure of merit is, per case, the ratio of the largest to the smallest time
per line across the sizes: 1.0 is perfectly flat, a quadratic path gives ≈ the
ratio of the sizes.  Exit 1 when any case is above ``--max-ratio`` (2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import inspect
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulators._base import FactChange, Journal
from emulators.ap import Ap
from emulators.erp import Erp
from emulators.limits import Limits
from emulators.supplier import SupplierNetwork, SupplierProfile
from emulators.wms import Wms
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import Decision, Inbound, Kind, Request
from sync_core.store import MemoryStore

EPOCH = dt.datetime(2026, 3, 2, 8, 0)
NOW = EPOCH + dt.timedelta(hours=1)
OUR_EDI = "HOSPNET01"
PARTNERS = {"S1001": "SUPP1001"}
LIMIT_LINES = 100_000
GLN = "0614141000012"
GTINS = ("10012345678902", "50123450000170", "00614141000036")
# every third line partly backordered, one in seven clinical-critical: the 855 has detail
PROFILE = SupplierProfile(partial_rate=0.3, backorder_rate=0.1, critical_partial_rate=0.2)


def wire(body: Any) -> Any:
    return json.loads(json.dumps(body))


def buyer_po(lines: int) -> dict[str, Any]:
    """The buyer's native ERP document for a PO of ``lines`` lines."""
    return {
        "SupplierNumber": "S1001",
        "ShipToLocationGLN": GLN,
        "RequesterDepartment": "CC-01-120",
        "NeedByDate": "2026-03-09",
        "lines": [
            {"SupplierItem": f"NG-{n}", "ItemGTIN": GTINS[n % 3], "Quantity": 10 + n % 40,
             "UOMCode": "CA", "Price": 45.5 + n % 7, "CriticalSupply": "Y" if n % 7 == 0 else "N"}
            for n in range(1, lines + 1)
        ],
    }  # fmt: skip


def _limits(system: type) -> dict[str, Any]:
    """The emulators' input limits (999 lines by default) raised to admit the largest
    PO measured: the bench times the handling of what is admitted, admission included."""
    if "limits" not in inspect.signature(system).parameters:
        return {}
    big = 64 << 20
    limits = Limits(
        max_lines=LIMIT_LINES,
        max_body_bytes=big,
        max_interchange_bytes=big,
        max_segments=8 * LIMIT_LINES,
    )
    return {"limits": limits}


class _World:
    """The four emulators with a clock that stands still and timers fired by hand."""

    def __init__(self) -> None:
        self.facts: list[FactChange] = []
        self.timers: list[Callable[[], None]] = []
        self.published: list[dict[str, Any]] = []
        self.erp = Erp(self._journal("erp"), _clock, EPOCH, **_limits(Erp))
        self.supplier = SupplierNetwork(
            self._journal("supplier"), _clock, EPOCH, self._schedule, {"SUPP1001": PROFILE}, 7,
            **_limits(SupplierNetwork),
        )  # fmt: skip
        self.supplier.listeners.append(self.published.append)
        self.wms = Wms(self._journal("wms"), _clock, EPOCH, **_limits(Wms))
        self.ap = Ap(self._journal("ap"), _clock, EPOCH, **_limits(Ap))

    def _journal(self, system: str) -> Journal:
        return Journal(system, _clock, self.facts.append)

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        self.timers.append(action)

    def fire(self) -> None:
        due, self.timers = self.timers, []
        for action in due:
            action()


def _clock() -> float:
    return 0.0


def _only(decision: Decision, operation: str) -> Request:
    [request] = [r for r in decision.requests if r.operation == operation]
    return request


@dataclass
class _Documents:
    """What one PO of N lines looks like at each step, made once per size."""

    buyer: dict[str, Any]
    erp_doc: dict[str, Any]
    dispatch: Inbound
    edi_850: str
    ap_body: dict[str, Any]
    ack: Inbound
    wms_body: dict[str, Any]


def documents(lines: int) -> _Documents:
    """Carry one PO of ``lines`` lines through every step once, checking each answer."""
    world = _World()
    buyer = buyer_po(lines)
    created = world.erp.post_purchase_order(wire(buyer))
    assert created.status == 201, (created.status, created.body)
    number = created.body["OrderNumber"]
    erp_doc = wire(world.erp.get_purchase_order(number).body)
    dispatch = Inbound(f"erp:po:{number}:r1", Kind.ERP_PO_DOCUMENT, erp_doc)
    engine, store = Engine(EngineConfig(OUR_EDI, PARTNERS)), MemoryStore()
    dispatched = engine.handle(dispatch, NOW, store)
    store.commit(dispatched)
    edi_850 = wire(_only(dispatched, "post_edi").body)
    taken = world.supplier.receive_edi(edi_850)
    assert taken.status == 202, (taken.status, taken.body)
    world.fire()
    [doc_855] = world.published
    ack = Inbound("edi:1", Kind.SUPPLIER_EDI, wire(doc_855))
    acknowledged = engine.handle(ack, NOW, store)
    assert not acknowledged.dead_letters, acknowledged.dead_letters
    return _Documents(
        buyer=buyer,
        erp_doc=erp_doc,
        dispatch=dispatch,
        edi_850=edi_850,
        ap_body=wire(_only(dispatched, "upsert_po_lines").body),
        ack=ack,
        wms_body=wire(_only(acknowledged, "upsert_expected_receipts").body),
    )


# A case: (set-up outside the timing → the timed call), checked by its own assertion.
Case = Callable[[_Documents], Callable[[], Any]]


def _core_dispatch(d: _Documents) -> Callable[[], Any]:
    engine, store = Engine(EngineConfig(OUR_EDI, PARTNERS)), MemoryStore()
    return lambda: _ok_decision(engine.handle(d.dispatch, NOW, store))


def _core_855(d: _Documents) -> Callable[[], Any]:
    engine, store = Engine(EngineConfig(OUR_EDI, PARTNERS)), MemoryStore()
    store.commit(engine.handle(d.dispatch, NOW, store))
    return lambda: _ok_decision(engine.handle(d.ack, NOW, store))


def _ok_decision(decision: Decision) -> None:
    assert decision.requests and not decision.dead_letters, decision.dead_letters


def _erp_create(d: _Documents) -> Callable[[], Any]:
    erp, body = _World().erp, wire(d.buyer)
    return lambda: _status(erp.post_purchase_order(body), 201)


def _supplier_850(d: _Documents) -> Callable[[], Any]:
    supplier = _World().supplier
    return lambda: _status(supplier.receive_edi(d.edi_850), 202)


def _supplier_acknowledge(d: _Documents) -> Callable[[], Any]:
    world = _World()
    _status(world.supplier.receive_edi(d.edi_850), 202)

    def acknowledge() -> None:
        world.fire()
        assert len(world.published) == 1

    return acknowledge


def _wms_expected(d: _Documents) -> Callable[[], Any]:
    wms, body = _World().wms, wire(d.wms_body)
    return lambda: _status(wms.upsert_expected_receipts(body), 200)


def _ap_po_lines(d: _Documents) -> Callable[[], Any]:
    ap, body = _World().ap, wire(d.ap_body)
    return lambda: _status(ap.upsert_po_lines(body), 200)


def _status(reply: Any, expected: int) -> None:
    assert reply.status == expected, (reply.status, reply.body)


def _baseline(d: _Documents) -> Callable[[], Any]:
    return lambda: json.loads(json.dumps(d.erp_doc))


CASES: dict[str, Case] = {
    "core: dispatch (ERP PO → 850 + AP lines)": _core_dispatch,
    "core: 855 (→ ERP ack + WMS receipts)": _core_855,
    "erp: create PO": _erp_create,
    "supplier: 850 intake": _supplier_850,
    "supplier: acknowledge (its 855)": _supplier_acknowledge,
    "wms: expected receipts": _wms_expected,
    "ap: PO lines": _ap_po_lines,
    "baseline: JSON round trip of the PO": _baseline,
}


def measure(case: Case, docs: _Documents, lines: int, min_seconds: float) -> float:
    """Seconds of one call: the fastest repetition, as ``timeit`` reports (on a shared
    machine other processes only ever add time).  A repetition sets up ``k`` fresh systems, collects
    garbage, then times their ``k`` calls, ``k`` making about 1,000 lines a repetition
    (so a 10-line PO is not timed against the clock's resolution)."""
    k = max(1, 1000 // lines)
    times: list[float] = []
    while len(times) < 3 or (sum(times) * k < min_seconds and len(times) < 200):
        runs = [case(docs) for _ in range(k)]
        gc.collect()
        start = time.perf_counter()
        for run in runs:
            run()
        times.append((time.perf_counter() - start) / k)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,10000", help="PO lines, comma-separated")
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=0.3,
        help="measured time per case and size (at least 3 repetitions)",
    )
    parser.add_argument(
        "--gc",
        choices=("default", "served"),
        default="default",
        help="CPython's thresholds, or those `supplysync serve` gives the emulators "
        "(set-up frozen, young generation every 50,000 allocations)",
    )
    parser.add_argument("--max-ratio", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("out/bench_lines.json"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    if args.gc == "served":  # as emulators.web.serve.tune_gc
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 1000)
    started = time.monotonic()
    per_line: dict[str, dict[int, float]] = {name: {} for name in CASES}
    for n in sizes:
        docs = documents(n)
        gc.collect()
        gc.freeze()  # the bench's own documents: no service holds them in its heap
        for name, case in CASES.items():
            per_line[name][n] = measure(case, docs, n, args.min_seconds) / n
        del docs
        gc.unfreeze()
        print(f"  {n:>6} lines measured ({time.monotonic() - started:.0f} s)", file=sys.stderr)

    header = " | ".join(f"{n:,} lines" for n in sizes)
    table = [f"| case | {header} | max/min |", "|---" * (len(sizes) + 2) + "|"]
    summary: dict[str, Any] = {"sizes": sizes, "unit": "µs per line", "gc": args.gc, "cases": {}}
    worst = 0.0
    for name, by_size in per_line.items():
        ratio = max(by_size.values()) / min(by_size.values())
        if not name.startswith("baseline"):
            worst = max(worst, ratio)
        cells = " | ".join(f"{by_size[n] * 1e6:.2f}" for n in sizes)
        table.append(f"| {name} | {cells} | {ratio:.2f} |")
        summary["cases"][name] = {
            "us_per_line": {str(n): round(by_size[n] * 1e6, 3) for n in sizes},
            "ratio": round(ratio, 3),
        }
    print(f"µs per line (fastest repetition), gc {args.gc}:")
    print("\n".join(table))
    verdict = "flat" if worst <= args.max_ratio else "NOT flat"
    print(f"worst ratio {worst:.2f} (limit {args.max_ratio}): {verdict}; "
          f"{time.monotonic() - started:.0f} s in all")  # fmt: skip
    summary.update(worst_ratio=round(worst, 3), max_ratio=args.max_ratio)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if worst <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
