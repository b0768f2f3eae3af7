"""Canonical acknowledgments to the WMS's expected receipts (snake_case JSON)."""

from __future__ import annotations

from typing import Any

from sync_core.errors import MappingError
from sync_core.model import Acknowledgment, PurchaseOrder

__all__ = ["expected_receipts"]


def expected_receipts(
    po: PurchaseOrder, ack: Acknowledgment, correlation_id: str | None
) -> dict[str, Any]:
    """One expected receipt per acknowledged line: the quantity the dock will see."""
    by_line = {line.line_no: line for line in po.lines}
    rows = []
    for line in ack.lines:
        ordered = by_line.get(line.line_no)
        if ordered is None:
            raise MappingError(
                "X12 855", f"PO1 line {line.line_no}", f"PO {po.po_number} has no such line"
            )
        dates = [a.expected_date for a in line.acks if a.expected_date is not None]
        rows.append(
            {
                "po_nbr": po.po_number,
                "po_line_nbr": line.line_no,
                "item_id": ordered.gtin,
                "dock_gln": po.ship_to,
                "exp_qty": line.confirmed_quantity,
                "backorder_qty": line.backordered_quantity,
                "qty_uom": line.uom.value,
                "exp_date": (min(dates) if dates else po.requested_date).isoformat(),
            }
        )
    return {"receipts": rows, "trace_id": correlation_id}
