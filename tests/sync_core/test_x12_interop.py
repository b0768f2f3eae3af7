"""The core reads partner-shaped X12: what real trading partners vary, read alike.

Each variant is built from real interchanges: two POs go through their whole life
against the supplier network emulator (855, 856, 810; :mod:`tests.test_link`), every
message the engine handled is recorded, and then replayed into a fresh engine with the
supplier's interchanges transformed (line breaks, delimiters, sets and groups merged,
GS08).  The decisions must be the ones the canonical form gave; an 856 without
its pack levels reads the same lines without their packs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable

import pytest

from emulators.x12 import tokenize
from sync_core.engine import Engine, EngineConfig
from sync_core.errors import MappingError
from sync_core.mappers.x12 import (
    acknowledgments_from_855,
    functional_ack_from_997,
    parse_interchange,
    ship_notices_from_856,
)
from sync_core.messages import Decision, Inbound, Kind, Request
from sync_core.store import MemoryStore
from tests.sync_core.test_engine import PARTIAL, Harness, edi, interchange_855, po_document
from tests.test_link import FULFILLING, Link

Segments = list[list[str]]
Recorded = list[tuple[Inbound, dt.datetime]]
# the partner answers our 850s with 997s, and the core answers its groups with 997s
CONFIG = EngineConfig("HOSPNET01", {"S1001": "SUPP1001"}, functional_acks=True)

# -- the canonical run, recorded ---------------------------------------------------


def _recorded_run() -> Recorded:
    """Two POs through 850, 855, 856, the dock's receipt and 810; every message the
    engine handled, in order, with the time it was handled at."""
    link = Link(dataclasses.replace(FULFILLING, functional_acks=True))
    link.engine = Engine(CONFIG)
    seen: Recorded = []
    handle = link.engine.handle

    def recording(message: Inbound, now: dt.datetime, store: MemoryStore) -> Decision:
        seen.append((message, now))
        return handle(message, now, store)

    link.engine.handle = recording  # type: ignore[method-assign]
    link.create_po()
    link.create_po()
    link.run()
    assert link.fire_timers() == 4  # the partner's 997s and the acknowledgments
    link.run()
    assert link.fire_timers() == 2  # the shipments
    link.run()
    for asn, notice in link.wms.ship_notices.items():
        for line in notice["lines"].values():
            reply = link.wms.receive(
                {"asn_nbr": asn, "po_line_nbr": line["po_line_nbr"],
                 "received_qty": line["shipped_qty"]}
            )  # fmt: skip
            assert reply.status == 201, reply.body
    link.run()
    assert link.fire_timers() == 2  # the invoices
    link.run()
    assert link.store.dead_letters() == []
    return seen


RUN = _recorded_run()


def _is_edi(message: Inbound) -> bool:
    return message.kind == Kind.SUPPLIER_EDI


def _edi_codes(message: Inbound) -> list[str]:
    return [seg[1] for seg in tokenize(message.body["payload"]) if seg[0] == "ST"]


def replay(recorded: Recorded) -> list[Decision]:
    engine = Engine(CONFIG)
    store = MemoryStore()
    decisions = []
    for message, now in recorded:
        decision = engine.handle(message, now, store)
        store.commit(decision)
        decisions.append(decision)
    return decisions


CANONICAL = replay(RUN)


def test_the_recorded_run_holds_each_supplier_document() -> None:
    codes = [c for m, _ in RUN if _is_edi(m) for c in _edi_codes(m)]
    assert sorted(set(codes)) == ["810", "855", "856", "997"]
    assert [codes.count(c) for c in ("997", "855", "856", "810")] == [2, 2, 2, 2]
    ours = [r for d in CANONICAL for r in d.requests if _is_our_997(r)]
    assert len(ours) == 6  # one per group of 855/856/810


# -- rendering an interchange another way --------------------------------------------


def render(
    segments: Segments,
    *,
    element: str = "*",
    component: str = ">",
    terminator: str = "~",
    newline: str = "",
) -> str:
    """Segments as X12 with other delimiters (ISA16 set to ``component``)."""
    out = []
    for seg in segments:
        if seg[0] == "ISA":
            seg = [*seg[:16], component]
        out.append(element.join(seg) + terminator + newline)
    return "".join(out)


def _with_payload(message: Inbound, payload: str) -> Inbound:
    return dataclasses.replace(message, body={**message.body, "payload": payload})


def each_edi(transform: Callable[[Segments], str]) -> Recorded:
    """The run with every supplier interchange transformed."""
    return [
        (_with_payload(m, transform(tokenize(m.body["payload"]))) if _is_edi(m) else m, now)
        for m, now in RUN
    ]


def _renumber(body: Segments) -> Segments:
    """SE01 made to count the set again (after levels were added)."""
    return [*body[:-1], ["SE", str(len(body)), body[-1][2]]]


def without_pack_levels(segments: Segments) -> Segments:
    """An 856 S-O-P-I made S-O-I (BSN05 0004, no MAN*GM): a partner that labels no packs."""
    if not any(seg[:2] == ["ST", "856"] for seg in segments):
        return segments
    out: Segments = []
    number: dict[str, str] = {}  # old HL01 → new (a pack → its order)
    body: Segments = []
    for seg in segments:
        if seg[0] == "ST":
            body = [seg]
        elif seg[0] == "BSN":
            body.append([*seg[:5], "0004"])
        elif seg[0] == "HL" and seg[3] == "P":
            number[seg[1]] = number.get(seg[2], "")
        elif seg[0] == "HL":
            number[seg[1]] = str(sum(1 for s in body if s[0] == "HL") + 1)
            body.append(["HL", number[seg[1]], number.get(seg[2], ""), seg[3]])
        elif seg[0] == "MAN":
            continue
        elif seg[0] == "CTT":
            body.append(["CTT", str(sum(1 for s in body if s[0] == "HL"))])
        elif seg[0] == "SE":
            out += _renumber([*body, seg])
            body = []
        elif body:
            body.append(seg)
        else:
            out.append(seg)
    return out


def _sets(segments: Segments) -> list[Segments]:
    sets: list[Segments] = []
    for seg in segments:
        if seg[0] == "ST":
            sets.append([])
        if sets and (seg[0] == "ST" or sets[-1][-1][0] != "SE"):
            sets[-1].append(seg)
    return sets


def merged(pairs: list[tuple[Inbound, Inbound]], *, one_group: bool) -> Recorded:
    """The run with each pair of supplier interchanges sent as one: both sets in one
    group (ST02 renumbered), or each in a group of its own under one ISA."""
    firsts = {id(a): b for a, b in pairs}
    seconds = {id(b) for _, b in pairs}
    out: Recorded = []
    for m, now in RUN:
        if id(m) in seconds:
            continue
        if id(m) in firsts:
            a, b = tokenize(m.body["payload"]), tokenize(firsts[id(m)].body["payload"])
            isa, gs_a, gs_b = a[0], a[1], b[1]
            control = int(isa[13])
            if one_group:
                sets = [_sets(a)[0], _sets(b)[0]]
                for n, body in enumerate(sets, start=1):
                    body[0] = [*body[0][:2], f"{n:04d}"]
                    body[-1] = [*body[-1][:2], f"{n:04d}"]
                groups = [(gs_a, sets)]
            else:
                gs_b = [*gs_b[:6], str(control + 1), *gs_b[7:]]
                groups = [(gs_a, [_sets(a)[0]]), (gs_b, [_sets(b)[0]])]
            segments = [isa]
            for gs, sets in groups:
                segments += [gs, *(s for body in sets for s in body)]
                segments.append(["GE", str(len(sets)), gs[6]])
            segments.append(["IEA", str(len(groups)), isa[13]])
            m = _with_payload(m, render(segments))
        out.append((m, now))
    return out


def _pairs(code: str) -> list[tuple[Inbound, Inbound]]:
    found = [m for m, _ in RUN if _is_edi(m) and _edi_codes(m) == [code]]
    assert len(found) == 2
    return [(found[0], found[1])]


def _is_our_997(request: Request) -> bool:
    return request.operation == "post_edi" and "ST*997*" in str(request.body)


def requests_of(decisions: list[Decision]) -> list[Request]:
    """Every request but the core's own 997s (one per group: merging changes them)."""
    return sorted((r for d in decisions for r in d.requests if not _is_our_997(r)), key=repr)


