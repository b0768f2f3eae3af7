"""The emulators as a scenario configures them: one function for ``live`` and ``serve``.

Theory of operation.  :func:`emulator_setup` turns a scenario (and a speed-up) into what
each emulator is built with, and nothing else decides it: the live run's emulators'
subprocess and ``supplysync serve --scenario``
both pass its :class:`EmulatorSetup` to :func:`emulators.web.serve.serve`.  That
subprocess is this module (``python -m scenarios.live.setup SCENARIO SEED SPEEDUP
PORT_BASE``, :func:`main`): it imports what the emulators need and nothing of the run
(its Locust, fault schedule and judgement), so they listen sooner.  It holds

- the **master data** of the scenario's network (:func:`master_records`): the ERP's
  vendors, items (numbered by GTIN), contract prices and ship-to locations, and AP's
  prices from the same contract — seeded, so they are there from the start and after
  every reset;
- the **supplier profiles**: the scenario's profile for each trading partner, every delay
  divided by the speed-up (:func:`scaled_profiles`), and the partner directory (EDI id →
  the ERP's supplier number and name) the supplier network lists;
- the ERP's **releases** (``erp.releases``): each at its time divided by the speed-up on
  the ERP's clock, which starts with the emulators (:func:`scenarios.spec.releases.releases`,
  the list a simulation's ERP switches by);
- the **steady faults** (error rate, latency, rate limit, webhook faults), which
  ``serve`` sets at once; a live run sets them itself when its clock starts (its master
  data load must not meet them), and plays the fault windows on its schedule.

:meth:`EmulatorSetup.describe` is the one line per system ``serve`` prints.  The date is an
input (``today``): contract prices take effect on it.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, replace
from typing import Any

from emulators.faults import Faults
from emulators.supplier import SupplierProfile
from scenarios.errors import EXIT_INPUT
from scenarios.live.options import SYSTEMS
from scenarios.spec.load import load_scenario
from scenarios.spec.masterdata import MasterData, generate, trading_profiles
from scenarios.spec.models import ScenarioSpec
from scenarios.spec.releases import releases

__all__ = [
    "EmulatorSetup",
    "emulator_setup",
    "main",
    "master_records",
    "scaled_profiles",
    "steady_faults",
]


@dataclass(frozen=True)
class EmulatorSetup:
    """What each emulator is built with for one scenario, seed and speed-up."""

    scenario: str
    seed: int
    speedup: float
    options: dict[str, dict[str, Any]]  # system -> its app factory's options
    faults: dict[str, Faults]  # system -> its steady faults

    def describe(self, system: str) -> str:
        """What ``system`` was configured with, in one line."""
        o = self.options.get(system, {})
        head = f"scenario {self.scenario}, seed {self.seed}, x{self.speedup:g}"
        if system == "erp":
            m = o["masters"]
            what = (
                f"{len(m['vendor'])} vendors, {len(m['item'])} items, "
                f"{len(m['contract_price'])} contract prices, {len(m['location'])} locations"
            )
            what += "".join(
                f", API {r.version} from {r.at_s:g} s real" for r in o.get("releases", ())
            )
        elif system == "supplier":
            profiles = o["profiles"]
            first = next(iter(profiles.values()))
            what = (
                f"{len(profiles)} trading partners, acknowledgment median "
                f"{first.ack_delay_median_s:g} s real"
            )
        elif system == "ap":
            what = f"{len(o['prices'])} contract prices"
        else:
            what = "no master data"
        return f"{head}: {what}; faults: {_fault_words(self.faults.get(system))}"


def steady_faults(spec: ScenarioSpec, system: str) -> Faults:
    """The faults in force all run long (windows are set and cleared on schedule)."""
    f = next((v for k, v in spec.faults.items() if k == system), None)
    if f is None:
        return Faults()
    return Faults(
        latency=f.latency, error_rate=f.error_rate, rate_limit=f.rate_limit, webhooks=f.webhooks
    )


def _fault_words(f: Faults | None) -> str:
    if f is None:
        return "none"
    words = []
    if f.error_rate is not None and f.error_rate.rate:
        words.append(f"{f.error_rate.rate:g} answered {f.error_rate.status}")
    if f.latency.median_ms:
        words.append(f"latency median {f.latency.median_ms:g} ms")
    if f.rate_limit is not None:
        words.append(f"rate limit {f.rate_limit.rps:g}/s")
    w = f.webhooks
    for name, rate in (("dropped", w.drop), ("duplicated", w.duplicate), ("reordered", w.reorder)):
        if rate:
            words.append(f"webhooks {rate:g} {name}")
    if w.delay.median_ms:
        words.append(f"webhooks delayed {w.delay.median_ms:g} ms")
    return ", ".join(words) or "none"


def master_records(
    master: MasterData, today: dt.date
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The ERP's masters (kind → records, as their create bodies) and AP's price rows (as
    ``PUT /prices`` takes them) for the network ``master``, contracts effective ``today``."""
    day = today.isoformat()
    locations = (master.procurement_office, *master.hospitals, *master.distribution_centers)
    erp: dict[str, list[dict[str, Any]]] = {
        "vendor": [{"SupplierNumber": s.supplier_id, "Name": s.name} for s in master.suppliers],
        "item": [
            {
                "ItemNumber": i.gtin,
                "GTIN": i.gtin,
                "Description": i.description,
                "UOMCode": i.order_uom.value,
                "ListPrice": i.unit_price,
            }
            for i in master.items
        ],
        "contract_price": [
            {
                "SupplierNumber": i.supplier_id,
                "ItemNumber": i.gtin,
                "ContractPrice": i.unit_price,
                "EffectiveFrom": day,
            }
            for i in master.items
        ],
        "location": [
            {"LocationGLN": loc.gln, "Name": loc.name, "Kind": loc.kind.value.upper()}
            for loc in locations
        ],
    }
    ap = [
        {"vendor_num": i.supplier_id, "item_id": i.gtin, "uom": i.order_uom.value,
         "unit_price": i.unit_price, "effective_date": day}
        for i in master.items
    ]  # fmt: skip
    return erp, ap


