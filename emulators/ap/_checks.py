"""AP's own checks of a body: field kinds by spec, rows, dates and the helpers they share.

A body is checked field by field against a spec (name → kind: ``text``,
``count``, ``money``, ``date``) before anything is applied; the first field at
fault is a 422 naming it (``lines[2].unit_price``), as AP's open interface
rejects a row.  Bounds (:class:`~emulators.limits.Limits`) are checked before
these, against :data:`BOUNDED`.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from emulators._base import Reply, copy_document, problem
from emulators.limits import Bound

_UNPROCESSABLE = "Unprocessable Content"

# AP's numeric fields that the limits bound, by native name
_BOUNDED: dict[str, Bound] = {
    "quantity_ordered": "quantity",
    "quantity_received": "quantity",
    "quantity_invoiced": "quantity",
    "unit_price": "price",
    "invoice_amount": "amount",
}

# Field kinds: "text" non-empty string, "count" integer > 0, "qty" integer >= 0,
# "money" number > 0,
# "date" ISO 8601 date; a trailing "?" makes the field optional.
_PO_LINE = {
    "po_number": "text",
    "po_line_number": "count",
    "item_id": "text",
    "quantity_ordered": "qty",  # 0: the line was canceled
    "unit_price": "money",
    "uom": "text",
}
_RECEIPT = {"receipt_num": "text", "po_number": "text"}
_RECEIPT_LINE = {"po_line_number": "count", "quantity_received": "count"}
_PRICE = {
    "vendor_num": "text",
    "item_id": "text",
    "uom": "text",
    "unit_price": "money",
    "effective_date": "date?",
}
_INVOICE = {
    "vendor_num": "text",
    "invoice_num": "text",
    "invoice_date": "date",
    "po_number": "text",
    "invoice_amount": "money",
}
_INVOICE_LINE = {
    "po_line_number": "count",
    "quantity_invoiced": "count",
    "unit_price": "money",
    "uom": "text?",  # the invoiced unit; absent: the PO line's
}


def _dec(value: float) -> Decimal:
    """The decimal a JSON number was written as (``45.1`` → ``Decimal("45.1")``)."""
    return Decimal(str(value))


def _iso_date(text: str) -> str:
    """A validated ISO 8601 date in its extended form, so dates compare as strings."""
    return dt.date.fromisoformat(text).isoformat()


def _pct(over: Decimal, expected: Decimal) -> float | None:
    return float(round(over * 100 / expected, 2)) if expected else None


def _entity(invoice: dict[str, Any]) -> str:
    return f"invoice:{invoice['vendor_num']}:{invoice['invoice_num']}"


def _open_codes(invoice: dict[str, Any]) -> list[str]:
    return sorted({h["hold_code"] for h in invoice["holds"] if h["hold_status"] == "open"})


def _hold_row(hold: dict[str, Any]) -> dict[str, Any]:
    base = dict.fromkeys(
        ("line_number", "po_line_number", "expected", "actual", "difference", "difference_pct")
    )
    return {**base, "amount": None, **hold, "hold_status": "open", "release_reason": None}


def _public(invoice: dict[str, Any]) -> dict[str, Any]:
    return copy_document(invoice)  # type: ignore[no-any-return]


def _no_invoice(vendor_num: str, invoice_num: str) -> Reply:
    return problem(404, "Not Found", f"no invoice {invoice_num} from {vendor_num}", "invoice_num")


def _illegal(invoice: dict[str, Any], event: str) -> Reply:
    return problem(
        409,
        "Conflict",
        f"{event} is not allowed for an invoice that is {invoice['status']}",
        "status",
    )


def _bad_kind(value: Any, kind: str) -> str | None:
    """Why ``value`` is not of ``kind`` (see the field tables), or ``None``."""
    if kind == "text":
        return None if isinstance(value, str) and value.strip() else "must be a non-empty string"
    if kind == "count":
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return None if ok else "must be an integer > 0"
    if kind == "qty":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else "must be an integer >= 0"
    if kind == "money":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok and math.isfinite(value) and value > 0 else "must be a number > 0"
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return "must be an ISO 8601 date (YYYY-MM-DD)"
    return None


def _fields(obj: Any, spec: dict[str, str], path: str) -> Reply | None:
    if not isinstance(obj, dict):
        if not path:
            return problem(400, "Bad Request", "body must be a JSON object", "")
        return problem(422, _UNPROCESSABLE, "must be an object", path)
    for name, kind in spec.items():
        optional = kind.endswith("?")
        if optional and obj.get(name) is None:
            continue
        reason = _bad_kind(obj.get(name), kind.rstrip("?"))
        if reason is not None:
            return problem(422, _UNPROCESSABLE, reason, f"{path}.{name}" if path else name)
    return None


def _document(
    body: Any, header: dict[str, str], line: dict[str, str]
) -> tuple[list[dict[str, Any]], Reply | None]:
    """A document with ``header`` fields and ``lines`` matching ``line``: its lines, or the
    first problem (the header's first)."""
    error = _fields(body, header, "")
    if error is not None:
        return [], error
    return _rows(body, "lines", line)


def _rows(body: Any, key: str, spec: dict[str, str]) -> tuple[list[dict[str, Any]], Reply | None]:
    """``body[key]`` as a non-empty list of objects matching ``spec``, or the problem."""
    if not isinstance(body, dict):
        return [], problem(400, "Bad Request", "body must be a JSON object", "")
    rows = body.get(key)
    if not isinstance(rows, list) or not rows:
        return [], problem(422, _UNPROCESSABLE, "must be a non-empty list", key)
    for i, row in enumerate(rows):
        error = _fields(row, spec, f"{key}[{i}]")
        if error is not None:
            return [], error
    if "correlation_id" in body and not isinstance(body["correlation_id"], str | None):
        return [], problem(422, _UNPROCESSABLE, "must be a string", "correlation_id")
    return rows, None