# -- the variants ------------------------------------------------------------------

SAME_MESSAGES: dict[str, Callable[[Segments], str]] = {
    "CRLF": lambda s: render(s, newline="\r\n"),
    "LF": lambda s: render(s, newline="\n"),
    "pipe-and-caret": lambda s: render(s, element="|", component="^"),
    "colon-sub-element": lambda s: render(s, component=":"),
    "newline-terminator": lambda s: render(s, terminator="\n"),
    "apostrophe-terminator-and-CRLF": lambda s: render(s, terminator="'", newline="\r\n"),
    "GS08-004010VICS": lambda s: render(
        [[*seg[:8], "004010VICS"] if seg[0] == "GS" else seg for seg in s]
    ),
}


@pytest.mark.parametrize("transform", SAME_MESSAGES.values(), ids=SAME_MESSAGES.keys())
def test_a_variant_gives_the_decisions_of_the_canonical_form(
    transform: Callable[[Segments], str],
) -> None:
    variant = each_edi(transform)
    assert [m.body for m, _ in variant if _is_edi(m)] != [m.body for m, _ in RUN if _is_edi(m)]

    assert replay(variant) == CANONICAL


def test_an_856_without_pack_levels_reads_the_same_lines_without_their_packs() -> None:
    [notice] = [m for m, _ in RUN if _is_edi(m) and _edi_codes(m) == ["856"]][:1]
    canonical = ship_notices_from_856(parse_interchange(notice.body["payload"])[1][0])
    assert all(line.sscc for n in canonical for line in n.lines)  # every pack labelled
    segments = without_pack_levels(tokenize(notice.body["payload"]))
    assert [seg[3] for seg in segments if seg[0] == "HL"][:3] == ["S", "O", "I"]
    assert not any(seg[0] == "MAN" for seg in segments)
    _, [ts] = parse_interchange(render(segments))  # envelope and SE01 still add up

    unlabelled = [
        n.model_copy(
            update={"lines": tuple(ln.model_copy(update={"sscc": None}) for ln in n.lines)}
        )
        for n in canonical
    ]
    assert ship_notices_from_856(ts) == unlabelled
    # and the engine takes the whole run's 856s so: same requests, nothing dead-lettered
    decisions = replay(each_edi(lambda s: render(without_pack_levels(s))))
    assert len(requests_of(decisions)) == len(requests_of(CANONICAL))
    assert all(d.dead_letters == () for d in decisions)


