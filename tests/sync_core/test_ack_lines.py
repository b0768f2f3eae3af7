"""The one-pass line totals the ERP and WMS mappers use (from the stored form) agree with the
model's properties."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from sync_core.mappers.ack_lines import acknowledgment_json, line_totals
from sync_core.model import Acknowledgment, AcknowledgmentLine, AckType, LineAck, LineStatus, Uom

_acks = st.lists(
    st.builds(
        LineAck,
        status=st.sampled_from(list(LineStatus)),
        quantity=st.integers(0, 500),
        uom=st.sampled_from(list(Uom)),
        expected_date=st.none() | st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31)),
    ),
    min_size=1,
    max_size=5,
)


@given(_acks)
def test_line_totals_are_the_model_properties(acks: list[LineAck]) -> None:
    line = AcknowledgmentLine(line_no=1, ordered_quantity=10, uom=Uom.EA, unit_price=1.5,
                              acks=tuple(acks))  # fmt: skip
    totals = line_totals(line.model_dump(mode="json"))  # the line as stored
    assert totals.confirmed == line.confirmed_quantity
    assert totals.backordered == line.backordered_quantity
    assert totals.status == line.status and type(totals.status) is str
    assert totals.expected == [
        a.expected_date.isoformat() for a in acks if a.expected_date is not None
    ]


_lines = st.lists(
    st.builds(
        AcknowledgmentLine,
        line_no=st.integers(1, 999),
        ordered_quantity=st.integers(1, 500),
        uom=st.sampled_from(list(Uom)),
        unit_price=st.floats(0.01, 1e6),
        acks=_acks.map(tuple),
    ),
    max_size=4,
)


@given(
    st.builds(
        Acknowledgment,
        po_number=st.text(min_size=1, max_size=12),
        ack_type=st.sampled_from(list(AckType)),
        ack_date=st.dates(),
        revision=st.integers(1, 2**63 - 1),
        lines=_lines.map(tuple),
    )
)
def test_the_stored_form_is_the_models_json_dump(ack: Acknowledgment) -> None:
    stored = acknowledgment_json(ack)
    assert stored == ack.model_dump(mode="json")
    assert list(stored) == list(Acknowledgment.model_fields)  # the same keys, in order


def test_backordered_and_rejected_parts_are_not_confirmed() -> None:
    later = dt.date(2024, 2, 1)
    acks = (LineAck(status=LineStatus.IA, quantity=4, uom=Uom.EA),
            LineAck(status=LineStatus.IB, quantity=3, uom=Uom.EA, expected_date=later),
            LineAck(status=LineStatus.IR, quantity=2, uom=Uom.EA))  # fmt: skip
    line = AcknowledgmentLine(line_no=1, ordered_quantity=9, uom=Uom.EA, unit_price=2.0, acks=acks)
    assert line_totals(line.model_dump(mode="json")) == (4, 3, "IA/IB/IR", ["2024-02-01"])
