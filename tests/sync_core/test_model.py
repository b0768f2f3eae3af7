"""Canonical model v1: identifiers are validated on construction, models are frozen."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from sync_core.model import (
    AcknowledgmentLine,
    Item,
    LineAck,
    LineStatus,
    Location,
    LocationKind,
    PurchaseOrder,
    PurchaseOrderLine,
    Uom,
    UomStep,
)
from tests import builders
from tests.builders import check_digit, with_check_digit

GTIN_BODY = "1001234567890"  # packaging level 1, 13 digits before the check digit
GTIN = with_check_digit(GTIN_BODY)
GLN_BODY = "061414100001"
GLN = with_check_digit(GLN_BODY)


def wrong_check(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def po_line(line_no: int = 1, **overrides: object) -> PurchaseOrderLine:
    fields: dict[str, object] = {
        "line_no": line_no,
        "gtin": GTIN,
        "vendor_part": f"VP-{line_no}",
        "quantity": 10,
        "uom": Uom.CA,
        "unit_price": 45.5,
    }
    fields.update(overrides)
    return PurchaseOrderLine(**fields)  # type: ignore[arg-type]


def purchase_order(lines: tuple[PurchaseOrderLine, ...]) -> PurchaseOrder:
    return builders.purchase_order(lines=lines)


def item(**overrides: object) -> Item:
    fields: dict[str, object] = {
        "gtin": GTIN,
        "description": "Nitrile exam gloves, medium",
        "unspsc": "42132203",
        "supplier_id": "S1001",
        "vendor_part": "NG-M",
        "order_uom": Uom.CA,
        "unit_price": 45.5,
    }
    fields.update(overrides)
    return Item(**fields)  # type: ignore[arg-type]


# -- identifiers -----------------------------------------------------------------


def test_valid_gtin14_and_gln_are_accepted() -> None:
    line = po_line(gtin=GTIN)
    site = Location(gln=GLN, name="General Hospital dock 1", kind=LocationKind.HOSPITAL)
    assert line.gtin == GTIN
    assert site.gln == GLN


def test_gtin_with_wrong_check_digit_names_the_expected_digit() -> None:
    with pytest.raises(ValidationError) as err:
        po_line(gtin=wrong_check(GTIN))
    message = str(err.value)
    assert "check digit" in message
    assert f"expected {check_digit(GTIN_BODY)}" in message


def test_gln_with_wrong_check_digit_names_the_expected_digit() -> None:
    with pytest.raises(ValidationError) as err:
        Location(gln=wrong_check(GLN), name="DC", kind=LocationKind.DISTRIBUTION_CENTER)
    assert f"expected {check_digit(GLN_BODY)}" in str(err.value)


@pytest.mark.parametrize(
    "gtin",
    [
        GTIN[1:],  # 13 digits (a valid EAN-13 body is still not a GTIN-14)
        "0" + GTIN,  # 15 digits
        GTIN[:-1] + "X",  # not all digits
        "",
    ],
)
def test_gtin_must_be_14_digits(gtin: str) -> None:
    with pytest.raises(ValidationError, match="GTIN-14 must be 14 digits"):
        po_line(gtin=gtin)


def test_gln_must_be_13_digits() -> None:
    fourteen = GTIN  # a valid GTIN-14 is not a GLN
    with pytest.raises(ValidationError, match="GLN must be 13 digits"):
        Location(gln=fourteen, name="DC", kind=LocationKind.DISTRIBUTION_CENTER)


@pytest.mark.parametrize("code", ["4213220", "421322030", "4213220A", ""])
def test_unspsc_must_be_8_digits(code: str) -> None:
    with pytest.raises(ValidationError, match="UNSPSC code must be 8 digits"):
        item(unspsc=code)


def test_unspsc_of_8_digits_is_accepted() -> None:
    assert item(unspsc="42132203").unspsc == "42132203"


# -- purchase orders -------------------------------------------------------------


def test_duplicate_po_line_numbers_are_rejected() -> None:
    with pytest.raises(ValidationError, match="duplicate line numbers in PO 4500000001"):
        purchase_order((po_line(1), po_line(2), po_line(1, vendor_part="other")))


def test_distinct_po_line_numbers_are_accepted() -> None:
    po = purchase_order((po_line(1), po_line(2, critical=True)))
    assert [line.line_no for line in po.lines] == [1, 2]
    assert po.critical


def test_purchase_order_needs_a_line() -> None:
    with pytest.raises(ValidationError):
        purchase_order(())


# -- unit-of-measure ladder ------------------------------------------------------


def test_connected_uom_ladder_is_accepted() -> None:
    ladder = (
        UomStep(uom=Uom.CA, quantity=10, contains=Uom.BX),
        UomStep(uom=Uom.BX, quantity=100, contains=Uom.EA),
    )
    gloves = item(uom_ladder=ladder)
    assert gloves.each_per(Uom.CA) == 10 * 100
    assert gloves.each_per(Uom.BX) == 100


def test_disconnected_uom_ladder_is_rejected() -> None:
    ladder = (
        UomStep(uom=Uom.CA, quantity=10, contains=Uom.BX),
        UomStep(uom=Uom.PK, quantity=5, contains=Uom.EA),  # CA holds BX, but next rung is PK
    )
    with pytest.raises(
        ValidationError, match="uom_ladder: CA contains BX, but the next rung is PK"
    ):
        item(uom_ladder=ladder)


# -- immutability ----------------------------------------------------------------


def test_models_are_frozen() -> None:
    po = purchase_order((po_line(1),))
    with pytest.raises(ValidationError, match="frozen"):
        po.po_number = "4500000002"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        po.lines[0].quantity = 99  # type: ignore[misc]
    assert po.po_number == "4500000001"
    assert po.lines[0].quantity == 10


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        po_line(colour="blue")


# -- acknowledgment lines --------------------------------------------------------


def ack_line(ordered: int, *acks: tuple[LineStatus, int]) -> AcknowledgmentLine:
    return AcknowledgmentLine(
        line_no=1,
        ordered_quantity=ordered,
        uom=Uom.CA,
        unit_price=45.5,
        acks=tuple(
            LineAck(
                status=status,
                quantity=qty,
                uom=Uom.CA,
                expected_date=dt.date(2024, 2, 1) if status == LineStatus.IB else None,
            )
            for status, qty in acks
        ),
    )


@pytest.mark.parametrize(
    ("acks", "confirmed", "backordered", "status"),
    [
        pytest.param([(LineStatus.IA, 10)], 10, 0, "IA", id="accepted"),
        pytest.param([(LineStatus.IA, 4), (LineStatus.IB, 6)], 4, 6, "IA/IB", id="partial"),
        pytest.param([(LineStatus.IB, 10)], 0, 10, "IB", id="backordered"),
        pytest.param([(LineStatus.IR, 10)], 0, 0, "IR", id="rejected"),
    ],
)
def test_acknowledgment_line_quantities_and_status(
    acks: list[tuple[LineStatus, int]], confirmed: int, backordered: int, status: str
) -> None:
    line = ack_line(10, *acks)
    assert line.confirmed_quantity == confirmed
    assert line.backordered_quantity == backordered
    assert line.status == status


def test_acknowledgment_line_needs_an_ack() -> None:
    with pytest.raises(ValidationError):
        ack_line(10)
