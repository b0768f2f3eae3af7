"""The sans-IO engine, driven by hand: messages in, decisions out, no SimPy."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from emulators._base import FactChange, Journal
from emulators.erp import Erp
from sync_core.engine import Engine, EngineConfig, UnknownMessageKind
from sync_core.mappers.x12 import parse_interchange
from sync_core.messages import Decision, Inbound, Kind, Request
from sync_core.store import MemoryStore
from tests.builders import GLN, GTIN_2, create_erp_po, interchange_855

# -- helpers ----------------------------------------------------------------------


EPOCH = dt.datetime(2024, 1, 15, 8, 0)
NOW = dt.datetime(2024, 1, 15, 9, 30)


def config() -> EngineConfig:
    return EngineConfig("HOSPNET01", {"S1001": "SUPP1001"})


class Harness:
    """An engine, a store and a real ERP emulator (fake clock, list journal)."""

    def __init__(self) -> None:
        self.engine = Engine(config())
        self.store = MemoryStore()
        self.journal: list[FactChange] = []
        self.events: list[dict[str, Any]] = []
        self.erp = Erp(Journal("erp", lambda: 0.0, self.journal.append), lambda: 0.0, EPOCH)
        self.erp.listeners.append(self.events.append)

    def create_po(self) -> dict[str, Any]:
        order = create_erp_po(self.erp)
        return copy.deepcopy(order)  # what a reader would get over the wire

    def decide(self, message: Inbound, now: dt.datetime = NOW) -> Decision:
        """Ask the engine, then commit its decision, as a driver does."""
        decision = self.engine.handle(message, now, self.store)
        self.store.commit(decision)
        return decision


def po_document(doc: dict[str, Any], message_id: str | None = None) -> Inbound:
    mid = message_id or f"reply:{doc['OrderNumber']}:r{doc['RevisionNumber']}"
    return Inbound(mid, Kind.ERP_PO_DOCUMENT, doc)


PARTIAL = [
    (1, 10, "CA", "45.50", [("IA", 10, None)]),
    (2, 4, "BX", "12.00", [("IA", 1, None), ("IB", 3, "20240201")]),
]


def edi(seq: int, payload: str) -> Inbound:
    return Inbound(f"edi:{seq}", Kind.SUPPLIER_EDI, {"seq": seq, "supplier": "SUPP1001",
                                                     "payload": payload})  # fmt: skip


def by_operation(decision: Decision) -> dict[str, Request]:
    ops = {r.operation: r for r in decision.requests}
    assert len(ops) == len(decision.requests)
    return ops


# -- ERP → supplier ---------------------------------------------------------------


def test_thin_erp_event_asks_to_read_the_purchase_order() -> None:
    h = Harness()
    h.create_po()
    [event] = h.events

    decision = h.decide(Inbound(event["eventId"], Kind.ERP_PO_CHANGED, event))

    [request] = decision.requests
    assert (request.target, request.operation) == ("erp", "get_purchase_order")
    assert request.params == {"order_number": event["OrderNumber"]}
    assert request.reply_kind == Kind.ERP_PO_DOCUMENT
    assert decision.changes == ()


def test_the_echo_of_the_core_s_own_write_is_not_read_back_but_a_person_s_edit_is() -> None:
    h = Harness()
    doc = h.create_po()
    h.decide(po_document(doc))  # revision 1 dispatched
    number = doc["OrderNumber"]
    assert h.erp.post_acknowledgment(number, {"AcknowledgmentRevision": 1, "lines": [
        {"LineNumber": n, "SupplierConfirmedQuantity": q, "BackorderedQuantity": 0,
         "AcknowledgmentStatus": "IA"} for n, q in ((1, 10), (2, 4))
    ]}).ok  # fmt: skip
    h.erp.edit_confirmation(number, 1, 7)
    _, ack, edit = h.events
    assert (ack["ChangeType"], edit["ChangeType"]) == ("ACKNOWLEDGMENT", "EDIT")

    def reads(event: dict[str, Any], engine: Engine | None = None) -> int:
        message = Inbound(event["eventId"], Kind.ERP_PO_CHANGED, event)
        decision = (engine or h.engine).handle(message, NOW, h.store)
        return sum(r.operation == "get_purchase_order" for r in decision.requests)

    assert reads(ack) == 0  # what the core posted itself: nothing to learn
    assert reads(edit) == 1  # drift a person made: read, compare, repair
    assert reads({**ack, "RevisionNumber": 2}) == 1  # a revision not yet dispatched
    assert reads({k: v for k, v in ack.items() if k != "RevisionNumber"}) == 1  # unknown: read
    naive = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, naive=True))
    assert reads(ack, naive) == 1  # the point-to-point baseline reads every time


def test_a_number_still_missing_from_a_feed_after_the_grace_makes_the_core_pull() -> None:
    h = Harness()

    def pulls(sequence: object, at_s: float, kind: Kind = Kind.ERP_PO_CHANGED,
              engine: Engine | None = None) -> list[str]:  # fmt: skip
        body: dict[str, Any] = {"eventId": f"e{sequence}", "eventType": "PurchaseOrderChanged",
                                "OrderNumber": "1", "sequence": sequence}  # fmt: skip
        if kind is Kind.SUPPLIER_EDI:
            body = {"seq": 1, "supplier": "SUPP1001", "payload": "", "sequence": sequence}
        message = Inbound(f"m{sequence}{kind}{at_s}", kind, body)
        decision = (engine or h.engine).handle(message, NOW + dt.timedelta(seconds=at_s), h.store)
        h.store.commit(decision)
        return [r.operation for r in decision.requests if r.operation != "get_purchase_order"]

    assert pulls(1, 0) == [] and pulls(2, 0) == []  # in order
    assert pulls(4, 0) == []  # 3 is missing: maybe only late
    assert pulls(5, 30) == []  # still within the grace (60 s)
    assert pulls(6, 61) == ["list_purchase_orders", "list_contract_prices"]  # lost: pull
    assert pulls(7, 200) == []  # pulled once, not again
    assert pulls(9, 200) == [] and pulls(8, 210) == [] and pulls(10, 400) == []  # 8 was late
    assert pulls(10, 500) == [] and pulls(None, 900) == [] and pulls("12", 900) == []
    assert pulls(2**63, 900) == []  # no number a store could keep: not counted
    assert h.store.entity("feed", "erp").version == 10
    assert pulls(1, 1000, Kind.SUPPLIER_EDI) == [] and pulls(3, 1000, Kind.SUPPLIER_EDI) == []
    assert pulls(11, 1100) == ["mailbox"]  # the supplier's gap, found by the ERP's traffic
    naive = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, naive=True))
    assert pulls(20, 2000, engine=naive) == []  # the point-to-point baseline keeps no count


def test_gap_detection_is_configuration() -> None:
    """Which feeds are numbered and what a gap in each makes the core pull are
    ``EngineConfig`` fields: no numbered feeds is an event core without gap detection."""

    def pulls(engine: Engine) -> list[str]:
        store = MemoryStore()
        done = []
        for n, at_s in ((1, 0), (3, 0), (4, 61)):  # 2 never comes
            body = {"eventId": f"e{n}", "eventType": "PurchaseOrderChanged",
                    "OrderNumber": "1", "sequence": n}  # fmt: skip
            message = Inbound(f"e{n}", Kind.ERP_PO_CHANGED, body)
            decision = engine.handle(message, NOW + dt.timedelta(seconds=at_s), store)
            store.commit(decision)
            done += [r.operation for r in decision.requests if r.operation != "get_purchase_order"]
        return done

    assert pulls(Engine(config())) == ["list_purchase_orders", "list_contract_prices"]
    assert pulls(Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, feeds={}))) == []
    only_pos = EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, catch_up={"erp": ("erp",)})
    assert pulls(Engine(only_pos)) == ["list_purchase_orders"]
    patient = EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, gap_grace_s=120)
    assert pulls(Engine(patient)) == []  # 2 may still be only late


def test_po_document_yields_one_850_with_a_versioned_idempotency_key() -> None:
    h = Harness()
    doc = h.create_po()

    decision = h.decide(po_document(doc))

    request, to_ap = decision.requests
    assert (to_ap.target, to_ap.operation) == ("ap", "upsert_po_lines")  # AP's match data
    assert to_ap.idempotency_key == f"850:{doc['OrderNumber']}:1:ap"
    assert [row["quantity_ordered"] for row in to_ap.body["po_lines"]] == [10, 4]
    assert (request.target, request.operation) == ("supplier", "post_edi")
    assert request.params == {"supplier": "SUPP1001"}
    assert request.idempotency_key == f"850:{doc['OrderNumber']}:1"
    assert request.critical  # line 2 is a critical supply
    env, [ts] = parse_interchange(request.body)
    assert (env.sender_id, env.receiver_id) == ("HOSPNET01", "SUPP1001")
    assert ts.code == "850"
    beg = next(s for s in ts.segments if s[0] == "BEG")
    assert beg[3] == doc["OrderNumber"]
    assert [(s[1], s[2]) for s in ts.segments if s[0] == "PO1"] == [("1", "10"), ("2", "4")]
    assert h.store.entity("po", doc["OrderNumber"]).version == 1  # type: ignore[union-attr]


def test_same_po_document_again_sends_nothing() -> None:
    h = Harness()
    doc = h.create_po()
    h.decide(po_document(doc, "reply:1"))

    again = h.decide(po_document(doc, "reply:2"))  # a new read of the same revision

    assert not again.duplicate  # a new message, consumed ...
    assert again.requests == ()  # ... but the revision was already dispatched
    assert again.changes == ()


def test_older_po_revision_sends_nothing_and_keeps_the_newer() -> None:
    h = Harness()
    doc = h.create_po()
    newer = {**doc, "RevisionNumber": 2}
    first = h.decide(po_document(newer))
    assert [r.operation for r in first.requests] == ["post_edi", "upsert_po_lines"]

    late = h.decide(po_document(doc))  # revision 1 arrives late

    assert late.requests == ()
    assert h.store.entity("po", doc["OrderNumber"]).version == 2  # type: ignore[union-attr]


def test_each_850_gets_the_next_interchange_control_number() -> None:
    h = Harness()
    one, two = h.create_po(), h.create_po()
    first = h.decide(po_document(one)).requests[0]
    second = h.decide(po_document(two)).requests[0]
    controls = [parse_interchange(r.body)[0].control_number for r in (first, second)]
    assert controls[1] == controls[0] + 1


# -- supplier → ERP, WMS ----------------------------------------------------------


def test_855_updates_erp_and_wms_with_confirmed_quantities() -> None:
    h = Harness()
    doc = h.create_po()
    number = doc["OrderNumber"]
    h.decide(po_document(doc))

    decision = h.decide(edi(1, interchange_855(number, PARTIAL)))

    ops = by_operation(decision)
    assert set(ops) == {"post_acknowledgment", "upsert_expected_receipts"}
    to_erp, to_wms = ops["post_acknowledgment"], ops["upsert_expected_receipts"]
    assert to_erp.target == "erp" and to_erp.params == {"order_number": number}
    assert to_wms.target == "wms"
    assert to_erp.idempotency_key != to_wms.idempotency_key
    erp_lines = {ln["LineNumber"]: ln for ln in to_erp.body["lines"]}
    assert erp_lines[1]["SupplierConfirmedQuantity"] == 10
    assert erp_lines[1]["AcknowledgmentStatus"] == "IA"
    assert erp_lines[2]["SupplierConfirmedQuantity"] == 1
    assert erp_lines[2]["BackorderedQuantity"] == 3
    assert erp_lines[2]["AcknowledgmentStatus"] == "IA/IB"
    assert erp_lines[2]["PromisedDate"] == "2024-02-01"
    receipts = {r["po_line_nbr"]: r for r in to_wms.body["receipts"]}
    assert {n: r["exp_qty"] for n, r in receipts.items()} == {1: 10, 2: 1}
    assert receipts[2]["item_id"] == GTIN_2
    assert receipts[2]["dock_gln"] == GLN
    assert h.store.entity("ack", number).version == 1  # type: ignore[union-attr]


def test_duplicate_message_id_is_a_no_op() -> None:
    h = Harness()
    doc = h.create_po()
    h.decide(po_document(doc))
    payload = interchange_855(doc["OrderNumber"], PARTIAL)
    first = h.decide(edi(1, payload))
    assert len(first.requests) == 2

    again = h.decide(edi(1, payload))

    assert again.duplicate
    assert (again.requests, again.changes, again.dead_letters) == ((), (), ())


def test_lower_855_revision_never_regresses() -> None:
    h = Harness()
    doc = h.create_po()
    number = doc["OrderNumber"]
    h.decide(po_document(doc))
    full = [(1, 10, "CA", "45.50", [("IA", 10, None)]), (2, 4, "BX", "12.00", [("IA", 4, None)])]
    applied = h.decide(edi(2, interchange_855(number, full, revision=2)))
    assert len(applied.requests) == 2

    late = h.decide(edi(1, interchange_855(number, PARTIAL, revision=1)))

    assert not late.duplicate
    assert late.requests == ()
    stored = h.store.entity("ack", number)
    assert stored is not None and stored.version == 2
    assert [ack["quantity"] for ack in stored.data["lines"][1]["acks"]] == [4]


def test_855_from_an_unknown_sender_is_dead_lettered() -> None:
    h = Harness()
    doc = h.create_po()
    h.decide(po_document(doc))

    decision = h.decide(edi(1, interchange_855(doc["OrderNumber"], PARTIAL, sender="OTHER")))

    assert decision.requests == ()
    [letter] = decision.dead_letters
    assert "ISA06" in letter.reason


def mailbox(*docs: dict[str, Any]) -> Inbound:
    return Inbound("reply:9", Kind.SUPPLIER_MAILBOX_PAGE, {"documents": list(docs),
                                                          "hasMore": False})  # fmt: skip


def test_unparsable_document_is_dead_lettered_and_the_rest_of_the_page_processed() -> None:
    h = Harness()
    doc = h.create_po()
    h.decide(po_document(doc))
    good = interchange_855(doc["OrderNumber"], PARTIAL)

    decision = h.decide(
        mailbox(
            {"seq": 1, "supplier": "SUPP1001", "payload": "this is not X12"},
            {"seq": 2, "supplier": "SUPP1001", "payload": good},
        )
    )

    [letter] = decision.dead_letters
    assert letter.message_id == "edi:1"
    assert "ISA" in letter.reason
    assert {r.operation for r in decision.requests} == {
        "post_acknowledgment",
        "upsert_expected_receipts",
    }
    assert h.store.dead_letters() == [letter]
    assert h.store.entity("watermark", "supplier_mailbox").version == 2  # type: ignore[union-attr]


def test_malformed_855_in_a_page_is_dead_lettered_not_a_crash() -> None:
    """An 855 with a PO1 quantity of 0 is a bad document like any other: it must be
    dead-lettered on its own, and the next document in the page still processed."""
    h = Harness()
    doc = h.create_po()
    number = doc["OrderNumber"]
    h.decide(po_document(doc))
    zero = [(1, 0, "CA", "45.50", [("IA", 0, None)])]

    decision = h.decide(
        mailbox(
            {"seq": 1, "supplier": "SUPP1001", "payload": interchange_855(number, zero)},
            {"seq": 2, "supplier": "SUPP1001", "payload": interchange_855(number, PARTIAL)},
        )
    )

    assert [d.message_id for d in decision.dead_letters] == ["edi:1"]
    assert len(decision.requests) == 2


def test_unknown_message_kind_raises() -> None:
    h = Harness()
    with pytest.raises(UnknownMessageKind, match=r"erp\.po_deleted"):
        h.engine.handle(Inbound("m1", "erp.po_deleted", {}), NOW, h.store)  # type: ignore[arg-type]
    assert not h.store.consumed("m1")


# -- time is an input -------------------------------------------------------------


def run_once(now: dt.datetime) -> list[Decision]:
    h = Harness()
    doc = h.create_po()
    [event] = h.events
    messages = [
        Inbound(event["eventId"], Kind.ERP_PO_CHANGED, event),
        po_document(doc),
        edi(1, interchange_855(doc["OrderNumber"], PARTIAL)),
        Inbound("tick:1", Kind.BATCH_TICK, {"at": now.isoformat()}),
        edi(1, interchange_855(doc["OrderNumber"], PARTIAL)),
    ]
    return [h.decide(m, now) for m in messages]


def test_the_time_is_an_input_and_the_same_input_gives_the_same_decisions() -> None:
    """What the engine dates (the 850's ISA09/ISA10) comes from ``now``; that it reads no
    clock of its own is checked on its source (``test_engine_sans_io.py``)."""
    later = dt.datetime(2031, 5, 6, 14, 7)

    first, second = run_once(later), run_once(later)

    assert first == second
    post_edi = first[1].requests[0]
    isa_fields = post_edi.body.split("~")[0].split("*")
    assert (isa_fields[9], isa_fields[10]) == ("310506", "1407")  # ISA09/ISA10 from `now`
    tick = first[3]
    # a tick moves no watermark by the core's clock: it asks for everything since the
    # newest change already pulled (nothing yet), and the watermark follows the source
    assert tick.changes == ()
    assert tick.requests[0].params["updated_since"] == "1970-01-01T00:00:00.000"


def _page(message_id: str, docs: list[dict[str, Any]], more: bool, **query: Any) -> Inbound:
    return Inbound(message_id, Kind.ERP_PO_PAGE, {"items": docs, "hasMore": more}, query=query)


def test_extract_pages_by_keyset_and_moves_the_watermark_only_at_its_end() -> None:
    h = Harness()
    docs = [h.create_po() for _ in range(3)]
    for doc, stamp in zip(docs, ("2024-01-15T09:00:00.000", "2024-01-15T10:00:00.000",
                                 "2024-01-15T10:00:00.000"), strict=True):  # fmt: skip
        doc["LastUpdateDate"] = stamp
    since = "1970-01-01T00:00:00.000"
    first = h.decide(_page("p1", docs[:2], True, updated_since=since, offset=0, limit=2))
    [nxt] = [r for r in first.requests if r.operation == "list_purchase_orders"]
    # the next page starts at the last stamp read and reads the row read there again: an
    # offset would skip an unread row if that one changed (and moved) in the meantime
    assert nxt.params["updated_since"] == "2024-01-15T10:00:00.000"
    assert nxt.params["offset"] == 0
    assert h.store.entity("watermark", "erp") is None  # not before the extract is complete
    second = h.decide(_page("p2", docs[1:], False, **nxt.params))
    assert len([r for r in second.requests if r.operation == "post_edi"]) == 1  # docs[2] only
    mark = h.store.entity("watermark", "erp")
    assert mark is not None and mark.data == "2024-01-15T10:00:00.000"
    # the next tick asks from there (inclusive), not from the core's clock
    tick = h.decide(Inbound("tick:1", Kind.BATCH_TICK, {}), dt.datetime(2024, 2, 1))
    assert tick.requests[0].params["updated_since"] == "2024-01-15T10:00:00.000"


def test_a_page_all_at_one_stamp_moves_on_by_offset() -> None:
    """Nothing but an offset moves an extract past more rows at one stamp than a page
    holds: the next page starts there and skips every row read at it."""
    h = Harness()
    docs = [h.create_po() for _ in range(2)]
    for doc in docs:
        doc["LastUpdateDate"] = "2024-01-15T10:00:00.000"
    since = "1970-01-01T00:00:00.000"
    first = h.decide(_page("p1", docs, True, updated_since=since, offset=0, limit=2))
    [nxt] = [r for r in first.requests if r.operation == "list_purchase_orders"]
    assert (nxt.params["updated_since"], nxt.params["offset"]) == ("2024-01-15T10:00:00.000", 2)
    again = h.decide(_page("p2", docs, True, **nxt.params))  # still at that stamp
    [nxt] = [r for r in again.requests if r.operation == "list_purchase_orders"]
    assert (nxt.params["updated_since"], nxt.params["offset"]) == ("2024-01-15T10:00:00.000", 4)


# -- receipts, invoices, match status ---------------------------------------------


def receipt(rid: str, po: str, received: int, rejected: int = 0) -> Inbound:
    body = {"receipt_id": rid, "po_nbr": po, "po_line_nbr": 1, "received_qty": received,
            "rejected_qty": rejected}  # fmt: skip
    return Inbound(f"reply:{rid}", Kind.WMS_RECEIPT, body)


def test_a_receipt_relieves_the_erp_and_feeds_ap_once() -> None:
    h = Harness()
    decision = h.decide(receipt("RCV-000001", "4500000001", 6))

    erp_call, ap_call = decision.requests
    assert (erp_call.target, erp_call.operation) == ("erp", "post_receipt")
    assert erp_call.body["lines"] == [{"LineNumber": 1, "QuantityReceived": 6}]
    assert ap_call.body["lines"] == [{"po_line_number": 1, "quantity_received": 6}]
    assert erp_call.correlation_id == ap_call.correlation_id
    # the same receipt read again (a batch page after the event) sends nothing
    body = receipt("RCV-000001", "4500000001", 6).body
    again = Inbound("wms:receipt:RCV-000001", Kind.WMS_RECEIPT, body)
    assert h.decide(again).requests == ()


def test_a_receipt_refused_whole_at_the_dock_sends_nothing() -> None:
    assert Harness().decide(receipt("RCV-000002", "4500000001", 0, rejected=5)).requests == ()


def ap_invoice(status: str, stamp: str, message_id: str) -> Inbound:
    body = {"vendor_num": "S1001", "invoice_num": "INV000001", "po_number": "4500000001",
            "status": status, "last_update_date": stamp,
            "holds": [{"hold_code": "PRICE", "hold_status": "open"}] if status == "on_hold"
            else []}  # fmt: skip
    return Inbound(message_id, Kind.AP_INVOICE, body)


def test_invoice_status_goes_to_the_erp_and_a_late_read_never_moves_it_back() -> None:
    h = Harness()
    held = h.decide(ap_invoice("on_hold", "2024-01-20T10:00:00.000", "r1"))
    [call] = held.requests
    assert call.params == {"order_number": "4500000001"}
    assert call.body["MatchStatus"] == "ON_HOLD" and call.body["HoldReason"] == "PRICE"

    approved = h.decide(ap_invoice("approved", "2024-01-21T08:00:00.000", "r2"))
    assert [r.body["MatchStatus"] for r in approved.requests] == ["MATCHED"]

    late = h.decide(ap_invoice("on_hold", "2024-01-20T10:00:00.000", "r3"))  # an older read
    assert late.requests == ()


def test_an_unsupported_transaction_set_is_dead_lettered_by_name() -> None:
    h = Harness()
    payload = interchange_855("4500000001", PARTIAL).replace("ST*855", "ST*997")

    decision = h.decide(edi(9, payload))

    [letter] = decision.dead_letters
    assert "ST01" in letter.reason and "997" in letter.reason
    assert decision.requests == ()


def test_a_short_critical_line_opens_an_exception_a_full_revision_closes_it() -> None:
    h = Harness()
    doc = h.create_po()  # line 2 is clinical-critical, 4 ordered
    h.decide(po_document(doc))
    number = doc["OrderNumber"]

    h.decide(edi(1, interchange_855(number, PARTIAL)))  # line 2: 1 now, 3 backordered

    exception = h.store.entity("exception", f"{number}:2")
    assert exception is not None and exception.data["open"]
    assert exception.data | {"since": None, "trace": None} == {
        "open": True, "kind": "critical_shortage", "po_number": number, "line_no": 2,
        "ordered": 4, "confirmed": 1, "backordered": 3, "ack_status": "IA/IB",
        "expected": "2024-02-01", "since": None, "trace": None,
    }  # fmt: skip
    assert h.store.entity("exception", f"{number}:1") is None  # not critical: no exception

    filled = [PARTIAL[0], (2, 4, "BX", "12.00", [("IA", 4, None)])]
    h.decide(edi(2, interchange_855(number, filled, revision=2, control=2)))

    closed = h.store.entity("exception", f"{number}:2")
    assert closed is not None and not closed.data["open"] and closed.version == 2


def test_every_later_revision_still_cancels_a_canceled_line() -> None:
    """A revision's writes may be superseded by the next one's before they go out: the
    next one must carry the cancellation too, or AP and the WMS would keep the line."""
    h = Harness()
    doc = h.create_po()
    h.decide(po_document(doc))
    number = doc["OrderNumber"]
    h.decide(edi(1, interchange_855(number, PARTIAL)))
    assert h.erp.change_purchase_order(
        number, {"lines": [{"LineNumber": 1, "Action": "CANCEL"}]}
    ).ok
    rev2 = copy.deepcopy(h.erp.orders[number])
    assert h.erp.change_purchase_order(number, {"lines": [{"LineNumber": 2, "Quantity": 6}]}).ok
    rev3 = copy.deepcopy(h.erp.orders[number])

    h.decide(po_document(rev2))
    third = h.decide(po_document(rev3))

    to_ap = next(r for r in third.requests if r.operation == "upsert_po_lines")
    quantities = {row["po_line_number"]: row["quantity_ordered"] for row in to_ap.body["po_lines"]}
    assert quantities == {1: 0, 2: 6}
    to_wms = next(r for r in third.requests if r.operation == "upsert_expected_receipts")
    assert [(row["po_line_nbr"], row["exp_qty"]) for row in to_wms.body["receipts"]] == [(1, 0)]
    assert to_ap.supersedable == ("po", number, 3)  # so revision 2's writes may be dropped
