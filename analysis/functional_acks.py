"""Functional acknowledgments (X12 997), judged from the history alone.

Theory of operation: a 997 only says a partner's translator could read a
functional group; partners chase the ones that never come.  No replica holds a
997 (it is an answer, not a fact), so it has no row in :mod:`analysis.facts`:
what is measured is how long each interchange waited for its answer, and which
never got one.  The source is the supplier network's journal (never the sync
core's opinion of itself), one entity per interchange it exchanged with 997s on:

``interchange:{sender}:{ISA13}``
    ``received`` (value: how many sets) when an interchange from the buyer
    reached the network, or ``sent`` (value: its ST01) when the network sent
    one of its own (855, 856, 810); then ``fa_status`` (value: AK901) when the
    997 for it went out (the network's, for an 850) or came in (the buyer's).

Two directions, each judged on its own:

``partner_997s``
    the partners' 997s for the core's 850s.  Lag is measured where the
    history sees it, at the partner: from receiving the interchange to sending
    its 997 (the partner's turnaround; the trip back to the core is not in it).
``core_997s``
    the core's 997s for the partners' 855/856/810s.  Lag is the whole round
    trip seen by the partner: from sending its document to receiving the 997,
    so it includes how the core picks documents up (a nightly batch: hours).

Per direction: ``interchanges`` journalled, ``lag_s`` (nearest-rank
percentiles with their sample count ``n``: *not measured*, every statistic
null, when no 997 came), the verdicts by AK901 (``accepted``: A or E;
``partially_accepted``: P; ``rejected``: R), and what was never answered:
``unacknowledged`` counts interchanges with no 997 by the end of the run that
were started at least :data:`GRACE_S` before it (a partner expects its 997
within hours; the core opens ``missing_997`` after the same 4 h), and
``pending_at_end`` those younger than that (on their way, not missing).  With
no interchange journalled, ``unacknowledged`` and ``pending_at_end`` are null
(not measured), never 0.  The network journals every 850 interchange it
receives, a partner's that never sends 997s too: those are its unacknowledged
interchanges, counted where they arrived.  ``unacknowledged_examples`` names
up to 20 unacknowledged interchanges, oldest first.  AK901 codes other than
A, E and P (M, W, X) are rejections too.

Beside the directions: ``grace_s`` and ``unmatched_997s``, the 997s for an
interchange never journalled (a partner that sends no 997s still takes the
buyer's, but journals none of its own sends); they are in no other figure.

``partners`` (only when the history's header has ``partners``: a scenario that
gives some partners a profile of their own, ``suppliers.partners``): per EDI id,
the ``partner_997s`` figures of the interchanges journalled with that
``receiver`` — ``850s_sent`` (interchanges of 850s it received), ``997s_received``
(the 997s it sent for them), ``lag_s``, the verdicts, ``unacknowledged`` and
``pending_at_end`` (null with no 850: not measured) — beside the sync core's own
view from the header, read from its store at the end of the run as the dead
letters are: ``missing_997_opened`` and ``missing_997_open`` (still open).
The check on the core: ``missing_997_due`` counts the partner's unacknowledged
interchanges older, at the end, than the header's ``missing_997_by_s`` (by
then the core has surely looked for their 997), and ``missing_997_check`` is
``met`` when at least that many exceptions are open, ``violated`` when fewer,
``not measured`` when none was due (no evidence either way).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from analysis.history import Change
from analysis.metrics import percentiles

__all__ = ["DIRECTIONS", "GRACE_S", "PREFIX", "functional_acks"]

PREFIX = "interchange:"  # the supplier network's journal entity for each interchange
GRACE_S = 4 * 3600.0  # an interchange younger than this at the end is pending, not missing
DIRECTIONS = {"received": "partner_997s", "sent": "core_997s"}  # the row that starts each
_EXAMPLES = 20
_VERDICTS = {"A": "accepted", "E": "accepted", "P": "partially_accepted", "R": "rejected"}


@dataclass
class _Interchange:
    started: float
    direction: str
    answered: float | None = None
    verdict: str | None = None
    partner: str | None = None  # the ``receiver`` journalled with it (an 850's interchange)


@dataclass
class _Direction:
    lags: list[float] = field(default_factory=list)
    verdicts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("accepted", "partially_accepted", "rejected"), 0)
    )
    interchanges: int = 0
    unacknowledged: list[tuple[float, str]] = field(default_factory=list)
    pending: int = 0

    def to_json(self) -> dict[str, Any]:
        measured = self.interchanges > 0
        return {
            "interchanges": self.interchanges,
            "lag_s": percentiles(self.lags),
            **self.verdicts,
            "unacknowledged": len(self.unacknowledged) if measured else None,
            "pending_at_end": self.pending if measured else None,
            "unacknowledged_examples": [e for _, e in sorted(self.unacknowledged)[:_EXAMPLES]],
        }


def functional_acks(
    changes: Iterable[Change],
    end_s: float,
    partners: dict[str, Any] | None = None,
    flag_by_s: float | None = None,
) -> dict[str, Any]:
    """The ``functional_acks`` section of ``results.json`` (see the module docstring).

    ``changes`` may be the whole history: only the supplier network's
    ``interchange:`` rows are read.  ``end_s`` is when the run ended; ``partners``
    the history header's ``partners`` (the core's exceptions per partner), which
    adds the ``partners`` breakdown, and ``flag_by_s`` its ``missing_997_by_s``."""
    seen: dict[str, _Interchange] = {}
    unmatched = 0
    for c in changes:
        if c.system != "supplier" or not c.entity.startswith(PREFIX):
            continue
        if c.field in DIRECTIONS:
            seen.setdefault(c.entity, _Interchange(c.t, DIRECTIONS[c.field]))
        elif c.field == "receiver" and c.entity in seen:
            seen[c.entity].partner = str(c.value)
        elif c.field == "fa_status":
            known = seen.get(c.entity)
            if known is None:
                unmatched += 1
            elif known.answered is None:  # the first 997 answers it; another changes nothing
                known.answered, known.verdict = c.t, str(c.value)
    out = {name: _Direction() for name in DIRECTIONS.values()}
    by_partner = {p: _Direction() for p in partners or {}}
    for entity, x in seen.items():
        _count(out[x.direction], entity, x, end_s)
        if x.direction == "partner_997s" and x.partner in by_partner:
            _count(by_partner[x.partner], entity, x, end_s)
    section = {"grace_s": GRACE_S, "unmatched_997s": unmatched} | {
        name: d.to_json() for name, d in out.items()
    }
    if partners is not None:
        section["partners"] = {
            p: _partner_json(d, partners[p], end_s, flag_by_s)
            for p, d in sorted(by_partner.items())
        }
    return section


def _count(d: _Direction, entity: str, x: _Interchange, end_s: float) -> None:
    d.interchanges += 1
    if x.answered is not None:
        d.lags.append(x.answered - x.started)
        d.verdicts[_VERDICTS.get(x.verdict or "", "rejected")] += 1
    elif end_s - x.started >= GRACE_S:
        d.unacknowledged.append((x.started, entity))
    else:
        d.pending += 1


def _partner_json(
    d: _Direction, core: dict[str, Any], end_s: float, flag_by_s: float | None
) -> dict[str, Any]:
    """One partner's row: its 850s and 997s, as the partner's journal shows them, beside
    the core's ``missing_997`` exceptions for it and whether it flagged what it must."""
    row = d.to_json()
    due = (
        None
        if flag_by_s is None
        else sum(1 for started, _ in d.unacknowledged if end_s - started >= flag_by_s)
    )
    opened = core.get("missing_997_open")
    check = "met" if due and opened is not None and opened >= due else "violated"
    return {
        "850s_sent": row.pop("interchanges"),
        "997s_received": sum(d.verdicts.values()),
        **row,
        "missing_997_opened": core.get("missing_997_opened"),
        "missing_997_open": opened,
        "missing_997_due": due,
        "missing_997_check": check if due and opened is not None else "not measured",
    }
