"""The sync core's X12 translator: 850 out, 855 in, envelopes checked."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_core.errors import MappingError
from sync_core.mappers.x12 import (
    TransactionSet,
    acknowledgments_from_855,
    parse_interchange,
    write_850,
)
from sync_core.model import LineStatus, PurchaseOrder, PurchaseOrderLine, Uom
from tests import builders
from tests.builders import GLN, GTIN_1, envelope, po_lines, with_check_digit

# -- helpers ----------------------------------------------------------------------

NOW = dt.datetime(2024, 1, 15, 9, 30)


# A minimal 4010 855 (ASC X12 004010), verbatim.
MINIMAL_855 = (
    "ST*855*0001~BAK*00*AC*PO123456*20240115~PO1*1*10*CA*45.50**VC*12345~"
    "ACK*IA*10*CA*068*20240117~PO1*2*4*BX*12.00**VC*67890~ACK*IB*4*BX*068*20240201~"
    "CTT*2~SE*8*0001~"
)


def the_set(text: str) -> TransactionSet:
    _, sets = parse_interchange(text)
    assert len(sets) == 1
    return sets[0]


def purchase_order(**overrides: object) -> PurchaseOrder:
    """Version 3, both lines of the same item."""
    return builders.purchase_order(**{"version": 3, "lines": po_lines(gtin_2=GTIN_1), **overrides})


def rows(ts: TransactionSet) -> list[tuple[str, ...]]:
    """The set's segments as tuples (the parser gives the lists str.split makes)."""
    return [tuple(s) for s in ts.segments]


def segments(ts: TransactionSet, sid: str) -> list[tuple[str, ...]]:
    return [s for s in rows(ts) if s[0] == sid]


# -- 850 out ----------------------------------------------------------------------


def test_write_850_parses_back_with_envelope_and_counts() -> None:
    po = purchase_order()
    text = write_850(po, sender="HOSPNET01", receiver="SUPP1001", control=42, now=NOW)

    env, sets = parse_interchange(text)

    assert (env.sender_id, env.receiver_id, env.control_number) == ("HOSPNET01", "SUPP1001", 42)
    assert text.endswith(f"IEA*1*{42:09d}~")
    [ts] = sets
    assert ts.code == "850"
    st_seg, se_seg = ts.segments[0], ts.segments[-1]
    assert st_seg[0] == "ST" and se_seg[0] == "SE"
    assert int(se_seg[1]) == len(ts.segments)  # SE01 counts ST..SE inclusive
    assert se_seg[2] == st_seg[2]
    [beg] = segments(ts, "BEG")
    assert beg[3] == "4500000001"
    assert beg[5] == "20240115"
    assert segments(ts, "CTT") == [("CTT", "2")]
    assert ("REF", "PP", "3") in rows(ts)  # the PO revision travels with it (128 PP)
    assert ("N1", "ST", "SHIP TO", "UL", GLN) in rows(ts)
    po1 = segments(ts, "PO1")
    assert [(s[1], s[2], s[3], s[4]) for s in po1] == [
        ("1", "10", "CA", "45.50"),
        ("2", "4", "BX", "12.00"),
    ]
    # the critical flag (CSH*P2: ship as soon as possible) follows its own line (line 2)
    # and only that line
    after_line_2 = rows(ts)[rows(ts).index(po1[1]) + 1]
    assert after_line_2 == ("CSH", "P2")
    assert rows(ts).count(("CSH", "P2")) == 1
    assert not [s for s in rows(ts) if s[:2] == ("REF", "ZZ")]  # nothing nonstandard


SAFE = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)


@st.composite
def gtins(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=13, max_size=13))
    return with_check_digit(body)


