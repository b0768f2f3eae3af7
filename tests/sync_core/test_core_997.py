"""997 functional acknowledgments, engine level: ours for the supplier's groups, theirs
for our 850s, a rejection dead-lettered with the partner's reason, a missing one overdue.

Driven two ways: the sans-IO engine by hand (messages in, decisions out, as in
``test_engine.py``), and through the in-memory link to the real supplier network (as in
``tests/test_link.py``), where the partner's translator writes the 997s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sync_core.engine import Engine, EngineConfig
from sync_core.mappers.x12 import functional_ack_from_997, parse_interchange
from sync_core.messages import Decision, Request
from sync_core.model import FaStatus
from tests.builders import interchange_855, isa
from tests.sync_core.test_engine import NOW, PARTIAL, Harness, edi, po_document
from tests.test_link import PROFILE, Link

DEADLINE_S = 4 * 3600.0  # EngineConfig.fa_deadline_s


def fa_harness() -> Harness:
    h = Harness()
    h.engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, functional_acks=True))
    return h


def dispatched(h: Harness) -> str:
    """One PO sent as an 850 (interchange 1); its number."""
    doc = h.create_po()
    decision = h.decide(po_document(doc))
    assert [r.idempotency_key for r in decision.requests if r.operation == "post_edi"] == [
        f"850:{doc['OrderNumber']}:1"
    ]
    return str(doc["OrderNumber"])


def the_997(decision: Decision) -> Request:
    [request] = [
        r for r in decision.requests if r.operation == "post_edi" and "ST*997*" in str(r.body)
    ]
    return request


def segments(body: object) -> list[str]:
    return [s for s in str(body).split("~") if s]


def partner_997(
    group_control: int, verdict: str, errors: tuple[str, ...] = (), *, control: int = 50
) -> str:
    """The partner's 997 for our 850 group ``group_control`` (one set, ST02 0001)."""
    accepted = "0" if verdict == "R" else "1"
    body = ["ST*997*0001", f"AK1*PO*{group_control}", "AK2*850*0001", *errors,
            f"AK5*{verdict}" + ("*5" if verdict == "R" else ""),
            f"AK9*{verdict}*1*1*{accepted}"]  # fmt: skip
    body.append(f"SE*{len(body) + 1}*0001")
    return (
        f"{isa('SUPP1001', 'HOSPNET01', control)}~"
        f"GS*FA*SUPP1001*HOSPNET01*20240116*0900*{control}*X*004010~"
        + "".join(s + "~" for s in body)
        + f"GE*1*{control}~IEA*1*{control:09d}~"
    )


def exception(h: Harness, key: str) -> dict[str, object] | None:
    found = h.store.entity("exception", key)
    return None if found is None else dict(found.data or {})


# -- ours, for the supplier's groups ----------------------------------------------


def test_the_core_answers_an_855_group_with_a_997_accepting_it() -> None:
    h = fa_harness()
    number = dispatched(h)

    decision = h.decide(edi(1, interchange_855(number, PARTIAL, control=7)))

    request = the_997(decision)
    assert request.params == {"supplier": "SUPP1001"}
    assert request.idempotency_key == "997:SUPP1001:7:7"  # partner, its ISA13, its GS06
    envelope, [ts] = parse_interchange(str(request.body))
    assert (envelope.sender_id, envelope.receiver_id) == ("HOSPNET01", "SUPP1001")
    assert envelope.control_number == 2  # the core's own sequence: the 850 had 1
    assert [s for s in segments(request.body) if s.startswith("AK")] == [
        "AK1*PR*7", "AK2*855*0001", "AK5*A", "AK9*A*1*1*1",
    ]  # fmt: skip
    # and the 855 itself went on as before
    assert {"post_acknowledgment", "upsert_expected_receipts"} <= {
        r.operation for r in decision.requests
    }
    assert decision.dead_letters == ()
    fa = functional_ack_from_997(ts)
    assert (fa.group_code, fa.group_control, fa.status) == ("PR", "7", FaStatus.ACCEPTED)


