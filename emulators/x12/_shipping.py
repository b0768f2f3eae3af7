"""The 856 ship notice: HL Shipment -> Order (PRF) -> Pack (MAN*GM SSCC-18) -> Item.

Theory of operation: the shipment level carries how the goods travel — TD1
(packaging code, lading quantity, gross weight in pounds), TD5 (the carrier's
SCAC and routing), REF*BM (the bill of lading), DTM*011 (shipped date and time)
and the N1 loops ship-to (``ST``) and ship-from (``SF``), each with its GLN
(``UL``) when one is known.  Each PO is an order level (PRF); under it either a
pack level per labelled pack (``MAN*GM`` with its SSCC-18) holding the items it
contains, or the items directly.  BSN05 says which (element 1005): ``0001``
Shipment/Order/Pack/Item when packs are sent, ``0004`` Shipment/Order/Item when
not, and the reader holds a document to what its BSN05 declares.  An item is
LIN (the vendor part ``VC`` and the GTIN ``UK`` — a substitute's own), SN1
(shipped quantity and unit), REF*LT (lot) and DTM*036 (expiry).  SSCCs and GLNs
carry a GS1 check digit (GS1 General Specifications, section 7.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulators._base import gs1_check_digit
from emulators.x12 import _elements as el
from emulators.x12._elements import _PARENT, HL_LEVELS, UOM_CODES, Segment, X12Error

__all__ = [
    "Party",
    "ShipNotice",
    "ShippedItem",
    "ShippedOrder",
    "read_856",
    "render_856",
    "sscc_valid",
]

WITH_PACKS, WITHOUT_PACKS = "0001", "0004"  # BSN05 (element 1005)


@dataclass(frozen=True)
class ShippedItem:
    po_line: int  # LIN01
    qty: int  # SN102
    uom: str  # SN103
    vendor_part: str  # LIN VC
    gtin: str = ""  # LIN UK
    lot: str = ""  # REF*LT
    expiry: str | None = None  # DTM*036, CCYYMMDD
    sscc: str = ""  # MAN*GM of the pack level it is in ("" without a pack level)


@dataclass(frozen=True)
class ShippedOrder:
    po_number: str  # PRF01
    items: tuple[ShippedItem, ...]


@dataclass(frozen=True)
class Party:
    """An N1 loop: name (N102) and GLN (N104 after ``UL``), either may be empty."""

    name: str = ""
    gln: str = ""


@dataclass(frozen=True)
class ShipNotice:
    shipment_id: str  # BSN02
    date: str  # BSN03, CCYYMMDD
    time: str  # BSN04, HHMM
    orders: tuple[ShippedOrder, ...]
    ship_to: Party | None = None  # N1*ST
    ship_from: Party | None = None  # N1*SF
    carrier: str = ""  # TD503, the carrier's SCAC (TD502 2)
    routing: str = ""  # TD505
    bill_of_lading: str = ""  # REF*BM
    shipped_on: str = ""  # DTM*011 date, CCYYMMDD
    shipped_at: str = ""  # DTM*011 time, HHMM
    lading_qty: int = 0  # TD102: packs (or cartons) on the shipment
    weight_lb: int = 0  # TD107 gross weight (TD106 G), pounds (TD108 LB)

    @property
    def packs(self) -> bool:
        """Whether the notice has pack levels (BSN05 ``0001``), else ``0004``."""
        return any(item.sscc for order in self.orders for item in order.items)


def sscc_valid(value: str) -> bool:
    """An SSCC-18: 18 ASCII digits, the last the GS1 check digit of the others."""
    return (
        len(value) == 18
        and value.isascii()
        and value.isdigit()
        and gs1_check_digit(value[:-1]) == value[-1]
    )


# -- writing --------------------------------------------------------------------------


def _shipment_level(doc: ShipNotice) -> list[Segment]:
    body: list[Segment] = []
    if doc.lading_qty:
        weight = ["G", str(doc.weight_lb), "LB"] if doc.weight_lb else []
        body.append(["TD1", "CTN25", str(doc.lading_qty), "", "", "", *weight])
    if doc.carrier:
        body.append(["TD5", "B", "2", doc.carrier, "M", *([doc.routing] if doc.routing else [])])
    if doc.bill_of_lading:
        body.append(["REF", "BM", doc.bill_of_lading])
    if doc.shipped_on:
        body.append(["DTM", "011", doc.shipped_on, *([doc.shipped_at] if doc.shipped_at else [])])
    for code, party in (("ST", doc.ship_to), ("SF", doc.ship_from)):
        if party is not None:
            body.append(["N1", code, party.name, *(["UL", party.gln] if party.gln else [])])
    return body


def _item_level(item: ShippedItem) -> list[Segment]:
    if item.uom not in UOM_CODES:
        raise X12Error("SN103", f"unknown unit of measure {item.uom!r}")
    body = [["LIN", str(item.po_line), *el._ids(item.vendor_part, item.gtin)]]
    body.append(["SN1", "", str(item.qty), item.uom])
    if item.lot:
        body.append(["REF", "LT", item.lot])
    if item.expiry:
        body.append(["DTM", "036", item.expiry])
    return body


def render_856(doc: ShipNotice, control: str) -> list[list[str]]:
    """The segments ST..SE of one 856: Shipment → Order → (Pack →) Item."""
    packs = doc.packs
    structure = WITH_PACKS if packs else WITHOUT_PACKS
    body: list[Segment] = [["BSN", "00", doc.shipment_id, doc.date, doc.time, structure]]
    body += [["HL", "1", "", "S"], *_shipment_level(doc)]
    hl = 1
    for order in doc.orders:
        hl += 1
        order_hl, pack_hl, sscc = hl, 0, ""
        body += [["HL", str(hl), "1", "O"], ["PRF", order.po_number]]
        for item in order.items:
            if packs and not sscc_valid(item.sscc):
                raise X12Error("MAN02", f"item {item.po_line}: no valid SSCC-18 {item.sscc!r}")
            if packs and item.sscc != sscc:
                hl += 1
                pack_hl, sscc = hl, item.sscc
                body += [["HL", str(hl), str(order_hl), "P"], ["MAN", "GM", sscc]]
            hl += 1
            body.append(["HL", str(hl), str(pack_hl or order_hl), "I"])
            body += _item_level(item)
    body.append(["CTT", str(hl)])
    return el._close("856", body, control)


# -- reading --------------------------------------------------------------------------


class _Reader:
    """One pass over an 856's segments, level by level."""

    def __init__(self) -> None:
        self.header: tuple[str, str, str] | None = None
        self.structure = ""
        self.shipment: dict[str, Any] = {}
        self.levels: dict[str, str] = {}  # HL01 → HL03
        self.orders: list[tuple[str, list[ShippedItem]]] = []
        self.order_of: dict[str, int] = {}  # HL01 of an O or P → index into orders
        self.sscc_of: dict[str, str] = {}  # HL01 of a P → its SSCC
        self.item: dict[str, Any] | None = None
        self.level, self.level_at, self.number = "", 0, ""
        self.ctt: tuple[int, int] | None = None

    def close_level(self) -> None:
        if self.level == "O" and not self.orders[-1][0]:
            raise X12Error(el._at("HL", self.level_at), "an order level needs its PRF")
        if self.level == "P" and self.structure == WITH_PACKS and not self.sscc_of[self.number]:
            raise X12Error(el._at("HL", self.level_at), "a pack level needs its MAN*GM (SSCC)")
        if self.item is not None:
            for needed, segment in (("po_line", "LIN"), ("qty", "SN1")):
                if needed not in self.item:
                    raise X12Error(
                        el._at("HL", self.level_at), f"an item level needs its {segment}"
                    )
            index = self.item.pop("order")
            self.orders[index][1].append(ShippedItem(**self.item))
            self.item = None

    def hl(self, seg: Segment, n: int) -> None:
        self.close_level()
        number, parent = el._el(seg, 1), el._el(seg, 2)
        if number != str(len(self.levels) + 1):
            raise X12Error(
                el._where(seg, 1, n), f"expected HL {len(self.levels) + 1}, got {number!r}"
            )
        level = el._code(seg, 3, n, HL_LEVELS, "hierarchical level")
        if self.levels.get(parent, "") not in _PARENT[level] or (
            parent and parent not in self.levels
        ):
            raise X12Error(el._where(seg, 2, n), f"a level {level} cannot hang under {parent!r}")
        if level == "S" and self.levels:
            raise X12Error(el._where(seg, 3, n), "only the first HL is the shipment")
        if level == "P" and self.structure == WITHOUT_PACKS:
            raise X12Error(el._where(seg, 3, n), "BSN05 0004 declares no pack level")
        if level == "I" and self.structure == WITH_PACKS and self.levels[parent] != "P":
            raise X12Error(el._where(seg, 2, n), "BSN05 0001 puts every item under a pack")
        self.levels[number], self.level, self.level_at, self.number = level, level, n, number
        if level == "O":
            self.order_of[number] = len(self.orders)
            self.orders.append(("", []))
        elif level == "P":
            self.order_of[number] = self.order_of[parent]
            self.sscc_of[number] = ""
        elif level == "I":
            self.item = {"order": self.order_of[parent], "sscc": self.sscc_of.get(parent, "")}

    def shipment_segment(self, seg: Segment, n: int) -> None:
        """TD1, TD5, REF*BM, DTM*011 and N1 at the shipment level."""
        tag, qualifier = seg[0], el._el(seg, 1)
        if tag == "TD1":
            self.shipment["lading_qty"] = el._qty(seg, 2, n, minimum=1)
            if el._el(seg, 6) == "G":
                self.shipment["weight_lb"] = el._qty(seg, 7, n)
        elif tag == "TD5":
            self.shipment.update(carrier=el._req(seg, 3, n), routing=el._el(seg, 5))
        elif tag == "REF" and qualifier == "BM":
            self.shipment["bill_of_lading"] = el._req(seg, 2, n)
        elif tag == "DTM" and qualifier == "011":
            self.shipment["shipped_on"] = el._date(seg, 2, n)
            if el._el(seg, 3):
                self.shipment["shipped_at"] = el._time(seg, 3, n)
        elif tag == "N1" and qualifier in ("ST", "SF"):
            gln = el._gs1(seg, 4, n, "UL") if el._el(seg, 3) == "UL" else ""
            self.shipment["ship_to" if qualifier == "ST" else "ship_from"] = Party(
                el._el(seg, 2), gln
            )

    def item_segment(self, seg: Segment, n: int) -> None:
        item, tag = self.item, seg[0]
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

    def segment(self, seg: Segment, n: int) -> None:
        tag = seg[0]
        if tag == "BSN":
            self.header = (el._req(seg, 2, n), el._date(seg, 3, n), el._time(seg, 4, n))
            self.structure = el._el(seg, 5)
        elif tag == "HL":
            self.hl(seg, n)
        elif tag == "PRF":
            if self.level != "O":
                raise X12Error(el._at("PRF", n), "PRF belongs to an order level")
            self.orders[-1] = (el._req(seg, 1, n), self.orders[-1][1])
        elif tag == "MAN" and self.level == "P" and el._el(seg, 1) == "GM":
            sscc = el._el(seg, 2)
            if not sscc_valid(sscc):
                raise X12Error(
                    el._where(seg, 2, n), f"not an SSCC-18 with its check digit: {sscc!r}"
                )
            self.sscc_of[self.number] = sscc
        elif self.level == "S" and tag in ("TD1", "TD5", "REF", "DTM", "N1"):
            self.shipment_segment(seg, n)
        elif tag in ("LIN", "SN1") or (tag in ("REF", "DTM") and self.item is not None):
            self.item_segment(seg, n)
        elif tag == "CTT":
            self.ctt = (n, el._qty(seg, 1, n))


def read_856(segments: list[list[str]]) -> ShipNotice:
    el._check_set(segments, "856")
    reader = _Reader()
    for n, seg in enumerate(segments, start=1):
        reader.segment(seg, n)
    reader.close_level()
    levels = reader.levels
    if reader.header is None:
        raise X12Error("BSN", "856 without BSN")
    if not levels or levels["1"] != "S":
        raise X12Error("HL", "856 without a shipment level")
    if reader.ctt is not None and reader.ctt[1] != len(levels):
        at = el._at("CTT01", reader.ctt[0])
        raise X12Error(at, f"says {reader.ctt[1]} levels, the set has {len(levels)}")
    shipped = tuple(ShippedOrder(po, tuple(items)) for po, items in reader.orders)
    return ShipNotice(*reader.header, shipped, **reader.shipment)
