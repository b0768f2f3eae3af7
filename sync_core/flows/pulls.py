"""The pulls: the batch tick and gap detection on the numbered webhook feeds.

``batch.tick`` (and ``reconcile.tick``, the hybrid's reconciliation: it catches what
events lost) asks every source in the engine's pull table for its changes since its
watermark, in the table's order; :func:`sequence` notes numbers missing from a
webhook feed and pulls the sources ``EngineConfig.catch_up`` names when one is still
missing after ``gap_grace_s``.  Each source's first-page request belongs to its flow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync_core.flows.base import MS_EPOCH, Flow, Tables, Work
from sync_core.messages import Inbound, Kind

__all__ = ["TABLES", "sequence"]


def _batch_tick(flow: Flow, work: Work, message: Inbound, now: dt.datetime) -> None:
    """Pull everything changed since the newest change already pulled (inclusive:
    a PO read twice is recognised by its revision)."""
    for source in flow.pulls:
        flow.pull(work, source)


def sequence(flow: Flow, work: Work, feed: str, event: Any, now: dt.datetime) -> None:
    """Gap detection on the webhook feeds.  Each event a subscription gets is numbered
    (``sequence``); numbers skipped are noted with the time they were first missed.
    One that turns up later was only late (links reorder, retries come minutes
    after); one still missing ``gap_grace_s`` later was lost on the way, and the
    core pulls that source's changes since its watermark, instead of waiting for
    a reconciliation an event-only design never runs.  Every numbered event checks
    every feed's overdue numbers, so a gap at the end of one feed's traffic is
    found by another's.  Events without a number (a system that sends none) are
    not checked.  Entities ``feed``/``{name}``: version = highest number seen,
    data = ``{"missing": {number: first missed, s since 1970}}``."""
    number = event.get("sequence") if isinstance(event, dict) else None
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 2**53:
        return  # none, or not a number a JSON reader keeps exactly (nor a store)
    grace = flow.config.gap_grace_s
    at = (now - MS_EPOCH).total_seconds()
    known = work.entity("feed", feed)
    high = known.version if known else 0
    missing: dict[str, float] = dict(known.data["missing"]) if known else {}
    found = missing.pop(str(number), None) is not None
    if number > high:
        if number - high > flow.config.max_gap:  # a feed started anew, or far behind
            missing["0"] = at - grace  # pull now
        else:
            missing.update((str(n), at) for n in range(high + 1, number))
        work.put("feed", feed, number, {"missing": missing})
    elif found:
        work.put("feed", feed, high, {"missing": missing})
    for name, sources in flow.config.catch_up.items():
        held = work.entity("feed", name)
        if held is None or not held.data["missing"]:
            continue
        late = held.data["missing"]
        if min(late.values()) > at - grace:
            continue
        still = {n: t for n, t in late.items() if t > at - grace}
        work.put("feed", name, held.version, {"missing": still})
        for source in sources:
            flow.pull(work, source)


TABLES = Tables(handlers={Kind.BATCH_TICK: _batch_tick, Kind.RECONCILE_TICK: _batch_tick})
