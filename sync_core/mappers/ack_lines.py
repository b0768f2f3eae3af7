"""What an acknowledgment comes to: its lines' totals in one pass, what it sends, and its
stored form.

The ERP's acknowledgment, the WMS's expected receipts and the shortage check each need
a line's confirmed and backordered quantities, its ACK01 codes and its expected dates:
:func:`line_totals` gives all four at once, from the line's stored (JSON) form, as the
model's properties
(:attr:`~sync_core.model.AcknowledgmentLine.confirmed_quantity`, ``backordered_quantity``,
``status``) define them, instead of a pass over the ACKs for each.
:func:`acknowledged` makes what every new acknowledgment sends, the ERP's body and the
WMS's expected receipts, and picks out its clinical-critical lines (the shortage check's),
in one pass over the lines: what the engine does with every 855 and 865.
:func:`acknowledgment_json` is what the core stores of an acknowledgment:
``ack.model_dump(mode="json")``, written out by hand at about half its cost (a test
holds the two equal).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sync_core.errors import MappingError
from sync_core.model import _NOT_CONFIRMED, Acknowledgment, LineStatus

__all__ = ["Acknowledged", "LineTotals", "acknowledged", "acknowledgment_json", "line_totals"]


class LineTotals(NamedTuple):
    confirmed: int  # AcknowledgmentLine.confirmed_quantity
    backordered: int  # AcknowledgmentLine.backordered_quantity
    status: str  # AcknowledgmentLine.status: the ACK01 codes, e.g. "IA/IB"
    expected: list[str]  # the expected dates the ACKs give, in order, as ISO 8601
    # (four-digit years: they sort as the dates do)


def line_totals(line: dict[str, Any]) -> LineTotals:
    """A line's quantities, codes and expected dates, in one pass over its ACKs; ``line``
    is one of the lines of :func:`acknowledgment_json` (the stored form)."""
    confirmed = backordered = 0
    codes: list[str] = []
    expected: list[str] = []
    for ack in line["acks"]:
        status, quantity, date = ack["status"], ack["quantity"], ack["expected_date"]
        codes.append(status)
        if status not in _NOT_CONFIRMED:  # StrEnum members: equal to their values
            confirmed += quantity
        if status == LineStatus.IB:
            backordered += quantity
        if date is not None:
            expected.append(date)
    return LineTotals(confirmed, backordered, "/".join(codes), expected)


# the ACK01 codes as plain strings: a set of them answers a str without Enum's __hash__
_UNCONFIRMED = frozenset(status.value for status in _NOT_CONFIRMED)
_BACKORDERED = LineStatus.IB.value


# A clinical-critical line of an acknowledgment (the shortage check's): the line (stored
# form), its confirmed and backordered quantities, its ACK01 codes, its earliest expected
# date (None without one).  A plain tuple: a NamedTuple's __new__ is a Python call.
CriticalLine = tuple[dict[str, Any], int, int, str, str | None]


class Acknowledged(NamedTuple):
    """What a new revision of an acknowledgment sends, and its lines to check for shortages."""

    erp: dict[str, Any]  # the ERP's acknowledgment (erp.acknowledgment_to_erp)
    wms: dict[str, Any]  # the WMS's expected receipts, one a line
    critical: list[CriticalLine]  # the lines whose PO line is clinical-critical, in order


def acknowledged(po: dict[str, Any], ack: dict[str, Any], trace: str | None) -> Acknowledged:
    """The ERP's acknowledgment and the WMS's expected receipts for ``ack``, and its
    clinical-critical lines, in one pass over its lines.  ``po`` and ``ack`` are in their
    stored forms (``PurchaseOrder.model_dump(mode="json")``, :func:`acknowledgment_json`);
    a line the PO does not have is a :class:`MappingError`.

    The ERP's line: the confirmed and backordered quantities (:func:`line_totals`), the
    ACK01 codes and the latest expected date; the WMS's: the GTIN and dock, the same
    quantities, the unit, and the earliest expected date (else the PO's need-by date)."""
    po_number, dock = po["po_number"], po["ship_to"]
    ordered = {line["line_no"]: line for line in po["lines"]}
    to_erp: list[dict[str, Any]] = []
    to_wms: list[dict[str, Any]] = []
    critical: list[CriticalLine] = []
    for line in ack["lines"]:
        number = line["line_no"]
        po_line = ordered.get(number)
        if po_line is None:
            raise MappingError("X12 855", f"PO1 line {number}", f"PO {po_number} has no such line")
        acks = line["acks"]
        if len(acks) == 1:  # most lines: line_totals without a pass over the ACKs
            (only,) = acks
            status, quantity, latest = only["status"], only["quantity"], only["expected_date"]
            confirmed = 0 if status in _UNCONFIRMED else quantity
            backordered = quantity if status == _BACKORDERED else 0
            earliest = latest
        else:
            confirmed, backordered, status, dates = line_totals(line)
            latest, earliest = (max(dates), min(dates)) if dates else (None, None)
        to_erp.append(
            {
                "LineNumber": number,
                "SupplierConfirmedQuantity": confirmed,
                "BackorderedQuantity": backordered,
                "AcknowledgmentStatus": status,
                "PromisedDate": latest,
            }
        )
        to_wms.append(
            {
                "po_nbr": po_number,
                "po_line_nbr": number,
                "item_id": po_line["gtin"],
                "dock_gln": dock,
                "exp_qty": confirmed,
                "backorder_qty": backordered,
                "qty_uom": line["uom"],
                "exp_date": po["requested_date"] if earliest is None else earliest,
            }
        )
        if po_line["critical"]:
            critical.append((line, confirmed, backordered, status, earliest))
    erp = {
        "AcknowledgmentRevision": ack["revision"],
        "AcknowledgmentType": ack["ack_type"],
        "CorrelationId": trace,
        "lines": to_erp,
    }
    return Acknowledged(erp, {"receipts": to_wms, "trace_id": trace}, critical)


def acknowledgment_json(ack: Acknowledgment) -> dict[str, Any]:
    """``ack.model_dump(mode="json")``: codes as their values, dates as ISO 8601."""
    return {
        "po_number": ack.po_number,
        "ack_type": ack.ack_type._value_,
        "ack_date": ack.ack_date.isoformat(),
        "revision": ack.revision,
        "lines": [
            {
                "line_no": line.line_no,
                "ordered_quantity": line.ordered_quantity,
                "uom": line.uom._value_,
                "unit_price": line.unit_price,
                "acks": [
                    {
                        "status": a.status._value_,
                        "quantity": a.quantity,
                        "uom": a.uom._value_,
                        "expected_date": None
                        if a.expected_date is None
                        else a.expected_date.isoformat(),
                    }
                    for a in line.acks
                ],
            }
            for line in ack.lines
        ],
    }
