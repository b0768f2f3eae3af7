"""Change orders (ASC X12 004010): the 860 the core sends, the 865 it reads.

Theory of operation: :func:`line_changes` compares two revisions of a PO line by
line and names each difference by its POC02 code (element 670): ``AI`` a line
added, ``DI`` a line deleted, ``QI``/``QD`` the quantity increased/decreased,
``PC`` the unit price changed, ``CA`` several changes to one line (quantity and
price, or another item).  :func:`write_860` sends them — BCH01 ``04`` (``01`` for a
canceled PO, every line ``DI``), BCH05 the change's number (1, 2, 3... per PO, so the
supplier applies them in turn), the PO revision in ``REF*PP`` and the parties (N1) as
in the 850, one POC per changed line with ``CSH*P2`` in the loop of a critical one —
and :func:`change_ack_from_865` reads the supplier's answer: BCA, the supplier's
acknowledgment revision (``REF*PP`` as in its 855; without one, when it was made —
``DTM*097``, else BCA10, else BCA06 at midnight — then ISA13, as an 855 without one),
and each changed line with its ACKs as they now stand.  No ``REF*ZZ`` either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sync_core.mappers.x12._envelope import (
    TransactionSet,
    _check_delimiters,
    _date,
    _decimal,
    _e,
    _enum,
    _fail,
    _int,
    _price,
)
from sync_core.mappers.x12._read import (
    _acknowledged_line,
    _arrival_order,
    _date_time,
    _line_ack,
)
from sync_core.mappers.x12._write import _interchange, parties
from sync_core.mappers.x12._xref import CrossReference
from sync_core.model import AcknowledgmentLine, AckType, LineAck, PurchaseOrder, Uom

__all__ = ["ChangeAcknowledgment", "change_ack_from_865", "line_changes", "write_860"]

_DOC = "865"
CHANGE_CODES = frozenset({"AI", "CA", "DI", "PC", "QD", "QI"})


def line_changes(before: PurchaseOrder, after: PurchaseOrder) -> dict[int, str]:
    """POC02 for each line that differs between two revisions, by line number."""
    old = {line.line_no: line for line in before.lines}
    new = {line.line_no: line for line in after.lines}
    codes: dict[int, str] = {}
    for number in sorted(old.keys() | new.keys()):
        was, now = old.get(number), new.get(number)
        if was is None:
            codes[number] = "AI"
        elif now is None or after.canceled:
            codes[number] = "DI"
        else:
            quantity = now.quantity != was.quantity
            price = _decimal(now.unit_price) != _decimal(was.unit_price)
            item = (now.gtin, now.vendor_part, now.uom) != (was.gtin, was.vendor_part, was.uom)
            if item or (quantity and price):
                codes[number] = "CA"
            elif quantity:
                codes[number] = "QI" if now.quantity > was.quantity else "QD"
            elif price:
                codes[number] = "PC"
    return codes


def write_860(
    before: PurchaseOrder,
    after: PurchaseOrder,
    *,
    sequence: int,
    sender: str,
    receiver: str,
    control: int,
    now: dt.datetime,
    xref: CrossReference | None = None,
) -> str | None:
    """One interchange holding the 860 that takes the supplier from ``before`` to
    ``after``, the PO's change number ``sequence`` (BCH05: 1 for its first 860, then 2,
    3...); None when no line differs (nothing for an 860 to say).  ``xref`` adds the
    parties the 850 names (N1 BT, BY, ST, VN)."""
    codes = line_changes(before, after)
    if not codes:
        return None
    lines = {line.line_no: line for line in before.lines}
    lines.update({line.line_no: line for line in after.lines})
    body: list[list[str]] = [
        ["ST", "860", "0001"],
        ["BCH", "01" if after.canceled else "04", "SA", after.po_number, "", str(sequence),
         after.order_date.strftime("%Y%m%d"), "", "", "", "", now.strftime("%Y%m%d")],
        ["REF", "DP", after.department],
        ["REF", "PP", str(after.version)],  # element 128 PP: purchase order revision number
        *(parties(after, xref) if xref else []),  # as the 850 names them
    ]  # fmt: skip
    for number, code in codes.items():
        line = lines[number]
        quantity = "0" if code == "DI" else str(line.quantity)
        price = _decimal(line.unit_price)
        ids = ["VC", line.vendor_part, "UK", line.gtin]
        body.append(["POC", str(number), code, quantity, quantity, line.uom.value, price, "", *ids])
        if line.critical and code != "DI":
            body.append(["CSH", "P2"])  # element 563 P2: ship as soon as possible
    body.append(["CTT", str(len(codes))])
    body.append(["SE", str(len(body) + 1), "0001"])
    _check_delimiters(body)
    return _interchange("PC", body, sender, receiver, control, now)


@dataclass(frozen=True)
class ChangeAcknowledgment:
    """An 865: the lines it answers as they now stand, and the lines deleted (``DI``)."""

    po_number: str
    ack_type: AckType
    ack_date: dt.date
    revision: int
    change_sequence: int  # BCA05: the number of the 860 it answers (BCH05)
    lines: tuple[AcknowledgmentLine, ...]
    deleted: tuple[int, ...]


def change_ack_from_865(ts: TransactionSet) -> ChangeAcknowledgment:
    """Translate one 865 to the lines it changes (see the module docstring)."""
    if ts.code != "865":
        raise _fail(ts.code, "ST01", "expected an 865 purchase order change acknowledgment")
    po_number, sequence = "", 0
    ack_type: AckType | None = None
    ack_date: dt.date | None = None
    created: dt.datetime | None = None  # DTM*097
    revision: int | None = None
    lines: list[AcknowledgmentLine] = []
    deleted: list[int] = []
    current: tuple[str, dict[str, object]] | None = None
    acks: list[LineAck] = []

    def close() -> None:
        if current is None:
            return
        code, line = current
        if code == "DI":
            deleted.append(int(str(line["line_no"])))
            return
        lines.append(_acknowledged_line(_DOC, "POC", line, acks))

    for n, seg in enumerate(ts.segments, start=1):
        sid = seg[0]
        if sid == "BCA":
            ack_type = _enum(_DOC, f"BCA02 (segment {n})", AckType, _e(seg, 2))
            po_number = _e(seg, 3)
            sequence = _int(_DOC, f"BCA05 (segment {n})", _e(seg, 5))
            ack_date = _date(_DOC, f"BCA10 (segment {n})", _e(seg, 10) or _e(seg, 6))
        elif sid == "REF" and _e(seg, 1) == "PP" and current is None:
            revision = _int(_DOC, f"REF02 (segment {n})", _e(seg, 2))
        elif sid == "DTM" and _e(seg, 1) == "097" and current is None:
            created = _date_time(_DOC, n, seg)
        elif sid == "POC":
            close()
            acks = []
            current = (_code(seg, n), _poc(seg, n))
        elif sid == "ACK":
            if current is None:
                raise _fail(_DOC, f"ACK (segment {n})", "ACK before any POC")
            acks.append(_line_ack(_DOC, n, seg))
    close()
    if not po_number or ack_type is None or ack_date is None:
        raise _fail(_DOC, "BCA", "missing BCA segment (or its PO number)")
    if revision is None:
        made = created or dt.datetime.combine(ack_date, dt.time())
        revision = _arrival_order(made, ts.interchange_control, _DOC)
    return ChangeAcknowledgment(
        po_number=po_number,
        ack_type=ack_type,
        ack_date=ack_date,
        revision=revision,
        change_sequence=sequence,
        lines=tuple(lines),
        deleted=tuple(deleted),
    )


def _code(seg: Sequence[str], n: int) -> str:
    code = _e(seg, 2)
    if code not in CHANGE_CODES:
        raise _fail(_DOC, f"POC02 (segment {n})", f"unknown line item change {code!r}")
    return code


def _poc(seg: Sequence[str], n: int) -> dict[str, object]:
    return {
        "line_no": _int(_DOC, f"POC01 (segment {n})", _e(seg, 1)),
        "ordered_quantity": _int(_DOC, f"POC03 (segment {n})", _e(seg, 3)),
        "uom": _enum(_DOC, f"POC05 (segment {n})", Uom, _e(seg, 5)),
        "unit_price": _price(_DOC, f"POC06 (segment {n})", _e(seg, 6)),
    }
