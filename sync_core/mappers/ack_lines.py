"""What an acknowledged line comes to, worked out in one pass over its ACKs.

The ERP's acknowledgment, the WMS's expected receipts and the shortage check each need
a line's confirmed and backordered quantities, its ACK01 codes and its expected dates:
:func:`line_totals` gives all four at once, as the model's properties
(:attr:`~sync_core.model.AcknowledgmentLine.confirmed_quantity`, ``backordered_quantity``,
``status``) define them, instead of a pass over the ACKs for each.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sync_core.model import _NOT_CONFIRMED, AcknowledgmentLine, LineStatus

__all__ = ["LineTotals", "line_totals"]


class LineTotals(NamedTuple):
    confirmed: int  # AcknowledgmentLine.confirmed_quantity
    backordered: int  # AcknowledgmentLine.backordered_quantity
    status: str  # AcknowledgmentLine.status: the ACK01 codes, e.g. "IA/IB"
    expected: list[dt.date]  # the expected dates the ACKs give, in order


def line_totals(line: AcknowledgmentLine) -> LineTotals:
    """``line``'s quantities, codes and expected dates, in one pass over its ACKs."""
    confirmed = backordered = 0
    codes: list[str] = []
    expected: list[dt.date] = []
    for ack in line.acks:
        status, quantity = ack.status, ack.quantity
        codes.append(status)  # a StrEnum: joined, its value
        if status not in _NOT_CONFIRMED:
            confirmed += quantity
        if status == LineStatus.IB:
            backordered += quantity
        if ack.expected_date is not None:
            expected.append(ack.expected_date)
    return LineTotals(confirmed, backordered, "/".join(codes), expected)
