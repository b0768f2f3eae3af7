"""The one-pass line totals the ERP and WMS mappers use (from the stored form) agree with the
model's properties, and so does what an acknowledgment sends (``acknowledged``)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_core.errors import MappingError
from sync_core.mappers import erp
from sync_core.mappers.ack_lines import acknowledged, acknowledgment_json, line_totals
from sync_core.model import (
    Acknowledgment,
    AcknowledgmentLine,
    AckType,
    LineAck,
    LineStatus,
    PurchaseOrderLine,
    Uom,
)
from tests.builders import GTIN_1, GTIN_2, purchase_order

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


def _po_line(line_no: int, critical: bool) -> PurchaseOrderLine:
    return PurchaseOrderLine(line_no=line_no, gtin=(GTIN_1, GTIN_2)[line_no % 2], quantity=10,
                             vendor_part=f"P-{line_no}", uom=Uom.EA, unit_price=2.0,
                             critical=critical)  # fmt: skip


def _acknowledgment(lines: list[AcknowledgmentLine], revision: int) -> Acknowledgment:
    day = dt.date(2024, 1, 16)
    return Acknowledgment(po_number="4500000001", ack_type=AckType.AC, ack_date=day,
                          revision=revision, lines=tuple(lines))  # fmt: skip


@settings(max_examples=300)
@given(
    critical=st.lists(st.booleans(), min_size=1, max_size=5),
    acks=st.lists(_acks, max_size=5),
    order=st.randoms(use_true_random=False),
    revision=st.integers(1, 2**63 - 1),
)
def test_what_an_acknowledgment_sends_is_the_models(
    critical: list[bool], acks: list[list[LineAck]], order: object, revision: int
) -> None:
    """The ERP's body is ``acknowledgment_to_erp``'s; the WMS's rows and the critical lines
    are what the model's properties make of each line, in the acknowledgment's order."""
    po = purchase_order(lines=tuple(_po_line(n, c) for n, c in enumerate(critical, start=1)))
    numbers = list(range(1, len(critical) + 1))
    order.shuffle(numbers)  # type: ignore[attr-defined]
    lines = [
        AcknowledgmentLine(line_no=n, ordered_quantity=1 + n % 3, uom=Uom.BX, unit_price=1.0,
                           acks=tuple(a))
        for n, a in zip(numbers, acks, strict=False)
    ]  # fmt: skip
    stored = acknowledgment_json(_acknowledgment(lines, revision))
    sent = acknowledged(po.model_dump(mode="json"), stored, "trace-1")

    assert sent.erp == erp.acknowledgment_to_erp(stored, "trace-1")
    by_number = {line.line_no: line for line in po.lines}
    rows = []
    for line in lines:
        dates = [a.expected_date for a in line.acks if a.expected_date is not None]
        rows.append({
            "po_nbr": po.po_number, "po_line_nbr": line.line_no,
            "item_id": by_number[line.line_no].gtin, "dock_gln": po.ship_to,
            "exp_qty": line.confirmed_quantity, "backorder_qty": line.backordered_quantity,
            "qty_uom": line.uom.value,
            "exp_date": min(dates).isoformat() if dates else po.requested_date.isoformat(),
        })  # fmt: skip
    assert sent.wms == {"receipts": rows, "trace_id": "trace-1"}
    assert sent.critical == [
        (
            stored["lines"][i],
            line.confirmed_quantity,
            line.backordered_quantity,
            line.status,
            min(a.expected_date for a in line.acks if a.expected_date).isoformat()
            if any(a.expected_date for a in line.acks)
            else None,
        )
        for i, line in enumerate(lines)
        if by_number[line.line_no].critical
    ]


def test_a_line_the_po_does_not_have_is_a_mapping_error() -> None:
    po = purchase_order()
    accepted = (LineAck(status=LineStatus.IA, quantity=1, uom=Uom.EA),)
    line = AcknowledgmentLine(line_no=7, ordered_quantity=1, uom=Uom.EA, unit_price=1.0,
                              acks=accepted)  # fmt: skip
    stored = acknowledgment_json(_acknowledgment([line], 1))
    with pytest.raises(MappingError, match=r"PO1 line 7.*PO 4500000001 has no such line"):
        acknowledged(po.model_dump(mode="json"), stored, None)
