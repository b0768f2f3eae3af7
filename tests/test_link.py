"""Engine ↔ emulators through an in-memory link: no SimPy, no HTTP.

In the spirit of h11's ConnectionPair: a tiny loop hands each inbound message
to the engine, commits the decision to a MemoryStore, carries each request to
the real emulator objects, and feeds read replies back as inbound messages.
Bodies cross the link as JSON, as they would over a wire.  Time passes only
when the test fires the supplier's acknowledgment timer by hand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from analysis.history import Change
from analysis.metrics import judge
from emulators._base import FactChange
from emulators.supplier import SupplierProfile
from sync_core.engine import Engine, EngineConfig
from sync_core.messages import Inbound, Kind, Request
from sync_core.store import MemoryStore
from tests.builders import EPOCH, GLN, Emulators, create_erp_po, wire

# Non-critical lines are always partially confirmed; critical lines always accepted.
PROFILE = SupplierProfile(
    partial_rate=1.0,
    backorder_rate=0.0,
    critical_partial_rate=0.0,
    critical_backorder_rate=0.0,
    partial_fill=(0.4, 0.6),
    backorder_days=(7, 7),
)


class Link:
    def __init__(self, profile: SupplierProfile = PROFILE) -> None:
        self.t = 0.0
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.inbox: deque[Inbound] = deque()
        self.sent: list[Request] = []

        self.emulators = Emulators(lambda: self.t, self._schedule, {"SUPP1001": profile}, seed=7)
        self.facts = self.emulators.facts
        self.erp, self.supplier = self.emulators.erp, self.emulators.supplier
        self.wms, self.ap = self.emulators.wms, self.emulators.ap
        self.engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}))
        self.store = MemoryStore()
        self.erp.listeners.append(
            lambda e: self.inbox.append(Inbound(e["eventId"], Kind.ERP_PO_CHANGED, wire(e)))
        )
        self.supplier.listeners.append(
            lambda d: self.inbox.append(Inbound(f"edi:{d['seq']}", Kind.SUPPLIER_EDI, wire(d)))
        )
        self.wms.listeners.append(
            lambda e: self.inbox.append(Inbound(e["event_id"], Kind.WMS_RECEIPT_CREATED, wire(e)))
        )
        self.ap.listeners.append(
            lambda e: self.inbox.append(
                Inbound(e["eventId"], Kind.AP_INVOICE_STATUS_CHANGED, wire(e))
            )
        )

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        self.timers.append((delay, action))

    def fire_timers(self) -> int:
        """Let the supplier's acknowledgment timers go off, in order of their delay."""
        due, self.timers = sorted(self.timers, key=lambda x: x[0]), []
        for delay, action in due:
            self.t = max(self.t, delay)
            action()
        return len(due)

    def next_timer(self) -> None:
        """Let the one timer that is due go off, and exchange what it set going."""
        assert self.fire_timers() == 1
        self.run()

    def run(self) -> int:
        """Exchange messages until both sides are quiet; return how many were handled."""
        handled = 0
        while self.inbox:
            message = self.inbox.popleft()
            decision = self.engine.handle(message, EPOCH + dt.timedelta(seconds=self.t), self.store)
            handled += 1
            for item in self.store.commit(decision):
                request = item.request
                self.sent.append(request)
                reply = self.emulators.carry(request)
                assert reply.ok, (request.operation, reply.status, reply.body)
                self.store.done(item.outbox_id)
                if request.reply_kind is not None:
                    self.inbox.append(
                        Inbound(
                            f"reply:{item.outbox_id}",
                            request.reply_kind,
                            wire(reply.body),
                            request.correlation_id,
                            query=dict(request.params),
                        )
                    )
        return handled

    def create_po(self) -> str:
        order = create_erp_po(self.erp)
        return str(order["OrderNumber"])

    def facts_of(self, system: str, entity: str, field: str) -> list[FactChange]:
        return [f for f in self.facts if (f.system, f.entity, f.field) == (system, entity, field)]

    def supplier_said(self, number: str, field: str) -> Iterator[tuple[dict[str, Any], FactChange]]:
        """Each line of ERP order ``number`` with the supplier's one fact of ``field`` on it."""
        for line in self.erp.orders[number]["lines"]:
            entity = f"po_line:{number}:{line['LineNumber']}"
            [said] = self.facts_of("supplier", entity, field)
            yield line, said


def acknowledged_exchange(profile: SupplierProfile = PROFILE) -> tuple[Link, str]:
    """A PO sent as an 850 and acknowledged by the supplier's 855."""
    link = Link(profile)
    number = link.create_po()
    link.run()
    assert ("SUPP1001", number) in link.supplier.orders, "the 850 reached the supplier"
    link.next_timer()  # the acknowledgment
    return link, number


