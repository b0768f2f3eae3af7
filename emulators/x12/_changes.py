"""The 860 purchase order change (read) and the 865 change acknowledgment (written and read).

ASC X12 004010.  An 860 opens with BCH (BCH01 purpose, element 353: ``04`` change or
``01`` cancellation; BCH02 ``SA``; BCH03 the PO number; BCH05 the change order
sequence number, element 327, numbering the buyer's changes to the PO 1, 2, 3...;
BCH06 the PO date; BCH11 the
date of the change), the PO revision it brings the order to in ``REF*PP`` (element
128 ``PP``, as in the 850), and one POC per changed line (POC01 the line, POC02
the change, element 670; POC03 the quantity now ordered, POC04 the quantity left
to receive, POC05 the unit, POC06 the unit price, then VC/UK product ids) with,
for a clinically critical line, ``CSH*P2`` in its POC loop (CSH01, element 563 ``P2``:
ship as soon as possible; CSH is a POC-loop segment of the 4010 860 as it is a
PO1-loop segment of the 850).  An 865 answers it: BCA (BCA02 acknowledgment type,
element 587; BCA05 the change order sequence number it answers; BCA06 the PO date;
BCA10 the acknowledgment date), the supplier's acknowledgment revision in ``REF*PP``
and the moment it was made in ``DTM*097`` as in its 855, and per changed line the
POC again with the line's ACK segments as they now stand.  No ``REF*ZZ`` (mutually
defined) anywhere: every element has its standard place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.x12 import _elements as el
from emulators.x12._elements import BAK_CODES, UOM_CODES, Segment, X12Error
from emulators.x12._orders import AckedLines, AckLine, ack_segments

__all__ = [
    "CHANGE_CODES",
    "CHANGE_PURPOSES",
    "ChangedLine",
    "PurchaseOrderChangeAck",
    "read_860",
    "read_865",
    "render_865",
]

# POC02 (element 670), the changes this network trades: add item, changes to line
# items (quantity and price together), delete item, price change, quantity decrease,
# quantity increase
CHANGE_CODES = frozenset("AI CA DI PC QD QI".split())
CHANGE_PURPOSES = frozenset({"01", "04"})  # BCH01 (element 353): cancellation, change


def read_860(segments: list[list[str]], limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The supplier's change record for one 860: the PO, the change's number, the PO
    revision it brings (``revision``, from ``REF*PP``) and each POC (``critical`` from
    ``CSH*P2`` in its loop)."""
    el._check_set(segments, "860")
    change: dict[str, Any] = {"changes": []}
    numbers: set[int] = set()
    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "BCH":
            change["purpose"] = el._code(seg, 1, n, CHANGE_PURPOSES, "transaction set purpose")
            change["customer_po"] = el._req(seg, 3, n)
            change["sequence"] = el._qty(seg, 5, n, minimum=1)
            change["po_date"] = el._date(seg, 6, n)
        elif tag == "REF" and el._el(seg, 1) == "PP" and not change["changes"]:
            change["revision"] = el._qty(seg, 2, n, minimum=1)  # element 128 PP
        elif tag == "CSH" and el._el(seg, 1) == "P2" and change["changes"]:
            change["changes"][-1]["critical"] = True  # element 563 P2: ship asap
        elif tag == "POC":
            if len(change["changes"]) == limits.max_lines:
                raise X12Error(el._at("POC", n), f"more than {limits.max_lines} lines")
            change["changes"].append(_poc(seg, n, limits))
            if change["changes"][-1]["po_line"] in numbers:
                raise X12Error(el._where(seg, 1, n), f"line {seg[1]} appears twice")
            numbers.add(change["changes"][-1]["po_line"])
        elif tag == "CTT" and el._qty(seg, 1, n) != len(change["changes"]):
            detail = f"says {seg[1]} lines, the set has {len(change['changes'])}"
            raise X12Error(el._where(seg, 1, n), detail)
    if "customer_po" not in change:
        raise X12Error("BCH", "860 without BCH")
    if not change["changes"]:
        raise X12Error("POC", "860 without POC lines")
    return change