def test_an_unmappable_set_is_rejected_in_the_997_naming_segment_and_element() -> None:
    h = fa_harness()
    number = dispatched(h)
    bad = [(1, 10, "CA", "45.50", [("XX", 10, None)])]  # ACK01 XX is no 4010 code

    decision = h.decide(edi(2, interchange_855(number, bad, control=8)))

    ak = [s for s in segments(the_997(decision).body) if s.startswith("AK")]
    # ST=1 BAK=2 REF=3 PO1=4 ACK=5: element 1 of segment 5, code 7 (invalid code value)
    assert ak == ["AK1*PR*8", "AK2*855*0001", "AK3*ACK*5**8", "AK4*1**7*XX", "AK5*R*5",
                  "AK9*R*1*1*0"]  # fmt: skip
    [letter] = decision.dead_letters  # the document itself is dead-lettered as before
    assert "ACK01" in letter.reason and "XX" in letter.reason
    assert not any(r.operation == "post_acknowledgment" for r in decision.requests)


def test_a_997_from_the_partner_is_never_itself_acknowledged() -> None:
    h = fa_harness()
    dispatched(h)

    decision = h.decide(edi(3, partner_997(1, "A")))

    assert decision.requests == () and decision.dead_letters == ()


# -- theirs, for our 850s ----------------------------------------------------------


def test_an_accepting_997_marks_the_850_answered() -> None:
    h = fa_harness()
    dispatched(h)
    sent = h.store.entity("fa", "1")
    assert sent is not None and sent.data is not None and sent.data["status"] == "pending"

    h.decide(edi(3, partner_997(1, "A")), NOW + dt.timedelta(minutes=2))

    answered = h.store.entity("fa", "1")
    assert answered is not None and answered.version == 2
    assert answered.data is not None and answered.data["status"] == "A"
    pending = h.store.entity("fa_pending", "850")
    assert pending is not None and pending.data == {"due": {}, "next": None}
    # well past the deadline nothing is overdue: the 997 came
    h.decide(edi(4, partner_997(1, "A", control=51)), NOW + dt.timedelta(hours=6))
    assert h.store.entities("exception") == []


def test_a_rejecting_997_dead_letters_the_850_with_the_partner_s_reason() -> None:
    h = fa_harness()
    number = dispatched(h)
    errors = ("AK3*PO1*4**8", "AK4*3*355*7*CA")  # PO103 (unit of measure) not a code it takes

    decision = h.decide(edi(3, partner_997(1, "R", errors)), NOW + dt.timedelta(minutes=2))

    [letter] = decision.dead_letters
    assert letter.message_id == "997:SUPP1001:1"
    assert letter.kind == "supplier.post_edi"
    assert letter.reason.startswith(f"850 for PO {number} rev 1 rejected by SUPP1001 (997 AK9 R)")
    assert "850 0001 rejected: PO103 (segment 4): invalid code value 'CA'" in letter.reason
    # replaying it sends the same interchange again (same ISA13, same PO)
    assert letter.request is not None
    assert letter.request.operation == "post_edi"
    body = str(letter.request.body)
    assert "*000000001*" in body.split("~")[0] and f"BEG*00*SA*{number}*" in body
    assert h.store.dead_letters() == [letter]
    fa = h.store.entity("fa", "1")
    assert fa is not None and fa.data is not None and fa.data["status"] == "R"


def test_an_850_without_a_997_past_the_deadline_opens_missing_997_and_a_late_one_closes_it() -> (
    None
):
    h = fa_harness()
    number = dispatched(h)
    # any message the engine consumes checks the deadline: just before it, nothing
    h.decide(edi(1, interchange_855(number, PARTIAL)), NOW + dt.timedelta(seconds=DEADLINE_S - 1))
    assert exception(h, "997:SUPP1001:1") is None

    later = NOW + dt.timedelta(seconds=DEADLINE_S + 60)
    h.decide(edi(2, interchange_855(number, PARTIAL, control=2)), later)

    opened = exception(h, "997:SUPP1001:1")
    assert opened is not None
    assert opened["open"] is True and opened["kind"] == "missing_997"
    assert (opened["po_number"], opened["partner"], opened["interchange"]) == (
        number, "SUPP1001", 1,
    )  # fmt: skip
    assert opened["sent_at"] == NOW.isoformat() and opened["deadline_s"] == DEADLINE_S
    assert opened["since"] == later.isoformat()
    # the 855 is no 997: the 850 is still unanswered, the exception stays open
    h.decide(edi(3, interchange_855(number, PARTIAL, control=3)), later + dt.timedelta(hours=1))
    still = exception(h, "997:SUPP1001:1")
    assert still is not None and still["open"] is True

    h.decide(edi(4, partner_997(1, "A")), NOW + dt.timedelta(hours=5))

    closed = exception(h, "997:SUPP1001:1")
    assert closed is not None and closed["open"] is False
    assert closed["lag_s"] == 5 * 3600.0
    assert closed["closed_at"] == (NOW + dt.timedelta(hours=5)).isoformat()


