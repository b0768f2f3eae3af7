"""Functional acknowledgments (X12 997) both ways.

Theory of operation: a 997 says only that a partner's translator could read a
functional group (ASC X12 004010, 997; syntax, not business: that is the 855),
so the core tracks it apart from the acknowledgment flow.

* **Ours, for theirs.** Every group of 855/856/810 sets the supplier network
  sends is answered with one 997 (:func:`acknowledge_groups`): AK5 ``A`` for a set
  that mapped, ``R`` with AK3/AK4 naming the segment and element for the one
  that did not (and, unread, the sets after it).  A 997 is never acknowledged.
* **Theirs, for ours.** Each 850 dispatched is expected to be answered
  (:func:`expect_997`): entity ``fa``/``{ISA13}`` (version 1 pending, 2 answered)
  and the due time in ``fa_pending``/``850`` (``{"due": {ISA13: s since 1970},
  "next": the earliest}``).  A 997 that rejects the 850 (AK5 ``R``) dead-letters
  it with the partner's reason — the PO never reached the partner's order entry;
  replaying the letter sends the same interchange again.
* **Overdue.** Every message the engine consumes checks ``next`` (one lookup):
  an 850 still unanswered ``fa_deadline_s`` after dispatch opens an exception of
  its own, ``exception``/``997:{partner}:{ISA13}`` kind ``missing_997``, apart
  from the critical-shortage ones; a 997 that comes after all closes it with
  its lag.
"""

from __future__ import annotations

import datetime as dt
import re

from sync_core.errors import MappingError
from sync_core.flows.base import MS_EPOCH, Flow, Tables, Work, traceparent
from sync_core.mappers import x12
from sync_core.messages import DeadLetter
from sync_core.model import FaStatus, FunctionalAcknowledgment, PurchaseOrder, SetSyntaxError

__all__ = [
    "TABLES",
    "acknowledge_groups",
    "expect_997",
    "next_control",
    "overdue_997s",
    "syntax_error",
]

# "PO103 (segment 7)", "BAK03", "BAK": a MappingError's place, as AK3/AK4 name it
_WHERE = re.compile(r"([A-Z][A-Z0-9]{1,2}?)(\d{2})?(?: \(segment (\d+)\))?")


def _seconds(now: dt.datetime) -> float:
    return (now - MS_EPOCH).total_seconds()


def syntax_error(ts: x12.TransactionSet, error: MappingError | None) -> SetSyntaxError:
    """AK3/AK4 for a set the core could not take: where the mapper says it failed."""
    m = _WHERE.fullmatch(error.field) if error is not None else None
    if m is None:
        return SetSyntaxError(segment="ST", position=1)
    segment, element = m.group(1), int(m.group(2) or 0)
    position = int(m.group(3) or 0) or next(
        (n for n, seg in enumerate(ts.segments, start=1) if seg[0] == segment), 1
    )
    seg = ts.segments[position - 1] if position <= len(ts.segments) else ()
    value = seg[element] if seg and seg[0] == segment and 0 < element < len(seg) else ""
    reason = error.reason.lower() if error is not None else ""
    code = "1" if "missing" in reason else "8" if "date" in reason else "7"
    return SetSyntaxError(
        segment=segment,
        position=position,
        element=element,
        code=code if element else "",
        value=value[:99],
    )


def next_control(work: Work) -> int:
    """The next ISA13 the core sends (one sequence for every interchange)."""
    sequence = work.entity("sequence", "isa")
    control = (sequence.version if sequence else 0) + 1
    work.put("sequence", "isa", control, None)
    return control


# -- ours, for the supplier's groups -------------------------------------------


def acknowledge_groups(
    flow: Flow,
    work: Work,
    envelope: x12.Envelope,
    sets: list[x12.TransactionSet],
    failed: tuple[int, MappingError] | None,
    now: dt.datetime,
) -> None:
    """One 997 per group of 855/856/810 sets: A for each, R from the one that failed."""
    if not flow.config.functional_acks:
        return
    groups: dict[tuple[str, str], list[tuple[int, x12.TransactionSet]]] = {}
    for i, ts in enumerate(sets):
        if ts.code != "997":
            groups.setdefault((ts.group_code, ts.group_control), []).append((i, ts))
    partner = envelope.sender_id
    write = flow.writer(work)
    for (_, group_control), members in groups.items():
        errors = {
            ts.control_number: syntax_error(ts, failed[1] if i == failed[0] else None)
            for i, ts in members
            if failed is not None and i >= failed[0]
        }
        control = next_control(work)
        body = x12.write_997(
            [ts for _, ts in members],
            errors,
            sender=flow.config.our_edi_id,
            receiver=partner,
            control=control,
            now=now,
        )
        key = f"997:{partner}:{envelope.control_number}:{group_control}"
        write("supplier", "post_edi", body, key, supplier=partner)


# -- theirs, for our 850s ---------------------------------------------------------


