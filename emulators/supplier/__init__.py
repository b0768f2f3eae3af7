"""A supplier network (an EDI VAN with its suppliers behind it).

Theory of operation: a buyer posts an X12 interchange of 850s
(``receive_edi``).  The whole interchange is read first, so a bad set refuses
it all: 400 for the envelope, 422 for the content, each naming the X12 element
at fault; 413 naming ``body`` for an interchange past the network's
:class:`~emulators.limits.Limits` (``max_interchange_bytes``), which also bound
its segments, elements, lines, quantities and prices (see :mod:`emulators.x12`).
Each 850 becomes an order-entry record at the supplier it is addressed to
(ISA08), keyed by the customer's PO number; a repeat of the same PO revision is
recognised and ignored.

A newer revision replaces the order (BEG01 ``05``): lines it leaves out are no
longer ordered (``ordered_qty`` 0), and it is acknowledged again.  A
cancellation (BEG01 ``01``) stops the order where it is: nothing more is
acknowledged, shipped or billed, and its lines journal ``ordered_qty`` 0.
A partner whose profile takes 860s changes the order line by line instead, keeping
what it allocated, and answers with an 865 or a revised 855 (:mod:`._changes`).

Each order then lives through timers, all set with the injected ``schedule``:

1. **Acknowledge** after a lognormal delay: each line is filled — accepted
   (IA), partial (IA for part, IB for the balance with an expected date) or
   backordered (IB) — at the profile's fill rates.  Then exceptions at their
   own rates: the whole line rejected (IR), substituted (IS, the substitute's
   vendor part in the ACK's product ids, for the whole quantity), or its
   confirmed part price-changed (IP, the new price in PO104).  The 855 goes
   out, except at ``missing_ack_rate`` where it never does (the order is still
   filled); at ``duplicate_rate`` the VAN delivers it again later — the same
   transaction set under a new ISA control number.
2. **Ship** (``ship_notices``) a lognormal delay after the acknowledgment:
   an 856 for the confirmed quantities not shipped yet, one lot number and
   expiry date per item, packed and labelled (SSCC-18), with carrier, bill of
   lading, ship-to and ship-from (:mod:`emulators.supplier._shipping`).
3. **Invoice** (``invoices``) a lognormal delay after each shipment: an 810 for
   the shipped quantities at the acknowledged price (the IP price if changed),
   remit-to the supplier's GLN, bill-to and ship-to the 850's, net ``NET_DAYS``
   terms and the shipped date (N1 RI/BT/ST, ITD, DTM*011),
   at ``duplicate_invoice_rate`` billed again later under the same number;
   at ``invoice_uom_mismatch_rate`` by the each (:mod:`emulators.supplier._uom`).

Functional acknowledgments (``functional_acks``; ASC X12 004010, 997): the
network's translator answers each 850 group with a 997 ``fa_delay`` after
receipt — AK5 ``A`` per set, or ``R`` at ``fa_reject_rate`` with AK3/AK4 naming
the first PO1's PO103 (element 355, code 7): a rejected PO never reaches order
entry.  A 997 the buyer posts (``receive_edi``, an FA group) answers one of the
network's own groups (AK102 = the ISA13 it sent).  The network journals each
interchange as ``interchange:{sender}:{ISA13}``: ``received`` (every 850's, with
its number of sets; ``receiver``, the ISA08, too with ``journal_receivers``) or,
with 997s on, ``sent`` (its own, with the ST01); then ``fa_status`` (AK901) when
its 997 goes out or comes in: what the 997 lag and the unacknowledged
interchanges are measured from, on the receiving side.

Each document is published two ways with its ``seq``, ``supplier``, ``type``
("855", "856", "810", "997") and ``payload``: into the buyer's mailbox, where a batch
job picks it up (``mailbox``), and pushed to ``listeners``, as an AS2 or API
connection would.  The goods of a shipment go to ``trucks`` (a receiving dock) just
before its 856 is pushed, with the packing list (the :class:`~emulators.x12.ShipNotice`
the 856 was rendered from).  The supplier journals the facts it owns when it tells the
buyer: ``confirmed_qty`` and ``ack_status`` (855), ``shipped_qty`` (856),
``invoiced_qty`` and ``invoice_price`` (810), per PO line, cumulative, with a
cause naming the document; a line billed by the each journals ``invoiced_uom``
(``EA``) instead, the ground truth of a unit-of-measure mismatch.  A withheld
855 journals nothing (nobody was told); a redelivered document journals nothing
again (the supplier's state did not change).

Inputs are explicit: ``clock`` (seconds of the run), ``schedule(delay, action)``
for timers, and ``seed``.  Each supplier has its own random streams — the fill
stream (``{seed}/supplier/{edi}``, drawn exactly as before the exceptions,
shipping and invoicing existed) and one each for ``ack`` exceptions,
``shipping`` and ``invoicing`` — so adding a supplier or turning a feature on
does not change the other draws.  ``reset`` empties the network and re-creates
the streams; timers set before a reset do nothing when they go off.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from emulators._base import Journal, Reply, System, problem
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.supplier._changes import (
    ack_line,
    acks_of,
    drop_lines,
    enter_change,
    is_repeat,
    journal_acks,
    keep_allocation,
    read_order,
    settle,
    too_early,
    unless_canceled,
)
from emulators.supplier._profile import (
    _COUNTERS,
    _EDI_ID,
    SupplierProfile,
    _lognormal,
    _Streams,
    _unwritable,
)
from emulators.supplier._shipping import ship_notice, shipped_gtin
from emulators.supplier._uom import invoice_of
from emulators.x12 import (
    GROUP_CODES,
    Ack,
    AckLine,
    ElementError,
    FunctionalAck,
    Interchange,
    PurchaseOrderAck,
    SetAck,
    ShipNotice,
    X12Error,
    read_997,
    render_810,
    render_855,
    render_856,
    render_997,
)

__all__ = ["SupplierNetwork", "SupplierProfile"]

_LINES = {"PO1": 3, "POC": 5}  # a set's line segment and its unit of measure element


class SupplierNetwork(System):
    system = "supplier"

    def __init__(
        self,
        journal: Journal,
        clock: Callable[[], float],
        epoch: dt.datetime,
        schedule: Callable[[float, Callable[[], None]], None],
        profiles: dict[str, SupplierProfile],
        seed: int,
        *,
        limits: Limits = DEFAULT_LIMITS,
        journal_receivers: bool = False,
    ) -> None:
        super().__init__(journal, clock, epoch, limits)
        self._schedule = schedule
        self.profiles = profiles
        self._seed = seed
        self._journal_receivers = journal_receivers
        self._generation = 0
        # who receives the goods of each shipment, with the notice its 856 was rendered from
        self.trucks: list[Callable[[ShipNotice], None]] = []
        self.reset()

    def reset(self) -> None:
        """Back to an empty network with fresh random streams; listeners stay subscribed."""
        self._generation += 1
        self._streams = {
            edi: _Streams(
                random.Random(f"{self._seed}/supplier/{edi}"),
                random.Random(f"{self._seed}/supplier/{edi}/ack"),
                random.Random(f"{self._seed}/supplier/{edi}/shipping"),
                random.Random(f"{self._seed}/supplier/{edi}/invoicing"),
                random.Random(f"{self._seed}/supplier/{edi}/fa"),
                random.Random(f"{self._seed}/supplier/{edi}/changes"),
            )
            for edi in sorted(self.profiles)
        }
        self.orders: dict[tuple[str, str], dict[str, Any]] = {}
        self.mailbox_docs: list[dict[str, Any]] = []
        self.counters = {edi: dict.fromkeys(_COUNTERS, 0) for edi in sorted(self.profiles)}

    def snapshot(self) -> dict[str, Any]:
        """The network's state as plain JSON: orders, mailbox size, counters per supplier."""
        return {
            "orders": [
                {"supplier": supplier, **order}
                for (supplier, _), order in sorted(self.orders.items())
            ],
            "mailbox_size": len(self.mailbox_docs),
            "suppliers": {edi: dict(c) for edi, c in self.counters.items()},
        }

    # -- API ------------------------------------------------------------------

    def receive_edi(self, text: str) -> Reply:
        size = self._limits.max_interchange_bytes
        if len(text) > size or len(text.encode()) > size:
            detail = f"the interchange is larger than {size} bytes"
            return problem(413, "Content Too Large", detail, "body")
        try:
            interchange = Interchange.parse(text, self._limits)
        except X12Error as e:
            return problem(400, "Bad Request", f"not a valid X12 interchange: {e}", e.segment)
        except (ValueError, IndexError) as e:  # a reader bug must not become a 500
            return problem(400, "Bad Request", f"not a valid X12 interchange: {e}", "body")
        supplier = interchange.receiver
        if supplier not in self.profiles:
            return problem(
                422, "Unprocessable Content", f"unknown trading partner {supplier}", "ISA08"
            )
        if not _EDI_ID.fullmatch(interchange.sender):
            return problem(
                422, "Unprocessable Content", "sender id must be 1-15 letters or digits", "ISA06"
            )
        if interchange.sets and all(ts[0][1] == "997" for ts in interchange.sets):
            return self._functional_acks_in(supplier, interchange)
        orders = []
        for segments in interchange.sets:
            try:
                orders.append(read_order(segments, self._limits))
            except X12Error as e:
                detail = f"{segments[0][1]}: {e}"
                return problem(422, "Unprocessable Content", detail, e.segment)
            unsafe = _unwritable(orders[-1])
            if unsafe is not None:  # our 855 could not carry it: refuse now, not at ack time
                return problem(
                    422,
                    "Unprocessable Content",
                    f"{segments[0][1]}: {unsafe[1]!r} contains a delimiter our documents use",
                    unsafe[0],
                )
        early = too_early(orders, supplier, self.orders)
        if early is not None:
            return early
        cause = f"edi:{interchange.sender}:{interchange.control}"
        verdicts = self._syntax_verdicts(supplier, interchange)
        accepted = 0
        for order, verdict in zip(orders, verdicts, strict=True):
            if not verdict.accepted:
                continue  # the 997 rejects it: order entry never sees it
            key = (supplier, order["customer_po"])
            known = self.orders.get(key)
            if known is not None and is_repeat(order, known):
                self.counters[supplier]["repeats_ignored"] += 1
                continue  # the same PO again: order entry recognises it
            if known is not None and known.get("canceled"):
                self.counters[supplier]["repeats_ignored"] += 1
                continue  # a canceled order stays canceled
            if "changes" in order:  # an 860: the order it changes
                accepted += 1
                enter_change(self, key, order, cause)
                continue
            accepted += 1
            if order.get("purpose") == "01":
                self._cancel(key, order, known, cause)
                continue
            self._enter(key, order, known, interchange.sender)
            for line in order["lines"]:
                entity = f"po_line:{order['customer_po']}:{line['po_line']}"
                self._journal.record(entity, "ordered_qty", line["qty"], cause, None)
            drop_lines(self._journal, order, known, cause)
            delay = self._lognormal(
                self._streams[supplier].fill,
                self.profiles[supplier].ack_delay_median_s,
                self.profiles[supplier].ack_delay_sigma,
            )
            self._later(delay, self._acknowledge, key)
        return Reply(202, {"accepted": accepted, "interchange": interchange.control})

    # -- functional acknowledgments (997) ------------------------------------------------

    def _syntax_verdicts(self, supplier: str, interchange: Interchange) -> list[SetAck]:
        """The translator's verdict on each 850 set, and the 997 that tells the buyer.

        At ``fa_reject_rate`` a set is rejected (AK5 R): its first PO1's unit of measure
        (PO103, element 355) is not a code this partner's guide admits (AK4 code 7),
        and order entry never sees the PO.  The 997 goes out ``fa_delay`` later, one per
        functional group, unless the partner sends none (``functional_acks`` off)."""
        profile, rng = self.profiles[supplier], self._streams[supplier].fa
        verdicts = []
        for segments in interchange.sets:
            code, control = segments[0][1], segments[0][2]
            if profile.functional_acks and rng.random() < profile.fa_reject_rate:
                n, po1 = next((n, s) for n, s in enumerate(segments, 1) if s[0] in _LINES)
                at = _LINES[po1[0]]  # the line's unit: PO103, POC05 in an 860
                error = ElementError(po1[0], n, at, "355", "7", po1[at])
                verdicts.append(SetAck(code, control, "R", (error,)))
            else:
                verdicts.append(SetAck(code, control))
        entity = f"interchange:{interchange.sender}:{interchange.control}"
        self._journal.record(entity, "received", len(interchange.sets), entity, None)
        if self._journal_receivers:  # the partner it was addressed to (ISA08)
            self._journal.record(entity, "receiver", supplier, entity, None)
        if profile.functional_acks:
            delay = self._lognormal(rng, profile.fa_delay_median_s, profile.fa_delay_sigma)
            start = 0
            for group_code, group_control, count in interchange.groups:
                answered = tuple(verdicts[start : start + count])
                fa = FunctionalAck(group_code, group_control, answered)
                start += count
                self._later(delay, self._send_997, supplier, interchange, fa)
        return verdicts

    def _send_997(self, supplier: str, interchange: Interchange, fa: FunctionalAck) -> None:
        counters = self.counters[supplier]
        counters["fa_sent"] += 1
        counters["fa_rejected"] += sum(1 for s in fa.sets if not s.accepted)
        segments = render_997(fa, f"{counters['interchanges'] + 1:04d}")
        entity = f"interchange:{interchange.sender}:{interchange.control}"
        cause = f"997:{supplier}:{counters['interchanges'] + 1}"
        self._journal.record(entity, "fa_status", fa.status, cause, None)
        self._publish(supplier, interchange.sender, segments)

    def _functional_acks_in(self, supplier: str, interchange: Interchange) -> Reply:
        """The buyer's 997s for this supplier's groups: each journals ``fa_status`` on the
        interchange it answers (ours: GS06 = ISA13)."""
        try:
            acks = [read_997(segments) for segments in interchange.sets]
        except X12Error as e:
            return problem(422, "Unprocessable Content", f"997: {e}", e.segment)
        counters = self.counters[supplier]
        sent = counters["interchanges"]
        for fa in acks:
            if not (fa.group_control.isdigit() and 0 < int(fa.group_control) <= sent):
                detail = f"997: group {fa.group_control!r} was never sent by {supplier}"
                return problem(422, "Unprocessable Content", detail, "AK102")
        cause = f"edi:{interchange.sender}:{interchange.control}"
        for fa in acks:
            counters["fa_received"] += 1
            entity = f"interchange:{supplier}:{int(fa.group_control)}"
            self._journal.record(entity, "fa_status", fa.status, cause, None)
        return Reply(202, {"accepted": len(acks), "interchange": interchange.control})

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

    # -- order entry -------------------------------------------------------------

    def _enter(
        self, key: tuple[str, str], order: dict[str, Any], known: dict[str, Any] | None, buyer: str
    ) -> None:
        """Record an order (or its new revision, keeping what was acknowledged and shipped)."""
        before = {ln["po_line"]: ln for ln in known["lines"]} if known else {}
        for line in order["lines"]:
            old = before.get(line["po_line"], {})
            line["shipped"] = old.get("shipped", 0)
            line["invoiced"] = old.get("invoiced", 0)
            keep_allocation(line, old)
        order["buyer"] = buyer
        order["received_at"] = self._clock()
        order["ack_revision"] = known.get("ack_revision", 0) if known else 0
        order["shipments"] = known["shipments"] if known else []
        self.counters[key[0]]["orders_received"] += 1
        self.orders[key] = order

    def _cancel(
        self, key: tuple[str, str], order: dict[str, Any], known: dict[str, Any] | None, cause: str
    ) -> None:
        """A cancellation (BEG01 01): nothing more is acknowledged, shipped or billed."""
        if known is None:
            known = {**order, "lines": [], "shipments": []}
            self.orders[key] = known
        known["canceled"] = True
        known["revision"] = order.get("revision", 1)
        self.counters[key[0]]["orders_canceled"] += 1
        for line in order["lines"]:
            entity = f"po_line:{key[1]}:{line['po_line']}"
            self._journal.record(entity, "ordered_qty", 0, cause, None)
        for line in known["lines"]:
            if line.get("confirmed"):
                line["confirmed"] = 0
                entity = f"po_line:{key[1]}:{line['po_line']}"
                self._journal.record(entity, "confirmed_qty", 0, cause, None)

    def _later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """A timer that does nothing if the network was reset in the meantime."""
        generation = self._generation

        def fire() -> None:
            if generation == self._generation:
                action(*args)

        self._schedule(delay, fire)

    _lognormal = staticmethod(_lognormal)

    # -- acknowledgment ------------------------------------------------------------

    def _fill(
        self, line: dict[str, Any], profile: SupplierProfile, rng: random.Random, today: dt.date
    ) -> list[Ack]:
        """Accept, partly accept or backorder one line (the draws of the fill stream)."""
        partial, backorder = (
            (profile.critical_partial_rate, profile.critical_backorder_rate)
            if line["critical"]
            else (profile.partial_rate, profile.backorder_rate)
        )
        r = rng.random()
        qty, uom = line["qty"], line["uom"]
        later = (today + dt.timedelta(days=rng.randint(*profile.backorder_days))).strftime("%Y%m%d")
        if r < backorder:
            return [Ack("IB", qty, uom, later)]
        if r < backorder + partial and qty > 1:
            share = rng.uniform(*profile.partial_fill)
            confirmed = min(qty - 1, max(1, round(qty * share)))
            return [Ack("IA", confirmed, uom), Ack("IB", qty - confirmed, uom, later)]
        return [Ack("IA", qty, uom)]

    def _exception(
        self, line: dict[str, Any], acks: list[Ack], profile: SupplierProfile, rng: random.Random
    ) -> tuple[list[Ack], str, str]:
        """Reject, substitute or re-price a filled line: (its ACKs, price, part shipped)."""
        price, part = line["price"], line["vendor_part"]
        u = rng.random()
        if u < profile.reject_rate:
            return [Ack("IR", line["qty"], line["uom"])], price, part
        if u < profile.reject_rate + profile.substitution_rate:
            substitute = f"{part or 'ITEM'}-S{rng.randint(1, 9)}"
            return (
                [Ack("IS", line["qty"], line["uom"], None, (("VC", substitute),))],
                price,
                substitute,
            )
        if u < profile.reject_rate + profile.substitution_rate + profile.price_change_rate:
            new = (Decimal(price) * Decimal(str(rng.uniform(*profile.price_change)))).quantize(
                Decimal("0.01")
            )
            if new == Decimal(price) or new <= 0:
                new = Decimal(price) + Decimal("0.01")
            changed = [Ack("IP", a.qty, a.uom) if a.code == "IA" else a for a in acks]
            if changed != acks:
                return changed, str(new), part
        return acks, price, part

    @unless_canceled
    def _acknowledge(self, key: tuple[str, str], order: dict[str, Any]) -> None:
        supplier, po_number = key
        profile, streams = self.profiles[supplier], self._streams[supplier]
        now = self._now()
        fills = [
            [] if "kept" in line else self._fill(line, profile, streams.fill, now.date())
            for line in order["lines"]
        ]
        missing = streams.ack.random() < profile.missing_ack_rate
        duplicate = streams.ack.random() < profile.duplicate_rate
        lines: list[AckLine] = []
        for line, filled in zip(order["lines"], fills, strict=True):
            kept = line.pop("kept", None)  # an untouched line keeps its allocation
            if kept is not None:
                acks, price, part = acks_of(kept), kept["ack_price"], kept["ship_part"]
            else:
                acks, price, part = self._exception(line, filled, profile, streams.ack)
            settle(line, acks)
            line["ack_price"] = price
            line["ship_part"] = part
            line["ship_gtin"] = shipped_gtin(line, part)
            lines.append(ack_line(line))
        if all(a.code == "IR" for ln in lines for a in ln.acks):
            ack_type = "RD"  # rejected with detail
        elif all(len(ln.acks) == 1 and ln.acks[0].code == "IA" for ln in lines):
            ack_type = "AT"
        else:
            ack_type = "AC"  # accepted with detail and changes
        order["ack_revision"] += 1
        revision = order["ack_revision"]
        counters = self.counters[supplier]
        if missing:
            counters["acks_withheld"] += 1
        else:
            journal_acks(self._journal, po_number, order["lines"], f"855:{po_number}:{revision}")
            control = f"{counters['interchanges'] + 1:04d}"
            day, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
            doc = PurchaseOrderAck(po_number, ack_type, day, tuple(lines), revision, time)
            segments = render_855(doc, control)
            counters["acks_sent"] += 1
            self._publish(supplier, order["buyer"], segments)
            if duplicate:
                counters["ack_duplicates"] += 1
                self._later(
                    profile.duplicate_delay_s, self._publish, supplier, order["buyer"], segments
                )
        if profile.ship_notices and any(line["confirmed"] for line in order["lines"]):
            delay = self._lognormal(
                streams.shipping, profile.ship_delay_median_s, profile.ship_delay_sigma
            )
            self._later(delay, self._ship, key)

    # -- fulfilment ------------------------------------------------------------------

    @unless_canceled
    def _ship(self, key: tuple[str, str], order: dict[str, Any]) -> None:
        supplier, po_number = key
        profile, rng = self.profiles[supplier], self._streams[supplier].shipping
        now = self._now()
        due = [(ln, ln.get("confirmed", 0) - ln["shipped"]) for ln in order["lines"]]
        due = [(ln, qty) for ln, qty in due if qty > 0]
        if not due:
            return  # a later acknowledgment confirmed nothing more
        shipment_id = f"{po_number}-{len(order['shipments']) + 1}"
        shipped = []
        for line, qty in due:
            lot = f"L{now:%y%m%d}{rng.randint(0, 9999):04d}"
            expiry = now.date() + dt.timedelta(days=rng.randint(*profile.shelf_life_days))
            shipped.append({"po_line": line["po_line"], "qty": qty, "lot": lot})
            shipped[-1]["expiry"] = expiry.strftime("%Y%m%d")
        order["shipments"].append({"id": shipment_id, "at": self._clock(), "lines": shipped})
        control = self.counters[supplier]["interchanges"] + 1
        sender = (supplier, profile.gln)
        notice = ship_notice(order, shipped, shipment_id, now, sender, control)
        counters = self.counters[supplier]
        segments = render_856(notice, f"{counters['interchanges'] + 1:04d}")
        cause = f"856:{shipment_id}"
        for line, qty in due:
            line["shipped"] += qty
            entity = f"po_line:{po_number}:{line['po_line']}"
            self._journal.record(entity, "shipped_qty", line["shipped"], cause, None)
        counters["ship_notices"] += 1
        self._publish(supplier, order["buyer"], segments, notice)
        if profile.invoices:
            delay = self._lognormal(
                self._streams[supplier].invoicing,
                profile.invoice_delay_median_s,
                profile.invoice_delay_sigma,
            )
            self._later(delay, self._invoice, key, len(order["shipments"]) - 1)

    def _invoice(self, key: tuple[str, str], shipment: int) -> None:
        supplier, po_number = key
        order = self.orders[key]
        profile, rng = self.profiles[supplier], self._streams[supplier].invoicing
        counters = self.counters[supplier]
        number = f"INV{counters['invoices'] + 1:06d}"
        by_line = {ln["po_line"]: ln for ln in [*order["lines"], *order.get("closed", [])]}
        shipped = order["shipments"][shipment]["lines"]
        shipped_on = self._epoch + dt.timedelta(seconds=order["shipments"][shipment]["at"])
        invoice, by_each = invoice_of(
            number, self._now(), po_number, order, by_line, shipped, shipped_on, profile, rng
        )
        order["shipments"][shipment]["invoice"] = number
        segments = render_810(invoice, f"{counters['interchanges'] + 1:04d}")
        cause = f"810:{supplier}:{number}"
        for s in shipped:  # a line billed by the each told the buyer nothing in its unit
            line = by_line[s["po_line"]]
            line["invoiced"] += s["qty"]
            entity = f"po_line:{po_number}:{s['po_line']}"
            if s["po_line"] in by_each:
                self._journal.record(entity, "invoiced_uom", "EA", cause, None)
            else:
                self._journal.record(entity, "invoiced_qty", line["invoiced"], cause, None)
                self._journal.record(entity, "invoice_price", float(line["ack_price"]), cause, None)
        counters["invoices"] += 1
        self._publish(supplier, order["buyer"], segments)
        if rng.random() < profile.duplicate_invoice_rate:
            counters["invoice_duplicates"] += 1
            self._later(
                profile.duplicate_invoice_delay_s, self._publish, supplier, order["buyer"], segments
            )

    # -- delivery ---------------------------------------------------------------------

    def _publish(
        self,
        supplier: str,
        buyer: str,
        segments: list[list[str]],
        goods: ShipNotice | None = None,
    ) -> None:
        """Send one transaction set in an interchange of its own, with the next control number;
        an 856's ``goods`` leave on the trucks first (the dock was told before the buyer)."""
        counters = self.counters[supplier]
        counters["interchanges"] += 1
        kind = segments[0][1]
        control = counters["interchanges"]
        ta1 = self.profiles[supplier].ta1_requested
        interchange = Interchange(supplier, buyer, control, [segments], ta1)
        payload = interchange.render(GROUP_CODES[kind], self._now())
        if kind != "997" and self.profiles[supplier].functional_acks:  # a 997 is never acked
            entity = f"interchange:{supplier}:{control}"
            self._journal.record(entity, "sent", kind, entity, None)
        doc = {"seq": len(self.mailbox_docs) + 1, "supplier": supplier, "type": kind}
        doc["payload"] = payload
        self.mailbox_docs.append(doc)
        if goods is not None:
            for truck in self.trucks:
                truck(goods)
        for listener in self.listeners:
            listener(doc)
