"""ERP purchase orders (Fusion-like JSON) to canonical, acknowledgments back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from sync_core.errors import MappingError
from sync_core.model import Acknowledgment, PurchaseOrder, PurchaseOrderLine

__all__ = ["acknowledgment_to_erp", "purchase_order_from_erp"]

_DOC = "ERP purchase order"
# canonical field -> the ERP's own name, to name the native field in errors
_NATIVE = {
    "po_number": "OrderNumber",
    "supplier_id": "SupplierNumber",
    "ship_to": "ShipToLocationGLN",
    "department": "RequesterDepartment",
    "order_date": "OrderDate",
    "requested_date": "NeedByDate",
    "version": "RevisionNumber",
    "line_no": "LineNumber",
    "gtin": "ItemGTIN",
    "vendor_part": "SupplierItem",
    "quantity": "Quantity",
    "uom": "UOMCode",
    "unit_price": "Price",
    "critical": "CriticalSupply",
}


def _native_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1] += f"[{p}]"
        else:
            parts.append(_NATIVE.get(p, p))
    return ".".join(parts)


def purchase_order_from_erp(doc: Any) -> PurchaseOrder:
    if not isinstance(doc, dict):
        raise MappingError(_DOC, "$", "expected a JSON object")
    try:
        lines = doc["lines"]
        if not isinstance(lines, list):
            raise MappingError(_DOC, "lines", "expected a list")
        return PurchaseOrder(
            po_number=doc["OrderNumber"],
            supplier_id=doc["SupplierNumber"],
            ship_to=doc["ShipToLocationGLN"],
            department=doc["RequesterDepartment"],
            order_date=doc["OrderDate"],
            requested_date=doc["NeedByDate"],
            version=doc["RevisionNumber"],
            lines=tuple(
                PurchaseOrderLine(
                    line_no=ln["LineNumber"],
                    gtin=ln["ItemGTIN"],
                    vendor_part=ln["SupplierItem"],
                    quantity=ln["Quantity"],
                    uom=ln["UOMCode"],
                    unit_price=ln["Price"],
                    critical=ln.get("CriticalSupply") == "Y",
                )
                for ln in lines
            ),
        )
    except KeyError as e:
        raise MappingError(_DOC, str(e.args[0]), "missing") from None
    except (TypeError, AttributeError):
        raise MappingError(_DOC, "lines", "each line must be a JSON object") from None
    except ValidationError as e:
        first = e.errors()[0]
        raise MappingError(_DOC, _native_path(first["loc"]), first["msg"]) from None


def acknowledgment_to_erp(ack: Acknowledgment, correlation_id: str | None) -> dict[str, Any]:
    """The ERP's acknowledgment update for ``ack``."""

    def promised(dates: list[dt.date | None]) -> str | None:
        known = [d for d in dates if d is not None]
        return max(known).isoformat() if known else None

    return {
        "AcknowledgmentRevision": ack.revision,
        "AcknowledgmentType": ack.ack_type.value,
        "CorrelationId": correlation_id,
        "lines": [
            {
                "LineNumber": line.line_no,
                "SupplierConfirmedQuantity": line.confirmed_quantity,
                "BackorderedQuantity": line.backordered_quantity,
                "AcknowledgmentStatus": line.status,
                "PromisedDate": promised([a.expected_date for a in line.acks]),
            }
            for line in ack.lines
        ],
    }
