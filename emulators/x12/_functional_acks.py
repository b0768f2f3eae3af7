"""The 997 functional acknowledgment, both ways."""

from __future__ import annotations

from dataclasses import dataclass, replace

from emulators.x12 import _elements as el
from emulators.x12._elements import Segment, X12Error

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
                body.append(el._trim(ak4))
        reason = ack.reason or ("" if ack.status == "A" else "5")
        body.append(el._trim(["AK5", ack.status, reason]))
    received = len(doc.sets) if doc.received is None else doc.received
    accepted = sum(1 for s in doc.sets if s.accepted)
    body.append(["AK9", doc.status, str(len(doc.sets)), str(received), str(accepted)])
    return el._close("997", body, control)


def read_997(segments: list[list[str]]) -> FunctionalAck:
    el._check_set(segments, "997")
    group: tuple[str, str] | None = None
    sets: list[SetAck] = []
    current: tuple[str, str] | None = None
    errors: list[ElementError] = []
    ak9: tuple[int, list[str]] | None = None
    for n, seg in enumerate(segments, start=1):
        tag = seg[0]
        if tag == "AK1":
            group = (el._req(seg, 1, n), el._req(seg, 2, n))
        elif tag == "AK2":
            current, errors = (el._req(seg, 1, n), el._req(seg, 2, n)), []
        elif tag == "AK3":
            if current is None:
                raise X12Error(el._at("AK3", n), "AK3 before any AK2")
            errors.append(
                ElementError(
                    el._req(seg, 1, n), el._qty(seg, 2, n, minimum=1), segment_code=el._el(seg, 4)
                )
            )
        elif tag == "AK4":
            if not errors:
                raise X12Error(el._at("AK4", n), "AK4 without its AK3")
            element = el._req(seg, 1, n).split(">")[0]
            if not el._is_number(element):
                raise X12Error(
                    el._where(seg, 1, n), f"expected an element position, got {element!r}"
                )
            errors[-1] = replace(
                errors[-1],
                element=int(element),
                reference=el._el(seg, 2),
                code=el._req(seg, 3, n),
                value=el._el(seg, 4),
            )
        elif tag == "AK5":
            if current is None:
                raise X12Error(el._at("AK5", n), "AK5 before any AK2")
            status = el._code(seg, 1, n, AK5_CODES, "set acknowledgment code")
            sets.append(SetAck(*current, status, tuple(errors), el._el(seg, 2)))
            current = None
        elif tag == "AK9":
            el._code(seg, 1, n, AK9_CODES, "group acknowledgment code")
            ak9 = (n, seg)
    if group is None:
        raise X12Error("AK1", "997 without AK1")
    if current is not None:
        raise X12Error("AK5", f"set {current[1]} has no AK5")
    if ak9 is None:
        raise X12Error("AK9", "997 without AK9")
    n, seg = ak9
    included, received = el._qty(seg, 2, n), el._qty(seg, 3, n)
    if included != len(sets):
        raise X12Error(el._where(seg, 2, n), f"says {included} sets, the 997 has {len(sets)}")
    doc = FunctionalAck(*group, tuple(sets), received if received != len(sets) else None)
    if seg[1] != doc.status:
        raise X12Error(el._where(seg, 1, n), f"says {seg[1]}, the sets say {doc.status}")
    return doc
