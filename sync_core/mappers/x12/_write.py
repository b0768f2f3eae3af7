"""What the core sends: the 850 purchase order and the 997 functional acknowledgment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sync_core.mappers.x12._envelope import (
    _ELEMENT,
    _TERMINATOR,
    TransactionSet,
    _check_delimiters,
    _decimal,
    _isa,
)
from sync_core.model import (
    PurchaseOrder,
    SetSyntaxError,
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
    if po.case_reference is not None:  # a case PO: the case's reference, never the patient
        body.insert(3, ["REF", "CR", po.case_reference])
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