@st.composite
def purchase_orders(draw: st.DrawFn) -> PurchaseOrder:
    numbers = draw(st.lists(st.integers(1, 999), min_size=1, max_size=8, unique=True))
    lines = tuple(
        PurchaseOrderLine(
            line_no=n,
            gtin=draw(gtins()),
            vendor_part=draw(SAFE),
            quantity=draw(st.integers(1, 10**6)),
            uom=draw(st.sampled_from(Uom)),
            unit_price=draw(st.integers(1, 10**7)) / 100,
            critical=draw(st.booleans()),
        )
        for n in numbers
    )
    order_date = draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)))
    gln_body = draw(st.text(alphabet="0123456789", min_size=12, max_size=12))
    return PurchaseOrder(
        po_number=draw(st.text(alphabet="0123456789ABCDEFGHJK-", min_size=1, max_size=22)),
        supplier_id="S1001",
        ship_to=with_check_digit(gln_body),
        department=draw(SAFE),
        order_date=order_date,
        requested_date=order_date + dt.timedelta(days=draw(st.integers(0, 30))),
        version=draw(st.integers(1, 999)),
        lines=lines,
    )


@given(po=purchase_orders(), control=st.integers(1, 999_999_999))
def test_write_850_round_trips_through_the_parser(po: PurchaseOrder, control: int) -> None:
    text = write_850(po, sender="HOSPNET01", receiver="SUPP1001", control=control, now=NOW)

    env, sets = parse_interchange(text)

    assert env.control_number == control
    [ts] = sets
    assert int(ts.segments[-1][1]) == len(ts.segments)
    [beg] = segments(ts, "BEG")
    assert beg[3] == po.po_number
    assert segments(ts, "CTT") == [("CTT", str(len(po.lines)))]
    sent = {int(s[1]): (int(s[2]), s[3], s[7], s[9]) for s in segments(ts, "PO1")}
    assert sent == {
        line.line_no: (line.quantity, line.uom.value, line.vendor_part, line.gtin)
        for line in po.lines
    }
    assert rows(ts).count(("CSH", "P2")) == sum(ln.critical for ln in po.lines)
    assert ("REF", "PP", str(po.version)) in rows(ts)
    assert ("REF", "DP", po.department) in rows(ts)


@pytest.mark.parametrize("delimiter", ["*", "~"])
def test_write_850_refuses_a_value_that_contains_a_delimiter(delimiter: str) -> None:
    """A department like ``ICU*2`` is a valid canonical PO, but cannot be written as-is:
    X12 4010 has no escape, so the translator must refuse it, naming the element,
    instead of emitting an interchange that means something else (or does not parse)."""
    po = purchase_order(department=f"ICU{delimiter}2")
    with pytest.raises(MappingError) as err:
        write_850(po, sender="HOSPNET01", receiver="SUPP1001", control=1, now=NOW)
    assert err.value.field.startswith("REF")


# -- 855 in -----------------------------------------------------------------------


def test_minimal_855_from_domain_parses_into_an_acknowledgment() -> None:
    env, sets = parse_interchange(envelope(MINIMAL_855))
    assert (env.sender_id, env.receiver_id) == ("SUPP1001", "HOSPNET01")

    ack = acknowledgments_from_855(sets[0])

    assert ack.po_number == "PO123456"
    assert ack.ack_type.value == "AC"
    assert ack.ack_date == dt.date(2024, 1, 15)
    # no REF*PP: BAK04's date (midnight, UTC) in epoch seconds, then ISA13
    assert ack.revision == int(dt.datetime(2024, 1, 15, tzinfo=dt.UTC).timestamp()) * 10**9 + 7
    one, two = ack.lines
    assert (one.line_no, one.ordered_quantity, one.uom, one.unit_price) == (1, 10, Uom.CA, 45.5)
    assert [(a.status, a.quantity) for a in one.acks] == [(LineStatus.IA, 10)]
    assert one.confirmed_quantity == 10
    assert one.acks[0].expected_date == dt.date(2024, 1, 17)
    assert (two.line_no, two.ordered_quantity, two.uom) == (2, 4, Uom.BX)
    assert [(a.status, a.quantity) for a in two.acks] == [(LineStatus.IB, 4)]
    assert (two.confirmed_quantity, two.backordered_quantity) == (0, 4)
    assert two.acks[0].expected_date == dt.date(2024, 2, 1)


