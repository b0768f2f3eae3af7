"""X12 interchanges for the supplier link: the sync core's EDI translator.

Theory of operation: an interchange is ISA ... IEA around functional groups
(GS ... GE) around transaction sets (ST ... SE).  ``parse_interchange`` reads the
delimiters from the fixed-width ISA segment, checks every envelope count and
control number, and returns the transaction sets as lists of segments (a
segment is a list of element strings, the segment id first).  What partners
vary is read, not assumed: the element separator is ISA character 4, the
sub-element separator ISA16 and the segment terminator the character after it
(the ISA is fixed width, ASC X12 004010), so ``*``/``|``, ``>``/``:``/``^``
and ``~``/``'``/a newline all read alike, as does a CR/LF after each
terminator; an interchange may hold several groups and a group several sets;
GS08 is not checked (``004010`` and ``004010VICS`` read alike).  The 850 writer
and 855 reader on top translate between those segments and the canonical
model; anything that does not fit raises :class:`MappingError` naming the
segment and element.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

from pydantic import ValidationError

from sync_core.errors import MappingError
from sync_core.model import (
    Acknowledgment,
    AcknowledgmentLine,
    AckType,
    FaStatus,
    FunctionalAcknowledgment,
    Invoice,
    InvoiceLine,
    LineAck,
    LineStatus,
    PurchaseOrder,
    SetAcknowledgment,
    SetSyntaxError,
    ShipNotice,
    Uom,
)

__all__ = [
    "Envelope",
    "TransactionSet",
    "acknowledgments_from_855",
    "functional_ack_from_997",
    "invoice_from_810",
    "parse_interchange",
    "ship_notices_from_856",
    "write_850",
    "write_997",
]

_E = TypeVar("_E", bound=StrEnum)
Segment = list[str]
_ELEMENT = "*"
_COMPONENT = ">"
_TERMINATOR = "~"


@dataclass(frozen=True)
class Envelope:
    sender_id: str
    receiver_id: str
    control_number: int


@dataclass(frozen=True)
class TransactionSet:
    code: str  # ST01, e.g. "855"
    control_number: str  # ST02
    segments: tuple[tuple[str, ...], ...]  # ST .. SE inclusive
    group_code: str = ""  # GS01 of the group it came in
    group_control: str = ""  # GS06 of that group (what a 997's AK102 names)
    interchange_control: int = 0  # ISA13 of the interchange it came in
    component: str = _COMPONENT  # the sub-element separator its ISA16 declared


def _e(segment: Sequence[str], index: int) -> str:
    """Element ``index`` of a segment, or "" when the segment is shorter."""
    return segment[index] if index < len(segment) else ""


def _fail(doc: str, where: str, reason: str) -> MappingError:
    return MappingError(f"X12 {doc}", where, reason)


# ISA01..ISA16 widths: the ISA is fixed width, 106 characters with its terminator
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)


def _delimiters(text: str) -> tuple[str, str, str]:
    """Element separator, sub-element separator and segment terminator, as the ISA
    declares them: ISA character 4, ISA16, and the character after ISA16."""
    if not text.startswith("ISA") or len(text) < 106:
        raise _fail("interchange", "ISA", "an interchange must start with a 106-character ISA")
    element, at = text[3], 3
    for k, width in enumerate(_ISA_WIDTHS, start=1):
        if text[at] != element:
            raise _fail(
                "interchange",
                f"ISA{k - 1:02d}",
                f"must be {_ISA_WIDTHS[k - 2]} characters: the ISA is fixed width",
            )
        at += width + 1
    component, terminator = text[104], text[105]
    if len({element, component, terminator}) != 3 or any(
        d.isalnum() or d == " " for d in (element, component, terminator)
    ):
        raise _fail(
            "interchange",
            "ISA16",
            f"delimiters {element!r}, {component!r} and {terminator!r} must differ and "
            "be neither letters, digits nor spaces",
        )
    return element, component, terminator


def parse_interchange(text: str) -> tuple[Envelope, list[TransactionSet]]:
    """Split an interchange into its transaction sets, checking the envelopes."""
    text = text.strip()
    element, component, terminator = _delimiters(text)
    raw = [s.strip() for s in text.split(terminator) if s.strip()]
    segments = [s.split(element) for s in raw]
    isa = segments[0]
    if len(isa) != 17:
        raise _fail("interchange", "ISA", f"ISA has {len(isa) - 1} elements, expected 16")
    envelope = Envelope(
        _e(isa, 6).strip(), _e(isa, 8).strip(), _int("interchange", "ISA13", _e(isa, 13))
    )
    if segments[-1][0] != "IEA":
        raise _fail("interchange", "IEA", "missing IEA trailer")
    if _int("interchange", "IEA02", _e(segments[-1], 2)) != envelope.control_number:
        raise _fail("interchange", "IEA02", "does not match ISA13")

    sets: list[TransactionSet] = []
    groups = 0
    i = 1
    while i < len(segments) - 1:
        seg = segments[i]
        if seg[0] == "GS":
            groups += 1
            gs_control, in_group = _e(seg, 6), 0
            i += 1
            while i < len(segments) - 1 and segments[i][0] != "GE":
                ts, i = _read_set(segments, i)
                sets.append(
                    replace(
                        ts,
                        group_code=_e(seg, 1),
                        group_control=gs_control,
                        interchange_control=envelope.control_number,
                        component=component,
                    )
                )
                in_group += 1
            if i >= len(segments) - 1:
                raise _fail("interchange", "GE", "missing GE trailer")
            ge = segments[i]
            if _int("interchange", "GE01", _e(ge, 1)) != in_group:
                raise _fail("interchange", "GE01", f"says {_e(ge, 1)} sets, group has {in_group}")
            if _e(ge, 2) != gs_control:
                raise _fail("interchange", "GE02", "does not match GS06")
            i += 1
        else:
            raise _fail("interchange", seg[0], "expected GS")
    if _int("interchange", "IEA01", _e(segments[-1], 1)) != groups:
        raise _fail("interchange", "IEA01", f"says {_e(segments[-1], 1)} groups, found {groups}")
    return envelope, sets


def _read_set(segments: list[Segment], i: int) -> tuple[TransactionSet, int]:
    st = segments[i]
    if st[0] != "ST" or len(st) < 3:
        raise _fail("interchange", st[0], "expected ST")
    start = i
    while i < len(segments) and segments[i][0] not in ("SE", "GE", "IEA"):
        i += 1
    if i >= len(segments) or segments[i][0] != "SE":
        raise _fail(_e(st, 1), "SE", "missing SE trailer")
    se = segments[i]
    count = i - start + 1
    if _int(_e(st, 1), "SE01", _e(se, 1)) != count:
        raise _fail(_e(st, 1), "SE01", f"segment count says {_e(se, 1)}, the set has {count}")
    if _e(se, 2) != _e(st, 2):
        raise _fail(_e(st, 1), "SE02", "control number does not match ST02")
    body = tuple(tuple(s) for s in segments[start : i + 1])
    return TransactionSet(_e(st, 1), _e(st, 2), body), i + 1


def _int(doc: str, where: str, value: str) -> int:
    try:
        if len(value) > 18:  # X12 numbers are at most 15 digits (N0 1/15)
            raise ValueError(value)  # and 4,000 of them would overflow a total's float
        return int(value.strip())
    except ValueError:
        raise _fail(doc, where, f"expected a number, got {value!r}") from None


def _date(doc: str, where: str, value: str) -> dt.date:
    # By hand rather than strptime: this runs for every line of every document, and
    # strptime costs ten times as much.
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError(value)
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise _fail(doc, where, f"expected a date CCYYMMDD, got {value!r}") from None


def _enum(doc: str, where: str, kind: type[_E], value: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise _fail(doc, where, f"unknown code {value!r}") from None


def _isa(sender: str, receiver: str, control: int, now: dt.datetime) -> str:
    return _ELEMENT.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            sender.ljust(15),
            "ZZ",
            receiver.ljust(15),
            now.strftime("%y%m%d"),
            now.strftime("%H%M"),
            # the standards identifier U: in version 00401 ISA11 is element I10 (a
            # repetition separator takes its place only from 00402 on; ASC X12 004010)
            "U",
            "00401",
            f"{control:09d}",
            "0",
            "P",
            _COMPONENT,
        ]
    )


def _decimal(value: float) -> str:
    """A price as an X12 ``R`` element: cents always, more decimals only when they count."""
    whole, frac = f"{value:.6f}".split(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


def _check_delimiters(segments: list[list[str]]) -> None:
    """X12 4010 has no escape: a value holding a delimiter would corrupt the interchange."""
    for seg in segments:
        for i, value in enumerate(seg[1:], start=1):
            for delimiter in (_ELEMENT, _TERMINATOR, _COMPONENT):
                if delimiter in value:
                    raise _fail(
                        seg[0] if seg[0] != "ST" else "850",
                        f"{seg[0]}{i:02d}",
                        f"value {value!r} contains the delimiter {delimiter!r}",
                    )


def write_850(
    po: PurchaseOrder, *, sender: str, receiver: str, control: int, now: dt.datetime
) -> str:
    """One interchange holding one 850 for ``po``."""
    body: list[list[str]] = [
        ["ST", "850", "0001"],
        # BEG01: 00 original, 05 replace (a changed PO: the supplier's order entry takes the
        # newer revision whole, lines left out are no longer ordered), 01 cancellation.
        [
            "BEG",
            "01" if po.canceled else "00" if po.version == 1 else "05",
            "SA",
            po.po_number,
            "",
            po.order_date.strftime("%Y%m%d"),
        ],
        ["REF", "DP", po.department],
        ["REF", "ZZ", str(po.version)],
        ["DTM", "002", po.requested_date.strftime("%Y%m%d")],
        ["N1", "ST", "SHIP TO", "UL", po.ship_to],
    ]
    for line in po.lines:
        body.append(
            [
                "PO1",
                str(line.line_no),
                str(line.quantity),
                line.uom.value,
                _decimal(line.unit_price),
                "",
                "VC",
                line.vendor_part,
                "UK",
                line.gtin,
            ]
        )
        if line.critical:
            body.append(["REF", "ZZ", "CRITICAL"])
    body.append(["CTT", str(len(po.lines))])
    body.append(["SE", str(len(body) + 1), "0001"])
    _check_delimiters(body)
    return _interchange("PO", body, sender, receiver, control, now)


def _interchange(
    group_code: str,
    body: list[list[str]],
    sender: str,
    receiver: str,
    control: int,
    now: dt.datetime,
) -> str:
    """One interchange of one group (GS06 = ISA13) holding one set, ST..SE ``body``."""
    segments = [
        _isa(sender, receiver, control, now),
        _ELEMENT.join(
            [
                "GS",
                group_code,
                sender,
                receiver,
                now.strftime("%Y%m%d"),
                now.strftime("%H%M"),
                str(control),
                "X",
                "004010",
            ]
        ),
        *(_ELEMENT.join(s) for s in body),
        _ELEMENT.join(["GE", "1", str(control)]),
        _ELEMENT.join(["IEA", "1", f"{control:09d}"]),
    ]
    return _TERMINATOR.join(segments) + _TERMINATOR


def write_997(
    sets: Sequence[TransactionSet],
    errors: dict[str, SetSyntaxError],
    *,
    sender: str,
    receiver: str,
    control: int,
    now: dt.datetime,
) -> str:
    """One interchange holding a 997 for the group ``sets`` came in (all from one GS):
    AK5 ``A`` for each set, ``R`` with AK3/AK4 for those in ``errors`` (by ST02)."""
    if not sets or len({(t.group_code, t.group_control) for t in sets}) != 1:
        raise ValueError("a 997 answers the sets of exactly one functional group")
    body: list[list[str]] = [
        ["ST", "997", "0001"],
        ["AK1", sets[0].group_code, sets[0].group_control],
    ]
    for ts in sets:
        body.append(["AK2", ts.code, ts.control_number])
        error = errors.get(ts.control_number)
        if error is None:
            body.append(["AK5", "A"])
            continue
        body.append(["AK3", error.segment, str(error.position), "", "8"])
        if error.element:
            ak4 = ["AK4", str(error.element), error.reference, error.code or "7"]
            body.append([*ak4, error.value] if error.value else ak4)
        body.append(["AK5", "R", "5"])
    accepted = len(sets) - sum(1 for t in sets if t.control_number in errors)
    verdict = "A" if accepted == len(sets) else "R" if accepted == 0 else "P"
    body.append(["AK9", verdict, str(len(sets)), str(len(sets)), str(accepted)])
    body.append(["SE", str(len(body) + 1), "0001"])
    _check_delimiters(body)
    return _interchange("FA", body, sender, receiver, control, now)


def functional_ack_from_997(ts: TransactionSet) -> FunctionalAcknowledgment:
    """Translate one 997 transaction set to a canonical functional acknowledgment."""
    if ts.code != "997":
        raise _fail(ts.code, "ST01", "expected a 997 functional acknowledgment")
    doc = "997"
    group: tuple[str, str] | None = None
    verdict: FaStatus | None = None
    sets: list[SetAcknowledgment] = []
    current: tuple[str, str] | None = None
    errors: list[SetSyntaxError] = []
    for n, seg in enumerate(ts.segments, start=1):
        sid = seg[0]
        if sid == "AK1":
            group = (_e(seg, 1), _e(seg, 2))
        elif sid == "AK2":
            current, errors = (_e(seg, 1), _e(seg, 2)), []
        elif sid == "AK3":
            if current is None:
                raise _fail(doc, f"AK3 (segment {n})", "AK3 before any AK2")
            position = _int(doc, f"AK302 (segment {n})", _e(seg, 2))
            errors.append(SetSyntaxError(segment=_e(seg, 1), position=max(position, 1)))
        elif sid == "AK4":
            if not errors:
                raise _fail(doc, f"AK4 (segment {n})", "AK4 without its AK3")
            element = _int(doc, f"AK401 (segment {n})", _e(seg, 1).split(ts.component)[0])
            errors[-1] = errors[-1].model_copy(
                update={
                    "element": element,
                    "reference": _e(seg, 2),
                    "code": _e(seg, 3),
                    "value": _e(seg, 4),
                }
            )
        elif sid == "AK5":
            if current is None:
                raise _fail(doc, f"AK5 (segment {n})", "AK5 before any AK2")
            status = _enum(doc, f"AK501 (segment {n})", FaStatus, _e(seg, 1))
            sets.append(SetAcknowledgment(
                code=current[0], control_number=current[1], status=status, errors=tuple(errors)
            ))  # fmt: skip
            current = None
        elif sid == "AK9":
            verdict = _enum(doc, f"AK901 (segment {n})", FaStatus, _e(seg, 1))
    if group is None or not group[1]:
        raise _fail(doc, "AK1", "missing AK1 (the group acknowledged)")
    if verdict is None:
        raise _fail(doc, "AK9", "missing AK9 (the group's verdict)")
    return FunctionalAcknowledgment(
        group_code=group[0], group_control=group[1], status=verdict, sets=tuple(sets)
    )


def acknowledgments_from_855(ts: TransactionSet) -> Acknowledgment:
    """Translate one 855 transaction set to a canonical acknowledgment.

    Its ``revision`` (the source version 855s are ordered by) is the partner's
    revision when it sends one (``REF*ZZ`` before the first PO1).  Real suppliers
    send none: then it is the acknowledgment's date and then the interchange
    control number, ``CCYYMMDD * 10**9 + ISA13`` (e.g. ``20240116000000007``), so
    a later 855 is never overwritten by an earlier one that arrives after it.  The
    date is BAK09 (the acknowledgment date) when sent, else BAK04; a 4010 BAK has
    no time element, so within one date the ISA13 decides.
    """
    if ts.code != "855":
        raise _fail(ts.code, "ST01", "expected an 855 purchase order acknowledgment")
    doc = "855"
    po_number = ""
    ack_type: AckType | None = None
    ack_date: dt.date | None = None
    revision: int | None = None
    sent_on: dt.date | None = None  # BAK09
    lines: list[AcknowledgmentLine] = []
    current: dict[str, object] | None = None
    acks: list[LineAck] = []
    ctt: int | None = None

    def close_line() -> None:
        if current is not None:
            if not acks:
                raise _fail(doc, f"PO1 line {current['line_no']}", "line has no ACK segment")
            try:
                lines.append(AcknowledgmentLine.model_validate({**current, "acks": acks}))
            except ValidationError as e:
                raise _fail(doc, f"PO1 line {current['line_no']}", _first(e)) from None

    for n, seg in enumerate(ts.segments, start=1):
        sid = seg[0]
        where = f"{sid} (segment {n})"
        if sid == "BAK":
            if len(seg) < 5:
                raise _fail(doc, where, "BAK needs BAK01..BAK04")
            ack_type = _enum(doc, f"BAK02 (segment {n})", AckType, _e(seg, 2))
            po_number = _e(seg, 3)
            ack_date = _date(doc, f"BAK04 (segment {n})", _e(seg, 4))
            if _e(seg, 9):
                sent_on = _date(doc, f"BAK09 (segment {n})", _e(seg, 9))
        elif sid == "REF" and len(seg) > 2 and _e(seg, 1) == "ZZ" and current is None:
            revision = _int(doc, f"REF02 (segment {n})", _e(seg, 2))
        elif sid == "PO1":
            close_line()
            acks = []
            if len(seg) < 5:
                raise _fail(doc, where, "PO1 needs line number, quantity, unit and price")
            current = {
                "line_no": _int(doc, f"PO101 (segment {n})", _e(seg, 1)),
                "ordered_quantity": _int(doc, f"PO102 (segment {n})", _e(seg, 2)),
                "uom": _enum(doc, f"PO103 (segment {n})", Uom, _e(seg, 3)),
                "unit_price": _price(doc, f"PO104 (segment {n})", _e(seg, 4)),
            }
        elif sid == "ACK":
            if current is None:
                raise _fail(doc, where, "ACK before any PO1")
            if len(seg) < 4:
                raise _fail(doc, where, "ACK needs ACK01..ACK03")
            expected = None
            if len(seg) > 5 and _e(seg, 4) == "068" and _e(seg, 5):
                expected = _date(doc, f"ACK05 (segment {n})", _e(seg, 5))
            try:
                ack = LineAck(
                    status=_enum(doc, f"ACK01 (segment {n})", LineStatus, _e(seg, 1)),
                    quantity=_int(doc, f"ACK02 (segment {n})", _e(seg, 2)),
                    uom=_enum(doc, f"ACK03 (segment {n})", Uom, _e(seg, 3)),
                    expected_date=expected,
                )
            except ValidationError as e:
                raise _fail(doc, f"ACK (segment {n})", _first(e)) from None
            acks.append(ack)
        elif sid == "CTT":
            ctt = _int(doc, f"CTT01 (segment {n})", _e(seg, 1))
    close_line()
    if ack_type is None or ack_date is None:
        raise _fail(doc, "BAK", "missing BAK segment")
    if ctt is not None and ctt != len(lines):
        raise _fail(doc, "CTT01", f"says {ctt} lines, the set has {len(lines)}")
    if revision is None:
        revision = _arrival_order(sent_on or ack_date, ts.interchange_control)
    try:
        return Acknowledgment(
            po_number=po_number,
            ack_type=ack_type,
            ack_date=ack_date,
            revision=revision,
            lines=tuple(lines),
        )
    except ValueError as e:
        raise _fail(doc, "BAK03", str(e)) from None


def _arrival_order(date: dt.date, isa13: int) -> int:
    """An 855's source version without a partner revision: date, then ISA13 (it fits a
    store's 64-bit version: 99991231 * 10**9 < 2**63)."""
    if not 0 <= isa13 < 10**9:
        raise _fail("855", "ISA13", f"control number {isa13} is not 9 digits")
    return (date.year * 10_000 + date.month * 100 + date.day) * 10**9 + isa13


