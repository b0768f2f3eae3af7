"""The 856 ship notice: HL Shipment -> Order (PRF) -> optional Pack -> Item."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulators.x12 import _elements as el
from emulators.x12._elements import _PARENT, HL_LEVELS, UOM_CODES, Segment, X12Error

# -- 856 ship notice ------------------------------------------------------------------


@dataclass(frozen=True)
class ShippedItem:
    po_line: int  # LIN01
    qty: int  # SN102
    uom: str  # SN103
    vendor_part: str  # LIN VC
    gtin: str = ""  # LIN UK
    lot: str = ""  # REF*LT
    expiry: str | None = None  # DTM*036, CCYYMMDD


@dataclass(frozen=True)
class ShippedOrder:
    po_number: str  # PRF01
    items: tuple[ShippedItem, ...]


@dataclass(frozen=True)
class ShipNotice:
    shipment_id: str  # BSN02
    date: str  # BSN03, CCYYMMDD
    time: str  # BSN04, HHMM
    orders: tuple[ShippedOrder, ...]


def render_856(doc: ShipNotice, control: str) -> list[list[str]]:
    """The segments ST..SE of one 856: HL Shipment → Order → Item (no packs)."""
    body: list[Segment] = [["BSN", "00", doc.shipment_id, doc.date, doc.time, "0001"]]
    body.append(["HL", "1", "", "S"])
    hl = 1
    for order in doc.orders:
        hl += 1
        parent = hl
        body += [["HL", str(hl), "1", "O"], ["PRF", order.po_number]]
        for item in order.items:
            if item.uom not in UOM_CODES:
                raise X12Error("SN103", f"unknown unit of measure {item.uom!r}")
            hl += 1
            body.append(["HL", str(hl), str(parent), "I"])
            body.append(["LIN", str(item.po_line), *el._ids(item.vendor_part, item.gtin)])
            body.append(["SN1", "", str(item.qty), item.uom])
            if item.lot:
                body.append(["REF", "LT", item.lot])
            if item.expiry:
                body.append(["DTM", "036", item.expiry])
    body.append(["CTT", str(hl)])
    return el._close("856", body, control)


def read_856(segments: list[list[str]]) -> ShipNotice:
    el._check_set(segments, "856")
    header: tuple[str, str, str] | None = None
    levels: dict[str, str] = {}  # HL01 → HL03
    orders: list[tuple[str, list[ShippedItem]]] = []
    order_of: dict[str, int] = {}  # HL01 of an O or P → index into orders
    item: dict[str, Any] | None = None
    level, level_at = "", 0
    ctt: tuple[int, int] | None = None

    def close_level() -> None:
        nonlocal item
        if level == "O" and not orders[-1][0]:
            raise X12Error(el._at("HL", level_at), "an order level needs its PRF")
        if item is not None:
            for needed, segment in (("po_line", "LIN"), ("qty", "SN1")):
                if needed not in item:
                    raise X12Error(el._at("HL", level_at), f"an item level needs its {segment}")
            index = item.pop("order")
            orders[index][1].append(ShippedItem(**item))
            item = None

    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "BSN":
            header = (el._req(seg, 2, n), el._date(seg, 3, n), el._time(seg, 4, n))
        elif tag == "HL":
            close_level()
            number, parent = el._el(seg, 1), el._el(seg, 2)
            if number != str(len(levels) + 1):
                raise X12Error(
                    el._where(seg, 1, n), f"expected HL {len(levels) + 1}, got {number!r}"
                )
            level = el._code(seg, 3, n, HL_LEVELS, "hierarchical level")
            if levels.get(parent, "") not in _PARENT[level] or (parent and parent not in levels):
                raise X12Error(
                    el._where(seg, 2, n), f"a level {level} cannot hang under {parent!r}"
                )
            if level == "S" and levels:
                raise X12Error(el._where(seg, 3, n), "only the first HL is the shipment")
            levels[number], level_at = level, n
            if level == "O":
                order_of[number] = len(orders)
                orders.append(("", []))
            elif level == "P":
                order_of[number] = order_of[parent]
            elif level == "I":
                item = {"order": order_of[parent]}
        elif tag == "PRF":
            if level != "O":
                raise X12Error(el._at("PRF", n), "PRF belongs to an order level")
            orders[-1] = (el._req(seg, 1, n), orders[-1][1])
        elif tag in ("LIN", "SN1") or (tag in ("REF", "DTM") and item is not None):
            if item is None:
                raise X12Error(el._at(tag, n), f"{tag} belongs to an item level")
            if tag == "LIN":
                ids = dict(el._pairs(seg, 2, n))
                item.update(po_line=el._qty(seg, 1, n, minimum=1), vendor_part=ids.get("VC", ""))
                item["gtin"] = ids.get("UK", "")
            elif tag == "SN1":
                item["qty"] = el._qty(seg, 2, n, minimum=1)
                item["uom"] = el._code(seg, 3, n, UOM_CODES, "unit of measure")
            elif tag == "REF" and el._el(seg, 1) == "LT":
                item["lot"] = el._req(seg, 2, n)
            elif tag == "DTM" and el._el(seg, 1) == "036":
                item["expiry"] = el._date(seg, 2, n)
            if tag == "SN1" and "po_line" not in item:
                raise X12Error(el._at("SN1", n), "SN1 before the item's LIN")
        elif tag == "CTT":
            ctt = (n, el._qty(seg, 1, n))
    close_level()
    if header is None:
        raise X12Error("BSN", "856 without BSN")
    if not levels or levels["1"] != "S":
        raise X12Error("HL", "856 without a shipment level")
    if ctt is not None and ctt[1] != len(levels):
        raise X12Error(el._at("CTT01", ctt[0]), f"says {ctt[1]} levels, the set has {len(levels)}")
    shipped = tuple(ShippedOrder(po, tuple(items)) for po, items in orders)
    return ShipNotice(*header, shipped)