def test_supplier_confirmation_reaches_erp_and_wms() -> None:
    link, number = acknowledged_exchange()

    order = link.erp.orders[number]
    for line, said in link.supplier_said(number, "confirmed_qty"):  # the supplier's decision
        n, ordered = line["LineNumber"], line["Quantity"]
        assert line["SupplierConfirmedQuantity"] == said.value
        assert line["BackorderedQuantity"] == ordered - said.value
        assert link.wms.expected[(number, n)]["exp_qty"] == said.value
        assert link.wms.expected[(number, n)]["dock_gln"] == GLN
    partial, critical = order["lines"]
    assert 0 < partial["SupplierConfirmedQuantity"] < partial["Quantity"]
    assert partial["AcknowledgmentStatus"] == "IA/IB"
    ack_day = (EPOCH + dt.timedelta(seconds=link.t)).date()
    assert partial["PromisedDate"] == (ack_day + dt.timedelta(days=7)).isoformat()
    assert critical["SupplierConfirmedQuantity"] == critical["Quantity"]
    assert critical["AcknowledgmentStatus"] == "IA"
    assert order["AcknowledgmentRevision"] == 1
    assert link.store.pending() == []
    assert link.store.dead_letters() == []


def test_the_exchange_converges_with_no_duplicate_effects() -> None:
    link, _ = acknowledged_exchange()
    history = [Change(f.t, f.system, f.entity, f.field, f.value, f.cause) for f in link.facts]

    verdict = judge(history)

    assert verdict.lost == []
    assert verdict.converged
    assert verdict.duplicates == []
    happened = {flow: n for flow, n in verdict.updates.items() if n}
    assert happened == {"po_dispatch": 4, "po_acknowledgment": 4}  # qty and price per line


def test_the_erp_change_event_after_the_ack_sends_nothing_new() -> None:
    link, _ = acknowledged_exchange()
    operations = [r.operation for r in link.sent]
    assert operations.count("post_edi") == 1  # re-reading the PO did not re-dispatch it
    assert operations.count("post_acknowledgment") == 1
    assert operations.count("upsert_expected_receipts") == 1


def ack_request(link: Link) -> Request:
    [request] = [r for r in link.sent if r.operation == "post_acknowledgment"]
    return request


def test_redelivered_acknowledgment_without_a_key_is_journalled_twice() -> None:
    link, number = acknowledged_exchange()
    entity = f"po_line:{number}:1"
    before = len(link.facts_of("erp", entity, "confirmed_qty"))
    keyless = dataclasses.replace(ack_request(link), idempotency_key=None)

    assert link.emulators.carry(keyless).ok
    assert link.emulators.carry(keyless).ok

    assert len(link.facts_of("erp", entity, "confirmed_qty")) == before + 2
    # the same values again changed nothing: the harness sees re-posts, not duplicate effects
    history = [Change(*f) for f in link.facts]
    verdict = judge(history)
    assert verdict.duplicates == []
    assert {(d.system, d.entity, d.field) for d in verdict.of_kind("repost")} >= {
        ("erp", entity, "confirmed_qty"),
        ("erp", entity, "ack_status"),
    }


def test_redelivered_acknowledgment_with_a_key_is_journalled_once() -> None:
    link, number = acknowledged_exchange()
    entity = f"po_line:{number}:1"
    before = len(link.facts_of("erp", entity, "confirmed_qty"))
    fresh = dataclasses.replace(ack_request(link), idempotency_key="retry-test-1")

    first, second = link.emulators.carry(fresh), link.emulators.carry(fresh)

    assert first.ok and second == first
    assert len(link.facts_of("erp", entity, "confirmed_qty")) == before + 1
    # and the engine's own key, already used once in the exchange, changes nothing
    assert link.emulators.carry(ack_request(link)).ok
    assert len(link.facts_of("erp", entity, "confirmed_qty")) == before + 1


FULFILLING = dataclasses.replace(PROFILE, ship_notices=True, invoices=True)


def fulfilled_exchange() -> tuple[Link, str]:
    """A PO through its whole life: 850, 855, 856, the dock receives, 810."""
    link, number = acknowledged_exchange(FULFILLING)
    link.next_timer()  # the shipment
    [asn] = link.wms.ship_notices
    for line in link.wms.ship_notices[asn]["lines"].values():
        reply = link.wms.receive(
            {
                "asn_nbr": asn,
                "po_line_nbr": line["po_line_nbr"],
                "received_qty": line["shipped_qty"],
            }
        )
        assert reply.status == 201, reply.body
    link.run()
    link.next_timer()  # the invoice
    return link, number


