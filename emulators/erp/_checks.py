"""Input checks of the ERP's native documents: each bad input is a problem naming its field.

A check takes a value and returns what is wrong with it, or None.  ``check_fields``
applies a table of checks to a JSON object and answers the first missing,
malformed or unknown field as an RFC 9457 problem (422; 400 when the body is not
an object at all), so the behaviour refuses bad input before it changes anything.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from typing import Any

from emulators._base import Reply, is_int, problem

__all__ = [
    "ACK_LINE_FIELDS",
    "CASE_FIELDS",
    "GLN",
    "GTIN",
    "NEW_LINE_FIELDS",
    "NEW_LINE_REQUIRED",
    "ORDER_FIELDS",
    "UOM",
    "Check",
    "bad",
    "check_acknowledgment",
    "check_case",
    "check_fields",
    "check_new_lines",
    "count",
    "iso_date",
    "non_empty_list",
    "one_of",
    "optional",
    "price",
    "same",
    "text",
]

Check = Callable[[Any], str | None]

_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    422: "Unprocessable Content",
    429: "Too Many Requests",
}


def bad(status: int, detail: str, field_path: str | None) -> Reply:
    """A problem reply with the ERP's title for ``status``."""
    return problem(status, _TITLES[status], detail, field_path)


# -- field checks: each returns what is wrong with a value, or None -----------------


def text(v: Any) -> str | None:
    return None if isinstance(v, str) and v else "must be a non-empty string"


# Absolute ceilings of the arithmetic (floats must not overflow); the configured
# bounds (emulators.limits.Limits, checked first by ``Core._admit``) are lower.
MAX_COUNT = 10**9
MAX_PRICE = 10**12


def count(minimum: int) -> Check:
    def check(v: Any) -> str | None:
        if is_int(v) and minimum <= v <= MAX_COUNT:
            return None
        return f"must be an integer within {minimum}..{MAX_COUNT}"

    return check


def price(v: Any) -> str | None:
    # an int beyond float range would make math.isfinite raise: bound it first
    number = (is_int(v) and 0 < v <= MAX_PRICE) or (
        isinstance(v, float) and math.isfinite(v) and 0 < v <= MAX_PRICE
    )
    return None if number else f"must be a number within 0..{MAX_PRICE} (exclusive of 0)"


def iso_date(v: Any) -> str | None:
    try:
        dt.date.fromisoformat(v)
    except (TypeError, ValueError):
        return "must be an ISO 8601 date (YYYY-MM-DD)"
    return None


def non_empty_list(v: Any) -> str | None:
    return None if isinstance(v, list) and v else "must be a non-empty list"


def optional(check: Check) -> Check:
    return lambda v: None if v is None else check(v)


def same(value: str) -> Check:
    return lambda v: None if v == value else f"cannot be changed (it is {value})"


def one_of(*values: str) -> Check:
    return lambda v: None if v in values else f"must be one of {', '.join(values)}"


def _digits(length: int, name: str) -> Check:
    """A GS1 key by shape only: like the ERP's UI, it does not verify the check digit."""

    def check(v: Any) -> str | None:
        ok = isinstance(v, str) and len(v) == length and v.isascii() and v.isdigit()
        return None if ok else f"must be a {name} of {length} digits"

    return check


GTIN, GLN = _digits(14, "GTIN-14"), _digits(13, "GLN")
UOM = one_of("EA", "BX", "CA", "PK", "CT", "DZ")


def check_fields(
    body: Any,
    checks: dict[str, Check],
    required: Iterable[str],
    *,
    prefix: str = "",
    extra: Iterable[str] = ("CorrelationId",),
) -> Reply | None:
    """422 naming the first missing, malformed or unknown field of ``body``."""
    if not isinstance(body, dict):
        status = 422 if prefix else 400
        return bad(status, "must be a JSON object", prefix.rstrip(".") or "")
    for name in required:
        if name not in body:
            return bad(422, "is required", f"{prefix}{name}")
    for name, check in checks.items():
        if name in body and (message := check(body[name])) is not None:
            return bad(422, message, f"{prefix}{name}")
    for name in body:
        if name not in checks and name not in extra:
            return bad(422, "unknown field", f"{prefix}{name}")
    return None


# -- the purchase order's documents ---------------------------------------------------

ORDER_FIELDS: dict[str, Check] = {
    "SupplierNumber": text,
    "ShipToLocationGLN": GLN,
    "RequesterDepartment": text,
    "NeedByDate": iso_date,
    "lines": non_empty_list,
}
# A PO raised for one patient's surgical case (a case cart, a bill-only implant) names the
# patient's medical record number and the procedure date, both or neither: PHI-adjacent.
CASE_FIELDS: dict[str, Check] = {"PatientMRN": text, "ProcedureDate": iso_date}
NEW_LINE_FIELDS: dict[str, Check] = {
    "SupplierItem": text,
    "ItemGTIN": GTIN,
    "Quantity": count(1),
    "UOMCode": UOM,
    "Price": price,
    "CriticalSupply": one_of("Y", "N"),
}
NEW_LINE_REQUIRED = ("SupplierItem", "ItemGTIN", "Quantity", "UOMCode", "Price")
ACK_LINE_FIELDS: dict[str, Check] = {
    "LineNumber": count(1),
    "SupplierConfirmedQuantity": count(0),
    "BackorderedQuantity": count(0),
    "AcknowledgmentStatus": text,
}


def check_new_lines(lines: list[Any], prefix: str = "lines") -> Reply | None:
    for i, line in enumerate(lines):
        error = check_fields(line, NEW_LINE_FIELDS, NEW_LINE_REQUIRED, prefix=f"{prefix}[{i}].")
        if error is not None:
            return error
    return None


def check_case(body: dict[str, Any]) -> Reply | None:
    """A case's fields come together: one without the other is 422 naming the missing one."""
    given = [name for name in CASE_FIELDS if name in body]
    if len(given) == 1:
        missing = next(name for name in CASE_FIELDS if name not in body)
        return bad(422, f"is required with {given[0]}", missing)
    return None


def check_acknowledgment(body: Any, order: dict[str, Any]) -> Reply | None:
    """The supplier's acknowledgment, leniently: unknown fields pass, as in the ERP."""
    if not isinstance(body, dict):
        return bad(400, "body must be a JSON object", "")
    revision = body.get("AcknowledgmentRevision")
    if not is_int(revision) or revision < 1:
        return bad(422, "must be an integer >= 1", "AcknowledgmentRevision")
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        return bad(422, "must be a non-empty list", "lines")
    line_numbers = {ln["LineNumber"] for ln in order["lines"]}
    for i, update in enumerate(lines):
        if not isinstance(update, dict):
            return bad(422, "must be an object", f"lines[{i}]")
        for name, check in ACK_LINE_FIELDS.items():
            if (message := check(update.get(name))) is not None:
                return bad(422, message, f"lines[{i}].{name}")
        if update["LineNumber"] not in line_numbers:
            return bad(422, "no such line on this order", f"lines[{i}].LineNumber")
    return None
