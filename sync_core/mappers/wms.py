"""The WMS's snake_case JSON: expected receipts and ship notices out, receipts in.

An acknowledgment's expected receipts are made with its ERP body, in one pass over its
lines (:func:`sync_core.mappers.ack_lines.acknowledged`); here, those of canceled lines."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from sync_core.errors import MappingError
from sync_core.model import (
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ShipNotice,
    gs1_check_digit,
)

__all__ = ["canceled_receipts", "receipt_from_wms", "ship_notice"]


def canceled_receipts(
    po: PurchaseOrder, lines: tuple[PurchaseOrderLine, ...], correlation_id: str | None
) -> dict[str, Any]:
    """Canceled lines expect nothing any more: their expected receipts go to 0."""
    return {
        "receipts": [
            {
                "po_nbr": po.po_number,
                "po_line_nbr": line.line_no,
                "item_id": line.gtin,
                "dock_gln": po.ship_to,
                "exp_qty": 0,
                "backorder_qty": 0,
                "qty_uom": line.uom.value,
            }
            for line in lines
        ],
        "trace_id": correlation_id,
    }


def _is_gtin14(value: str) -> bool:
    return len(value) == 14 and value.isdigit() and gs1_check_digit(value[:-1]) == value[-1]


def ship_notice(notice: ShipNotice, correlation_id: str | None) -> dict[str, Any]:
    """The WMS's advance ship notice: one expected line per shipped PO line."""
    return {
        "asn_nbr": notice.asn_number,
        "po_nbr": notice.po_number,
        "ship_date": notice.ship_date.isoformat(),
        "trace_id": correlation_id,
        "bol_nbr": notice.bill_of_lading,
        "lines": [
            {
                "po_line_nbr": line.line_no,
                "item_id": line.gtin or line.vendor_part,
                "shipped_qty": line.quantity,
                "qty_uom": line.uom.value,
                "lot_nbr": line.lot,
                "expiry_date": line.expiry.isoformat() if line.expiry else None,
                "sscc": line.sscc,
                "gtin": line.gtin if _is_gtin14(line.gtin) else None,  # scannable
            }
            for line in notice.lines
        ],
    }


def receipt_from_wms(doc: Any) -> Receipt:
    """A WMS receipt (``GET /receipts/{id}``) to canonical."""
    if not isinstance(doc, dict):
        raise MappingError("WMS receipt", "$", "expected a JSON object")
    try:
        return Receipt(
            receipt_id=doc["receipt_id"],
            po_number=doc["po_nbr"],
            line_no=doc["po_line_nbr"],
            received_quantity=doc["received_qty"],
            rejected_quantity=doc.get("rejected_qty") or 0,
        )
    except KeyError as e:
        raise MappingError("WMS receipt", str(e.args[0]), "missing") from None
    except ValidationError as e:
        first = e.errors()[0]
        raise MappingError("WMS receipt", str(first["loc"][0]), first["msg"]) from None
