"""The supplier network's own X12 translator (4010): read 850s, write 855s.

Theory of operation: :class:`Interchange` tokenizes one ISA...IEA interchange
into segments using the delimiters its ISA declares, and checks the envelope
(IEA/GE counts and control numbers, SE01 segment counts).  ``read_850`` turns
each 850 into the supplier's native order-entry record; ``write_855`` renders
an acknowledgment from that record.  Errors are :class:`X12Error` naming the
segment and element at fault.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["ACK_CODES", "Interchange", "X12Error", "read_850", "write_855"]

ACK_CODES = frozenset("IA AC AR IB BP IC IP IQ DR IE IS SP IH IW IF IR ID".split())  # element 668
UOM_CODES = frozenset("EA BX CA PK CT DZ".split())


class X12Error(ValueError):
    def __init__(self, segment: str, reason: str) -> None:
        self.segment = segment
        self.reason = reason
        super().__init__(f"{segment}: {reason}")


@dataclass
class Interchange:
    sender: str
    receiver: str
    control: int
    sets: list[list[list[str]]]  # each set: its segments, ST..SE

    @classmethod
    def parse(cls, text: str) -> Interchange:
        text = text.strip()
        if len(text) < 106 or not text.startswith("ISA"):
            raise X12Error("ISA", "interchange must begin with a 106-character ISA segment")
        sep, term = text[3], text[105]
        segs = [s.strip().split(sep) for s in text.split(term) if s.strip()]
        isa, iea = segs[0], segs[-1]
        if iea[0] != "IEA" or int(iea[2]) != int(isa[13]):
            raise X12Error("IEA", "missing IEA or IEA02 differs from ISA13")
        sets: list[list[list[str]]] = []
        current: list[list[str]] | None = None
        for seg in segs[1:-1]:
            tag = seg[0]
            if tag == "ST":
                current = [seg]
            elif tag == "SE":
                if current is None:
                    raise X12Error("SE", "SE without ST")
                current.append(seg)
                if int(seg[1]) != len(current):
                    raise X12Error("SE01", f"segment count {seg[1]} but the set has {len(current)}")
                sets.append(current)
                current = None
            elif current is not None:
                current.append(seg)
        return cls(isa[6].strip(), isa[8].strip(), int(isa[13]), sets)

    def render(self, group_code: str, stamp: dt.datetime) -> str:
        isa = "*".join(
            [
                "ISA",
                "00",
                " " * 10,
                "00",
                " " * 10,
                "ZZ",
                self.sender.ljust(15),
                "ZZ",
                self.receiver.ljust(15),
                stamp.strftime("%y%m%d"),
                stamp.strftime("%H%M"),
                "^",
                "00401",
                f"{self.control:09d}",
                "0",
                "P",
                ">",
            ]
        )
        gs = [
            "GS",
            group_code,
            self.sender,
            self.receiver,
            stamp.strftime("%Y%m%d"),
            stamp.strftime("%H%M"),
            str(self.control),
            "X",
            "004010",
        ]
        out = [isa, "*".join(gs)]
        out += ["*".join(seg) for ts in self.sets for seg in ts]
        out += [f"GE*{len(self.sets)}*{self.control}", f"IEA*1*{self.control:09d}"]
        return "~".join(out) + "~"


def read_850(segments: list[list[str]]) -> dict[str, Any]:
    """The supplier's order-entry record for one 850 transaction set."""
    order: dict[str, Any] = {"lines": [], "critical_lines": []}
    for seg in segments:
        tag = seg[0]
        if tag == "BEG":
            order["customer_po"] = seg[3]
            order["po_date"] = seg[5]
        elif tag == "REF" and seg[1] == "ZZ" and seg[2] == "CRITICAL" and order["lines"]:
            order["lines"][-1]["critical"] = True
        elif tag == "REF" and seg[1] == "ZZ" and not order["lines"]:
            order["revision"] = int(seg[2])
        elif tag == "N1" and seg[1] == "ST":
            order["ship_to_gln"] = seg[4]
        elif tag == "PO1":
            ids = dict(zip(seg[6::2], seg[7::2], strict=False))
            if seg[3] not in UOM_CODES:
                raise X12Error("PO103", f"unknown unit of measure {seg[3]!r}")
            order["lines"].append(
                {
                    "po_line": int(seg[1]),
                    "qty": int(seg[2]),
                    "uom": seg[3],
                    "price": seg[4],
                    "vendor_part": ids.get("VC", ""),
                    "gtin": ids.get("UK", ""),
                    "critical": False,
                }
            )
        elif tag == "CTT" and int(seg[1]) != len(order["lines"]):
            raise X12Error("CTT01", f"says {seg[1]} lines, the set has {len(order['lines'])}")
    if "customer_po" not in order:
        raise X12Error("BEG", "850 without BEG")
    del order["critical_lines"]
    return order


def write_855(
    order: dict[str, Any],
    line_acks: list[list[tuple[str, int, str | None]]],
    *,
    ack_type: str,
    revision: int,
    stamp: dt.date,
    control: str,
) -> list[list[str]]:
    """The segments of one 855; ``line_acks[i]`` holds (code, qty, expected CCYYMMDD) per ACK."""
    segs = [
        ["ST", "855", control],
        ["BAK", "00", ack_type, order["customer_po"], stamp.strftime("%Y%m%d")],
        ["REF", "ZZ", str(revision)],
    ]
    for line, acks in zip(order["lines"], line_acks, strict=True):
        segs.append(
            [
                "PO1",
                str(line["po_line"]),
                str(line["qty"]),
                line["uom"],
                line["price"],
                "",
                "VC",
                line["vendor_part"],
            ]
        )
        for code, qty, expected in acks:
            if code not in ACK_CODES:
                raise X12Error("ACK01", f"unknown line status {code!r}")
            ack = ["ACK", code, str(qty), line["uom"]]
            if expected:
                ack += ["068", expected]
            segs.append(ack)
    segs.append(["CTT", str(len(order["lines"]))])
    segs.append(["SE", str(len(segs) + 1), control])
    return segs