@pytest.mark.parametrize(
    ("code", "one_group"),
    [
        pytest.param("855", True, id="two-855s-in-one-GS"),
        pytest.param("810", True, id="two-810s-in-one-GS"),
        pytest.param("855", False, id="two-GSs-in-one-ISA"),
        pytest.param("856", False, id="two-856-GSs-in-one-ISA"),
    ],
)
def test_several_sets_or_groups_in_one_interchange_give_the_same_requests(
    code: str, one_group: bool
) -> None:
    variant = merged(_pairs(code), one_group=one_group)
    assert len(variant) == len(RUN) - 1
    [both] = [m for m, _ in variant if _is_edi(m) and _edi_codes(m) == [code, code]]
    _, sets = parse_interchange(both.body["payload"])
    assert len({ts.group_control for ts in sets}) == (1 if one_group else 2)

    decisions = replay(variant)

    assert requests_of(decisions) == requests_of(CANONICAL)
    assert all(d.dead_letters == () for d in decisions)
    [answer] = [d for d in decisions if d.message_id == both.message_id]
    ours = [str(r.body) for r in answer.requests if _is_our_997(r)]
    assert len(ours) == (1 if one_group else 2)  # one 997 per group
    assert sum(body.count("AK5*A") for body in ours) == 2  # both sets accepted


# -- 855s without a revision -------------------------------------------------------


def _no_revision(po_number: str, bak04: str, control: int) -> str:
    """An 855 as many suppliers send it: no revision (REF*PP)."""
    text = interchange_855(po_number, PARTIAL, control=control)
    return (
        text.replace("~REF*PP*1~", "~")
        .replace("SE*10*", "SE*9*")
        .replace("*20240116~", f"*{bak04}~", 1)
    )


