"""The pulls: the batch tick and gap detection on the webhook feeds.

``batch.tick`` (and ``reconcile.tick``) asks every source for its changes since its
watermark; ``_sequence`` notes numbers missing from a webhook feed and pulls the
source when one is still missing after ``gap_grace_s``.  Each source's first-page
request belongs to its flow's mixin; :class:`~sync_core.engine.Engine` inherits them all.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sync_core._engine_flow import _EPOCH_MARK, _MS_EPOCH, _Flow
from sync_core.messages import Inbound, Request

if TYPE_CHECKING:
    from sync_core.engine import _Work

# What a gap in each numbered feed (``engine._FEEDS``) makes the core pull.
_CATCH_UP = {"erp": ("erp", "erp_prices"), "supplier": ("supplier",), "wms": ("wms",),
             "ap": ("ap",)}  # fmt: skip
_MAX_GAP = 1000


class _Pulls(_Flow):
    def _batch_tick(self, work: _Work, message: Inbound, now: dt.datetime) -> None:
        """Pull everything changed since the newest change already pulled (inclusive:
        a PO read twice is recognised by its revision)."""
        for source in ("erp", "supplier", "wms", "erp_prices", "ap"):
            self._pull(work, source)

    def _pull(self, work: _Work, source: str) -> None:
        """The first page of one source's changes since its watermark."""
        if source == "erp":
            erp_mark = work.entity("watermark", "erp")
            since = str(erp_mark.data) if erp_mark else _EPOCH_MARK
            work.requests.append(self._page_request(since, 0))
        elif source == "supplier":
            mailbox = work.entity("watermark", "supplier_mailbox")
            work.requests.append(self._mailbox_request(mailbox.version if mailbox else 0))
        elif source == "wms":
            receipts = work.entity("watermark", "wms_receipts")
            work.requests.append(self._receipts_request(receipts.version if receipts else 0))
        elif source == "erp_prices":
            work.requests.append(self._prices_request(0))
        else:
            invoices = work.entity("watermark", "ap_invoices")
            work.requests.append(
                self._invoices_request(str(invoices.data) if invoices else _EPOCH_MARK, 0)
            )

    def _sequence(self, work: _Work, feed: str, event: Any, now: dt.datetime) -> None:
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
        at = (now - _MS_EPOCH).total_seconds()
        known = work.entity("feed", feed)
        high = known.version if known else 0
        missing: dict[str, float] = dict(known.data["missing"]) if known else {}
        found = missing.pop(str(number), None) is not None
        if number > high:
            if number - high > _MAX_GAP:  # a feed started anew, or far behind: pull now
                missing["0"] = at - self.config.gap_grace_s
            else:
                missing.update((str(n), at) for n in range(high + 1, number))
            work.put("feed", feed, number, {"missing": missing})
        elif found:
            work.put("feed", feed, high, {"missing": missing})
        for name, sources in _CATCH_UP.items():
            held = work.entity("feed", name)
            if held is None or not held.data["missing"]:
                continue
            late = held.data["missing"]
            if min(late.values()) > at - self.config.gap_grace_s:
                continue
            still = {n: t for n, t in late.items() if t > at - self.config.gap_grace_s}
            work.put("feed", name, held.version, {"missing": still})
            for source in sources:
                self._pull(work, source)

    if TYPE_CHECKING:  # each defined by its flow's mixin

        def _page_request(self, updated_since: str, offset: int) -> Request: ...

        def _mailbox_request(self, after: int) -> Request: ...

        def _receipts_request(self, offset: int) -> Request: ...

        def _prices_request(self, offset: int) -> Request: ...

        def _invoices_request(self, updated_since: str, offset: int) -> Request: ...
