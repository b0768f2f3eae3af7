"""The people and places a simulated run plays, around the four systems.

Why apart from :mod:`scenarios.sim.network`: these are the scenario's actors, not the
wiring — central procurement raising POs for the hospitals' demand (:class:`Buyers`),
the receiving dock unloading trucks into the WMS (:class:`Dock`), the contract office
changing prices (:class:`PriceChange`) and the masters loaded before anyone listens
(:func:`load_masters`).  Each draws from the random stream it is given, so the draws,
and a run's results, do not depend on where the code lives.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Generator
from typing import Any

import simpy

from analysis.history import History
from emulators.ap import Ap
from emulators.erp import Erp
from emulators.wms import Wms
from emulators.x12 import ShipNotice, ShippedItem
from scenarios.spec.masterdata import MasterData, po_lines
from scenarios.spec.models import ScenarioSpec

__all__ = ["Buyers", "Dock", "PriceChange", "load_masters"]


def load_masters(erp: Erp, ap: Ap, master: MasterData, start: dt.date) -> None:
    """The network's masters in the ERP, and AP's prices from the same contract: the
    state both systems agree on before the run.  Items are numbered by GTIN."""
    for s in master.suppliers:
        erp.create_vendor({"SupplierNumber": s.supplier_id, "Name": s.name})
    rows = []
    for i in master.items:
        erp.create_item(
            {
                "ItemNumber": i.gtin,
                "GTIN": i.gtin,
                "Description": i.description,
                "UOMCode": i.order_uom.value,
                "ListPrice": i.unit_price,
            }
        )
        erp.create_contract_price(
            {
                "SupplierNumber": i.supplier_id,
                "ItemNumber": i.gtin,
                "ContractPrice": i.unit_price,
                "EffectiveFrom": start.isoformat(),
            }
        )
        rows.append(
            {
                "vendor_num": i.supplier_id,
                "item_id": i.gtin,
                "uom": i.order_uom.value,
                "unit_price": i.unit_price,
                "effective_date": start.isoformat(),
            }
        )
    if rows:
        ap.upsert_prices({"prices": rows}, "initial-load")


class PriceChange:
    """A new contract: the ERP's price of a share of the catalog changes at once."""

    def __init__(self, erp: Erp, master: MasterData, change: Any, rng: random.Random) -> None:
        self.erp, self.master, self.change, self.rng = erp, master, change, rng

    def apply(self) -> None:
        items = sorted(self.master.items, key=lambda i: i.gtin)
        chosen = self.rng.sample(items, round(len(items) * self.change.item_share))
        for item in chosen:
            current = self.erp.get_contract_price(item.supplier_id, item.gtin).body
            price = round(current["ContractPrice"] * self.rng.uniform(*self.change.factor), 2)
            self.erp.update_contract_price(
                item.supplier_id, item.gtin, {"ContractPrice": max(price, 0.01)}
            )


