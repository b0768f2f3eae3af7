"""Canonical documents to the AP system's payables interface (Oracle-like, lower-case).

AP matches each invoice line against reference data the integration feeds it:
the PO lines (ordered quantity and price), the goods received, and contract
prices.  Items are identified by GTIN in every AP document, so a PO line, its
invoice lines and a contract price meet on the same ``item_id``.

Units: the 810's own unit (IT103) is never converted along the item's ladder; a
line billed in another unit than its PO line was ordered in carries it as ``uom``
(a line in the ordered unit names none: AP takes the PO line's, and its body is
what it always was).  A supplier that bills a case-ordered line by
the each is AP's exception to raise (hold ``UOM``, a ``uom_mismatch``), not the
middleware's to smooth over: the AP team must see it and have it rebilled, and a
silent conversion would pay an invoice on a unit nobody ordered (and on a ladder
the supplier may not share).
"""

from __future__ import annotations

from typing import Any

from sync_core.model import Invoice, PurchaseOrder, PurchaseOrderLine, Receipt

__all__ = ["invoice", "po_lines", "prices", "receipt"]


def po_lines(
    po: PurchaseOrder, correlation_id: str | None, dropped: tuple[PurchaseOrderLine, ...] = ()
) -> dict[str, Any]:
    """The PO's lines as AP matches against them; ``dropped`` lines (canceled since the
    last revision) and every line of a canceled PO go with quantity 0."""
    live = () if po.canceled else po.lines
    gone = po.lines if po.canceled else dropped
    # Which quantity a line carries follows from the list it came from: one pass over
    # each, never a search of one in the other (a PO may have tens of thousands of lines).
    return {
        "po_lines": [
            *(_po_line(po, line, line.quantity) for line in live),
            *(_po_line(po, line, 0) for line in gone),
        ],
        "correlation_id": correlation_id,
    }


def _po_line(po: PurchaseOrder, line: PurchaseOrderLine, quantity: int) -> dict[str, Any]:
    return {
        "po_number": po.po_number,
        "po_line_number": line.line_no,
        "item_id": line.gtin,
        "quantity_ordered": quantity,
        "unit_price": line.unit_price,
        "uom": line.uom.value,
    }


def receipt(r: Receipt, correlation_id: str | None) -> dict[str, Any]:
    return {
        "receipt_num": r.receipt_id,
        "po_number": r.po_number,
        "lines": [{"po_line_number": r.line_no, "quantity_received": r.received_quantity}],
        "correlation_id": correlation_id,
    }


def invoice(
    inv: Invoice, correlation_id: str | None, po: PurchaseOrder | None = None
) -> dict[str, Any]:
    """AP's invoice; a line billed in another unit than its line of ``po`` names that unit."""
    ordered = {line.line_no: line.uom for line in po.lines} if po is not None else {}
    return {
        "vendor_num": inv.supplier_id,
        "invoice_num": inv.invoice_number,
        "invoice_date": inv.invoice_date.isoformat(),
        "po_number": inv.po_number,
        "invoice_amount": inv.total,
        "lines": [
            {
                "po_line_number": line.line_no,
                "quantity_invoiced": line.quantity,
                "unit_price": line.unit_price,
                **(
                    {"uom": line.uom.value}
                    if ordered.get(line.line_no, line.uom) != line.uom
                    else {}
                ),
            }
            for line in inv.lines
        ],
        "correlation_id": correlation_id,
    }


def prices(doc: dict[str, Any], gtin: str, uom: str, correlation_id: str | None) -> dict[str, Any]:
    """An ERP contract price (``SupplierNumber``, ``ItemNumber``, ``ContractPrice``,
    ``EffectiveFrom``) as AP's price row for the item's GTIN and ordering unit."""
    return {
        "prices": [
            {
                "vendor_num": doc["SupplierNumber"],
                "item_id": gtin,
                "uom": uom,
                "unit_price": doc["ContractPrice"],
                "effective_date": doc.get("EffectiveFrom"),
            }
        ],
        "correlation_id": correlation_id,
    }
