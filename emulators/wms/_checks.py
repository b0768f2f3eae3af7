"""The WMS's own checks of a body: required and optional fields, dates, quantities.

A check raises :class:`Invalid` holding the problem reply (422 naming the native
field, ``lines[0].shipped_qty``); the behaviour answers it and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from emulators._base import Reply, gs1_check_digit, is_int, problem

_REJECT_REASONS = frozenset({"DAMAGED", "EXPIRED", "WRONG_ITEM", "TEMPERATURE_EXCURSION"})


class _Invalid(Exception):
    """Bad input found while checking a request; becomes a problem reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body)
        self.reply = reply


def _unprocessable(detail: str, field_path: str) -> _Invalid:
    return _Invalid(problem(422, "Unprocessable Content", detail, field_path))


def _optional_str(body: dict[str, Any], name: str, path: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise _unprocessable("must be a non-empty str", path)
    return value


def _required_str(body: dict[str, Any], name: str, path: str) -> str:
    value = _optional_str(body, name, path)
    if value is None:
        raise _unprocessable("is required", path)
    return value


def _optional_date(body: dict[str, Any], name: str, path: str) -> str | None:
    value = _optional_str(body, name, path)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise _unprocessable("must be a date (YYYY-MM-DD)", path) from None


def _quantity(body: dict[str, Any], name: str, path: str, minimum: int) -> int:
    value = body.get(name)
    if not is_int(value) or value < minimum:
        raise _unprocessable(f"must be an integer >= {minimum}", path)
    return int(value)


def _gs1_key(body: dict[str, Any], name: str, digits: int, path: str) -> str | None:
    """An optional GS1 key (SSCC-18, GTIN-14): its digits and its check digit."""
    value = _optional_str(body, name, path)
    if value is not None and not (
        len(value) == digits
        and value.isascii()
        and value.isdigit()
        and gs1_check_digit(value[:-1]) == value[-1]
    ):
        raise _unprocessable(f"must be {digits} digits with a GS1 check digit", path)
    return value


def _check_ship_notice(body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not isinstance(body, dict):
        raise _Invalid(problem(400, "Bad Request", "body must be a JSON object", ""))
    header = {
        "asn_nbr": _optional_str(body, "asn_nbr", "asn_nbr"),
        "po_nbr": _optional_str(body, "po_nbr", "po_nbr"),
        "ship_date": _optional_date(body, "ship_date", "ship_date"),
        "trace_id": _optional_str(body, "trace_id", "trace_id"),
        "bol_nbr": _optional_str(body, "bol_nbr", "bol_nbr"),
    }
    for name in ("asn_nbr", "po_nbr"):
        if header[name] is None:
            raise _unprocessable("is required", name)
    rows = body.get("lines")
    if not isinstance(rows, list) or not rows:
        raise _unprocessable("must be a non-empty list", "lines")
    lines: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, row in enumerate(rows):
        path = f"lines[{i}]"
        if not isinstance(row, dict):
            raise _unprocessable("must be an object", path)
        line: dict[str, Any] = {
            "po_line_nbr": _quantity(row, "po_line_nbr", f"{path}.po_line_nbr", 1),
            "item_id": _required_str(row, "item_id", f"{path}.item_id"),
            "shipped_qty": _quantity(row, "shipped_qty", f"{path}.shipped_qty", 1),
            "qty_uom": _required_str(row, "qty_uom", f"{path}.qty_uom"),
            "lot_nbr": _optional_str(row, "lot_nbr", f"{path}.lot_nbr"),
            "expiry_date": _optional_date(row, "expiry_date", f"{path}.expiry_date"),
            "sscc": _gs1_key(row, "sscc", 18, f"{path}.sscc"),
            "gtin": _gs1_key(row, "gtin", 14, f"{path}.gtin"),
        }
        if line["po_line_nbr"] in seen:
            raise _unprocessable("line already on this ship notice", f"{path}.po_line_nbr")
        seen.add(line["po_line_nbr"])
        lines.append(line)
    return header, lines


def _check_receipt(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Invalid(problem(400, "Bad Request", "body must be a JSON object", ""))
    ask: dict[str, Any] = {
        "asn_nbr": _optional_str(body, "asn_nbr", "asn_nbr"),
        "po_nbr": _optional_str(body, "po_nbr", "po_nbr"),
    }
    if ask["asn_nbr"] is None and ask["po_nbr"] is None:
        raise _unprocessable("asn_nbr or po_nbr is required", "po_nbr")
    ask["gtin"] = _gs1_key(body, "gtin", 14, "gtin")
    if (body.get("po_line_nbr") is None) == (ask["gtin"] is None):
        raise _unprocessable("po_line_nbr or a scanned gtin is required (not both)", "po_line_nbr")
    ask["po_line_nbr"] = None if ask["gtin"] else _quantity(body, "po_line_nbr", "po_line_nbr", 1)
    ask["received_qty"] = _quantity(body, "received_qty", "received_qty", 0)
    ask["rejected_qty"] = (
        0
        if body.get("rejected_qty") is None
        else _quantity(body, "rejected_qty", "rejected_qty", 0)
    )
    if ask["received_qty"] + ask["rejected_qty"] == 0:
        raise _unprocessable(
            "nothing received: received_qty and rejected_qty are 0", "received_qty"
        )
    reason = body.get("reject_reason")
    if ask["rejected_qty"] and (not isinstance(reason, str) or reason not in _REJECT_REASONS):
        raise _unprocessable(f"must be one of {sorted(_REJECT_REASONS)}", "reject_reason")
    if not ask["rejected_qty"] and reason is not None:
        raise _unprocessable("only with rejected_qty > 0", "reject_reason")
    ask["reject_reason"] = reason
    ask["lot_nbr"] = _optional_str(body, "lot_nbr", "lot_nbr")
    ask["expiry_date"] = _optional_date(body, "expiry_date", "expiry_date")
    ask["trace_id"] = _optional_str(body, "trace_id", "trace_id")
    return ask
