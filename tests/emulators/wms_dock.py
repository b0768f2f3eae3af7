"""A WMS on a clock the test moves, its journal and events kept: the dock of the WMS's own
tests (``test_wms.py``, ``test_wms_model.py``), and the bodies they send it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from emulators._base import FactChange, Journal, Reply
from emulators.wms import Wms

EPOCH = dt.datetime(2024, 3, 1, 6, 0)
GLN = "0614141000012"


def asn_line(**over: Any) -> dict[str, Any]:
    """A ship notice's line 1: 10 BX of GTIN-1, lot LOT-A."""
    line = {"po_line_nbr": 1, "item_id": "GTIN-1", "shipped_qty": 10, "qty_uom": "BX",
            "lot_nbr": "LOT-A", "expiry_date": "2026-12-31"}  # fmt: skip
    return {**line, **over}


class Dock:
    """A WMS with its journal and event subscription captured, on a settable clock."""

    def __init__(self, **options: Any) -> None:
        self.t = 0.0
        self.facts: list[FactChange] = []
        self.events: list[dict[str, Any]] = []
        self.wms = Wms(
            Journal("wms", lambda: self.t, self.facts.append), lambda: self.t, EPOCH, **options
        )
        self.wms.listeners.append(self.events.append)

    def facts_of(self, field: str, po: str = "P1", line: int = 1) -> list[Any]:
        return [
            f.value for f in self.facts if (f.entity, f.field) == (f"po_line:{po}:{line}", field)
        ]

    def asn(self, asn_nbr: str = "ASN1", po: str = "P1", **line_over: Any) -> Reply:
        body = {"asn_nbr": asn_nbr, "po_nbr": po, "lines": [asn_line(**line_over)]}
        return self.wms.post_ship_notice(body)

    def receive(self, qty: int, key: str | None = None, **over: Any) -> Reply:
        body = {"asn_nbr": "ASN1", "po_line_nbr": 1, "received_qty": qty, **over}
        return self.wms.receive(body, key)

    def line(self, asn_nbr: str | None = "ASN1", po: str = "P1", n: int = 1) -> dict[str, Any]:
        reply = self.wms.get_receiving_line(po, n, asn_nbr)
        assert reply.ok, reply.body
        body: dict[str, Any] = reply.body
        return body


def expected_receipt(**over: Any) -> dict[str, Any]:
    """One expected receipt line, P1 line 1, 5 EA to the dock."""
    line = {"po_nbr": "P1", "po_line_nbr": 1, "item_id": "G", "dock_gln": GLN, "exp_qty": 5,
            "qty_uom": "EA"}  # fmt: skip
    return {**line, **over}