def test_shipment_receipt_and_invoice_reach_wms_erp_and_ap() -> None:
    link, number = fulfilled_exchange()

    for line, shipped in link.supplier_said(number, "shipped_qty"):
        n = line["LineNumber"]
        assert line["ReceivedQuantity"] == shipped.value  # the dock took what was shipped
        assert line["OpenCommitmentQuantity"] == line["BackorderedQuantity"]
        ap_line = link.ap.po_lines[(number, n)]
        assert ap_line["quantity_ordered"] == line["Quantity"]
        assert ap_line["quantity_received"] == shipped.value
        assert ap_line["quantity_invoiced"] == shipped.value
    [(key, invoice)] = link.ap.invoices.items()
    assert key == ("S1001", invoice["invoice_num"]) and invoice["po_number"] == number
    assert invoice["status"] == "approved"  # billed what was received, at the PO price
    [record] = link.erp.invoices.values()
    assert record["MatchStatus"] == "MATCHED" and record["OrderNumber"] == number
    assert link.store.pending() == [] and link.store.dead_letters() == []


def test_every_effect_of_one_po_carries_its_trace_id() -> None:
    link, _ = fulfilled_exchange()
    trace_ids = {r.correlation_id.split("-")[1] for r in link.sent if r.correlation_id}

    assert len(trace_ids) == 1  # 850, 855, 856, receipt and invoice: one trace
    assert all(r.correlation_id for r in link.sent if r.idempotency_key)


def test_an_invoice_billed_twice_under_one_number_reaches_ap_once() -> None:
    link, _ = fulfilled_exchange()
    [doc] = [d for d in link.supplier.mailbox_docs if d["type"] == "810"]
    again = Inbound(f"edi:{doc['seq']}-resent", Kind.SUPPLIER_EDI, wire(doc))
    link.inbox.append(again)

    assert link.run() == 1
    assert [r.operation for r in link.sent].count("post_invoice") == 1
    assert len(link.ap.invoices) == 1


def test_a_canceled_line_is_no_longer_ordered_anywhere() -> None:
    link, number = acknowledged_exchange()

    reply = link.erp.change_purchase_order(
        number, {"lines": [{"LineNumber": 1, "Action": "CANCEL"}]}
    )
    assert reply.ok, reply.body
    link.run()

    beg = [r.body for r in link.sent if r.operation == "post_edi"][-1].split("~")[3]
    assert beg.startswith("BEG*05*")  # a replacing 850 carries the change
    order = link.supplier.orders[("SUPP1001", number)]
    assert [line["po_line"] for line in order["lines"]] == [2]
    assert link.ap.po_lines[(number, 1)]["quantity_ordered"] == 0
    assert link.wms.expected[(number, 1)]["exp_qty"] == 0
    for system in ("erp", "supplier"):
        assert link.facts_of(system, f"po_line:{number}:1", "ordered_qty")[-1].value == 0
    link.next_timer()  # the supplier acknowledges the new revision
    assert link.erp.orders[number]["AcknowledgmentRevision"] == 2
    assert link.store.dead_letters() == []


def test_a_po_canceled_before_shipping_is_never_shipped() -> None:
    link = Link(FULFILLING)
    number = link.create_po()
    link.run()

    assert link.erp.change_purchase_order(number, {"Action": "CANCEL"}).ok
    link.run()
    link.fire_timers()  # the acknowledgment timer set before the cancel goes off: no effect
    link.run()

    beg = [r.body for r in link.sent if r.operation == "post_edi"][-1].split("~")[3]
    assert beg.startswith("BEG*01*")
    assert link.supplier.orders[("SUPP1001", number)]["canceled"]
    assert [d["type"] for d in link.supplier.mailbox_docs] == []  # no 855, no 856, no 810
    assert all(row["quantity_ordered"] == 0 for row in link.ap.po_lines.values())
    assert link.store.dead_letters() == []


def test_a_manual_edit_in_the_erp_is_repaired_from_the_supplier_s_acknowledgment() -> None:
    link, number = acknowledged_exchange()
    [said] = link.facts_of("supplier", f"po_line:{number}:1", "confirmed_qty")

    link.erp.edit_confirmation(number, 1, said.value + 5)  # someone overwrites it by hand
    assert link.erp.orders[number]["lines"][0]["SupplierConfirmedQuantity"] == said.value + 5
    link.run()  # the ERP announces the change; the core reads the PO back and compares

    assert link.erp.orders[number]["lines"][0]["SupplierConfirmedQuantity"] == said.value
    repairs = [r for r in link.sent if r.idempotency_key and ":repair:" in r.idempotency_key]
    assert len(repairs) == 1
    link.run()  # the repair's own change event finds nothing more to repair
    assert len([r for r in link.sent if ":repair:" in (r.idempotency_key or "")]) == 1
