"""Acknowledgment: an 855 → the ERP's acknowledgment and the WMS's expected receipts.

Applied only if its revision (``REF*PP``) is newer than the one applied for the PO: a
duplicate 855 from the VAN (a new document, the same revision) and a late one change
nothing.  The PO document kept at dispatch gives the WMS its GTINs and dock.
"""

from __future__ import annotations

from .context import Context
from .systems import Refused
from .x12 import Acknowledgment

__all__ = ["on_acknowledgment"]


async def on_acknowledgment(ctx: Context, ack: Acknowledgment) -> None:
    if ctx.settings.drop_acknowledgments:
        return  # the defect: acknowledged to the VAN, told to nobody
    async with ctx.lock(ack.po):
        applied, _ = ctx.store.acknowledged(ack.po)
        if ack.revision <= applied:
            return
        known = ctx.store.order(ack.po)
        if known is None:
            raise Refused(f"855 for PO {ack.po}, which this middleware never dispatched")
        order, _ = known
        by_number = {ln["LineNumber"]: ln for ln in order["lines"]}
        if any(line.line not in by_number for line in ack.lines):
            raise Refused(f"855 for PO {ack.po} names a line the PO does not have")
        key = f"855:{ack.po}:{ack.revision}"
        erp = {
            "AcknowledgmentRevision": ack.revision,
            "lines": [
                {
                    "LineNumber": line.line,
                    "SupplierConfirmedQuantity": line.confirmed,
                    "BackorderedQuantity": line.backordered,
                    "AcknowledgmentStatus": line.status,
                }
                for line in ack.lines
            ],
        }
        await ctx.systems.write(
            "POST", "erp", f"/purchaseOrders/{ack.po}/acknowledgments", erp, f"{key}:erp"
        )
        rows = [
            {
                "po_nbr": ack.po,
                "po_line_nbr": line.line,
                "item_id": by_number[line.line]["ItemGTIN"],
                "dock_gln": order["ShipToLocationGLN"],
                "exp_qty": line.confirmed,
                "backorder_qty": line.backordered,
                "qty_uom": by_number[line.line]["UOMCode"],
            }
            for line in ack.lines
        ]
        await ctx.systems.write(
            "POST", "wms", "/expected-receipts", {"receipts": rows}, f"{key}:wms"
        )
        ctx.store.applied(ack.po, ack.revision, {line.line: line.confirmed for line in ack.lines})
