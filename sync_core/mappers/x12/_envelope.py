"""The envelope: reading an interchange's delimiters, segments, groups and sets, and the
element readers and writers the transaction sets share."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from pydantic import ValidationError

from sync_core.errors import MappingError

_E = TypeVar("_E", bound=StrEnum)


Segment = list[str]


_ELEMENT = "*"


_COMPONENT = ">"


_TERMINATOR = "~"


@dataclass(frozen=True, init=False)
class Envelope:
    sender_id: str
    receiver_id: str
    control_number: int

    # One per interchange (and a TransactionSet per set): filling __dict__ costs a quarter
    # of a frozen dataclass's generated __init__ (object.__setattr__ per field).
    def __init__(self, sender_id: str, receiver_id: str, control_number: int) -> None:
        d = self.__dict__
        d["sender_id"] = sender_id
        d["receiver_id"] = receiver_id
        d["control_number"] = control_number


@dataclass(frozen=True, init=False)
class TransactionSet:
    code: str  # ST01, e.g. "855"
    control_number: str  # ST02
    # ST .. SE inclusive, each the list of its elements (as str.split made it: a tuple
    # each cost 2 % of an 855's decision)
    segments: Sequence[Segment]
    group_code: str = ""  # GS01 of the group it came in
    group_control: str = ""  # GS06 of that group (what a 997's AK102 names)
    interchange_control: int = 0  # ISA13 of the interchange it came in
    component: str = _COMPONENT  # the sub-element separator its ISA16 declared

    def __init__(
        self,
        code: str,
        control_number: str,
        segments: Sequence[Segment],
        group_code: str = "",
        group_control: str = "",
        interchange_control: int = 0,
        component: str = _COMPONENT,
    ) -> None:
        self.__dict__.update(  # as Envelope's, in one call
            code=code, control_number=control_number, segments=segments, group_code=group_code,
            group_control=group_control, interchange_control=interchange_control,
            component=component,
        )  # fmt: skip


def _e(segment: Sequence[str], index: int) -> str:
    """Element ``index`` of a segment, or "" when the segment is shorter."""
    return segment[index] if index < len(segment) else ""


def _fail(doc: str, where: str, reason: str) -> MappingError:
    return MappingError(f"X12 {doc}", where, reason)


# ISA01..ISA16 widths: the ISA is fixed width, 106 characters with its terminator
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
# where its 16 element separators are (the one before each of ISA01..ISA16)
_ISA_SEPARATORS = operator.itemgetter(
    *itertools.accumulate((w + 1 for w in _ISA_WIDTHS[:-1]), initial=3)
)


def _delimiters(text: str) -> tuple[str, str, str]:
    """Element separator, sub-element separator and segment terminator, as the ISA
    declares them: ISA character 4, ISA16, and the character after ISA16."""
    if not text.startswith("ISA") or len(text) < 106:
        raise _fail("interchange", "ISA", "an interchange must start with a 106-character ISA")
    element = text[3]
    if _ISA_SEPARATORS(text).count(element) != len(_ISA_WIDTHS):
        at = 3
        for k, width in enumerate(_ISA_WIDTHS, start=1):
            if text[at] != element:
                raise _fail(
                    "interchange",
                    f"ISA{k - 1:02d}",
                    f"must be {_ISA_WIDTHS[k - 2]} characters: the ISA is fixed width",
                )
            at += width + 1
    return _distinct(element, text[104], text[105])


@functools.lru_cache(maxsize=64)  # partners use a handful of delimiter sets
def _distinct(element: str, component: str, terminator: str) -> tuple[str, str, str]:
    """The three delimiters, if they can delimit: different, not letters, digits, spaces."""
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
    """Split an interchange into its transaction sets, checking the envelopes.

    One pass over the segments, each split once (every 855, 856 and 810 comes through
    here: no per-element objects, no copies of a set)."""
    text = text.strip()
    element, component, terminator = _delimiters(text)
    segments = [s.split(element) for s in map(str.strip, text.split(terminator)) if s]
    isa = segments[0]
    if len(isa) != 17:
        raise _fail("interchange", "ISA", f"ISA has {len(isa) - 1} elements, expected 16")
    envelope = Envelope(isa[6].strip(), isa[8].strip(), _int("interchange", "ISA13", isa[13]))
    iea = segments[-1]
    if iea[0] != "IEA":
        raise _fail("interchange", "IEA", "missing IEA trailer")
    if _int("interchange", "IEA02", _e(iea, 2)) != envelope.control_number:
        raise _fail("interchange", "IEA02", "does not match ISA13")

    ids = [s[0] for s in segments]
    sets: list[TransactionSet] = []
    groups = 0
    i, end = 1, len(segments) - 1
    while i < end:
        gs = segments[i]
        if gs[0] != "GS":
            raise _fail("interchange", gs[0], "expected GS")
        groups += 1
        group = (_e(gs, 1), _e(gs, 6), envelope.control_number, component)
        first = len(sets)
        i += 1
        while i < end and ids[i] != "GE":
            i = _read_set(segments, ids, i, group, sets)
        if i >= end:
            raise _fail("interchange", "GE", "missing GE trailer")
        ge = segments[i]
        if _int("interchange", "GE01", _e(ge, 1)) != len(sets) - first:
            raise _fail(
                "interchange", "GE01", f"says {_e(ge, 1)} sets, group has {len(sets) - first}"
            )
        if _e(ge, 2) != group[1]:
            raise _fail("interchange", "GE02", "does not match GS06")
        i += 1
    if _int("interchange", "IEA01", _e(iea, 1)) != groups:
        raise _fail("interchange", "IEA01", f"says {_e(iea, 1)} groups, found {groups}")
    return envelope, sets


def _read_set(
    segments: list[Segment],
    ids: list[str],
    i: int,
    group: tuple[str, str, int, str],
    sets: list[TransactionSet],
) -> int:
    """Append the set starting at ``segments[i]`` (its ST) to ``sets``; where the next begins.
    ``ids`` are the segment ids; ``group`` is GS01, GS06, ISA13 and the component separator."""
    st = segments[i]
    if st[0] != "ST" or len(st) < 3:
        raise _fail("interchange", st[0], "expected ST")
    start = i
    try:
        i = ids.index("SE", i)
    except ValueError:
        i = len(ids)
    if i == len(ids) or "GE" in ids[start:i] or "IEA" in ids[start:i]:
        raise _fail(st[1], "SE", "missing SE trailer")
    se = segments[i]
    count = i - start + 1
    if _int(st[1], "SE01", _e(se, 1)) != count:
        raise _fail(st[1], "SE01", f"segment count says {_e(se, 1)}, the set has {count}")
    if _e(se, 2) != st[2]:
        raise _fail(st[1], "SE02", "control number does not match ST02")
    sets.append(TransactionSet(st[1], st[2], segments[start : i + 1], *group))
    return i + 1


def _at(where: str, segment: int | None) -> str:
    """An element's place for an error: ``where`` and, when given, the segment's number
    (formatted only for an error: readers pass the parts, not a string per element)."""
    return where if segment is None else f"{where} (segment {segment})"


def _int(doc: str, where: str, value: str, segment: int | None = None) -> int:
    try:
        if len(value) > 18:  # X12 numbers are at most 15 digits (N0 1/15)
            raise ValueError(value)  # and 4,000 of them would overflow a total's float
        return int(value)  # int() ignores the whitespace around a number, as strip() did
    except ValueError:
        raise _fail(doc, _at(where, segment), f"expected a number, got {value!r}") from None


def _date(doc: str, where: str, value: str, segment: int | None = None) -> dt.date:
    # By hand rather than strptime: this runs for every line of every document, and
    # strptime costs ten times as much.
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError(value)
        if value.isascii():  # CCYYMMDD is ISO 8601's basic form: one call
            return dt.date.fromisoformat(value)
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise _fail(doc, _at(where, segment), f"expected a date CCYYMMDD, got {value!r}") from None


def _enum(doc: str, where: str, kind: type[_E], value: str, segment: int | None = None) -> _E:
    # the members by value (what kind(value) looks up first, at a tenth of its cost)
    member = kind._value2member_map_.get(value)
    if member is None:
        raise _fail(doc, _at(where, segment), f"unknown code {value!r}")
    return member  # type: ignore[return-value]  # a member of kind (typing.cast: a call)


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


def _price(doc: str, where: str, value: str, segment: int | None = None) -> float:
    try:
        price = float(value)
        if not math.isfinite(price):  # "inf" and "1e400" would pass a model's gt=0
            raise ValueError(value)
        return price
    except ValueError:
        raise _fail(doc, _at(where, segment), f"expected a price, got {value!r}") from None