def _first(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def _price(doc: str, where: str, value: str) -> float:
    try:
        price = float(value)
        if not math.isfinite(price):  # "inf" and "1e400" would pass a model's gt=0
            raise ValueError(value)
        return price
    except ValueError:
        raise _fail(doc, where, f"expected a price, got {value!r}") from None


# HL03 levels (element 735) the 856 reader knows: shipment, order, tare, pack, item
_HL_LEVELS = frozenset("SOTPI")


def ship_notices_from_856(ts: TransactionSet) -> list[ShipNotice]:
    """Translate one 856 to a ship notice per PO it carries.  The hierarchy is
    Shipment → Order → Item, optionally with Tare and Pack levels between (S-O-I,
    S-O-P-I, S-O-T-P-I): an item belongs to the order level above it by HL02
    (an HL without HL02 hangs under the level before it)."""
    if ts.code != "856":
        raise _fail(ts.code, "ST01", "expected an 856 ship notice")
    doc = "856"
    shipment = ""
    ship_date: dt.date | None = None
    orders: list[tuple[str, list[dict[str, object]]]] = []
    order_of: dict[str, int | None] = {}  # HL01 → index into orders of its order level
    item: dict[str, object] | None = None
    for n, seg in enumerate(ts.segments, start=1):
        sid = seg[0]
        if sid == "BSN":
            shipment = _e(seg, 2)
            ship_date = _date(doc, f"BSN03 (segment {n})", _e(seg, 3))
        elif sid == "HL":
            item = None
            level, parent = _e(seg, 3), _e(seg, 2)
            if level not in _HL_LEVELS:
                raise _fail(doc, f"HL03 (segment {n})", f"unknown hierarchical level {level!r}")
            if parent and parent not in order_of:
                raise _fail(doc, f"HL02 (segment {n})", f"no HL {parent!r} before it")
            above = order_of[parent] if parent else len(orders) - 1 if orders else None
            if level == "O":
                above = len(orders)
                orders.append(("", []))
            elif level == "S":
                above = None
            elif level == "I":
                if above is None:
                    raise _fail(doc, f"HL (segment {n})", "an item level before any order level")
                item = {}
                orders[above][1].append(item)
            order_of[_e(seg, 1)] = above
        elif sid == "PRF":
            if not orders:
                raise _fail(doc, f"PRF (segment {n})", "PRF outside an order level")
            orders[-1] = (_e(seg, 1), orders[-1][1])
        elif item is not None and sid == "LIN":
            ids = dict(zip(seg[2::2], seg[3::2], strict=False))
            item["line_no"] = _int(doc, f"LIN01 (segment {n})", _e(seg, 1))
            item["vendor_part"] = ids.get("VC", "")
            item["gtin"] = ids.get("UK", "")
        elif item is not None and sid == "SN1":
            item["quantity"] = _int(doc, f"SN102 (segment {n})", _e(seg, 2))
            item["uom"] = _enum(doc, f"SN103 (segment {n})", Uom, _e(seg, 3))
        elif item is not None and sid == "REF" and _e(seg, 1) == "LT":
            item["lot"] = _e(seg, 2)
        elif item is not None and sid == "DTM" and _e(seg, 1) == "036":
            item["expiry"] = _date(doc, f"DTM02 (segment {n})", _e(seg, 2))
    if not shipment or ship_date is None:
        raise _fail(doc, "BSN", "missing BSN segment")
    notices = []
    for i, (po_number, items) in enumerate(orders):
        asn = shipment if len(orders) == 1 else f"{shipment}/{i + 1}"
        try:
            notices.append(
                ShipNotice.model_validate(
                    {
                        "asn_number": asn,
                        "po_number": po_number,
                        "ship_date": ship_date,
                        "lines": items,
                    }
                )
            )
        except ValidationError as e:
            raise _fail(doc, f"order {po_number or i + 1}", _first(e)) from None
    if not notices:
        raise _fail(doc, "HL", "no order level")
    return notices


def invoice_from_810(ts: TransactionSet, supplier_id: str) -> Invoice:
    """Translate one 810 to a canonical invoice from ``supplier_id``."""
    if ts.code != "810":
        raise _fail(ts.code, "ST01", "expected an 810 invoice")
    doc = "810"
    header: dict[str, object] = {}
    lines: list[InvoiceLine] = []
    for n, seg in enumerate(ts.segments, start=1):
        sid = seg[0]
        if sid == "BIG":
            header["invoice_date"] = _date(doc, f"BIG01 (segment {n})", _e(seg, 1))
            header["invoice_number"] = _e(seg, 2)
            header["po_number"] = _e(seg, 4)
        elif sid == "IT1":
            try:
                lines.append(
                    InvoiceLine(
                        line_no=_int(doc, f"IT101 (segment {n})", _e(seg, 1)),
                        quantity=_int(doc, f"IT102 (segment {n})", _e(seg, 2)),
                        uom=_enum(doc, f"IT103 (segment {n})", Uom, _e(seg, 3)),
                        unit_price=_price(doc, f"IT104 (segment {n})", _e(seg, 4)),
                    )
                )
            except ValidationError as e:
                raise _fail(doc, f"IT1 (segment {n})", _first(e)) from None
        elif sid == "TDS":
            header["total"] = _int(doc, f"TDS01 (segment {n})", _e(seg, 1)) / 100
    if "invoice_number" not in header:
        raise _fail(doc, "BIG", "missing BIG segment")
    if "total" not in header:
        raise _fail(doc, "TDS", "missing TDS total")
    try:
        return Invoice.model_validate({**header, "supplier_id": supplier_id, "lines": lines})
    except ValidationError as e:
        raise _fail(doc, "BIG", _first(e)) from None
