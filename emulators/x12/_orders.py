"""The 850 purchase order (read) and the 855 acknowledgment (written and read)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.x12 import _elements as el
from emulators.x12._elements import (
    ACK_CODES,
    BAK_CODES,
    PRICE_BASES,
    PURPOSES,
    UOM_CODES,
    Segment,
    X12Error,
)

H = TypeVar("H")
L = TypeVar("L")

# -- 850 purchase order (read) ------------------------------------------------------


def read_850(segments: list[list[str]], limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The supplier's order-entry record for one 850 transaction set.

    Header: BEG, ``REF*PP`` the revision, ``REF*CT`` the contract, ``REF*CR`` a
    case, the N1 parties (``<party>_gln`` and ``_name`` for BT, BY, ST and VN: ``bill_to``,
    ``buyer``, ``ship_to``, ``vendor``); per PO1 line:
    PO105 price basis, BP/VC/UK/N4 ids, ``PID*F`` description, ``PO4`` pack and
    ``CSH*P2`` (ship as soon as possible) for a critical line."""
    el._check_set(segments, "850")
    order: dict[str, Any] = {"lines": []}
    numbers: set[int] = set()
    for n, seg in enumerate(segments, start=1):
        tag, lines = seg[0], order["lines"]
        if tag == "BEG":
            order["purpose"] = el._code(seg, 1, n, PURPOSES, "transaction set purpose")
            order["customer_po"] = el._req(seg, 3, n)
            order["po_date"] = el._date(seg, 5, n)
        elif tag == "REF" and not lines:
            _header_ref(order, seg, n)
        elif tag == "N1" and el._el(seg, 1) in PARTIES:
            gln = el._req(seg, 4, n)
            if el._el(seg, 3) == "UL":
                el._gs1(seg, 4, n, "UL")
            order[f"{PARTIES[seg[1]]}_gln"] = gln
            order[f"{PARTIES[seg[1]]}_name"] = el._el(seg, 2)
        elif tag == "DTM" and el._el(seg, 2):
            el._date(seg, 2, n)
        elif tag == "PO1":
            if len(lines) == limits.max_lines:
                raise X12Error(el._at("PO1", n), f"more than {limits.max_lines} lines")
            lines.append(_po1(seg, n, limits))
            if lines[-1]["po_line"] in numbers:
                raise X12Error(el._where(seg, 1, n), f"line {lines[-1]['po_line']} appears twice")
            numbers.add(lines[-1]["po_line"])
        elif tag in ("PID", "PO4", "CSH") and lines:
            _line_detail(lines[-1], seg, n)
        elif tag == "CTT" and el._qty(seg, 1, n) != len(lines):
            raise X12Error(el._where(seg, 1, n), f"says {seg[1]} lines, the set has {len(numbers)}")
    if "customer_po" not in order:
        raise X12Error("BEG", "850 without BEG")
    if not order["lines"]:
        raise X12Error("PO1", "850 without PO1 lines")
    return order


PARTIES = {"BT": "bill_to", "BY": "buyer", "ST": "ship_to", "VN": "vendor"}  # N101 (98)


def _header_ref(order: dict[str, Any], seg: Segment, n: int) -> None:
    """A header REF: ``PP`` the revision, ``CT`` the contract, ``CR`` a case reference."""
    qualifier = el._el(seg, 1)
    if qualifier == "PP":  # element 128 PP: purchase order revision number
        order["revision"] = el._qty(seg, 2, n, minimum=1)
    elif qualifier == "CT":
        order["contract"] = el._req(seg, 2, n)
    elif qualifier == "CR":
        order["case_reference"] = el._req(seg, 2, n)  # the buyer's case, never a patient


def _po1(seg: Segment, n: int, limits: Limits) -> dict[str, Any]:
    """One PO1: quantity, unit, price and its basis (PO105), and the product ids."""
    ids = dict(el._pairs(seg, 6, n))
    for k in range(6, len(seg) - 1, 2):
        if seg[k] in ("UK", "EN"):
            el._gs1(seg, k + 1, n, seg[k])
        elif seg[k] == "N4":
            el._ndc(seg, k + 1, n)
    return {
        "po_line": el._qty(seg, 1, n, minimum=1),
        "qty": el._qty(seg, 2, n, minimum=1, maximum=limits.max_quantity),
        "uom": el._code(seg, 3, n, UOM_CODES, "unit of measure"),
        "price": el._price(seg, 4, n, limits.max_price),
        "price_basis": el._code(seg, 5, n, PRICE_BASES, "price basis") if el._el(seg, 5) else "",
        "vendor_part": ids.get("VC", ""),
        "gtin": ids.get("UK", ""),
        "buyer_item": ids.get("BP", ""),
        "ndc": ids.get("N4", ""),
        "critical": False,
    }


