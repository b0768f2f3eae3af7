"""What the core reads from partners: 855, 856, 810 and 997 sets, to the canonical model."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from sync_core.errors import MappingError
from sync_core.mappers.ack_lines import acknowledgment_json
from sync_core.mappers.x12._envelope import (
    TransactionSet,
    _date,
    _e,
    _enum,
    _fail,
    _first,
    _int,
    _price,
)
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
    SetAcknowledgment,
    SetSyntaxError,
    Uom,
)


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


def _acknowledged_line(
    doc: str, segment: str, line: dict[str, object], acks: list[LineAck]
) -> AcknowledgmentLine:
    """A line as acknowledged (an 855's PO1 or an 865's POC, with its ACKs), or a mapping
    error naming the line and the first thing wrong with it."""
    try:
        return AcknowledgmentLine.model_validate({**line, "acks": acks})
    except ValidationError as e:
        raise _fail(doc, f"{segment} line {line['line_no']}", _first(e)) from None


def acknowledgments_from_855(ts: TransactionSet) -> Acknowledgment:
    """Translate one 855 transaction set to a canonical acknowledgment.

    Its ``revision`` (the source version 855s are ordered by) is the partner's
    revision when it sends one (``REF*PP`` before the first PO1).  Many partners
    send none: then it is when the acknowledgment was made and then the interchange
    control number, ``epoch seconds * 10**9 + ISA13`` (UTC as sent), so a later 855
    is never overwritten by an earlier one that arrives after it.  When is DTM*097
    (transaction creation: date and time) when sent, else BAK09 (the acknowledgment
    date), else BAK04, at midnight: a 4010 BAK has no time element, so within one
    date the ISA13 decides.

    The set is read into plain fields and validated once, as a whole (the model's
    validator builds every line and ACK at once); a set that fails is read again
    step by step, each ACK and line validated where it is read, so the error names
    the first segment (or line) at fault.
    """
    if ts.code != "855":
        raise _fail(ts.code, "ST01", "expected an 855 purchase order acknowledgment")
    try:
        return Acknowledgment.model_validate(_read_855(ts, strict=False))
    except (MappingError, ValueError):  # a ValidationError is a ValueError
        pass  # read it again, validating as it goes: that raises the error to report
    return Acknowledgment(**_read_855(ts, strict=True))


def acknowledgment_json_from_855(ts: TransactionSet) -> dict[str, Any]:
    """An 855 as the core stores it: ``acknowledgments_from_855(ts).model_dump(mode="json")``
    without building the model (what the engine does with every 855: the ERP body, the WMS
    rows and the shortages are made from this form).

    The set is read straight into that form, codes as their values and dates as ISO
    8601, and checked against the model's constraints by hand (a test holds the two
    equal, and failing on the same sets); one that fails any check goes the model's
    way, step by step, which raises the error to report."""
    if ts.code == "855":
        try:
            return _read_855(ts, strict=False)
        except (MappingError, ValueError):
            pass
    return acknowledgment_json(acknowledgments_from_855(ts))


def _read_855(ts: TransactionSet, *, strict: bool) -> dict[str, Any]:
    """An 855's acknowledgment fields: its lines and ACKs as models, each validated where
    it is read, when ``strict``; else the model's JSON form, its constraints checked by hand
    (:func:`_ack_json`, :func:`_po1_json`): a :class:`ValueError` at anything the checked
    reading would refuse or read otherwise, which then decides it (a test holds both equal)."""
    doc = "855"
    po_number = ""
    ack_type: AckType | None = None
    ack_date: dt.date | None = None
    bak04 = ""
    revision: int | None = None
    sent_on: dt.date | None = None  # BAK09
    created: dt.datetime | None = None  # DTM*097
    lines: list[Any] = []
    current: dict[str, Any] | None = None
    acks: list[Any] = []
    ctt: int | None = None

    def close_line() -> None:
        """The line read before (if any) has its ACKs: checked, it joins ``lines``."""
        if current is not None:
            if not acks:
                raise _fail(doc, f"PO1 line {current['line_no']}", "line has no ACK segment")
            if strict:  # unchecked, the line joined them when read, its ACKs with it
                lines.append(_acknowledged_line(doc, "PO1", current, acks))

    for n, seg in enumerate(ts.segments, start=1):
        sid = seg[0]
        if sid == "ACK":
            if current is None:
                raise _fail(doc, f"ACK (segment {n})", "ACK before any PO1")
            acks.append(_line_ack(doc, n, seg) if strict else _ack_json(seg))
        elif sid == "PO1":
            if strict or not acks:
                close_line()
            acks = []
            if len(seg) < 5:
                raise _fail(
                    doc, f"PO1 (segment {n})", "PO1 needs line number, quantity, unit and price"
                )
            if strict:
                current = _po1_line(doc, n, seg)
                continue
            current = _po1_json(seg, acks)
            lines.append(current)
        elif sid == "BAK":
            if len(seg) < 5:
                raise _fail(doc, f"BAK (segment {n})", "BAK needs BAK01..BAK04")
            ack_type = _enum(doc, "BAK02", AckType, seg[2], n)
            po_number = seg[3]
            bak04 = seg[4]
            ack_date = _date(doc, "BAK04", bak04, n)
            if _e(seg, 9):
                sent_on = _date(doc, "BAK09", seg[9], n)
        elif sid == "REF" and len(seg) > 2 and seg[1] == "PP" and current is None:
            revision = _int(doc, "REF02", seg[2], n)
        elif sid == "DTM" and _e(seg, 1) == "097" and current is None:
            created = _date_time(doc, n, seg)
        elif sid == "CTT":
            ctt = _int(doc, "CTT01", _e(seg, 1), n)
    close_line()
    if ack_type is None or ack_date is None:
        raise _fail(doc, "BAK", "missing BAK segment")
    if ctt is not None and ctt != len(lines):
        raise _fail(doc, "CTT01", f"says {ctt} lines, the set has {len(lines)}")
    if revision is None:
        made = created or dt.datetime.combine(sent_on or ack_date, dt.time())
        revision = _arrival_order(made, ts.interchange_control)
    if strict:
        fields = {"po_number": po_number, "ack_type": ack_type, "ack_date": ack_date,
                  "revision": revision, "lines": tuple(lines)}  # fmt: skip
        try:
            Acknowledgment(**fields)
        except ValueError as e:
            raise _fail(doc, "BAK03", str(e)) from None
        return fields
    if not po_number or revision < 1:  # Acknowledgment's constraints
        raise ValueError(revision)
    return {"po_number": po_number, "ack_type": ack_type._value_,
            "ack_date": _iso(bak04, ack_date), "revision": revision, "lines": lines}  # fmt: skip


def _ack_json(seg: list[str]) -> dict[str, Any]:
    """An ACK read unchecked: :func:`_ack_fields` with ``LineAck``'s constraints checked by
    hand, a :class:`ValueError` at anything the checked reading would refuse or read
    otherwise."""
    if len(seg) < 4 or seg[1] not in _STATUSES or seg[3] not in _UNITS or len(seg[2]) > 18:
        raise ValueError(seg)
    count = int(seg[2])
    if count < 0:
        raise ValueError(seg)
    expected = None
    if len(seg) > 5 and seg[4] == "068" and seg[5]:
        day = seg[5]
        if len(day) != 8 or not day.isdigit() or not day.isascii():
            raise ValueError(seg)
        expected = _iso(day, dt.date.fromisoformat(day))
    return {"status": seg[1], "quantity": count, "uom": seg[3], "expected_date": expected}


def _po1_json(seg: list[str], acks: list[Any]) -> dict[str, Any]:
    """A PO1 read unchecked: :func:`_po1_line` with ``AcknowledgmentLine``'s constraints
    checked by hand; ``acks`` is the list its ACKs will join."""
    if len(seg[1]) > 18 or len(seg[2]) > 18 or seg[3] not in _UNITS:
        raise ValueError(seg)
    line_no, ordered, price = int(seg[1]), int(seg[2]), float(seg[4])
    if line_no < 1 or ordered < 1 or not 0 < price < math.inf:  # (not NaN either)
        raise ValueError(seg)
    return {"line_no": line_no, "ordered_quantity": ordered, "uom": seg[3],
            "unit_price": price, "acks": acks}  # fmt: skip


def _iso(text: str, day: dt.date) -> str:
    """``day.isoformat()``, ``day`` read from ``text`` (CCYYMMDD) by :func:`_date`: the
    text's own digits when they are ASCII (``date.fromisoformat`` read them as they
    stand), at a quarter of the cost of formatting the date."""
    return f"{text[:4]}-{text[4:6]}-{text[6:]}" if text.isascii() else day.isoformat()


def _po1_line(doc: str, n: int, seg: Sequence[str]) -> dict[str, Any]:
    """An 855's PO1 (at least five elements): the line as the partner echoes it back
    (in the model's JSON form: the unit as its code)."""
    return {
        "line_no": _int(doc, "PO101", seg[1], n),
        "ordered_quantity": _int(doc, "PO102", seg[2], n),
        "uom": _enum(doc, "PO103", Uom, seg[3], n)._value_,
        "unit_price": _price(doc, "PO104", seg[4], n),
    }


# the members by value: what the unchecked reading checks a code against
_STATUSES = LineStatus._value2member_map_
_UNITS = Uom._value2member_map_


def _ack_fields(doc: str, n: int, seg: Sequence[str]) -> dict[str, object]:
    """An 855's ACK: status, quantity, unit, and the expected date (ACK04 ``068``), in
    the model's JSON form (codes as their values, the date as ISO 8601)."""
    if len(seg) < 4:
        raise _fail(doc, f"ACK (segment {n})", "ACK needs ACK01..ACK03")
    expected = None
    if len(seg) > 5 and seg[4] == "068" and seg[5]:
        expected = _date(doc, "ACK05", seg[5], n).isoformat()
    return {
        "status": _enum(doc, "ACK01", LineStatus, seg[1], n)._value_,
        "quantity": _int(doc, "ACK02", seg[2], n),
        "uom": _enum(doc, "ACK03", Uom, seg[3], n)._value_,
        "expected_date": expected,
    }


def _line_ack(doc: str, n: int, seg: Sequence[str]) -> LineAck:
    """An ACK (segment ``n``) as a model, or a mapping error naming the segment."""
    fields = _ack_fields(doc, n, seg)
    try:
        return LineAck.model_validate(fields)
    except ValidationError as e:
        raise _fail(doc, f"ACK (segment {n})", _first(e)) from None


_EPOCH = dt.datetime(1970, 1, 1)


def _date_time(doc: str, n: int, seg: Sequence[str]) -> dt.datetime:
    """DTM02 and DTM03 (HHMM or HHMMSS; none: midnight) as one moment."""
    day = _date(doc, f"DTM02 (segment {n})", _e(seg, 2))
    clock = _e(seg, 3)
    if clock and not (len(clock) in (4, 6) and clock.isascii() and clock.isdigit()):
        raise _fail(doc, f"DTM03 (segment {n})", f"expected a time HHMM or HHMMSS, got {clock!r}")
    hour, minute, second = (int(clock[i : i + 2] or 0) for i in (0, 2, 4))
    try:
        return dt.datetime.combine(day, dt.time(hour, minute, second))
    except ValueError as e:
        raise _fail(doc, f"DTM03 (segment {n})", str(e)) from None


def _arrival_order(made: dt.datetime, isa13: int, doc: str = "855") -> int:
    """An 855's (or 865's) source version without a partner revision: when it was made,
    to the second, then ISA13 (a store's version is 64 bits: good until the year 2262)."""
    if not 0 <= isa13 < 10**9:
        raise _fail(doc, "ISA13", f"control number {isa13} is not 9 digits")
    version = int((made - _EPOCH).total_seconds()) * 10**9 + isa13
    if not 0 <= version < 2**63:
        raise _fail(doc, "DTM02", f"{made:%Y-%m-%d} is out of range for ordering {doc}s")
    return version


_INVOICE_PARTIES = {"RI": "remit_to", "BT": "bill_to", "ST": "ship_to"}  # N101 → field


def invoice_from_810(ts: TransactionSet, supplier_id: str) -> Invoice:
    """Translate one 810 to a canonical invoice from ``supplier_id``: BIG, the parties
    (N1 RI/BT/ST with GLNs), terms (ITD07 net days), shipped date (DTM*011), IT1
    lines and the TDS total."""
    if ts.code != "810":
        raise _fail(ts.code, "ST01", "expected an 810 invoice")
    doc = "810"
    header: dict[str, object] = {}
    where = {"": "BIG"}  # a header field → the element it came from
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
        elif sid == "N1" and _e(seg, 1) in _INVOICE_PARTIES and _e(seg, 3) == "UL":
            header[_INVOICE_PARTIES[_e(seg, 1)]] = _e(seg, 4)  # the model checks the GLN
            where[_INVOICE_PARTIES[_e(seg, 1)]] = f"N104 (segment {n})"
        elif sid == "ITD" and _e(seg, 7):
            header["net_days"] = _int(doc, f"ITD07 (segment {n})", _e(seg, 7))
        elif sid == "DTM" and _e(seg, 1) == "011":
            header["shipped_on"] = _date(doc, f"DTM02 (segment {n})", _e(seg, 2))
    if "invoice_number" not in header:
        raise _fail(doc, "BIG", "missing BIG segment")
    if "total" not in header:
        raise _fail(doc, "TDS", "missing TDS total")
    try:
        return Invoice.model_validate({**header, "supplier_id": supplier_id, "lines": lines})
    except ValidationError as e:
        field = str(e.errors()[0]["loc"][0])
        raise _fail(doc, where.get(field, "BIG"), _first(e)) from None
