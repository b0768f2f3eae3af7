"""Receipts: a WMS receipt.created → read the receipt → the ERP's and AP's receipts.

The WMS's ``receipt_id`` is the receipt number downstream and the idempotency keys'
root, so a receipt redelivered after a failed AP write relieves the ERP once.
"""

from __future__ import annotations

from typing import Any

from .context import Context

__all__ = ["on_receipt_created"]


async def on_receipt_created(ctx: Context, event: dict[str, Any]) -> None:
    receipt = await ctx.systems.read("wms", f"/receipts/{event['receipt_id']}")
    if not receipt["received_qty"]:
        return  # the dock refused it all: nothing received
    po, number, line = receipt["po_nbr"], receipt["receipt_id"], receipt["po_line_nbr"]
    erp = {
        "ReceiptNumber": number,
        "lines": [{"LineNumber": line, "QuantityReceived": receipt["received_qty"]}],
    }
    ap = {
        "receipt_num": number,
        "po_number": po,
        "lines": [{"po_line_number": line, "quantity_received": receipt["received_qty"]}],
    }
    async with ctx.lock(po):
        await ctx.systems.write(
            "POST", "erp", f"/purchaseOrders/{po}/receipts", erp, f"rcv:{number}:erp"
        )
        await ctx.systems.write("POST", "ap", "/receipts", ap, f"rcv:{number}:ap")
