"""The buyers' change orders: a share of POs changed once, some time after they are placed.

Theory of operation: with ``demand.change_share`` above 0, :class:`BuyerChanges`
listens to the ERP's PO events; for each new PO (``ChangeType`` ``CREATE``) it draws
whether the buyer will change it and, if so, when (lognormal around
``demand.change_after_minutes``, sigma 0.5).  Then the buyer asks the ERP for one
change, drawn among those the PO admits: a line's quantity up or down (within the
demand's quantity range, never below what the supplier has shipped), its price down
(to 90-99 %: a price corrected to a lower negotiated one; above the contract AP would
rightly hold the invoice), a line canceled (when another stays and the supplier has
shipped none of it: the buyer asks first), or a line added (an item of the supplier's
catalog the PO does not hold).
The ERP bumps the PO's revision; the core sends it to the supplier as an 860 or a
replacement 850, as the partner's profile says (:func:`change_order_partners`).

Every draw comes from the stream given (``{seed}/demand/changes``), so a scenario
without changes draws nothing and runs as before; an ERP that refuses a change
(the PO closed, received past it) is counted, not retried.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from emulators.erp import Erp
from emulators.supplier import SupplierNetwork
from scenarios.spec.masterdata import MasterData, po_lines
from scenarios.spec.models import ScenarioSpec
from scenarios.spec.partners import partner_profiles

__all__ = ["BuyerChanges", "change_order_partners"]

_SIGMA = 0.5  # the spread of the delay from a PO to its change


def change_order_partners(spec: ScenarioSpec, master: MasterData) -> frozenset[str]:
    """The EDI ids whose profile takes changes as 860s (the core's ``change_orders``)."""
    profiles = partner_profiles(spec.suppliers, [s.edi_id for s in master.suppliers])
    return frozenset(edi for edi, p in profiles.items() if p.change_orders == "860")


class BuyerChanges:
    """One change to a share of POs (see the module docstring); counts what it did."""

    def __init__(
        self,
        spec: ScenarioSpec,
        master: MasterData,
        erp: Erp,
        schedule: Callable[[float, Callable[[], None]], None],
        rng: random.Random,
        supplier: SupplierNetwork,
    ) -> None:
        self.spec, self.master, self.erp, self.schedule, self.rng = spec, master, erp, schedule, rng
        self.supplier = supplier
        self.made: dict[str, int] = {}  # by kind: quantity, price, cancel, add
        self.refused = 0

    def watch(self) -> None:
        """Listen to the ERP's PO events, if the scenario changes POs at all (else draw nothing)."""
        if self.spec.demand.change_share > 0:
            self.erp.listeners.append(self.on_event)

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("eventType") != "PurchaseOrderChanged" or event.get("ChangeType") != "CREATE":
            return
        demand = self.spec.demand
        if self.rng.random() >= demand.change_share:
            return
        delay = demand.change_after_minutes * 60 * math.exp(self.rng.gauss(0.0, _SIGMA))
        number = event["OrderNumber"]
        self.schedule(delay, lambda: self.change(number))

    def change(self, number: str) -> None:
        """Ask the ERP for one change to PO ``number``, drawn among those it admits."""
        order = self.erp.get_purchase_order(number).body
        live = [ln for ln in order["lines"] if ln["LineStatus"] != "CANCELED"]
        if order.get("Status") != "OPEN" or not live:
            self.refused += 1
            return
        held = {ln["ItemGTIN"] for ln in order["lines"]}
        supplier = order["SupplierNumber"]
        others = [i for i in self.master.catalog(supplier) if i.gtin not in held]
        shipped = self._shipped(supplier, number)  # too late to cancel or cut below
        open_lines = [ln for ln in live if not shipped.get(ln["LineNumber"])]
        kinds = ["quantity", "price"] + (["cancel"] if len(live) > 1 and open_lines else [])
        kinds += ["add"] if others else []
        kind = self.rng.choice(kinds)
        line = self.rng.choice(open_lines if kind == "cancel" else live)
        body: dict[str, Any]
        if kind == "quantity":
            low, high = self.spec.demand.quantity
            floor = max(low, line["ReceivedQuantity"], shipped.get(line["LineNumber"], 0), 1)
            choices = [q for q in range(floor, high + 1) if q != line["Quantity"]]
            if not choices:
                kind, body = "price", self._price(line)
            else:
                body = {"lines": [{"LineNumber": line["LineNumber"],
                                   "Quantity": self.rng.choice(choices)}]}  # fmt: skip
        elif kind == "price":
            body = self._price(line)
        elif kind == "cancel":
            body = {"lines": [{"LineNumber": line["LineNumber"], "Action": "CANCEL"}]}
        else:
            body = {"lines": [self._new_line(self.rng.choice(others))]}
        if self.erp.change_purchase_order(number, body).ok:
            self.made[kind] = self.made.get(kind, 0) + 1
        else:
            self.refused += 1

    def _shipped(self, supplier_number: str, number: str) -> dict[int, int]:
        """What the supplier has shipped of each line (the buyer asks before cutting)."""
        edi = next(s.edi_id for s in self.master.suppliers if s.supplier_id == supplier_number)
        order = self.supplier.orders.get((edi, number))
        return {ln["po_line"]: ln["shipped"] for ln in order["lines"]} if order else {}

    def _price(self, line: dict[str, Any]) -> dict[str, Any]:
        price = round(line["Price"] * self.rng.uniform(0.9, 0.99), 2)
        if price >= line["Price"] or price < 0.01:
            return {"lines": [{"LineNumber": line["LineNumber"], "Quantity": line["Quantity"] + 1}]}
        return {"lines": [{"LineNumber": line["LineNumber"], "Price": price}]}

    def _new_line(self, item: Any) -> dict[str, Any]:
        return {"Action": "ADD", **po_lines([item], self.rng, self.spec.demand.quantity)[0]}