def test_855_revision_is_read_from_header_ref_pp() -> None:
    body = MINIMAL_855.replace("~PO1*1*", "~REF*PP*4~PO1*1*", 1).replace("SE*8*", "SE*9*")
    ack = acknowledgments_from_855(the_set(envelope(body)))
    assert ack.revision == 4


def test_855_ref_zz_is_no_revision() -> None:
    """REF*ZZ is mutually defined, not a revision: read as no revision at all."""
    body = MINIMAL_855.replace("~PO1*1*", "~REF*ZZ*4~PO1*1*", 1).replace("SE*8*", "SE*9*")
    ack = acknowledgments_from_855(the_set(envelope(body)))
    assert ack.revision > 10**18  # ordered by when it was made, not 4


def test_wrong_se01_count_is_rejected_naming_se01() -> None:
    text = envelope(MINIMAL_855.replace("SE*8*0001", "SE*7*0001"))
    with pytest.raises(MappingError) as err:
        parse_interchange(text)
    assert err.value.field == "SE01"
    assert "8" in err.value.reason  # the real count is reported


def test_unknown_ack01_code_is_rejected_naming_ack01() -> None:
    ts = the_set(envelope(MINIMAL_855.replace("ACK*IB*", "ACK*XX*")))
    with pytest.raises(MappingError) as err:
        acknowledgments_from_855(ts)
    assert err.value.field.startswith("ACK01")
    assert "XX" in err.value.reason


@pytest.mark.parametrize(
    ("counts", "field"),
    [
        pytest.param({"ge01": 2}, "GE01", id="GE01-too-many-sets"),
        pytest.param({"ge01": 0}, "GE01", id="GE01-too-few-sets"),
        pytest.param({"iea01": 2}, "IEA01", id="IEA01-too-many-groups"),
    ],
)
def test_wrong_envelope_counts_are_rejected(counts: dict[str, int], field: str) -> None:
    with pytest.raises(MappingError) as err:
        parse_interchange(envelope(MINIMAL_855, **counts))
    assert err.value.field == field


def test_iea02_must_match_isa13() -> None:
    text = envelope(MINIMAL_855).replace(f"IEA*1*{7:09d}", f"IEA*1*{8:09d}")
    with pytest.raises(MappingError) as err:
        parse_interchange(text)
    assert err.value.field == "IEA02"


def test_ctt_line_count_must_match() -> None:
    ts = the_set(envelope(MINIMAL_855.replace("CTT*2", "CTT*3")))
    with pytest.raises(MappingError) as err:
        acknowledgments_from_855(ts)
    assert err.value.field == "CTT01"


def test_an_850_is_not_an_acknowledgment() -> None:
    text = write_850(purchase_order(), sender="HOSPNET01", receiver="SUPP1001", control=1, now=NOW)
    with pytest.raises(MappingError) as err:
        acknowledgments_from_855(the_set(text))
    assert err.value.field == "ST01"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("PO1*1*10*CA", "PO1*1*0*CA", id="PO102-zero-quantity"),
        pytest.param("ACK*IA*10*", "ACK*IA*-1*", id="ACK02-negative-quantity"),
        pytest.param("CTT*2~", "CTT~", id="CTT-without-CTT01"),
        pytest.param(f"IEA*1*{7:09d}~", "IEA*1~", id="IEA-without-IEA02"),
    ],
)
def test_malformed_855_raises_mapping_error_not_a_crash(old: str, new: str) -> None:
    """Whatever a partner sends, the translator answers MappingError (which the engine
    dead-letters), never a bare ValidationError or IndexError (which stops the engine)."""
    text = envelope(MINIMAL_855).replace(old, new)
    assert text != envelope(MINIMAL_855)
    with pytest.raises(MappingError):
        _, sets = parse_interchange(text)
        acknowledgments_from_855(sets[0])
