"""The envelope: reading an interchange's delimiters, segments, groups and sets, and the
element readers and writers the transaction sets share."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

from pydantic import ValidationError

from sync_core.errors import MappingError

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
