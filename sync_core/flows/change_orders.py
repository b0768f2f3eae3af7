"""Change orders: an 860 to the partners that take one, and their 865s back.

A PO revision after the first goes to a partner in ``EngineConfig.change_orders`` as
an 860 (ASC X12 004010): the lines that differ from the revision last dispatched,
each named by its POC02 code (:func:`sync_core.mappers.x12.line_changes`); a canceled
PO as BCH01 ``01``; a revision whose lines are all as before, as nothing.  Other
partners and a first revision get the 850 (BEG01 ``00``/``05``/``01``) as before.
An 860 says only what changed since the one before it, so none may be lost or
applied out of turn: BCH05 numbers a PO's 860s 1, 2, 3... (entity ``po_changes``),
to such a partner no document is superseded by a newer revision, and the supplier
network answers an 860 whose predecessor (or whose PO) it has not yet entered with
425 Too Early, so the core tries it again.

An 865 names only the lines it answers: the core merges them over the
acknowledgment it holds (a deleted line leaves it) and takes the result as the
acknowledgment's newest revision, exactly as a revised 855 (to the ERP and the WMS,
the critical-shortage queue).  865s may arrive out of turn, so the core keeps which
revision last said each line (entity ``ack_lines``): a late 865 still sets the lines
no later document said, and changes nothing else.  A partner that answers with a revised 855
needs nothing here.
"""

from __future__ import annotations

import datetime as dt

from sync_core.errors import MappingError
from sync_core.flows import functional_acks
from sync_core.flows.base import Flow, Tables, Work
from sync_core.flows.supplier import record_acknowledgment
from sync_core.mappers import x12
from sync_core.mappers.ack_lines import acknowledgment_json
from sync_core.messages import Entity
from sync_core.model import Acknowledgment, PurchaseOrder

__all__ = ["TABLES", "order_document", "takes_860"]


def takes_860(flow: Flow, edi_id: str) -> bool:
    """True when ``edi_id`` takes changes as 860s (its documents are never superseded)."""
    return edi_id in flow.config.change_orders


def order_document(
    flow: Flow,
    work: Work,
    known: Entity | None,
    po: PurchaseOrder,
    *,
    receiver: str,
    now: dt.datetime,
) -> tuple[int, str] | None:
    """(ISA13, interchange) that tells ``receiver`` of revision ``po``: an 860 from the
    revision dispatched before (``known``) when the partner takes 860s, else an 850;
    None when such a partner has nothing to learn (no line differs)."""
    sender = flow.config.our_edi_id
    if takes_860(flow, receiver) and known is not None and known.version < po.version:
        before = flow.stored_po(known)
        if not before.canceled:
            if not x12.line_changes(before, po):
                return None
            held = work.entity("po_changes", po.po_number)
            sequence = (held.version if held else 0) + 1
            work.put("po_changes", po.po_number, sequence, None)
            control = functional_acks.next_control(work)
            text = x12.write_860(before, po, sequence=sequence, sender=sender,
                                 receiver=receiver, control=control, now=now,
                                 xref=flow.config.xref)  # fmt: skip
            return None if text is None else (control, text)
    control = functional_acks.next_control(work)
    return control, x12.write_850(
        po, sender=sender, receiver=receiver, control=control, now=now, xref=flow.config.xref
    )


def _change_ack(
    flow: Flow, work: Work, ts: x12.TransactionSet, envelope: x12.Envelope, now: dt.datetime
) -> None:
    """An 865: each line it names over the acknowledgment held, unless a later document
    already said that line; the result is the acknowledgment's newest revision."""
    change = x12.change_ack_from_865(ts)
    known_po = work.entity("po", change.po_number)
    if known_po is None:
        raise MappingError("X12 865", "BCA03", f"PO {change.po_number} was never dispatched")
    held = work.entity("ack", change.po_number)
    top = held.version if held is not None else 0
    lines = (
        {ln.line_no: ln for ln in Acknowledgment.model_validate(held.data).lines} if held else {}
    )
    marks = work.entity("ack_lines", change.po_number)
    base, said = _said(marks, top)
    r, applied = change.revision, False
    for number in change.deleted:
        if said.get(number, base) < r:
            lines.pop(number, None)
            said[number], applied = r, True
    for line in change.lines:
        if said.get(line.line_no, base) < r:
            lines[line.line_no] = line
            said[line.line_no], applied = r, True
    if not applied:
        return  # a duplicate, or every line it names was said since
    revision = max(top, r)
    data = {"at": revision, "base": base, "lines": {str(n): v for n, v in said.items()}}
    work.put("ack_lines", change.po_number, (marks.version if marks else 0) + 1, data)
    ack = Acknowledgment(
        po_number=change.po_number,
        ack_type=change.ack_type,
        ack_date=change.ack_date,
        revision=revision,
        lines=tuple(lines[n] for n in sorted(lines)),
    )
    record_acknowledgment(flow, work, known_po.data, acknowledgment_json(ack), now, "865", r)


def _said(marks: Entity | None, top: int) -> tuple[int, dict[int, int]]:
    """Which revision last said each line: (the revision of the last 855, which said
    every line; the lines 865s said since).  An 855 newer than the last 865 merged
    (``top`` past the marks') said every line again."""
    if marks is None or marks.data["at"] != top:
        return top, {}
    return int(marks.data["base"]), {int(n): int(v) for n, v in marks.data["lines"].items()}


TABLES = Tables(sets={"865": _change_ack})