def test_without_functional_acks_the_core_neither_answers_nor_waits() -> None:
    h = Harness()  # EngineConfig.functional_acks is off by default
    number = dispatched(h)

    decision = h.decide(edi(1, interchange_855(number, PARTIAL)), NOW + dt.timedelta(days=1))

    assert not any("ST*997*" in str(r.body) for r in decision.requests)
    assert h.store.entities("fa") == []
    assert [e for e in h.store.entities("exception") if e.key.startswith("997:")] == []


# -- through the link, with the supplier network's own translator ------------------------


def fa_link(**profile: object) -> Link:
    """A link whose partner sends 997s (unless ``profile`` says otherwise) and whose core
    exchanges them."""
    link = Link(dataclasses.replace(PROFILE, **{"functional_acks": True, **profile}))
    link.engine = Engine(EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, functional_acks=True))
    return link


def journal(link: Link, entity: str) -> list[tuple[str, object]]:
    return [(f.field, f.value) for f in link.facts if f.system == "supplier" and f.entity == entity]


def test_997s_round_trip_both_ways_through_the_link() -> None:
    link = fa_link()
    number = link.create_po()
    link.run()
    assert link.fire_timers() == 2  # the partner's 997, then its 855
    link.run()

    # the partner read our 850 (interchange 1) and said so
    fa = link.store.entity("fa", "1")
    assert fa is not None and fa.data is not None
    assert (fa.version, fa.data["status"], fa.data["po_number"]) == (2, "A", number)
    assert journal(link, "interchange:HOSPNET01:1") == [("received", 1), ("fa_status", "A")]
    # we read its 855 and said so: the network journals our verdict on its interchange
    [sent] = [d for d in link.supplier.mailbox_docs if d["type"] == "855"]
    _, [ts] = parse_interchange(sent["payload"])
    mine = f"interchange:SUPP1001:{ts.group_control}"
    assert journal(link, mine) == [("sent", "855"), ("fa_status", "A")]
    assert link.supplier.counters["SUPP1001"]["fa_received"] == 1
    assert link.store.dead_letters() == [] and link.store.entities("exception") == []


def test_a_partner_rejecting_the_850_keeps_it_from_order_entry_and_the_core_dead_letters_it() -> (
    None
):
    link = fa_link(fa_reject_rate=1.0)
    number = link.create_po()
    link.run()
    assert ("SUPP1001", number) not in link.supplier.orders  # never entered
    assert link.fire_timers() == 1  # only the 997: no 855 for an order it never took
    link.run()

    [letter] = link.store.dead_letters()
    assert letter.message_id == "997:SUPP1001:1"
    assert f"850 for PO {number} rev 1 rejected by SUPP1001" in letter.reason
    assert "PO103 (segment" in letter.reason and "invalid code value" in letter.reason
    assert journal(link, "interchange:HOSPNET01:1") == [("received", 1), ("fa_status", "R")]


def test_a_partner_that_never_sends_997s_leaves_the_850_overdue() -> None:
    link = fa_link(functional_acks=False)
    number = link.create_po()
    link.run()
    link.t = DEADLINE_S + 1  # the 855 comes after the deadline
    assert link.fire_timers() == 1
    link.run()

    opened = link.store.entity("exception", "997:SUPP1001:1")
    assert opened is not None and opened.data is not None
    assert (opened.data["kind"], opened.data["open"], opened.data["po_number"]) == (
        "missing_997", True, number,
    )  # fmt: skip
    # the 855 arrived all the same: a missing 997 is not a missing acknowledgment
    assert link.erp.orders[number]["AcknowledgmentRevision"] == 1