def _order(ccyymmdd: str, isa13: int, hhmmss: str = "000000") -> int:
    """The source version of an 855 without a revision: epoch seconds (UTC), then ISA13."""
    made = dt.datetime.strptime(ccyymmdd + hhmmss, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    return int(made.timestamp()) * 10**9 + isa13


def test_855s_without_revision_are_ordered_by_bak_date_then_isa13() -> None:
    ack = acknowledgments_from_855(the_855(_no_revision("PO1", "20240117", 42)))
    assert ack.revision == _order("20240117", 42)
    with_bak09 = _no_revision("PO1", "20240117", 42).replace(
        "*20240117~", "*20240117*****20240118~"
    )
    assert acknowledgments_from_855(the_855(with_bak09)).revision == _order("20240118", 42)


def _created_at(text: str, hhmmss: str) -> str:
    """``text`` with a DTM*097 (transaction creation) on its BAK date at ``hhmmss``."""
    return re.sub(
        r"(~BAK\*[^~]*\*(\d{8}))~(.*?)~SE\*(\d+)\*",
        lambda m: f"{m[1]}~DTM*097*{m[2]}*{hhmmss}~{m[3]}~SE*{int(m[4]) + 1}*",
        text,
        count=1,
    )


def test_855s_of_one_day_are_ordered_by_dtm_097_time_before_isa13() -> None:
    """Two 855s of one date: the one made later (DTM*097 time) wins even when the
    partner's VAN gave it the lower control number."""
    morning = the_855(_created_at(_no_revision("PO1", "20240117", 42), "081500"))
    afternoon = the_855(_created_at(_no_revision("PO1", "20240117", 41), "143000"))
    early, late = acknowledgments_from_855(morning), acknowledgments_from_855(afternoon)
    assert (early.revision, late.revision) == (
        _order("20240117", 42, "081500"),
        _order("20240117", 41, "143000"),
    )
    assert late.revision > early.revision


def the_855(text: str) -> object:
    _, [ts] = parse_interchange(text)
    return ts


@pytest.mark.parametrize(
    ("later", "earlier"),
    [
        pytest.param(("20240117", 8), ("20240116", 9), id="by-BAK04-date"),
        pytest.param(("20240116", 9), ("20240116", 8), id="same-date-by-ISA13"),
    ],
)
def test_a_later_855_arriving_first_is_not_overwritten_by_an_earlier_one(
    later: tuple[str, int], earlier: tuple[str, int]
) -> None:
    h = Harness()
    doc = h.create_po()
    number = str(doc["OrderNumber"])
    h.decide(po_document(doc))
    first = h.decide(edi(1, _no_revision(number, *later)))
    assert any(r.operation == "post_acknowledgment" for r in first.requests)

    second = h.decide(edi(2, _no_revision(number, *earlier)))

    assert second.requests == () and second.dead_letters == ()  # the older one changes nothing
    stored = h.store.entity("ack", number)
    assert stored is not None
    assert stored.version == _order(*later)


def test_an_earlier_855_then_a_later_one_both_go_through() -> None:
    h = Harness()
    doc = h.create_po()
    number = str(doc["OrderNumber"])
    h.decide(po_document(doc))
    h.decide(edi(1, _no_revision(number, "20240116", 8)))

    later = h.decide(edi(2, _no_revision(number, "20240117", 3)))

    assert {r.operation for r in later.requests} >= {"post_acknowledgment"}
    [ack] = [r for r in later.requests if r.operation == "post_acknowledgment"]
    assert ack.body["AcknowledgmentRevision"] == _order("20240117", 3)


# -- what the core cannot read: a mapping error naming where -------------------------

CANONICAL_855 = interchange_855("4500000001", PARTIAL, control=7)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        pytest.param(
            CANONICAL_855.replace("SUPP1001       ", "SUPP1001", 1),
            "ISA06",
            id="ISA-not-fixed-width",
        ),
        pytest.param(
            CANONICAL_855.replace("*>~", "*~~", 1), "ISA16", id="sub-element-equals-terminator"
        ),
        pytest.param(CANONICAL_855.replace("*>~", "*>A", 1), "ISA16", id="terminator-a-letter"),
    ],
)
def test_an_unreadable_envelope_names_the_isa_element(text: str, field: str) -> None:
    with pytest.raises(MappingError) as err:
        parse_interchange(text)
    assert err.value.field == field


