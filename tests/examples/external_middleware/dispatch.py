"""PO dispatch: an ERP PurchaseOrderChanged → read the PO → an 850 and AP's PO lines.

A revision goes out only if it is newer than the one dispatched (the event may be late,
repeated, or announce our own acknowledgment or receipt).  A revision that cancels lines
also zeroes their expected receipts at the WMS once they were acknowledged.
"""

from __future__ import annotations

from typing import Any

from . import x12
from .context import Context
from .systems import Refused

__all__ = ["on_purchase_order_changed"]


async def on_purchase_order_changed(ctx: Context, event: dict[str, Any]) -> None:
    po = str(event["OrderNumber"])
    async with ctx.lock(po):
        known = ctx.store.order(po)
        if known is not None and event["RevisionNumber"] <= known[1]:
            return  # nothing newer than what went out (our own writes announce themselves)
        order = await ctx.systems.read("erp", f"/purchaseOrders/{po}")
        await _dispatch(ctx, order, known[1] if known else 0)


async def _dispatch(ctx: Context, order: dict[str, Any], sent: int) -> None:
    po, revision = order["OrderNumber"], order["RevisionNumber"]
    if revision <= sent:
        return
    partner = ctx.settings.partner(order["SupplierNumber"])
    if partner is None:
        raise Refused(f"PO {po}: no EDI trading partner for {order['SupplierNumber']}")
    ctx.store.keep_order(order)
    interchange = x12.write_850(
        order, sender=ctx.settings.edi_id, receiver=partner, control=ctx.store.next_control()
    )
    key = f"850:{po}:{revision}"
    await ctx.systems.write("POST", "supplier", "/inbound", interchange, key, x12=True)
    lines = [
        {
            "po_number": po,
            "po_line_number": ln["LineNumber"],
            "item_id": ln["ItemGTIN"],
            "quantity_ordered": 0 if ln["LineStatus"] == "CANCELED" else ln["Quantity"],
            "unit_price": ln["Price"],
            "uom": ln["UOMCode"],
        }
        for ln in order["lines"]
    ]
    await ctx.systems.write("PUT", "ap", "/po-lines", {"po_lines": lines}, f"{key}:ap")
    _, confirmed = ctx.store.acknowledged(po)
    canceled = [
        ln
        for ln in order["lines"]
        if ln["LineStatus"] == "CANCELED" and confirmed.get(ln["LineNumber"])
    ]
    if canceled:
        rows = [
            {
                "po_nbr": po,
                "po_line_nbr": ln["LineNumber"],
                "item_id": ln["ItemGTIN"],
                "dock_gln": order["ShipToLocationGLN"],
                "exp_qty": 0,
                "qty_uom": ln["UOMCode"],
            }
            for ln in canceled
        ]
        await ctx.systems.write(
            "POST", "wms", "/expected-receipts", {"receipts": rows}, f"{key}:wms"
        )
    ctx.store.dispatched(po, revision)
