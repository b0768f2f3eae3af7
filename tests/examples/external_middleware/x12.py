"""The X12 this middleware writes (850) and reads (855, 856), per the interfaces README.

Only what the flows need: no general translator.  Segments are split on ``~`` and
elements on ``*`` as the ISA declares them (element separator ISA at offset 3, segment
terminator at offset 105).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["AckLine", "Acknowledgment", "ShipNotice", "Shipped", "read", "write_850"]

_NOT_CONFIRMED = frozenset({"IB", "IR", "ID"})


@dataclass(frozen=True)
class AckLine:
    line: int
    confirmed: int
    backordered: int
    status: str  # the ACK01 codes joined by "/"


@dataclass(frozen=True)
class Acknowledgment:
    po: str
    revision: int
    lines: tuple[AckLine, ...]


@dataclass(frozen=True)
class Shipped:
    line: int
    qty: int
    uom: str
    item: str  # the GTIN, else the vendor part
    lot: str | None
    expiry: str | None  # YYYY-MM-DD


@dataclass(frozen=True)
class ShipNotice:
    asn: str
    po: str
    date: str  # YYYY-MM-DD
    items: tuple[Shipped, ...]


def _iso(ccyymmdd: str) -> str:
    return f"{ccyymmdd[:4]}-{ccyymmdd[4:6]}-{ccyymmdd[6:8]}"


def _price(value: float) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def write_850(order: dict[str, Any], *, sender: str, receiver: str, control: int) -> str:
    """One interchange holding one 850 for an ERP purchase order document."""
    lines = [ln for ln in order["lines"] if ln["LineStatus"] != "CANCELED"]
    if not lines:  # canceled whole: a cancellation naming every line
        purpose, lines = "01", order["lines"]
    else:
        purpose = "00" if order["RevisionNumber"] == 1 else "05"
    body = [
        ["ST", "850", "0001"],
        ["BEG", purpose, "SA", order["OrderNumber"], "", order["OrderDate"].replace("-", "")],
        ["REF", "PP", str(order["RevisionNumber"])],
        ["DTM", "002", order["NeedByDate"].replace("-", "")],
        ["N1", "ST", "SHIP TO", "UL", order["ShipToLocationGLN"]],
    ]
    for ln in lines:
        body.append(
            [
                "PO1",
                str(ln["LineNumber"]),
                str(ln["Quantity"]),
                ln["UOMCode"],
                _price(ln["Price"]),
                "",
                "VC",
                ln["SupplierItem"],
                "UK",
                ln["ItemGTIN"],
            ]
        )
        if ln["CriticalSupply"] == "Y":
            body.append(["CSH", "P2"])  # ship as soon as possible
    body.append(["CTT", str(len(lines))])
    body.append(["SE", str(len(body) + 1), "0001"])
    now = dt.datetime.now()  # the envelope's date and time: informational only
    isa = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ",
           receiver.ljust(15), now.strftime("%y%m%d"), now.strftime("%H%M"), "U", "00401",
           f"{control:09d}", "0", "P", ">"]  # fmt: skip
    gs = ["GS", "PO", sender, receiver, now.strftime("%Y%m%d"), now.strftime("%H%M"),
          str(control), "X", "004010"]  # fmt: skip
    segments = [isa, gs, *body, ["GE", "1", str(control)], ["IEA", "1", f"{control:09d}"]]
    return "~".join("*".join(s) for s in segments) + "~"


def _sets(payload: str) -> list[list[list[str]]]:
    text = payload.strip()
    element, terminator = text[3], text[105]
    segments = [s.strip().split(element) for s in text.split(terminator) if s.strip()]
    sets: list[list[list[str]]] = []
    for seg in segments:
        if seg[0] == "ST":
            sets.append([])
        if sets and seg[0] not in ("GE", "IEA"):
            sets[-1].append(seg)
    return sets


def _el(seg: list[str], i: int) -> str:
    return seg[i] if i < len(seg) else ""


def _acknowledgment(segments: list[list[str]]) -> Acknowledgment:
    po, revision = "", 1
    lines: list[tuple[int, list[tuple[str, int]]]] = []
    for seg in segments:
        if seg[0] == "BAK":
            po = seg[3]
        elif seg[0] == "REF" and _el(seg, 1) == "PP" and not lines:
            revision = int(seg[2])
        elif seg[0] == "PO1":
            lines.append((int(seg[1]), []))
        elif seg[0] == "ACK":
            lines[-1][1].append((seg[1], int(seg[2])))
    return Acknowledgment(
        po,
        revision,
        tuple(
            AckLine(
                number,
                sum(q for code, q in acks if code not in _NOT_CONFIRMED),
                sum(q for code, q in acks if code == "IB"),
                "/".join(code for code, _ in acks),
            )
            for number, acks in lines
        ),
    )


def _ship_notices(segments: list[list[str]]) -> list[ShipNotice]:
    shipment, date = "", ""
    orders: list[tuple[str, list[dict[str, Any]]]] = []
    item: dict[str, Any] | None = None
    for seg in segments:
        tag = seg[0]
        if tag == "BSN":
            shipment, date = seg[2], _iso(seg[3])
        elif tag == "HL":
            item = None
            if _el(seg, 3) == "O":
                orders.append(("", []))
            elif _el(seg, 3) == "I":
                item = {"lot": None, "expiry": None}
                orders[-1][1].append(item)
        elif tag == "PRF":
            orders[-1] = (seg[1], orders[-1][1])
        elif item is not None and tag == "LIN":
            ids = dict(zip(seg[2::2], seg[3::2], strict=False))
            item.update(line=int(seg[1]), item=ids.get("UK") or ids.get("VC", ""))
        elif item is not None and tag == "SN1":
            item.update(qty=int(seg[2]), uom=seg[3])
        elif item is not None and tag == "REF" and _el(seg, 1) == "LT":
            item["lot"] = seg[2]
        elif item is not None and tag == "DTM" and _el(seg, 1) == "036":
            item["expiry"] = _iso(seg[2])
    return [
        ShipNotice(
            shipment if len(orders) == 1 else f"{shipment}/{i}",
            po,
            date,
            tuple(Shipped(**it) for it in items),
        )
        for i, (po, items) in enumerate(orders, start=1)
    ]


def read(payload: str) -> list[Acknowledgment | ShipNotice | str]:
    """What an interchange holds: acknowledgments, ship notices, and the ST01 of any
    other set (an 810: not carried)."""
    out: list[Acknowledgment | ShipNotice | str] = []
    for segments in _sets(payload):
        code = segments[0][1]
        if code == "855":
            out.append(_acknowledgment(segments))
        elif code == "856":
            out.extend(_ship_notices(segments))
        else:
            out.append(code)
    return out
