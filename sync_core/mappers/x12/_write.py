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
from sync_core.mappers.x12._xref import CrossReference, Party
from sync_core.model import (
    PurchaseOrder,
    PurchaseOrderLine,
    SetSyntaxError,
)


def write_850(
    po: PurchaseOrder,
    *,
    sender: str,
    receiver: str,
    control: int,
    now: dt.datetime,
    xref: CrossReference | None = None,
) -> str:
    """One interchange holding one 850 for ``po``; ``xref`` adds the parties, contract
    and item data the purchase order does not carry (see :mod:`._xref`)."""
    body: list[list[str]] = [["ST", "850", "0001"], *_header_850(po, xref)]
    for line in po.lines:
        body += _line_850(line, po.supplier_id, xref)
    body.append(["CTT", str(len(po.lines))])
    body.append(["SE", str(len(body) + 1), "0001"])
    _check_delimiters(body)
    return _interchange("PO", body, sender, receiver, control, now)


def _header_850(po: PurchaseOrder, xref: CrossReference | None) -> list[list[str]]:
    """BEG, the references (REF*PP the revision, REF*CT the contract), DTM*002 and the
    N1 loops BT, BY, ST and VN (those the cross reference knows)."""
    contract = xref.contracts.get(po.supplier_id) if xref else None
    return [
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
        # a case PO: the case's reference, never the patient
        *([["REF", "CR", po.case_reference]] if po.case_reference is not None else []),
        ["REF", "PP", str(po.version)],  # element 128 PP: purchase order revision number
        *([["REF", "CT", contract]] if contract else []),
        ["DTM", "002", po.requested_date.strftime("%Y%m%d")],
        *parties(po, xref),
    ]


def parties(po: PurchaseOrder, xref: CrossReference | None) -> list[list[str]]:
    """The N1 loops BT, BY, ST and VN with GLNs (those the cross reference knows; the
    ship-to alone without one)."""
    vendor = xref.vendors.get(po.supplier_id) if xref else None
    site = xref.sites.get(po.ship_to, "SHIP TO") if xref else "SHIP TO"
    return [
        *([_n1("BT", xref.bill_to), _n1("BY", xref.buyer)] if xref else []),
        _n1("ST", Party(site, po.ship_to)),
        *([_n1("VN", vendor)] if vendor else []),
    ]


def _n1(code: str, party: Party) -> list[str]:
    return ["N1", code, party.name, "UL", party.gln]


def _line_850(
    line: PurchaseOrderLine, supplier: str, xref: CrossReference | None
) -> list[list[str]]:
    """PO1 (PO105 ``CT`` for a contract price; BP, VC, UK and N4 ids), PID*F, PO4 for a
    pack unit and CSH*P2 (ship as soon as possible) for a clinically critical line."""
    item = xref.items.get(line.gtin) if xref else None
    on_contract = bool(xref and xref.contracts.get(supplier))
    ids = ["BP", item.buyer_item] if item else []
    ids += ["VC", line.vendor_part, "UK", line.gtin]
    ids += ["N4", item.ndc] if item and item.ndc else []
    segments = [
        [
            "PO1",
            str(line.line_no),
            str(line.quantity),
            line.uom.value,
            _decimal(line.unit_price),
            "CT" if on_contract else "",
            *ids,
        ]
    ]
    if item is not None:
        segments.append(["PID", "F", "", "", "", item.description])
        pack = item.pack(line.uom.value)
        if pack is not None:
            segments.append(["PO4", str(pack[0]), str(pack[1]), pack[2]])
    if line.critical:
        segments.append(["CSH", "P2"])  # element 563 P2: ship as soon as possible
    return segments


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
