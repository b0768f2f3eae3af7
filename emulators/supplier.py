"""A supplier network (an EDI VAN with its suppliers behind it).

Theory of operation: a buyer posts an X12 interchange of 850s
(``receive_edi``).  Each 850 becomes an order-entry record at the supplier it
is addressed to (ISA08), keyed by the customer's PO number and revision; a
repeat of the same PO revision is recognised and ignored.  After an
acknowledgment delay drawn from the supplier's profile, the supplier decides
each line — accept (IA), partial (IA for part, IB for the balance with an
expected date) or backorder (IB) — at the profile's rates, writes an 855 and
publishes it two ways: into the buyer's mailbox, where a batch job picks it up
(``mailbox``), and pushed to subscribers (``listeners``), as an AS2 or API
connection would.

Inputs are explicit: ``clock`` (seconds of the run), ``schedule(delay, action)``
for timers, and ``seed`` for one random stream per supplier, so adding a
supplier does not change the draws of the others.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulators._base import Journal, Reply, problem
from emulators.x12 import Interchange, X12Error, read_850, write_855

__all__ = ["SupplierNetwork", "SupplierProfile"]


@dataclass(frozen=True)
class SupplierProfile:
    """How one supplier acknowledges (rates are per line, between 0 and 1)."""

    partial_rate: float = 0.05
    backorder_rate: float = 0.03
    critical_partial_rate: float = 0.05
    critical_backorder_rate: float = 0.03
    partial_fill: tuple[float, float] = (0.4, 0.6)  # share of the line confirmed
    backorder_days: tuple[int, int] = (7, 21)
    ack_delay_median_s: float = 2700.0
    ack_delay_sigma: float = 0.7


class SupplierNetwork:
    system = "supplier"

    def __init__(
        self,
        journal: Journal,
        clock: Callable[[], float],
        epoch: dt.datetime,
        schedule: Callable[[float, Callable[[], None]], None],
        profiles: dict[str, SupplierProfile],
        seed: int,
    ) -> None:
        self._journal = journal
        self._clock = clock
        self._epoch = epoch
        self._schedule = schedule
        self.profiles = profiles
        self._rng = {edi: random.Random(f"{seed}/supplier/{edi}") for edi in sorted(profiles)}
        self.orders: dict[tuple[str, str], dict[str, Any]] = {}
        self.mailbox_docs: list[dict[str, Any]] = []
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._control = 0

    # -- API ------------------------------------------------------------------

    def receive_edi(self, text: str) -> Reply:
        try:
            interchange = Interchange.parse(text)
        except (X12Error, ValueError, IndexError) as e:
            return problem(400, "Bad Request", f"not a valid X12 interchange: {e}", "body")
        supplier = interchange.receiver
        if supplier not in self.profiles:
            return problem(
                422, "Unprocessable Content", f"unknown trading partner {supplier}", "ISA08"
            )
        cause = f"edi:{interchange.sender}:{interchange.control}"
        accepted = 0
        for segments in interchange.sets:
            if segments[0][1] != "850":
                return problem(422, "Unprocessable Content", "only 850s are accepted", "ST01")
            try:
                order = read_850(segments)
            except (X12Error, ValueError, IndexError) as e:
                return problem(422, "Unprocessable Content", str(e), "850")
            key = (supplier, order["customer_po"])
            known = self.orders.get(key)
            if known is not None and known.get("revision", 1) >= order.get("revision", 1):
                continue  # the same PO again: order entry recognises it
            order["buyer"] = interchange.sender
            order["received_at"] = self._clock()
            self.orders[key] = order
            accepted += 1
            for line in order["lines"]:
                entity = f"po_line:{order['customer_po']}:{line['po_line']}"
                self._journal.record(entity, "ordered_qty", line["qty"], cause, None)
            delay = self._draw_delay(supplier)
            self._schedule(delay, lambda key=key: self._acknowledge(key))  # type: ignore[misc]
        return Reply(202, {"accepted": accepted, "interchange": interchange.control})

    def mailbox(self, after: int = 0, limit: int = 100) -> Reply:
        """Documents for the buyer with sequence number > ``after``, oldest first."""
        if after < 0 or not 1 <= limit <= 1000:
            return problem(
                400,
                "Bad Request",
                "after must be >= 0, limit within 1..1000",
                "after" if after < 0 else "limit",
            )
        docs = [d for d in self.mailbox_docs if d["seq"] > after][:limit]
        more = len(docs) == limit and docs[-1]["seq"] < len(self.mailbox_docs)
        return Reply(200, {"documents": docs, "hasMore": more})

    # -- behaviour ------------------------------------------------------------

    def _draw_delay(self, supplier: str) -> float:
        p = self.profiles[supplier]
        return p.ack_delay_median_s * math.exp(self._rng[supplier].gauss(0.0, p.ack_delay_sigma))

    def _acknowledge(self, key: tuple[str, str]) -> None:
        supplier, po_number = key
        order = self.orders[key]
        profile, rng = self.profiles[supplier], self._rng[supplier]
        today = (self._epoch + dt.timedelta(seconds=self._clock())).date()
        decisions: list[list[tuple[str, int, str | None]]] = []
        for line in order["lines"]:
            partial, backorder = (
                (profile.critical_partial_rate, profile.critical_backorder_rate)
                if line["critical"]
                else (profile.partial_rate, profile.backorder_rate)
            )
            r = rng.random()
            qty = line["qty"]
            later = (today + dt.timedelta(days=rng.randint(*profile.backorder_days))).strftime(
                "%Y%m%d"
            )
            acks: list[tuple[str, int, str | None]]
            if r < backorder:
                acks = [("IB", qty, later)]
            elif r < backorder + partial and qty > 1:
                share = rng.uniform(*profile.partial_fill)
                confirmed = min(qty - 1, max(1, round(qty * share)))
                acks = [("IA", confirmed, None), ("IB", qty - confirmed, later)]
            else:
                acks = [("IA", qty, None)]
            decisions.append(acks)
        all_accepted = all(len(a) == 1 and a[0][0] == "IA" for a in decisions)
        revision = order.get("ack_revision", 0) + 1
        order["ack_revision"] = revision
        self._control += 1
        control = self._control
        segments = write_855(
            order,
            decisions,
            ack_type="AT" if all_accepted else "AC",
            revision=revision,
            stamp=today,
            control=f"{control:04d}",
        )
        cause = f"855:{po_number}:{revision}"
        for line, acks in zip(order["lines"], decisions, strict=True):
            entity = f"po_line:{po_number}:{line['po_line']}"
            confirmed = sum(q for code, q, _ in acks if code == "IA")
            status = "/".join(code for code, _, _ in acks)
            self._journal.record(entity, "confirmed_qty", confirmed, cause, None)
            self._journal.record(entity, "ack_status", status, cause, None)
        stamp = self._epoch + dt.timedelta(seconds=self._clock())
        text = Interchange(supplier, order["buyer"], control, [segments]).render("PR", stamp)
        doc = {"seq": len(self.mailbox_docs) + 1, "supplier": supplier, "payload": text}
        self.mailbox_docs.append(doc)
        for listener in self.listeners:
            listener(doc)
