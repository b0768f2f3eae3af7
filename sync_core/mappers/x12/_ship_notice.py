"""The core's 856 reader: a ship notice per PO, with each line's pack (SSCC-18).

Theory of operation: the hierarchy is Shipment → Order → Item, optionally with
Tare and Pack levels between (S-O-I as BSN05 ``0004``, S-O-P-I as ``0001``,
S-O-T-P-I); partners send either, and BSN05 is not held against them.  An item
belongs to the order level above it by HL02 (an HL without HL02 hangs under the
level before it), and travels in the pack above it: the ``MAN*GM`` SSCC-18 of
its nearest pack (or tare) level, checked for its GS1 check digit.  The
shipment level gives the bill of lading (``REF*BM``); an item level its LIN
(vendor part ``VC``, GTIN ``UK``), SN1 (quantity, unit), lot (``REF*LT``) and
expiry (``DTM*036``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import ValidationError

from sync_core.mappers.x12._envelope import TransactionSet, _date, _e, _enum, _fail, _first, _int
from sync_core.model import ShipNotice, Uom, gs1_check_digit

__all__ = ["ship_notices_from_856"]

_DOC = "856"
# HL03 levels (element 735) the 856 reader knows: shipment, order, tare, pack, item
_HL_LEVELS = frozenset("SOTPI")


class _Hierarchy:
    """The HL levels read so far: which order and which pack each belongs to."""

    def __init__(self) -> None:
        self.orders: list[tuple[str, list[dict[str, object]]]] = []
        self.order_of: dict[str, int | None] = {}  # HL01 → index into orders
        self.sscc_of: dict[str, str | None] = {}  # HL01 → the SSCC of its pack
        self.item: dict[str, object] | None = None
        self.level, self.number = "", ""
        self.bill_of_lading: str | None = None

    def hl(self, seg: Sequence[str], n: int) -> None:
        self.item = None
        level, parent = _e(seg, 3), _e(seg, 2)
        if level not in _HL_LEVELS:
            raise _fail(_DOC, f"HL03 (segment {n})", f"unknown hierarchical level {level!r}")
        if parent and parent not in self.order_of:
            raise _fail(_DOC, f"HL02 (segment {n})", f"no HL {parent!r} before it")
        orders = self.orders
        above = self.order_of[parent] if parent else len(orders) - 1 if orders else None
        sscc = self.sscc_of[parent] if parent else self.sscc_of.get(self.number)
        if level == "O":
            above, sscc = len(orders), None
            orders.append(("", []))
        elif level == "S":
            above, sscc = None, None
        elif level == "I":
            if above is None:
                raise _fail(_DOC, f"HL (segment {n})", "an item level before any order level")
            self.item = {"sscc": sscc} if sscc else {}
            orders[above][1].append(self.item)
        self.level, self.number = level, _e(seg, 1)
        self.order_of[self.number], self.sscc_of[self.number] = above, sscc

    def pack_label(self, seg: Sequence[str], n: int) -> None:
        """MAN*GM at a pack or tare level: the SSCC-18 its items travel in."""
        sscc = _e(seg, 2)
        if not (len(sscc) == 18 and sscc.isascii() and sscc.isdigit()) or (
            gs1_check_digit(sscc[:-1]) != sscc[-1]
        ):
            raise _fail(_DOC, f"MAN02 (segment {n})", f"not an SSCC-18: {sscc!r}")
        self.sscc_of[self.number] = sscc

    def item_segment(self, item: dict[str, object], seg: Sequence[str], n: int) -> None:
        sid = seg[0]
        if sid == "LIN":
            ids = dict(zip(seg[2::2], seg[3::2], strict=False))
            item["line_no"] = _int(_DOC, f"LIN01 (segment {n})", _e(seg, 1))
            item["vendor_part"] = ids.get("VC", "")
            item["gtin"] = ids.get("UK", "")
        elif sid == "SN1":
            item["quantity"] = _int(_DOC, f"SN102 (segment {n})", _e(seg, 2))
            item["uom"] = _enum(_DOC, f"SN103 (segment {n})", Uom, _e(seg, 3))
        elif sid == "REF" and _e(seg, 1) == "LT":
            item["lot"] = _e(seg, 2)
        elif sid == "DTM" and _e(seg, 1) == "036":
            item["expiry"] = _date(_DOC, f"DTM02 (segment {n})", _e(seg, 2))

    def segment(self, seg: Sequence[str], n: int) -> None:
        sid = seg[0]
        if sid == "HL":
            self.hl(seg, n)
        elif sid == "PRF":
            if not self.orders:
                raise _fail(_DOC, f"PRF (segment {n})", "PRF outside an order level")
            self.orders[-1] = (_e(seg, 1), self.orders[-1][1])
        elif sid == "MAN" and _e(seg, 1) == "GM" and self.level in ("P", "T"):
            self.pack_label(seg, n)
        elif sid == "REF" and _e(seg, 1) == "BM" and self.level == "S":
            self.bill_of_lading = _e(seg, 2) or None
        elif self.item is not None:
            self.item_segment(self.item, seg, n)


def ship_notices_from_856(ts: TransactionSet) -> list[ShipNotice]:
    """Translate one 856 to a ship notice per PO it carries."""
    if ts.code != "856":
        raise _fail(ts.code, "ST01", "expected an 856 ship notice")
    shipment = ""
    ship_date: dt.date | None = None
    tree = _Hierarchy()
    for n, seg in enumerate(ts.segments, start=1):
        if seg[0] == "BSN":
            shipment = _e(seg, 2)
            ship_date = _date(_DOC, f"BSN03 (segment {n})", _e(seg, 3))
        else:
            tree.segment(seg, n)
    if not shipment or ship_date is None:
        raise _fail(_DOC, "BSN", "missing BSN segment")
    notices = []
    for i, (po_number, items) in enumerate(tree.orders):
        asn = shipment if len(tree.orders) == 1 else f"{shipment}/{i + 1}"
        try:
            notices.append(
                ShipNotice.model_validate(
                    {
                        "asn_number": asn,
                        "po_number": po_number,
                        "ship_date": ship_date,
                        "bill_of_lading": tree.bill_of_lading,
                        "lines": items,
                    }
                )
            )
        except ValidationError as e:
            raise _fail(_DOC, f"order {po_number or i + 1}", _first(e)) from None
    if not notices:
        raise _fail(_DOC, "HL", "no order level")
    return notices