def _poc(seg: Segment, n: int, limits: Limits) -> dict[str, Any]:
    code = el._code(seg, 2, n, CHANGE_CODES, "line item change")
    ids = dict(el._pairs(seg, 8, n))
    for k in range(8, len(seg) - 1, 2):
        if seg[k] in ("UK", "EN"):
            el._gs1(seg, k + 1, n, seg[k])
    deleted = code == "DI"
    return {
        "po_line": el._qty(seg, 1, n, minimum=1),
        "code": code,
        "qty": el._qty(seg, 3, n, minimum=0 if deleted else 1, maximum=limits.max_quantity),
        "uom": el._code(seg, 5, n, UOM_CODES, "unit of measure"),
        "price": el._price(seg, 6, n, limits.max_price),
        "vendor_part": ids.get("VC", ""),
        "gtin": ids.get("UK", ""),
        "critical": False,
    }


@dataclass(frozen=True)
class ChangedLine:
    """A POC of an 865: the change it answers (POC02) and the line as it now stands."""

    code: str
    line: AckLine


@dataclass(frozen=True)
class PurchaseOrderChangeAck:
    po_number: str  # BCA03
    ack_type: str  # BCA02
    po_date: str  # BCA06, CCYYMMDD
    date: str  # BCA10, CCYYMMDD
    change_sequence: int  # BCA05: the 860's BCH05 it answers
    lines: tuple[ChangedLine, ...]
    revision: int | None = None  # REF*PP: the supplier's acknowledgment revision
    time: str = ""  # DTM*097 (transaction creation) DTM03, HHMMSS; DTM02 is ``date``


def render_865(doc: PurchaseOrderChangeAck, control: str) -> list[list[str]]:
    """The segments ST..SE of one 865."""
    if doc.ack_type not in BAK_CODES:
        raise X12Error("BCA02", f"unknown acknowledgment type {doc.ack_type!r}")
    body: list[Segment] = [
        ["BCA", "00", doc.ack_type, doc.po_number, "", str(doc.change_sequence), doc.po_date,
         "", "", "", doc.date],
    ]  # fmt: skip
    if doc.revision is not None:
        body.append(["REF", "PP", str(doc.revision)])
    if doc.time:
        body.append(["DTM", "097", doc.date, doc.time])
    for changed in doc.lines:
        line = changed.line
        if changed.code not in CHANGE_CODES:
            raise X12Error("POC02", f"unknown line item change {changed.code!r}")
        if line.uom not in UOM_CODES:
            raise X12Error("POC05", f"unknown unit of measure {line.uom!r}")
        ids = el._ids(line.vendor_part, line.gtin)
        body.append(["POC", str(line.po_line), changed.code, str(line.qty), str(line.qty),
                     line.uom, line.price, "", *ids])  # fmt: skip
        body += ack_segments(line.acks)
    body.append(["CTT", str(len(doc.lines))])
    return el._close("865", body, control)


def read_865(segments: list[list[str]]) -> PurchaseOrderChangeAck:
    el._check_set(segments, "865")

    def bca(seg: Segment, n: int) -> tuple[str, str, str, str, int]:
        ack_type = el._code(seg, 2, n, BAK_CODES, "acknowledgment type")
        sequence = el._qty(seg, 5, n, minimum=1)
        return (el._req(seg, 3, n), ack_type, el._date(seg, 6, n), el._date(seg, 10, n),
                sequence)  # fmt: skip

    def poc(seg: Segment, n: int) -> tuple[AckLine, Callable[[AckLine], ChangedLine]]:
        code = el._code(seg, 2, n, CHANGE_CODES, "line item change")
        return _poc_line(seg, n), partial(ChangedLine, code)

    acked: AckedLines[ChangedLine] = AckedLines("POC")
    header = acked.read(segments, ("BCA", bca), poc)
    if header is None:
        raise X12Error("BCA", "865 without BCA")
    acked.check_count()
    number, ack_type, po_date, date, sequence = header
    lines, revision, time = tuple(acked.lines), acked.revision, acked.time
    return PurchaseOrderChangeAck(number, ack_type, po_date, date, sequence, lines, revision, time)


def _poc_line(seg: Segment, n: int) -> AckLine:
    ids = dict(el._pairs(seg, 8, n))
    return AckLine(
        el._qty(seg, 1, n, minimum=1),
        el._qty(seg, 3, n),
        el._code(seg, 5, n, UOM_CODES, "unit of measure"),
        el._price(seg, 6, n),
        ids.get("VC", ""),
        ids.get("UK", ""),
    )