def _line_detail(line: dict[str, Any], seg: Segment, n: int) -> None:
    """PID*F (free-form description), PO4 (the pack: inner units, their size and its
    unit) and CSH*P2 (ship as soon as possible: a clinically critical line)."""
    tag = seg[0]
    if tag == "PID" and el._el(seg, 1) == "F":
        line["description"] = el._req(seg, 5, n)
    elif tag == "PO4":
        size = el._qty(seg, 2, n, minimum=1)
        unit = el._code(seg, 3, n, UOM_CODES, "unit of measure")
        line["pack"] = (el._qty(seg, 1, n, minimum=1), size, unit)
    elif tag == "CSH" and el._el(seg, 1) == "P2":
        line["critical"] = True


# -- 855 acknowledgment ---------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """One ACK segment: a status for part (or all) of a line."""

    code: str  # ACK01
    qty: int  # ACK02
    uom: str  # ACK03
    expected: str | None = None  # ACK05 (ACK04 = 068, current schedule ship), CCYYMMDD
    product: tuple[tuple[str, str], ...] = ()  # ACK07.., e.g. (("VC", substitute part),)


@dataclass(frozen=True)
class AckLine:
    """A PO1 of an 855 with its ACKs; ``price`` is the price the supplier will charge."""

    po_line: int
    qty: int
    uom: str
    price: str
    vendor_part: str
    gtin: str = ""
    acks: tuple[Ack, ...] = ()


@dataclass(frozen=True)
class PurchaseOrderAck:
    po_number: str  # BAK03
    ack_type: str  # BAK02
    date: str  # BAK04, CCYYMMDD
    lines: tuple[AckLine, ...]
    # REF*PP before the first PO1: the supplier's revision of its acknowledgment (its
    # n-th 855 for the order); BAK01 is 00 for the first, 05 (replace) for later ones
    revision: int | None = None
    time: str = ""  # DTM*097 (transaction creation) DTM03, HHMMSS; DTM02 is ``date``


def render_855(doc: PurchaseOrderAck, control: str) -> list[list[str]]:
    """The segments ST..SE of one 855."""
    if doc.ack_type not in BAK_CODES:
        raise X12Error("BAK02", f"unknown acknowledgment type {doc.ack_type!r}")
    purpose = "00" if doc.revision is None or doc.revision == 1 else "05"
    # BAK09: the acknowledgment date (4010: BAK04 is the PO's, which this network fills
    # with the acknowledgment's too, as it always has)
    bak = ["BAK", purpose, doc.ack_type, doc.po_number, doc.date, "", "", "", "", doc.date]
    body: list[Segment] = [bak]
    if doc.revision is not None:
        body.append(["REF", "PP", str(doc.revision)])
    if doc.time:
        body.append(["DTM", "097", doc.date, doc.time])
    for line in doc.lines:
        if line.uom not in UOM_CODES:
            raise X12Error("PO103", f"unknown unit of measure {line.uom!r}")
        ids = el._ids(line.vendor_part, line.gtin)
        body.append(["PO1", str(line.po_line), str(line.qty), line.uom, line.price, "", *ids])
        body += ack_segments(line.acks)
    body.append(["CTT", str(len(doc.lines))])
    return el._close("855", body, control)


def ack_segments(acks: Sequence[Ack]) -> list[Segment]:
    """The ACK segments of one acknowledged line: an 855's PO1 loop or an 865's POC loop."""
    segments: list[Segment] = []
    for ack in acks:
        if ack.code not in ACK_CODES:
            raise X12Error("ACK01", f"unknown line status {ack.code!r}")
        if ack.uom not in UOM_CODES:
            raise X12Error("ACK03", f"unknown unit of measure {ack.uom!r}")
        seg = ["ACK", ack.code, str(ack.qty), ack.uom]
        seg += ["068", ack.expected] if ack.expected else ["", ""]
        seg += [""] + [x for pair in ack.product for x in pair]
        segments.append(el._trim(seg))
    return segments


def write_855(
    order: dict[str, Any],
    line_acks: Sequence[Sequence[tuple[str, int, str | None]]],
    *,
    ack_type: str,
    revision: int,
    stamp: dt.date,
    control: str,
) -> list[list[str]]:
    """An 855 for an order-entry record; ``line_acks[i]`` holds (code, qty, expected CCYYMMDD)."""
    lines = tuple(
        AckLine(
            line["po_line"],
            line["qty"],
            line["uom"],
            line["price"],
            line["vendor_part"],
            acks=tuple(Ack(code, qty, line["uom"], expected) for code, qty, expected in acks),
        )
        for line, acks in zip(order["lines"], line_acks, strict=True)
    )
    doc = PurchaseOrderAck(
        order["customer_po"], ack_type, stamp.strftime("%Y%m%d"), lines, revision
    )
    return render_855(doc, control)


