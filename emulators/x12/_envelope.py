"""The X12 envelope: ISA/GS/ST ... SE/GE/IEA, read and checked, rendered and checked.

See :mod:`emulators.x12` for the checks; a value that holds a delimiter is refused
(4010 has no escape).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.x12 import _elements as el
from emulators.x12._elements import _DELIMITERS, GROUP_CODES, Segment, X12Error

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
        control = el._envelope_int("ISA13", isa[13], digits=9)
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
                body, i = _read_set(segs, i, el._el(gs, 1), limits.max_text_length)
                sets.append(body)
                in_group += 1
            if i >= len(segs) - 1:
                raise X12Error("GE", f"group {el._el(gs, 6)} has no GE trailer")
            ge = segs[i]
            if el._envelope_int("GE01", el._el(ge, 1)) != in_group:
                raise X12Error("GE01", f"says {el._el(ge, 1)} sets, the group has {in_group}")
            if el._el(ge, 2) != el._el(gs, 6):
                raise X12Error("GE02", f"{el._el(ge, 2)!r} differs from GS06 {el._el(gs, 6)!r}")
            groups.append((el._el(gs, 1), el._el(gs, 6), in_group))
            i += 1
        if el._envelope_int("IEA01", el._el(iea, 1)) != len(groups):
            detail = f"says {el._el(iea, 1)} groups, the interchange has {len(groups)}"
            raise X12Error("IEA01", detail)
        if el._envelope_int("IEA02", el._el(iea, 2)) != control:
            raise X12Error("IEA02", f"{el._el(iea, 2)!r} differs from ISA13 {isa[13]!r}")
        ack = isa[14] == "1"
        return cls(isa[6].strip(), isa[8].strip(), control, sets, ack, groups)

    def render(self, group_code: str, stamp: dt.datetime) -> str:
        for name, party in (("ISA06", self.sender), ("ISA08", self.receiver)):
            if not 1 <= len(party) <= 15 or any(d in party for d in _DELIMITERS):
                raise X12Error(name, f"interchange id {party!r} must be 1-15 plain characters")
        segments = [seg for ts in self.sets for seg in ts]
        body = "~".join(map("*".join, segments))
        # a value holding a delimiter adds one to the body (tags are plain): three counts
        # decide for the whole interchange; segment by segment on a hit, for the error
        if (
            body.count("*") != sum(map(len, segments)) - len(segments)
            or body.count("~") != len(segments) - 1
            or ">" in body
        ):
            _refuse_delimiters(self.sets)
        minute = stamp.strftime("%Y%m%d%H%M")  # one call for the three stamps below
        if len(minute) == 12:
            day, date, time = minute[:8], minute[2:8], minute[8:]
        else:  # a year before 1000: %Y is not four digits
            day, date, time = (stamp.strftime(f) for f in ("%Y%m%d", "%y%m%d", "%H%M"))
        # ISA11 is the standards identifier U in version 00401 (a repetition separator
        # takes its place only from 00402 on: ASC X12 004010, ISA segment, element I10)
        isa = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", self.sender.ljust(15), "ZZ",
               self.receiver.ljust(15), date, time, "U", "00401", f"{self.control:09d}",
               "1" if self.ack_requested else "0", "P", ">"]  # fmt: skip
        gs = ["GS", group_code, self.sender, self.receiver, day, time,
              str(self.control), "X", "004010"]  # fmt: skip
        out = ["*".join(isa), "*".join(gs), *([body] if segments else [])]
        out += [f"GE*{len(self.sets)}*{self.control}", f"IEA*1*{self.control:09d}"]
        return "~".join(out) + "~"


def _refuse_delimiters(sets: list[list[list[str]]]) -> None:
    """Raise for the first value (set by set, segment by segment) that holds a delimiter."""
    for ts in sets:
        for n, seg in enumerate(ts, start=1):
            for k, value in enumerate(seg[1:], start=1):
                if any(d in value for d in _DELIMITERS):
                    raise X12Error(
                        el._at(f"{seg[0]}{k:02d}", n), f"value {value!r} holds a delimiter"
                    )


def _read_set(
    segs: list[Segment], i: int, group_code: str, max_element: int
) -> tuple[list[Segment], int]:
    st = segs[i]
    if st[0] != "ST":
        raise X12Error(st[0], f"expected ST at segment {i + 1}")
    expected_group = GROUP_CODES.get(el._el(st, 1))
    if expected_group is not None and group_code != expected_group:
        raise X12Error("GS01", f"a {el._el(st, 1)} belongs in a {expected_group} group")
    j = i + 1
    while j < len(segs) - 1 and segs[j][0] not in ("SE", "ST", "GE"):
        j += 1
    if segs[j][0] != "SE":
        raise X12Error("SE", f"transaction set {el._el(st, 2)} has no SE trailer")
    body, se = segs[i : j + 1], segs[j]
    if el._envelope_int("SE01", el._el(se, 1)) != len(body):
        raise X12Error("SE01", f"segment count {el._el(se, 1)} but the set has {len(body)}")
    if el._el(se, 2) != el._el(st, 2):
        raise X12Error("SE02", f"{el._el(se, 2)!r} differs from ST02 {el._el(st, 2)!r}")
    for n, seg in enumerate(body, start=1):
        for k, value in enumerate(seg[1:], start=1):
            if len(value) > max_element:
                raise X12Error(el._where(seg, k, n), f"longer than {max_element} characters")
    return body, j + 1