def _856(hl_segments: list[str]) -> str:
    body = ["ST*856*0001", "BSN*00*SHP1*20240116*0900*0001", *hl_segments]
    body.append(f"SE*{len(body) + 1}*0001")
    return CANONICAL_855.split("GS*")[0] + (
        "GS*SH*SUPP1001*HOSPNET01*20240116*0900*7*X*004010~"
        + "".join(s + "~" for s in body)
        + "GE*1*7~"
        + f"IEA*1*{7:09d}~"
    )


def test_items_under_tare_and_pack_levels_belong_to_the_order_above_them() -> None:
    item = ["LIN*1*VC*NG-M", "SN1**5*CA"]
    hl = ["HL*1**S", "HL*2*1*O", "PRF*PO1", "HL*3*2*T", "HL*4*3*P", "HL*5*4*I", *item,
          "HL*6*1*O", "PRF*PO2", "HL*7*6*P", "HL*8*7*I", *item, "HL*9*4*I", *item]  # fmt: skip
    _, [ts] = parse_interchange(_856(hl))

    one, two = ship_notices_from_856(ts)

    assert (one.po_number, len(one.lines)) == ("PO1", 2)  # HL 9 hangs under PO1's pack
    assert (two.po_number, len(two.lines)) == ("PO2", 1)


@pytest.mark.parametrize(
    ("hl", "field"),
    [
        pytest.param(
            ["HL*1**S", "HL*2*1*O", "PRF*PO1", "HL*3*2*Z"],
            "HL03 (segment 6)",
            id="unknown-HL03-level",
        ),
        pytest.param(
            ["HL*1**S", "HL*2*1*O", "PRF*PO1", "HL*3*9*I"],
            "HL02 (segment 6)",
            id="HL02-names-no-level",
        ),
        pytest.param(
            ["HL*1**S", "HL*2*1*P", "HL*3*2*I"], "HL (segment 5)", id="item-without-order"
        ),
    ],
)
def test_an_unreadable_hierarchy_names_the_hl_element(hl: list[str], field: str) -> None:
    _, [ts] = parse_interchange(_856(hl))
    with pytest.raises(MappingError) as err:
        ship_notices_from_856(ts)
    assert err.value.field == field


def test_an_unreadable_variant_is_dead_lettered_naming_the_element_not_a_crash() -> None:
    h = Harness()
    doc = h.create_po()
    h.decide(po_document(doc))
    text = CANONICAL_855.replace("SUPP1001       ", "SUPP1001", 1)

    decision = h.decide(edi(1, text))

    [letter] = decision.dead_letters
    assert "ISA06" in letter.reason and "fixed width" in letter.reason
    assert decision.requests == ()


# -- a partner's 997 with its own sub-element separator ------------------------------


def _partner_997(component: str, ak401: str) -> str:
    body = ["ST*997*0001", "AK1*PO*1", "AK2*850*0001", "AK3*PO1*7**8",
            f"AK4*{ak401}*355*7*ZZ", "AK5*R*5", "AK9*R*1*1*0"]  # fmt: skip
    body.append(f"SE*{len(body) + 1}*0001")
    text = CANONICAL_855.split("GS*")[0].replace("*>~", f"*{component}~", 1) + (
        "GS*FA*SUPP1001*HOSPNET01*20240116*0900*7*X*004010~"
        + "".join(s + "~" for s in body)
        + "GE*1*7~"
        + f"IEA*1*{7:09d}~"
    )
    return text


@pytest.mark.parametrize("component", [">", "^", ":"])
def test_a_997_composite_ak401_is_split_by_the_isa16_it_declares(component: str) -> None:
    _, [ts] = parse_interchange(_partner_997(component, f"3{component}1"))
    [set_ack] = functional_ack_from_997(ts).sets
    [error] = set_ack.errors
    assert (error.segment, error.position, error.element, error.code) == ("PO1", 7, 3, "7")


def test_a_997_composite_in_another_separator_names_ak401() -> None:
    _, [ts] = parse_interchange(_partner_997("^", "3>1"))
    with pytest.raises(MappingError) as err:
        functional_ack_from_997(ts)
    assert err.value.field.startswith("AK401")
