"""AP on a clock the test holds, its journal and events kept, and the bodies its tests send
it (``test_ap.py``, ``test_ap_model.py``, ``test_ap_uom.py``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from emulators._base import FactChange, Journal, Reply
from emulators.ap import Ap

EPOCH = dt.datetime(2024, 3, 1, 8, 0)
PO = "4500000001"
VENDOR = "S1001"


@dataclass
class World:
    ap: Ap
    changes: list[FactChange] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    now: list[float] = field(default_factory=lambda: [0.0])

    def facts(self, entity: str, field_name: str) -> list[Any]:
        return [c.value for c in self.changes if c.entity == entity and c.field == field_name]


def make_world(**options: Any) -> World:
    changes: list[FactChange] = []
    now = [0.0]
    ap = Ap(Journal("ap", lambda: now[0], changes.append), lambda: now[0], EPOCH, **options)
    world = World(ap, changes, now=now)
    ap.listeners.append(world.events.append)
    return world


def po_lines(*lines: tuple[int, int, float], po: str = PO) -> dict[str, Any]:
    """PO lines as (line, ordered qty, unit price); item ``ITEM-<line>`` by the CA."""
    return {
        "po_lines": [
            {
                "po_number": po,
                "po_line_number": n,
                "item_id": f"ITEM-{n}",
                "quantity_ordered": qty,
                "unit_price": price,
                "uom": "CA",
            }
            for n, qty, price in lines
        ]
    }


def receipt(number: str, received: dict[int, int], po: str = PO) -> dict[str, Any]:
    return {
        "receipt_num": number,
        "po_number": po,
        "lines": [{"po_line_number": n, "quantity_received": q} for n, q in received.items()],
    }


def invoice(
    number: str,
    *lines: tuple[int, int, float],
    total: float | None = None,
    date: str = "2024-03-05",
    vendor: str = VENDOR,
) -> dict[str, Any]:
    """An invoice of (PO line, quantity, unit price); the total is the lines' sum unless given."""
    cents = sum(q * round(p * 100) for _, q, p in lines)
    return {
        "vendor_num": vendor,
        "invoice_num": number,
        "invoice_date": date,
        "po_number": PO,
        "invoice_amount": cents / 100 if total is None else total,
        "lines": [
            {"po_line_number": n, "quantity_invoiced": q, "unit_price": p} for n, q, p in lines
        ],
    }


def ready(*lines: tuple[int, int, float], received: int | None = None, **options: Any) -> World:
    """A world with the PO lines known to AP and (by default) fully received."""
    world = make_world(**options)
    assert world.ap.upsert_po_lines(po_lines(*lines)).ok
    got = {n: qty if received is None else received for n, qty, _ in lines}
    if any(got.values()):
        assert world.ap.post_receipt(receipt("R-1", {n: q for n, q in got.items() if q})).ok
    return world


def open_holds(reply: Reply) -> list[dict[str, Any]]:
    return [h for h in reply.body["holds"] if h["hold_status"] == "open"]
