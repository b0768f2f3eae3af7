"""What an acknowledgment comes to: its lines' totals in one pass, and its stored form.

The ERP's acknowledgment, the WMS's expected receipts and the shortage check each need
a line's confirmed and backordered quantities, its ACK01 codes and its expected dates:
:func:`line_totals` gives all four at once, from the line's stored (JSON) form, as the
model's properties
(:attr:`~sync_core.model.AcknowledgmentLine.confirmed_quantity`, ``backordered_quantity``,
``status``) define them, instead of a pass over the ACKs for each.
:func:`acknowledgment_json` is what the core stores of an acknowledgment:
``ack.model_dump(mode="json")``, written out by hand at about half its cost (a test
holds the two equal).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sync_core.model import _NOT_CONFIRMED, Acknowledgment, LineStatus

__all__ = ["LineTotals", "acknowledgment_json", "line_totals"]


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