def expect_997(
    flow: Flow,
    work: Work,
    control: int,
    partner: str,
    po: PurchaseOrder,
    now: dt.datetime,
    change_order: str | None = None,
) -> None:
    """Await the partner's 997 for interchange ``control`` (an 850, or the 860 whose
    interchange is ``change_order``: kept, since a later revision cannot rebuild it)."""
    if not flow.config.functional_acks:
        return
    sent = {
        "partner": partner,
        "po_number": po.po_number,
        "revision": po.version,
        "sent_at": now.isoformat(timespec="seconds"),
        "status": "pending",
    }
    work.put("fa", str(control), 1, sent if change_order is None else {**sent, "860": change_order})
    held = work.entity("fa_pending", "850")
    due = dict(held.data["due"]) if held else {}
    due[str(control)] = _seconds(now) + flow.config.fa_deadline_s
    work.put("fa_pending", "850", (held.version if held else 0) + 1, _pending(due))


def _functional_ack(
    flow: Flow, work: Work, ts: x12.TransactionSet, envelope: x12.Envelope, now: dt.datetime
) -> None:
    """A 997 from the partner: the verdict on one of our 850s (a 997 is never answered)."""
    if not flow.config.functional_acks:
        raise MappingError("X12 interchange", "ST01", f"unsupported set {ts.code}")
    fa, partner = x12.functional_ack_from_997(ts), envelope.sender_id
    known = work.entity("fa", fa.group_control)
    if known is None or known.data["partner"] != partner:
        raise MappingError("X12 997", "AK102", f"group {fa.group_control} was never sent")
    if known.version >= 2:
        return  # a 997 already taken (the partner sent it again)
    data = {**known.data, "status": fa.status.value, "at": now.isoformat(timespec="seconds")}
    work.put("fa", fa.group_control, 2, data)
    held = work.entity("fa_pending", "850")
    if held is not None and fa.group_control in held.data["due"]:
        due = {c: t for c, t in held.data["due"].items() if c != fa.group_control}
        work.put("fa_pending", "850", held.version + 1, _pending(due))
    key = f"997:{partner}:{fa.group_control}"
    overdue = work.entity("exception", key)
    if overdue is not None and overdue.data["open"]:
        lag = (now - dt.datetime.fromisoformat(known.data["sent_at"])).total_seconds()
        closed = {**overdue.data, "open": False, "closed_at": data["at"], "lag_s": lag}
        work.put("exception", key, overdue.version + 1, closed)
    if fa.status is FaStatus.REJECTED or any(s.status is FaStatus.REJECTED for s in fa.sets):
        _rejected_850(flow, work, fa, data)


def _rejected_850(
    flow: Flow, work: Work, fa: FunctionalAcknowledgment, sent: dict[str, object]
) -> None:
    """A partner's translator refused our 850: dead-letter it with the partner's reason,
    as the request that sends it again (the same interchange) when replayed."""
    po_number, revision = str(sent["po_number"]), int(str(sent["revision"]))
    partner = str(sent["partner"])
    known_po = work.entity("po", po_number)
    code = "860" if "860" in sent else "850"
    reason = f"{code} for PO {po_number} rev {revision} rejected by {partner} (997 " + (
        f"AK9 {fa.status.value}): {fa.reason() or 'no detail given'}"
    )
    trace = traceparent(po_number, f"850/{revision}")
    request = None
    if code == "860":  # the very interchange again: the PO's next 860 waits for it
        key = f"860:{po_number}:{revision}:997-rejected"
        request = flow.writer(work, trace).request(
            "supplier", "post_edi", sent["860"], key, supplier=partner
        )
    elif known_po is not None and known_po.version == revision:
        po = flow.stored_po(known_po)
        body = x12.write_850(
            po,
            sender=flow.config.our_edi_id,
            receiver=partner,
            control=int(fa.group_control),
            now=dt.datetime.fromisoformat(str(sent["sent_at"])),
            xref=flow.config.xref,
        )
        key = f"850:{po_number}:{revision}:997-rejected"
        request = flow.writer(work, trace, critical=po.critical).request(
            "supplier", "post_edi", body, key, supplier=partner
        )
    work.dead.append(
        DeadLetter(
            f"997:{partner}:{fa.group_control}",
            "supplier.post_edi",
            reason,
            fa.model_dump(mode="json"),
            request=request,
            correlation_id=trace,
        )
    )


def overdue_997s(flow: Flow, work: Work, now: dt.datetime) -> None:
    """Open a ``missing_997`` exception for each 850 unanswered past its deadline."""
    held = work.entity("fa_pending", "850")
    at = _seconds(now)
    if held is None or held.data["next"] is None or held.data["next"] > at:
        return
    due = dict(held.data["due"])
    for control in sorted((c for c, t in due.items() if t <= at), key=int):
        del due[control]
        sent = work.entity("fa", control)
        if sent is None or sent.version >= 2:
            continue
        partner, po_number = sent.data["partner"], sent.data["po_number"]
        work.put(
            "exception",
            f"997:{partner}:{control}",
            1,
            {
                "open": True,
                "kind": "missing_997",
                "po_number": po_number,
                "revision": sent.data["revision"],
                "partner": partner,
                "interchange": int(control),
                "sent_at": sent.data["sent_at"],
                "deadline_s": flow.config.fa_deadline_s,
                "since": now.isoformat(timespec="seconds"),
                "trace": traceparent(po_number, f"850/{sent.data['revision']}"),
            },
        )
    work.put("fa_pending", "850", held.version + 1, _pending(due))


def _pending(due: dict[str, float]) -> dict[str, object]:
    return {"due": due, "next": min(due.values()) if due else None}


TABLES = Tables(sets={"997": _functional_ack})
