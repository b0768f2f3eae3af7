"""ERP purchase orders (Fusion-like JSON) to canonical; acknowledgments, receipts and
invoice match statuses back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from sync_core.errors import MappingError
from sync_core.mappers.ack_lines import LineTotals, line_totals
from sync_core.model import PurchaseOrder, PurchaseOrderLine, Receipt

__all__ = [
    "MATCH_STATUS",
    "acknowledgment_to_erp",
    "invoice_status_to_erp",
    "purchase_order_from_erp",
    "receipt_to_erp",
]

_DOC = "ERP purchase order"
# canonical field -> the ERP's own name: what a PO and its lines are read from, and how a
# field is named in errors
_HEADER = {
    "po_number": "OrderNumber",
    "supplier_id": "SupplierNumber",
    "ship_to": "ShipToLocationGLN",
    "department": "RequesterDepartment",
    "order_date": "OrderDate",
    "requested_date": "NeedByDate",
    "version": "RevisionNumber",
}
_LINE = {
    "line_no": "LineNumber",
    "gtin": "ItemGTIN",
    "vendor_part": "SupplierItem",
    "quantity": "Quantity",
    "uom": "UOMCode",
    "unit_price": "Price",
}
_NATIVE = {
    **_HEADER,
    **_LINE,
    "critical": "CriticalSupply",
    "patient_token": "PatientMRN",
    "procedure_token": "ProcedureDate",
}


def _read(doc: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """``doc``'s ``fields`` under their canonical names (a KeyError names a missing one)."""
    return {ours: doc[theirs] for ours, theirs in fields.items()}


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
        # Canceled lines are no longer ordered; a PO canceled whole keeps its lines, so
        # the cancellation can name them.
        live = [
            ln for ln in lines if not isinstance(ln, dict) or ln.get("LineStatus") != "CANCELED"
        ]
        canceled = bool(lines) and not live
        lines = lines if canceled else live
        return PurchaseOrder(
            **_read(doc, _HEADER),
            lines=tuple(
                PurchaseOrderLine(**_read(ln, _LINE), critical=ln.get("CriticalSupply") == "Y")
                for ln in lines
            ),
            canceled=canceled,
            # a case PO's, as tokens: sync_core.phi has replaced them before the core reads
            patient_token=doc.get("PatientMRN"),
            procedure_token=doc.get("ProcedureDate"),
        )
    except KeyError as e:
        raise MappingError(_DOC, str(e.args[0]), "missing") from None
    except (TypeError, AttributeError):
        raise MappingError(_DOC, "lines", "each line must be a JSON object") from None
    except ValidationError as e:
        first = e.errors()[0]
        raise MappingError(_DOC, _native_path(first["loc"]), first["msg"]) from None


def acknowledgment_to_erp(
    ack: dict[str, Any], correlation_id: str | None, totals: Sequence[LineTotals] | None = None
) -> dict[str, Any]:
    """The ERP's acknowledgment update for ``ack``, in its stored form
    (:func:`~sync_core.mappers.ack_lines.acknowledgment_json`; ``totals``: its lines',
    if known)."""
    lines = []
    for line, sums in zip(ack["lines"], totals or map(line_totals, ack["lines"]), strict=True):
        lines.append(
            {
                "LineNumber": line["line_no"],
                "SupplierConfirmedQuantity": sums.confirmed,
                "BackorderedQuantity": sums.backordered,
                "AcknowledgmentStatus": sums.status,
                "PromisedDate": max(sums.expected) if sums.expected else None,
            }
        )
    return {
        "AcknowledgmentRevision": ack["revision"],
        "AcknowledgmentType": ack["ack_type"],
        "CorrelationId": correlation_id,
        "lines": lines,
    }


def receipt_to_erp(receipt: Receipt, correlation_id: str | None) -> dict[str, Any]:
    """The ERP's receipt: relieves the line's open commitment by what the dock accepted."""
    return {
        "ReceiptNumber": receipt.receipt_id,
        "lines": [{"LineNumber": receipt.line_no, "QuantityReceived": receipt.received_quantity}],
        "CorrelationId": correlation_id,
    }


# AP's invoice status → the ERP's match status (approved is matched for the ERP: it
# only distinguishes what is payable from what is held or paid).
MATCH_STATUS = {
    "received": "UNMATCHED",
    "matched": "MATCHED",
    "approved": "MATCHED",
    "on_hold": "ON_HOLD",
    "paid": "PAID",
}


def invoice_status_to_erp(doc: Any, correlation_id: str | None) -> dict[str, Any]:
    """AP's invoice (``GET /invoices/{vendor}/{number}``) → the ERP's invoice status."""
    if not isinstance(doc, dict):
        raise MappingError("AP invoice", "$", "expected a JSON object")
    status = doc.get("status")
    if status not in MATCH_STATUS:
        raise MappingError("AP invoice", "status", f"unknown status {status!r}")
    holds = sorted(
        {
            h["hold_code"]
            for h in doc.get("holds") or []
            if isinstance(h, dict) and h.get("hold_status") == "open" and "hold_code" in h
        }
    )
    body: dict[str, Any] = {
        "InvoiceNumber": _field(doc, "invoice_num"),
        "MatchStatus": MATCH_STATUS[status],
        "CorrelationId": correlation_id,
    }
    if holds:
        body["HoldReason"] = ", ".join(holds)
    return body


def _field(doc: dict[str, Any], name: str) -> Any:
    if name not in doc:
        raise MappingError("AP invoice", name, "missing")
    return doc[name]
