"""Ship notice: an 856 → the WMS's advance ship notice (one per order it carries)."""

from __future__ import annotations

from .context import Context
from .x12 import ShipNotice

__all__ = ["on_ship_notice"]


async def on_ship_notice(ctx: Context, notice: ShipNotice) -> None:
    body = {
        "asn_nbr": notice.asn,
        "po_nbr": notice.po,
        "ship_date": notice.date,
        "lines": [
            {
                "po_line_nbr": item.line,
                "item_id": item.item,
                "shipped_qty": item.qty,
                "qty_uom": item.uom,
                **({"lot_nbr": item.lot} if item.lot else {}),
                **({"expiry_date": item.expiry} if item.expiry else {}),
            }
            for item in notice.items
        ],
    }
    async with ctx.lock(notice.po):
        await ctx.systems.write("POST", "wms", "/ship-notices", body, f"856:{notice.asn}:wms")
