"""How a supplier packs, labels and announces a shipment: its full 856.

Theory of operation: the shipped lines of one order go into packs of up to
``LINES_PER_PACK`` lines (a mixed carton), in PO-line order, each labelled with
an SSCC-18 — extension digit ``0``, the supplier's GS1 company prefix (the first
seven digits of its GLN, or GS1's example prefix ``0614141`` for a supplier
without one), a nine-digit serial reference (the 856's ISA13 times 100 plus the
pack's number, so unique per supplier) and the GS1 check digit (GS1 General
Specifications, section 7.9; SSCC: section 2.2.1).  The bill of lading (REF*BM)
is a GSIN-17 built the same way from the ISA13.  TD1 counts the packs and their
gross weight in pounds (``WEIGHT_LB`` per unit, by unit of measure); TD5 names
the carrier (SCAC ``CARRIER``, motor).  The ship-to is the 850's N1*ST GLN; the
ship-from is the supplier itself, its EDI id and GLN.

A substitute is shipped under its own GTIN (:func:`substitute_gtin`): the
ordered item's indicator digit and company prefix with an item reference from
90000 on, derived from the substitute's vendor part, so the dock can scan it.
Nothing here draws from a random stream: packing and labelling add no draws, so
they change no other behaviour of the network.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from typing import Any

from emulators._base import gs1_check_digit
from emulators.x12 import Party, ShipNotice, ShippedItem, ShippedOrder

__all__ = ["CARRIER", "LINES_PER_PACK", "WEIGHT_LB", "ship_notice", "substitute_gtin"]

LINES_PER_PACK = 3
CARRIER = ("ODFL", "LTL GROUND")  # TD503 SCAC and TD505 routing
WEIGHT_LB = {"CA": 20, "BX": 2, "PK": 1, "CT": 2, "DZ": 1, "EA": 0}  # gross, per unit
_EXAMPLE_PREFIX = "0614141"  # GS1's documentation prefix, for a supplier without a GLN


def _with_check(body: str) -> str:
    return body + gs1_check_digit(body)


def substitute_gtin(gtin: str, substitute_part: str) -> str:
    """The GTIN-14 a substitute ships under ("" when the ordered item had none)."""
    if len(gtin) != 14:
        return ""
    reference = 90000 + zlib.crc32(substitute_part.encode()) % 10000
    return _with_check(f"{gtin[:8]}{reference:05d}")


def shipped_gtin(line: dict[str, Any], part: str) -> str:
    """The GTIN of what a line ships: its own, or its substitute's when ``part`` differs."""
    return line["gtin"] if part == line["vendor_part"] else substitute_gtin(line["gtin"], part)


def _prefix(gln: str) -> str:
    return gln[:7] if len(gln) == 13 else _EXAMPLE_PREFIX


def ship_notice(
    order: dict[str, Any],
    shipped: Sequence[dict[str, Any]],
    shipment_id: str,
    now: dt.datetime,
    sender: tuple[str, str],
    control: int,
) -> ShipNotice:
    """The 856 of one shipment of ``order``: ``shipped`` are its lines (po_line, qty, lot,
    expiry); ``sender`` is the supplier's (EDI id, GLN); ``control`` the 856's ISA13."""
    edi, gln = sender
    prefix, serial = _prefix(gln), control % 10**7
    by_line = {ln["po_line"]: ln for ln in order["lines"]}
    items = []
    for k, s in enumerate(shipped):
        line = by_line[s["po_line"]]
        pack = min(k // LINES_PER_PACK, 98) + 1  # a huge order's last pack takes the rest
        sscc = _with_check(f"0{prefix}{serial:07d}{pack:02d}")
        items.append(
            ShippedItem(
                s["po_line"],
                s["qty"],
                line["uom"],
                line["ship_part"],
                line["ship_gtin"],
                s["lot"],
                s["expiry"],
                sscc,
            )
        )
    ship_to = order.get("ship_to_gln", "")
    return ShipNotice(
        shipment_id,
        now.strftime("%Y%m%d"),
        now.strftime("%H%M"),
        (ShippedOrder(order["customer_po"], tuple(items)),),
        ship_to=Party(order.get("ship_to_name", ""), ship_to) if ship_to else None,
        ship_from=Party(edi, gln),
        carrier=CARRIER[0],
        routing=CARRIER[1],
        bill_of_lading=_with_check(f"{prefix}{serial:09d}"),
        shipped_on=now.strftime("%Y%m%d"),
        shipped_at=now.strftime("%H%M"),
        lading_qty=len({i.sscc for i in items}),
        weight_lb=max(1, sum(i.qty * WEIGHT_LB.get(i.uom, 1) for i in items)),
    )
