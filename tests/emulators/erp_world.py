"""The ERP on a clock the test moves, with every fact and event it emits kept: the world
of the ERP's own tests (``test_erp.py``, ``test_erp_orders.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulators._base import FactChange, Journal
from emulators.erp import Erp
from tests.builders import EPOCH, GTIN_1, GTIN_2, erp_po_body


@dataclass
class World:
    t: float = 0.0
    facts: list[FactChange] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    erp: Erp = field(init=False)

    def make(self, **options: Any) -> Erp:
        journal = Journal("erp", lambda: self.t, self.facts.append)
        self.erp = Erp(journal, lambda: self.t, EPOCH, **options)
        self.erp.listeners.append(self.events.append)
        return self.erp

    @classmethod
    def made(cls, **options: Any) -> World:
        world = cls()
        world.make(**options)
        return world

    def facts_of(self, field_name: str, entity: str | None = None) -> list[FactChange]:
        return [
            f
            for f in self.facts
            if f.field == field_name and (entity is None or f.entity == entity)
        ]

    def po(self, **kw: Any) -> str:
        reply = self.erp.post_purchase_order(erp_po_body(**kw))
        assert reply.status == 201, reply.body
        return str(reply.body["OrderNumber"])

    def masters(self) -> None:
        """Vendor S1001, item IT-1 and its contract price 40.0; ``po_body``'s other item
        (once the ERP has an item master, a PO's items must be in it)."""
        assert self.erp.create_vendor({"SupplierNumber": "S1001", "Name": "Medline"}).ok
        item = {"ItemNumber": "IT-1", "GTIN": GTIN_1, "Description": "Gloves nitrile M",
                "UOMCode": "CA", "ListPrice": 50.0}  # fmt: skip
        assert self.erp.create_item(item).ok
        other = {"ItemNumber": "SY-10", "GTIN": GTIN_2, "Description": "Syringe 10 mL",
                 "UOMCode": "BX", "ListPrice": 12.0}  # fmt: skip
        assert self.erp.create_item(other).ok
        price = {"SupplierNumber": "S1001", "ItemNumber": "IT-1", "ContractPrice": 40.0,
                 "EffectiveFrom": "2024-01-01"}  # fmt: skip
        assert self.erp.create_contract_price(price).ok


def etag_of(erp: Erp, number: str) -> str:
    return erp.get_purchase_order(number).headers["etag"]
