"""The supplier network's own X12 translator (4010): 850 in; 855, 856 and 810 out; 997 both ways.

Theory of operation: :func:`tokenize` splits one ISA...IEA interchange into
segments using the delimiters its fixed-width ISA declares.
:class:`Interchange` checks the envelope on the way in (ISA version and
control number; per group GE01 = its sets and GE02 = GS06; IEA01 = the groups
and IEA02 = ISA13; per set SE01 = its segments ST..SE inclusive and SE02 =
ST02; GS01 fits ST01) and renders one on the way out, refusing any value that
holds a delimiter (4010 has no escape).  Inside the envelope each transaction
set has a reader and a writer over plain frozen records, so what is written
reads back equal: ``read_850`` gives the supplier's order-entry record (a
dict); ``render_855``/``read_855`` a :class:`PurchaseOrderAck`;
``render_856``/``read_856`` a :class:`ShipNotice` (HL Shipment → Order (PRF)
→ optional Pack → Item (LIN, SN1, REF*LT lot, DTM*036 expiry));
``render_810``/``read_810`` an :class:`Invoice` (BIG, IT1 lines, TDS total in
cents).  Readers check the code lists (ACK01 668, BAK02 587, UoM 355, HL03
735) and the trailer counts (CTT01, TDS01).  What comes in is bounded by a
:class:`~emulators.limits.Limits`: the interchange's segment count and every
element's length (``Interchange.parse``), and in an 850 the number of PO1
lines, quantities, unit prices, dates that exist (BEG05, DTM02) and GS1 keys
with a valid check digit (GLN in ``N1*..*UL``, GTIN after ``UK``/``EN`` in
PO1), as a partner's translator checks them (GS1 General Specifications,
section 7.9: the standard check digit calculation).  Every error is an
:class:`X12Error` naming where: the envelope element (``"SE01"``) or, inside a
set, the element and its segment's position counted from ST = 1
(``"ACK01 (segment 7)"``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from stdnum import ean

from emulators.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "ACK_CODES",
    "AK5_CODES",
    "AK9_CODES",
    "BAK_CODES",
    "GROUP_CODES",
    "HL_LEVELS",
    "UOM_CODES",
    "Ack",
    "AckLine",
    "ElementError",
    "FunctionalAck",
    "Interchange",
    "Invoice",
    "InvoiceLine",
    "PurchaseOrderAck",
    "SetAck",
    "ShipNotice",
    "ShippedItem",
    "ShippedOrder",
    "X12Error",
    "cents",
    "read_810",
    "read_850",
    "read_855",
    "read_856",
    "read_997",
    "render_810",
    "render_855",
    "render_856",
    "render_997",
    "tokenize",
    "write_855",
]

ACK_CODES = frozenset("IA AC AR IB BP IC IP IQ DR IE IS SP IH IW IF IR ID".split())  # element 668
BAK_CODES = frozenset("AC AD AE AK AT RD RJ RO".split())  # element 587
UOM_CODES = frozenset("EA BX CA PK CT DZ".split())  # element 355, the ones this network uses
HL_LEVELS = frozenset("S O P I".split())  # element 735: shipment, order, pack, item
PURPOSES = frozenset("00 01 05".split())  # BEG01 (element 353): original, cancel, replace
GROUP_CODES = {"850": "PO", "855": "PR", "856": "SH", "810": "IN", "997": "FA"}  # GS01 by ST01
_PARENT: dict[str, tuple[str, ...]] = {
    "S": ("",),
    "O": ("S",),
    "P": ("O",),
    "I": ("O", "P"),
}  # HL level → parent levels
_DELIMITERS = ("*", "~", ">")  # what render writes: element, segment, component
_HOLDS_DELIMITER = re.compile("[*~>]").search
# R 1/17 (PO104, IT104): ASCII digits only ("\d" would admit "٣")
_PRICE = re.compile(r"(?=.{1,18}$)([0-9]{1,17}|[0-9]+\.[0-9]+)").fullmatch
# quantities of 15 digits times prices of 17, in cents, summed: exact, never "InvalidOperation"
_EXACT = Context(prec=60)

Segment = list[str]


class X12Error(ValueError):
    """A document that is not valid X12 here; ``segment`` names where, e.g. ``"SE01"``."""

    def __init__(self, segment: str, reason: str) -> None:
        self.segment = segment
        self.reason = reason
        super().__init__(f"{segment}: {reason}")

    @property
    def element(self) -> str:
        """The element (or segment id) at fault, without its position."""
        return self.segment.split(" ", 1)[0]


# -- envelope -------------------------------------------------------------------


def tokenize(text: str) -> list[Segment]:
    """The segments of one interchange, split by the delimiters its ISA declares."""
    text = text.strip()
    if len(text) < 106 or not text.startswith("ISA"):
        raise X12Error("ISA", "interchange must begin with a 106-character ISA segment")
    element, component, terminator = text[3], text[104], text[105]
    if len({element, component, terminator}) != 3 or any(
        d.isalnum() or d == " " for d in (element, component, terminator)
    ):
        raise X12Error("ISA16", "element, component and segment delimiters must differ")
    segments = [s.strip("\r\n").split(element) for s in text.split(terminator)]
    segments = [s for s in segments if s != [""]]
    if len(segments[0]) != 17:
        raise X12Error("ISA", f"ISA has {len(segments[0]) - 1} elements, expected 16")
    return segments


@dataclass
class Interchange:
    sender: str
    receiver: str
    control: int
    sets: list[list[list[str]]]  # each set: its segments, ST..SE
    # ISA14: "1" asks the receiver for a TA1 interchange acknowledgment (what the partner
    # profile says); read back from a parsed interchange
    ack_requested: bool = False
    # per functional group read, in order: (GS01, GS06, how many of ``sets`` it holds)
    groups: list[tuple[str, str, int]] = field(default_factory=list, compare=False)

    @classmethod
    def parse(cls, text: str, limits: Limits = DEFAULT_LIMITS) -> Interchange:
        segs = tokenize(text)
        if len(segs) > limits.max_segments:
            detail = f"the interchange has {len(segs)} segments, at most {limits.max_segments}"
            raise X12Error("ISA", detail)
        isa, iea = segs[0], segs[-1]
        if isa[12] != "00401":
            raise X12Error("ISA12", f"expected version 00401, got {isa[12]!r}")
        control = _envelope_int("ISA13", isa[13], digits=9)
        if iea[0] != "IEA":
            raise X12Error("IEA", "missing IEA trailer")
        sets: list[list[list[str]]] = []
        groups: list[tuple[str, str, int]] = []
        i = 1
        while i < len(segs) - 1:
            gs = segs[i]
            if gs[0] != "GS":
                raise X12Error(gs[0], f"expected GS at segment {i + 1}")
            in_group, i = 0, i + 1
            while i < len(segs) - 1 and segs[i][0] != "GE":
                body, i = _read_set(segs, i, _el(gs, 1), limits.max_text_length)
                sets.append(body)
                in_group += 1
            if i >= len(segs) - 1:
                raise X12Error("GE", f"group {_el(gs, 6)} has no GE trailer")
            ge = segs[i]
            if _envelope_int("GE01", _el(ge, 1)) != in_group:
                raise X12Error("GE01", f"says {_el(ge, 1)} sets, the group has {in_group}")
            if _el(ge, 2) != _el(gs, 6):
                raise X12Error("GE02", f"{_el(ge, 2)!r} differs from GS06 {_el(gs, 6)!r}")
            groups.append((_el(gs, 1), _el(gs, 6), in_group))
            i += 1
        if _envelope_int("IEA01", _el(iea, 1)) != len(groups):
            detail = f"says {_el(iea, 1)} groups, the interchange has {len(groups)}"
            raise X12Error("IEA01", detail)
        if _envelope_int("IEA02", _el(iea, 2)) != control:
            raise X12Error("IEA02", f"{_el(iea, 2)!r} differs from ISA13 {isa[13]!r}")
        ack = isa[14] == "1"
        return cls(isa[6].strip(), isa[8].strip(), control, sets, ack, groups)

    def render(self, group_code: str, stamp: dt.datetime) -> str:
        for name, party in (("ISA06", self.sender), ("ISA08", self.receiver)):
            if not 1 <= len(party) <= 15 or any(d in party for d in _DELIMITERS):
                raise X12Error(name, f"interchange id {party!r} must be 1-15 plain characters")
        for ts in self.sets:
            if not _HOLDS_DELIMITER("".join(map("".join, ts))):
                continue  # one scan per set (tags are plain); segment by segment on a hit
            for n, seg in enumerate(ts, start=1):
                for k, value in enumerate(seg[1:], start=1):
                    if any(d in value for d in _DELIMITERS):
                        raise X12Error(
                            _at(f"{seg[0]}{k:02d}", n), f"value {value!r} holds a delimiter"
                        )
        date, time = stamp.strftime("%y%m%d"), stamp.strftime("%H%M")
        # ISA11 is the standards identifier U in version 00401 (a repetition separator
        # takes its place only from 00402 on: ASC X12 004010, ISA segment, element I10)
        isa = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", self.sender.ljust(15), "ZZ",
               self.receiver.ljust(15), date, time, "U", "00401", f"{self.control:09d}",
               "1" if self.ack_requested else "0", "P", ">"]  # fmt: skip
        gs = ["GS", group_code, self.sender, self.receiver, stamp.strftime("%Y%m%d"), time,
              str(self.control), "X", "004010"]  # fmt: skip
        out = ["*".join(isa), "*".join(gs)]
        out += ["*".join(seg) for ts in self.sets for seg in ts]
        out += [f"GE*{len(self.sets)}*{self.control}", f"IEA*1*{self.control:09d}"]
        return "~".join(out) + "~"


def _read_set(
    segs: list[Segment], i: int, group_code: str, max_element: int
) -> tuple[list[Segment], int]:
    st = segs[i]
    if st[0] != "ST":
        raise X12Error(st[0], f"expected ST at segment {i + 1}")
    expected_group = GROUP_CODES.get(_el(st, 1))
    if expected_group is not None and group_code != expected_group:
        raise X12Error("GS01", f"a {_el(st, 1)} belongs in a {expected_group} group")
    j = i + 1
    while j < len(segs) - 1 and segs[j][0] not in ("SE", "ST", "GE"):
        j += 1
    if segs[j][0] != "SE":
        raise X12Error("SE", f"transaction set {_el(st, 2)} has no SE trailer")
    body, se = segs[i : j + 1], segs[j]
    if _envelope_int("SE01", _el(se, 1)) != len(body):
        raise X12Error("SE01", f"segment count {_el(se, 1)} but the set has {len(body)}")
    if _el(se, 2) != _el(st, 2):
        raise X12Error("SE02", f"{_el(se, 2)!r} differs from ST02 {_el(st, 2)!r}")
    for n, seg in enumerate(body, start=1):
        for k, value in enumerate(seg[1:], start=1):
            if len(value) > max_element:
                raise X12Error(_where(seg, k, n), f"longer than {max_element} characters")
    return body, j + 1


# -- elements -------------------------------------------------------------------


def _at(element: str, n: int) -> str:
    return f"{element} (segment {n})"


def _el(seg: Sequence[str], i: int) -> str:
    return seg[i] if i < len(seg) else ""


def _where(seg: Sequence[str], i: int, n: int) -> str:
    return _at(f"{seg[0]}{i:02d}", n)


def _is_number(value: str) -> bool:
    """ASCII digits, at most 15: the widest numeric element (R/N0 1/15) of what we read.

    ``str.isdigit`` alone admits "²" (which ``int`` refuses) and 5,000 digits (past
    ``int``'s guard, and past the 28 digits a :class:`Decimal` total keeps exact)."""
    return len(value) <= 15 and value.isascii() and value.isdigit()


def _envelope_int(where: str, value: str, digits: int | None = None) -> int:
    if not _is_number(value) or (digits is not None and len(value) != digits):
        size = f"{digits}-digit " if digits else ""
        raise X12Error(where, f"expected a {size}number, got {value!r}")
    return int(value)


def _req(seg: Sequence[str], i: int, n: int) -> str:
    value = _el(seg, i)
    if not value:
        raise X12Error(_where(seg, i, n), "required element is missing")
    return value


def _qty(seg: Sequence[str], i: int, n: int, minimum: int = 0, maximum: int | None = None) -> int:
    value = _el(seg, i)
    if not _is_number(value) or int(value) < minimum:
        raise X12Error(_where(seg, i, n), f"expected a whole number >= {minimum}, got {value!r}")
    if maximum is not None and int(value) > maximum:
        raise X12Error(_where(seg, i, n), f"{value} is more than the limit {maximum}")
    return int(value)


def _code(seg: Sequence[str], i: int, n: int, codes: frozenset[str], what: str) -> str:
    value = _el(seg, i)
    if value not in codes:
        raise X12Error(_where(seg, i, n), f"unknown {what} {value!r}")
    return value


def _date(seg: Sequence[str], i: int, n: int) -> str:
    value = _el(seg, i)
    try:  # by hand: strptime costs ten times as much, and runs for every document
        if len(value) != 8 or not (value.isascii() and value.isdigit()):
            raise ValueError
        dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise X12Error(_where(seg, i, n), f"expected a date CCYYMMDD, got {value!r}") from None
    return value


def _time(seg: Sequence[str], i: int, n: int) -> str:
    value = _el(seg, i)
    if not re.fullmatch(r"([01]\d|2[0-3])[0-5]\d", value):
        raise X12Error(_where(seg, i, n), f"expected a time HHMM, got {value!r}")
    return value


def _price(seg: Sequence[str], i: int, n: int, maximum: float | None = None) -> str:
    value = _el(seg, i)
    if not _PRICE(value) or Decimal(value) <= 0:
        raise X12Error(_where(seg, i, n), f"expected a unit price > 0, got {value!r}")
    if maximum is not None and Decimal(value) > Decimal(str(maximum)):
        raise X12Error(_where(seg, i, n), f"{value} is more than the limit {maximum:g}")
    return value


_GS1_KEYS = {"UL": ("GLN", (13,)), "UK": ("GTIN", (14,)), "EN": ("GTIN", (8, 12, 13, 14))}


def _gs1(seg: Sequence[str], i: int, n: int, qualifier: str) -> str:
    """A GS1 key after its qualifier: the right length and a valid check digit."""
    value = _el(seg, i)
    what, lengths = _GS1_KEYS[qualifier]
    if not (value.isascii() and value.isdigit() and len(value) in lengths):
        size = " or ".join(map(str, lengths))
        raise X12Error(_where(seg, i, n), f"a {what} has {size} digits, got {value!r}")
    if not ean.is_valid(value):
        raise X12Error(_where(seg, i, n), f"{what} {value} has a wrong check digit")
    return value


def _pairs(seg: Sequence[str], start: int, n: int) -> tuple[tuple[str, str], ...]:
    """(qualifier, id) pairs from element ``start`` on, e.g. VC/UK product ids."""
    rest = list(seg[start:])
    if len(rest) % 2:
        raise X12Error(_where(seg, len(seg), n), "a qualifier without its id")
    return tuple((q, v) for q, v in zip(rest[::2], rest[1::2], strict=True) if q or v)


def _ids(vendor_part: str, gtin: str) -> list[str]:
    return (["VC", vendor_part] if vendor_part else []) + (["UK", gtin] if gtin else [])


def _trim(seg: Segment) -> Segment:
    """X12 drops trailing empty elements."""
    while len(seg) > 1 and seg[-1] == "":
        seg.pop()
    return seg


def _check_set(segments: Sequence[Sequence[str]], code: str) -> None:
    if not segments or segments[0][0] != "ST" or _el(segments[0], 1) != code:
        got = _el(segments[0], 1) if segments else "nothing"
        raise X12Error(_at("ST01", 1), f"expected a {code}, got {got!r}")


def _close(code: str, body: list[Segment], control: str) -> list[Segment]:
    segs = [["ST", code, control], *body]
    segs.append(["SE", str(len(segs) + 1), control])
    return segs


def cents(qty: int, price: str) -> int:
    """``qty`` times ``price`` in cents, rounded half up."""
    with localcontext(_EXACT):
        return int((Decimal(qty) * Decimal(price) * 100).quantize(Decimal(1), ROUND_HALF_UP))


# -- 850 purchase order (read) ------------------------------------------------------


def read_850(segments: list[list[str]], limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The supplier's order-entry record for one 850 transaction set."""
    _check_set(segments, "850")
    order: dict[str, Any] = {"lines": []}
    numbers: set[int] = set()
    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "BEG":
            order["purpose"] = _code(seg, 1, n, PURPOSES, "transaction set purpose")
            order["customer_po"] = _req(seg, 3, n)
            order["po_date"] = _date(seg, 5, n)
        elif tag == "REF" and _el(seg, 1) == "ZZ" and _el(seg, 2) == "CRITICAL" and order["lines"]:
            order["lines"][-1]["critical"] = True
        elif tag == "REF" and _el(seg, 1) == "ZZ" and not order["lines"]:
            order["revision"] = _qty(seg, 2, n, minimum=1)
        elif tag == "N1" and _el(seg, 1) == "ST":
            order["ship_to_gln"] = _req(seg, 4, n)
            if _el(seg, 3) == "UL":
                _gs1(seg, 4, n, "UL")
        elif tag == "DTM" and _el(seg, 2):
            _date(seg, 2, n)
        elif tag == "PO1":
            if len(order["lines"]) == limits.max_lines:
                raise X12Error(_at("PO1", n), f"more than {limits.max_lines} lines")
            number = _qty(seg, 1, n, minimum=1)
            if number in numbers:
                raise X12Error(_where(seg, 1, n), f"line {number} appears twice")
            numbers.add(number)
            ids = dict(_pairs(seg, 6, n))
            for k in range(6, len(seg) - 1, 2):
                if seg[k] in ("UK", "EN"):
                    _gs1(seg, k + 1, n, seg[k])
            order["lines"].append(
                {
                    "po_line": number,
                    "qty": _qty(seg, 2, n, minimum=1, maximum=limits.max_quantity),
                    "uom": _code(seg, 3, n, UOM_CODES, "unit of measure"),
                    "price": _price(seg, 4, n, limits.max_price),
                    "vendor_part": ids.get("VC", ""),
                    "gtin": ids.get("UK", ""),
                    "critical": False,
                }
            )
        elif tag == "CTT" and _qty(seg, 1, n) != len(order["lines"]):
            raise X12Error(_where(seg, 1, n), f"says {seg[1]} lines, the set has {len(numbers)}")
    if "customer_po" not in order:
        raise X12Error("BEG", "850 without BEG")
    if not order["lines"]:
        raise X12Error("PO1", "850 without PO1 lines")
    return order


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
    revision: int | None = None  # REF*ZZ before the first PO1


def render_855(doc: PurchaseOrderAck, control: str) -> list[list[str]]:
    """The segments ST..SE of one 855."""
    if doc.ack_type not in BAK_CODES:
        raise X12Error("BAK02", f"unknown acknowledgment type {doc.ack_type!r}")
    body: list[Segment] = [["BAK", "00", doc.ack_type, doc.po_number, doc.date]]
    if doc.revision is not None:
        body.append(["REF", "ZZ", str(doc.revision)])
    for line in doc.lines:
        if line.uom not in UOM_CODES:
            raise X12Error("PO103", f"unknown unit of measure {line.uom!r}")
        ids = _ids(line.vendor_part, line.gtin)
        body.append(["PO1", str(line.po_line), str(line.qty), line.uom, line.price, "", *ids])
        for ack in line.acks:
            if ack.code not in ACK_CODES:
                raise X12Error("ACK01", f"unknown line status {ack.code!r}")
            if ack.uom not in UOM_CODES:
                raise X12Error("ACK03", f"unknown unit of measure {ack.uom!r}")
            seg = ["ACK", ack.code, str(ack.qty), ack.uom]
            seg += ["068", ack.expected] if ack.expected else ["", ""]
            seg += [""] + [x for pair in ack.product for x in pair]
            body.append(_trim(seg))
    body.append(["CTT", str(len(doc.lines))])
    return _close("855", body, control)


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
    _check_set(segments, "855")
    header: tuple[str, str, str] | None = None
    revision: int | None = None
    lines: list[AckLine] = []
    current: tuple[int, AckLine] | None = None  # (its segment position, the line so far)
    acks: list[Ack] = []
    ctt: tuple[int, int] | None = None

    def close() -> None:
        if current is not None:
            n, line = current
            if not acks:
                raise X12Error(_at("PO1", n), f"line {line.po_line} has no ACK")
            lines.append(replace(line, acks=tuple(acks)))

    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "BAK":
            ack_type = _code(seg, 2, n, BAK_CODES, "acknowledgment type")
            header = (_req(seg, 3, n), ack_type, _date(seg, 4, n))
        elif tag == "REF" and _el(seg, 1) == "ZZ" and current is None:
            revision = _qty(seg, 2, n, minimum=1)
        elif tag == "PO1":
            close()
            acks = []
            ids = dict(_pairs(seg, 6, n))
            line = AckLine(
                _qty(seg, 1, n, minimum=1),
                _qty(seg, 2, n, minimum=1),
                _code(seg, 3, n, UOM_CODES, "unit of measure"),
                _price(seg, 4, n),
                ids.get("VC", ""),
                ids.get("UK", ""),
            )
            current = (n, line)
        elif tag == "ACK":
            if current is None:
                raise X12Error(_at("ACK", n), "ACK before any PO1")
            code = _code(seg, 1, n, ACK_CODES, "line status")
            qty, uom = _qty(seg, 2, n), _code(seg, 3, n, UOM_CODES, "unit of measure")
            expected = None
            if _el(seg, 4) or _el(seg, 5):
                if _el(seg, 4) != "068":
                    raise X12Error(_where(seg, 4, n), f"unsupported date qualifier {seg[4]!r}")
                expected = _date(seg, 5, n)
            acks.append(Ack(code, qty, uom, expected, _pairs(seg, 7, n)))
        elif tag == "CTT":
            ctt = (n, _qty(seg, 1, n))
    close()
    if header is None:
        raise X12Error("BAK", "855 without BAK")
    if ctt is not None and ctt[1] != len(lines):
        raise X12Error(_at("CTT01", ctt[0]), f"says {ctt[1]} lines, the set has {len(lines)}")
    return PurchaseOrderAck(*header, tuple(lines), revision)


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
            body.append(["LIN", str(item.po_line), *_ids(item.vendor_part, item.gtin)])
            body.append(["SN1", "", str(item.qty), item.uom])
            if item.lot:
                body.append(["REF", "LT", item.lot])
            if item.expiry:
                body.append(["DTM", "036", item.expiry])
    body.append(["CTT", str(hl)])
    return _close("856", body, control)


def read_856(segments: list[list[str]]) -> ShipNotice:
    _check_set(segments, "856")
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
            raise X12Error(_at("HL", level_at), "an order level needs its PRF")
        if item is not None:
            for needed, segment in (("po_line", "LIN"), ("qty", "SN1")):
                if needed not in item:
                    raise X12Error(_at("HL", level_at), f"an item level needs its {segment}")
            index = item.pop("order")
            orders[index][1].append(ShippedItem(**item))
            item = None

    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "BSN":
            header = (_req(seg, 2, n), _date(seg, 3, n), _time(seg, 4, n))
        elif tag == "HL":
            close_level()
            number, parent = _el(seg, 1), _el(seg, 2)
            if number != str(len(levels) + 1):
                raise X12Error(_where(seg, 1, n), f"expected HL {len(levels) + 1}, got {number!r}")
            level = _code(seg, 3, n, HL_LEVELS, "hierarchical level")
            if levels.get(parent, "") not in _PARENT[level] or (parent and parent not in levels):
                raise X12Error(_where(seg, 2, n), f"a level {level} cannot hang under {parent!r}")
            if level == "S" and levels:
                raise X12Error(_where(seg, 3, n), "only the first HL is the shipment")
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
                raise X12Error(_at("PRF", n), "PRF belongs to an order level")
            orders[-1] = (_req(seg, 1, n), orders[-1][1])
        elif tag in ("LIN", "SN1") or (tag in ("REF", "DTM") and item is not None):
            if item is None:
                raise X12Error(_at(tag, n), f"{tag} belongs to an item level")
            if tag == "LIN":
                ids = dict(_pairs(seg, 2, n))
                item.update(po_line=_qty(seg, 1, n, minimum=1), vendor_part=ids.get("VC", ""))
                item["gtin"] = ids.get("UK", "")
            elif tag == "SN1":
                item["qty"] = _qty(seg, 2, n, minimum=1)
                item["uom"] = _code(seg, 3, n, UOM_CODES, "unit of measure")
            elif tag == "REF" and _el(seg, 1) == "LT":
                item["lot"] = _req(seg, 2, n)
            elif tag == "DTM" and _el(seg, 1) == "036":
                item["expiry"] = _date(seg, 2, n)
            if tag == "SN1" and "po_line" not in item:
                raise X12Error(_at("SN1", n), "SN1 before the item's LIN")
        elif tag == "CTT":
            ctt = (n, _qty(seg, 1, n))
    close_level()
    if header is None:
        raise X12Error("BSN", "856 without BSN")
    if not levels or levels["1"] != "S":
        raise X12Error("HL", "856 without a shipment level")
    if ctt is not None and ctt[1] != len(levels):
        raise X12Error(_at("CTT01", ctt[0]), f"says {ctt[1]} levels, the set has {len(levels)}")
    shipped = tuple(ShippedOrder(po, tuple(items)) for po, items in orders)
    return ShipNotice(*header, shipped)


# -- 810 invoice ------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLine:
    po_line: int  # IT101
    qty: int  # IT102
    uom: str  # IT103
    price: str  # IT104
    vendor_part: str  # IT1 VC
    gtin: str = ""  # IT1 UK

    @property
    def amount_cents(self) -> int:
        return cents(self.qty, self.price)


@dataclass(frozen=True)
class Invoice:
    invoice_number: str  # BIG02
    date: str  # BIG01, CCYYMMDD
    po_number: str  # BIG04
    lines: tuple[InvoiceLine, ...]
    po_date: str = ""  # BIG03

    @property
    def total_cents(self) -> int:
        """TDS01: the sum of quantity times unit price, in cents (rounded once, half up)."""
        with localcontext(_EXACT):
            exact = sum((Decimal(ln.qty) * Decimal(ln.price) for ln in self.lines), Decimal(0))
            return int((exact * 100).quantize(Decimal(1), ROUND_HALF_UP))


def render_810(doc: Invoice, control: str) -> list[list[str]]:
    body: list[Segment] = [["BIG", doc.date, doc.invoice_number, doc.po_date, doc.po_number]]
    for line in doc.lines:
        if line.uom not in UOM_CODES:
            raise X12Error("IT103", f"unknown unit of measure {line.uom!r}")
        ids = _ids(line.vendor_part, line.gtin)
        body.append(["IT1", str(line.po_line), str(line.qty), line.uom, line.price, "", *ids])
    body.append(["TDS", str(doc.total_cents)])
    body.append(["CTT", str(len(doc.lines))])
    return _close("810", body, control)


def read_810(segments: list[list[str]]) -> Invoice:
    _check_set(segments, "810")
    header: tuple[str, str, str, str] | None = None
    lines: list[InvoiceLine] = []
    tds: tuple[int, int] | None = None
    ctt: tuple[int, int] | None = None
    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "BIG":
            po_date = _date(seg, 3, n) if _el(seg, 3) else ""
            header = (_req(seg, 2, n), _date(seg, 1, n), _req(seg, 4, n), po_date)
        elif tag == "IT1":
            ids = dict(_pairs(seg, 6, n))
            lines.append(
                InvoiceLine(
                    _qty(seg, 1, n, minimum=1),
                    _qty(seg, 2, n, minimum=1),
                    _code(seg, 3, n, UOM_CODES, "unit of measure"),
                    _price(seg, 4, n),
                    ids.get("VC", ""),
                    ids.get("UK", ""),
                )
            )
        elif tag == "TDS":
            tds = (n, _qty(seg, 1, n))
        elif tag == "CTT":
            ctt = (n, _qty(seg, 1, n))
    if header is None:
        raise X12Error("BIG", "810 without BIG")
    number, date, po_number, po_date = header
    invoice = Invoice(number, date, po_number, tuple(lines), po_date)
    if tds is None:
        raise X12Error("TDS", "810 without TDS total")
    if tds[1] != invoice.total_cents:
        raise X12Error(
            _at("TDS01", tds[0]), f"total {tds[1]} but the lines add up to {invoice.total_cents}"
        )
    if ctt is not None and ctt[1] != len(lines):
        raise X12Error(_at("CTT01", ctt[0]), f"says {ctt[1]} lines, the set has {len(lines)}")
    return invoice


# -- 997 functional acknowledgment ------------------------------------------------------

AK5_CODES = frozenset("A E M R W X".split())  # element 717 (A accepted, E with errors, R rej.)
AK9_CODES = frozenset("A E M P R W X".split())  # element 715 (P partially accepted)


@dataclass(frozen=True)
class ElementError:
    """AK3 (+ AK4): where a transaction set is in error, and why (ASC X12 004010, 997)."""

    segment: str  # AK301, the segment id
    position: int  # AK302, the segment's position counted from ST = 1
    element: int = 0  # AK401, the element's position in the segment (0: none, no AK4)
    reference: str = ""  # AK402, the data element reference number, e.g. "355"
    code: str = "7"  # AK403 (723): 1 missing, 4 too short, 5 too long, 7 invalid code, 8 date
    value: str = ""  # AK404, a copy of the bad data element
    segment_code: str = "8"  # AK304 (720): 8 = segment has data element errors


@dataclass(frozen=True)
class SetAck:
    """AK2 .. AK5: one transaction set's syntax verdict."""

    code: str  # AK201 = its ST01
    control: str  # AK202 = its ST02
    status: str = "A"  # AK501 (717)
    errors: tuple[ElementError, ...] = ()
    reason: str = ""  # AK502 (718): 5 = one or more segments in error

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")


@dataclass(frozen=True)
class FunctionalAck:
    """One 997: the answer to one functional group (AK1 = its GS01 and GS06)."""

    group_code: str  # AK101
    group_control: str  # AK102
    sets: tuple[SetAck, ...]
    received: int | None = None  # AK903, when it differs from the sets acknowledged

    @property
    def status(self) -> str:
        """AK901: A all accepted, R none, P some, E all accepted but some with errors."""
        accepted = sum(1 for s in self.sets if s.accepted)
        if self.sets and accepted == 0:
            return "R"
        if accepted < len(self.sets):
            return "P"
        return "E" if any(s.status == "E" for s in self.sets) else "A"


def render_997(doc: FunctionalAck, control: str) -> list[list[str]]:
    """The segments ST..SE of one 997 (never itself acknowledged)."""
    body: list[Segment] = [["AK1", doc.group_code, doc.group_control]]
    for ack in doc.sets:
        if ack.status not in AK5_CODES:
            raise X12Error("AK501", f"unknown set status {ack.status!r}")
        body.append(["AK2", ack.code, ack.control])
        for err in ack.errors:
            body.append(["AK3", err.segment, str(err.position), "", err.segment_code])
            if err.element:
                ak4 = ["AK4", str(err.element), err.reference, err.code, err.value]
                body.append(_trim(ak4))
        reason = ack.reason or ("" if ack.status == "A" else "5")
        body.append(_trim(["AK5", ack.status, reason]))
    received = len(doc.sets) if doc.received is None else doc.received
    accepted = sum(1 for s in doc.sets if s.accepted)
    body.append(["AK9", doc.status, str(len(doc.sets)), str(received), str(accepted)])
    return _close("997", body, control)


def read_997(segments: list[list[str]]) -> FunctionalAck:
    _check_set(segments, "997")
    group: tuple[str, str] | None = None
    sets: list[SetAck] = []
    current: tuple[str, str] | None = None
    errors: list[ElementError] = []
    ak9: tuple[int, list[str]] | None = None
    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "AK1":
            group = (_req(seg, 1, n), _req(seg, 2, n))
        elif tag == "AK2":
            current, errors = (_req(seg, 1, n), _req(seg, 2, n)), []
        elif tag == "AK3":
            if current is None:
                raise X12Error(_at("AK3", n), "AK3 before any AK2")
            errors.append(
                ElementError(_req(seg, 1, n), _qty(seg, 2, n, minimum=1), segment_code=_el(seg, 4))
            )
        elif tag == "AK4":
            if not errors:
                raise X12Error(_at("AK4", n), "AK4 without its AK3")
            element = _req(seg, 1, n).split(">")[0]
            if not _is_number(element):
                raise X12Error(_where(seg, 1, n), f"expected an element position, got {element!r}")
            errors[-1] = replace(
                errors[-1],
                element=int(element),
                reference=_el(seg, 2),
                code=_req(seg, 3, n),
                value=_el(seg, 4),
            )
        elif tag == "AK5":
            if current is None:
                raise X12Error(_at("AK5", n), "AK5 before any AK2")
            status = _code(seg, 1, n, AK5_CODES, "set acknowledgment code")
            sets.append(SetAck(*current, status, tuple(errors), _el(seg, 2)))
            current = None
        elif tag == "AK9":
            _code(seg, 1, n, AK9_CODES, "group acknowledgment code")
            ak9 = (n, seg)
    if group is None:
        raise X12Error("AK1", "997 without AK1")
    if current is not None:
        raise X12Error("AK5", f"set {current[1]} has no AK5")
    if ak9 is None:
        raise X12Error("AK9", "997 without AK9")
    n, seg = ak9
    included, received = _qty(seg, 2, n), _qty(seg, 3, n)
    if included != len(sets):
        raise X12Error(_where(seg, 2, n), f"says {included} sets, the 997 has {len(sets)}")
    doc = FunctionalAck(*group, tuple(sets), received if received != len(sets) else None)
    if seg[1] != doc.status:
        raise X12Error(_where(seg, 1, n), f"says {seg[1]}, the sets say {doc.status}")
    return doc