def read_855(segments: list[list[str]]) -> PurchaseOrderAck:
    el._check_set(segments, "855")

    def bak(seg: Segment, n: int) -> tuple[str, str, str]:
        ack_type = el._code(seg, 2, n, BAK_CODES, "acknowledgment type")
        return (el._req(seg, 3, n), ack_type, el._date(seg, 4, n))

    def po1(seg: Segment, n: int) -> tuple[AckLine, Callable[[AckLine], AckLine]]:
        return AckLine(*el._baseline_item(seg, n)), lambda line: line

    acked: AckedLines[AckLine] = AckedLines("PO1")
    header = acked.read(segments, ("BAK", bak), po1)
    if header is None:
        raise X12Error("BAK", "855 without BAK")
    acked.check_count()
    return PurchaseOrderAck(*header, tuple(acked.lines), acked.revision, acked.time)


class AckedLines(Generic[L]):
    """What an 855 or 865 reader gathers: its header, the acknowledgment revision
    (``REF*PP``) and moment (``DTM*097``) before the first line, then each line (a PO1 or
    POC, the ``loop``) with its ACK segments, and the CTT count.  An ACK04 other than 068 (estimated
    delivery) is an error: a date the reader cannot place is not dropped silently."""

    def __init__(self, loop: str) -> None:
        self.loop = loop
        self.revision: int | None = None
        self.time = ""
        self.lines: list[L] = []
        self._current: tuple[int, AckLine, Callable[[AckLine], L]] | None = None
        self._acks: list[Ack] = []
        self._ctt: tuple[int, int] | None = None

    def read(
        self,
        segments: list[list[str]],
        header: tuple[str, Callable[[Segment, int], H]],
        line: Callable[[Segment, int], tuple[AckLine, Callable[[AckLine], L]]],
    ) -> H | None:
        """Read the set's segments in order; the last header read (``header``: its tag and
        reader), or ``None``.  ``line`` reads a ``loop`` segment into the line and what
        turns it, with its ACKs, into a line read."""
        head: H | None = None
        for n, seg in enumerate(segments, start=1):
            if seg[0] == header[0]:
                head = header[1](seg, n)
            elif seg[0] == self.loop:
                self._close()
                self._acks = []
                self._current = (n, *line(seg, n))
            else:
                self._take(seg, n)
        self._close()
        return head

    def _close(self) -> None:
        if self._current is not None:
            n, line, made = self._current
            if not self._acks:
                raise X12Error(el._at(self.loop, n), f"line {line.po_line} has no ACK")
            self.lines.append(made(replace(line, acks=tuple(self._acks))))
            self._current = None

    def _take(self, seg: Segment, n: int) -> None:
        """Read ``seg`` if it is a REF*PP, DTM*097, ACK or CTT; pass over any other."""
        tag = seg[0]
        if tag == "REF" and el._el(seg, 1) == "PP" and self._current is None:
            self.revision = el._qty(seg, 2, n, minimum=1)
        elif tag == "DTM" and el._el(seg, 1) == "097" and self._current is None:
            el._date(seg, 2, n)
            self.time = el._time(seg, 3, n)
        elif tag == "ACK":
            if self._current is None:
                raise X12Error(el._at("ACK", n), f"ACK before any {self.loop}")
            self._acks.append(self._ack(seg, n))
        elif tag == "CTT":
            self._ctt = (n, el._qty(seg, 1, n))

    def _ack(self, seg: Segment, n: int) -> Ack:
        code = el._code(seg, 1, n, ACK_CODES, "line status")
        qty, uom = el._qty(seg, 2, n), el._code(seg, 3, n, UOM_CODES, "unit of measure")
        expected = None
        if el._el(seg, 4) or el._el(seg, 5):
            if el._el(seg, 4) != "068":
                raise X12Error(el._where(seg, 4, n), f"unsupported date qualifier {seg[4]!r}")
            expected = el._date(seg, 5, n)
        return Ack(code, qty, uom, expected, el._pairs(seg, 7, n))

    def check_count(self) -> None:
        ctt, count = self._ctt, len(self.lines)
        if ctt is not None and ctt[1] != count:
            raise X12Error(el._at("CTT01", ctt[0]), f"says {ctt[1]} lines, the set has {count}")
