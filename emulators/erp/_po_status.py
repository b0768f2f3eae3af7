"""The purchase order's status machine: line transitions, the header fold, what each
header status admits.

A line moves through ``LINE_TRANSITIONS``, a table of (status, event) → next status; a
pair not in the table is refused with 409 naming the line:

==========================  =================  ==============================
from                        event              to
==========================  =================  ==============================
OPEN                        change             OPEN
OPEN                        cancel             CANCELED
OPEN, PARTIALLY_RECEIVED,   acknowledge        (unchanged)
RECEIVED
OPEN, PARTIALLY_RECEIVED    receive_part       PARTIALLY_RECEIVED
OPEN, PARTIALLY_RECEIVED    receive_all        RECEIVED
PARTIALLY_RECEIVED          change             PARTIALLY_RECEIVED
PARTIALLY_RECEIVED          short_close        RECEIVED
==========================  =================  ==============================

The header ``Status`` is a fold of its lines (``header_status``), and
``PO_OPERATIONS`` says which operations each header status admits: a PO can be
canceled only while ``OPEN``, i.e. before any receipt, and a ``CANCELED`` PO
admits nothing.
"""

from __future__ import annotations

from typing import Any

from emulators._base import Reply
from emulators.erp._checks import bad

__all__ = [
    "CANCELED",
    "CLOSED_FOR_RECEIVING",
    "LINE_TRANSITIONS",
    "OPEN",
    "PARTIALLY_RECEIVED",
    "PO_OPERATIONS",
    "RECEIVED",
    "admits",
    "header_status",
]

OPEN, PARTIALLY_RECEIVED, RECEIVED = "OPEN", "PARTIALLY_RECEIVED", "RECEIVED"
CLOSED_FOR_RECEIVING, CANCELED = "CLOSED_FOR_RECEIVING", "CANCELED"

LINE_TRANSITIONS: dict[tuple[str, str], str] = {
    (OPEN, "change"): OPEN,
    (OPEN, "cancel"): CANCELED,
    (OPEN, "acknowledge"): OPEN,
    (OPEN, "receive_part"): PARTIALLY_RECEIVED,
    (OPEN, "receive_all"): RECEIVED,
    (PARTIALLY_RECEIVED, "change"): PARTIALLY_RECEIVED,
    (PARTIALLY_RECEIVED, "short_close"): RECEIVED,
    (PARTIALLY_RECEIVED, "acknowledge"): PARTIALLY_RECEIVED,
    (PARTIALLY_RECEIVED, "receive_part"): PARTIALLY_RECEIVED,
    (PARTIALLY_RECEIVED, "receive_all"): RECEIVED,
    (RECEIVED, "acknowledge"): RECEIVED,
}

PO_OPERATIONS: dict[str, frozenset[str]] = {
    OPEN: frozenset({"change", "cancel", "acknowledge", "receive", "invoice"}),
    PARTIALLY_RECEIVED: frozenset({"change", "acknowledge", "receive", "invoice"}),
    CLOSED_FOR_RECEIVING: frozenset({"acknowledge", "invoice"}),
    CANCELED: frozenset(),
}


def header_status(lines: list[dict[str, Any]]) -> str:
    live = [ln["LineStatus"] for ln in lines if ln["LineStatus"] != CANCELED]
    if not live:
        return CANCELED
    if all(s == RECEIVED for s in live):
        return CLOSED_FOR_RECEIVING
    if any(s in (PARTIALLY_RECEIVED, RECEIVED) for s in live):
        return PARTIALLY_RECEIVED
    return OPEN


def admits(order: dict[str, Any], operation: str, field_path: str = "OrderNumber") -> Reply | None:
    """None when the PO's header status admits ``operation``, else 409."""
    if operation in PO_OPERATIONS[order["Status"]]:
        return None
    detail = f"purchase order {order['OrderNumber']} is {order['Status']}: no {operation} allowed"
    return bad(409, detail, field_path)