class Dock:
    """The receiving dock: goods arrive some hours after the supplier ships them.

    The dock works from the packing list in the truck (the supplier's own
    :class:`~emulators.x12.ShipNotice`, what its 856 is rendered from — the
    physical shipment, not the data the sync core carries).  It receives each
    line against the ship notice when the WMS has it, else against the PO line's
    expected receipt; when the WMS knows neither yet, the goods wait on the dock
    and are tried again every hour, for up to three days.
    """

    TRANSIT_MEDIAN_S = 6 * 3600.0
    RETRY_S = 3600.0
    PATIENCE = 72

    def __init__(self, env: simpy.Environment, wms: Wms, rng: random.Random) -> None:
        self.env, self.wms, self.rng = env, wms, rng
        self.received = 0
        self.given_up = 0

    def on_shipment(self, notice: ShipNotice) -> None:
        transit = self.TRANSIT_MEDIAN_S * math.exp(self.rng.gauss(0.0, 0.5))
        for order in notice.orders:
            for item in order.items:
                self.env.process(self._receive(transit, notice.shipment_id, order.po_number, item))

    def _receive(
        self, transit: float, asn: str, po_number: str, item: ShippedItem
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(transit)
        expiry = f"{item.expiry[:4]}-{item.expiry[4:6]}-{item.expiry[6:]}" if item.expiry else None
        for _ in range(self.PATIENCE):
            for ref in ({"asn_nbr": asn}, {"po_nbr": po_number}):
                body = {
                    **ref,
                    "po_line_nbr": item.po_line,
                    "received_qty": item.qty,
                    "lot_nbr": item.lot,
                    "expiry_date": expiry,
                }
                reply = self.wms.receive(body)
                if reply.status < 300:
                    self.received += 1
                    return
                if reply.status != 404:
                    self.given_up += 1  # the WMS refused it: a person sorts it out
                    return
            yield self.env.timeout(self.RETRY_S)
        self.given_up += 1


class Buyers:
    """Central procurement raising POs for the hospitals' demand.

    With ``erp.phi`` in the scenario a share of the POs are case POs (a case cart, a
    bill-only implant): shipped to the hospital, naming a synthetic patient MRN (the
    hospital's prefix, 7 digits) and the procedure date.  Those draws come from
    ``cases``, a stream of their own, so the demand's draws stay what they were.
    """

    def __init__(
        self,
        env: simpy.Environment,
        spec: ScenarioSpec,
        master: MasterData,
        erp: Erp,
        rng: random.Random,
        history: History,
        cases: random.Random | None = None,
    ) -> None:
        self.env, self.spec, self.master, self.erp, self.rng = env, spec, master, erp, rng
        self.history = history
        self.cases = cases
        self.pos = 0
        self.lines = 0

    def _rate_per_s(self, t: float) -> float:
        """Orders per second at time ``t`` (piecewise constant: hours and weekdays)."""
        d = self.spec.demand
        moment = self.spec.start + dt.timedelta(seconds=t)
        start, end = d.working_hours
        if not start <= moment.hour < end:
            return 0.0
        return d.pos_per_day * d.weekday_factor[moment.weekday()] / ((end - start) * 3600)

    def run(self) -> Generator[simpy.Event, Any, None]:
        """Thinning of a Poisson process against the peak rate (Lewis & Shedler)."""
        d = self.spec.demand
        peak = (
            d.pos_per_day
            * max(d.weekday_factor)
            / ((d.working_hours[1] - d.working_hours[0]) * 3600)
        )
        stop = self.spec.duration_days * 86400
        if peak <= 0:
            return
        while True:
            yield self.env.timeout(self.rng.expovariate(peak))
            if self.env.now >= stop:
                return
            if self.rng.random() * peak < self._rate_per_s(self.env.now):
                self._order()

    def _order(self) -> None:
        rng, master, d = self.rng, self.master, self.spec.demand
        hospital = rng.choice(master.hospitals)
        supplier = rng.choice(master.suppliers)
        catalog = master.catalog(supplier.supplier_id)
        if not catalog:
            return
        count = min(len(catalog), rng.randint(*d.lines_per_po))
        items = rng.sample(catalog, count)
        critical = any(i.critical for i in items)
        dc = master.serving_dc.get(hospital.gln)
        today = (self.spec.start + dt.timedelta(seconds=self.env.now)).date()
        site = master.hospitals.index(hospital) + 1
        case = self._case(site, today)
        ship_to = hospital if critical or case or dc is None else dc
        order = self.erp.create_purchase_order(
            supplier_number=supplier.supplier_id,
            ship_to_gln=ship_to.gln,
            department=f"CC-{site:02d}-{rng.randint(100, 180)}",
            need_by=today + dt.timedelta(days=2 if critical else 5),
            lines=po_lines(items, rng, d.quantity),
            case=case,
        )
        self.history.priority(f"po:{order['OrderNumber']}", "critical" if critical else "routine")
        self.pos += 1
        self.lines += count

    def _case(self, site: int, today: dt.date) -> tuple[str, dt.date] | None:
        """A case PO's patient MRN and procedure date, or None for a stock PO."""
        phi = self.spec.erp.phi
        if phi is None or self.cases is None or self.cases.random() >= phi.case_share:
            return None
        mrn = f"H{site:02d}-{self.cases.randrange(10**7):07d}"
        return mrn, today - dt.timedelta(days=self.cases.randint(*phi.procedure_days_before))