def scaled_profiles(spec: ScenarioSpec, speedup: float) -> dict[str, SupplierProfile]:
    """The scenario's supplier profile for each trading partner (its own where
    ``suppliers.partners`` names it, with its catalog where invoices need one), every
    delay / speedup."""
    return {
        edi: replace(
            p,
            ack_delay_median_s=p.ack_delay_median_s / speedup,
            duplicate_delay_s=p.duplicate_delay_s / speedup,
            ship_delay_median_s=p.ship_delay_median_s / speedup,
            invoice_delay_median_s=p.invoice_delay_median_s / speedup,
            duplicate_invoice_delay_s=p.duplicate_invoice_delay_s / speedup,
        )
        for edi, p in trading_profiles(spec.suppliers, generate(spec.network, spec.seed)).items()
    }


def _release_options(spec: ScenarioSpec, speedup: float) -> dict[str, Any]:
    """The ERP's releases at ``speedup`` (none: no option, the ERP as without releases)."""
    if not spec.erp.releases:
        return {}
    return {"releases": releases(spec, speedup), "base_version": spec.erp.base_version}


def emulator_setup(spec: ScenarioSpec, speedup: float, today: dt.date) -> EmulatorSetup:
    """The emulators of ``spec`` (its seed, its network) at ``speedup``."""
    master = generate(spec.network, spec.seed)
    erp, ap = master_records(master, today)
    partners = {
        s.edi_id: {"SupplierNumber": s.supplier_id, "Name": s.name} for s in master.suppliers
    }
    return EmulatorSetup(
        scenario=spec.name,
        seed=spec.seed,
        speedup=speedup,
        options={
            "erp": {"masters": erp, **_release_options(spec, speedup)},
            "supplier": {"profiles": scaled_profiles(spec, speedup), "partners": partners},
            "ap": {"prices": ap},
        },
        faults={system: steady_faults(spec, system) for system in SYSTEMS},
    )


def serve_emulators(scenario: str, seed: int, speedup: float, port_base: int) -> int:
    """A live run's emulators, configured by :func:`emulator_setup` as ``serve --scenario``
    configures them but for the steady faults (the run sets them when its clock starts,
    after its master data load), served on ``port_base`` + each one's offset until
    stopped."""
    from emulators.web.serve import ListenError, serve

    spec = load_scenario(scenario, seed=seed)
    setup = emulator_setup(spec, speedup, dt.date.today())
    try:
        serve(
            list(SYSTEMS),
            port_base=port_base,
            seed=seed,
            options={},
            per_system=setup.options,
            notes={s: setup.describe(s) for s in SYSTEMS},
        )
    except ListenError as e:  # the run shows this line from the log
        print(f"supplysync: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m scenarios.live.setup SCENARIO SEED SPEEDUP PORT_BASE`` (a live run's
    emulators' subprocess, see :class:`~scenarios.live.procs.EmulatorsProcess`)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        scenario, seed, speedup, base = args[0], int(args[1]), float(args[2]), int(args[3])
    except (IndexError, ValueError):
        print("usage: python -m scenarios.live.setup SCENARIO SEED SPEEDUP PORT_BASE",
              file=sys.stderr)  # fmt: skip
        return EXIT_INPUT
    return serve_emulators(scenario, seed, speedup, base)


if __name__ == "__main__":
    sys.exit(main())
