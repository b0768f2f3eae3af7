"""Canonical model v1: what the sync core believes about procurement, in one vocabulary.

Every system speaks its own native format; mappers translate to and from these
models and reject what does not fit.  Identifiers are validated on construction
(GS1 check digits for GTIN and GLN, 8-digit UNSPSC), so a model instance is
always a valid statement of fact.  Models are immutable.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from stdnum import ean

from sync_core.phi import TOKEN_PATTERNS, case_reference

__all__ = [
    "AckType",
    "Acknowledgment",
    "AcknowledgmentLine",
    "FaStatus",
    "FunctionalAcknowledgment",
    "Gln",
    "Gtin",
    "Invoice",
    "InvoiceLine",
    "Item",
    "LineAck",
    "LineStatus",
    "Location",
    "LocationKind",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "Receipt",
    "SetAcknowledgment",
    "SetSyntaxError",
    "ShipNotice",
    "ShipNoticeLine",
    "Sscc",
    "Supplier",
    "Uom",
    "UomStep",
    "gs1_check_digit",
]


def gs1_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit for ``body`` (all digits but the last): from the right,
    weights 3, 1, 3, ...  (``stdnum.ean.calc_check_digit``'s answer, from two slices.)"""
    return str((10 - 3 * sum(map(int, body[-1::-2])) - sum(map(int, body[-2::-2]))) % 10)


def _gs1(length: int, what: str) -> AfterValidator:
    @lru_cache(maxsize=65536)  # the same items and sites recur in every document
    def check(value: str) -> str:
        if len(value) != length or not value.isdigit():
            raise ValueError(f"{what} must be {length} digits, got {value!r}")
        if not ean.is_valid(value):
            raise ValueError(
                f"{what} {value} has a wrong check digit (expected {gs1_check_digit(value[:-1])})"
            )
        return value

    return AfterValidator(check)


def _unspsc(value: str) -> str:
    if len(value) != 8 or not value.isdigit():
        raise ValueError(f"UNSPSC code must be 8 digits, got {value!r}")
    return value


Gtin = Annotated[str, _gs1(14, "GTIN-14")]
"""A GTIN-14; the first digit is the packaging level."""

Gln = Annotated[str, _gs1(13, "GLN")]
"""A GS1 Global Location Number: a site, a dock or a nursing unit."""


def _sscc(value: str) -> str:
    if len(value) != 18 or not (value.isascii() and value.isdigit()):
        raise ValueError(f"SSCC must be 18 digits, got {value!r}")
    if gs1_check_digit(value[:-1]) != value[-1]:
        raise ValueError(f"SSCC {value} has a wrong check digit")
    return value


Sscc = Annotated[str, AfterValidator(_sscc)]
"""A GS1 Serial Shipping Container Code (SSCC-18): the label on one pack or pallet."""

Unspsc = Annotated[str, AfterValidator(_unspsc)]


class Uom(StrEnum):
    """X12 unit-of-measure codes (element 355)."""

    EA = "EA"
    BX = "BX"
    CA = "CA"
    PK = "PK"
    CT = "CT"
    DZ = "DZ"


class LineStatus(StrEnum):
    """Line acknowledgment status, after X12 855 ACK01 (element 668)."""

    IA = "IA"  # accepted
    AC = "AC"  # accepted and shipped
    AR = "AR"  # accepted, released for shipment
    IB = "IB"  # backordered
    BP = "BP"  # partial shipment, balance backordered
    IC = "IC"  # accepted, changes made
    IP = "IP"  # price changed
    IQ = "IQ"  # quantity changed
    DR = "DR"  # date rescheduled
    IE = "IE"  # price pending
    IS = "IS"  # substitution made
    SP = "SP"  # schedule date pending
    IH = "IH"  # on hold
    IW = "IW"  # on hold, waiver required
    IF = "IF"  # on hold, incomplete description
    IR = "IR"  # rejected
    ID = "ID"  # deleted


class AckType(StrEnum):
    """Header acknowledgment type, after X12 855 BAK02 (element 587)."""

    AC = "AC"  # accepted with detail and changes
    AD = "AD"  # accepted, no detail
    AE = "AE"  # accepted with exceptions
    AK = "AK"  # acknowledged, no detail or change
    AT = "AT"  # accepted
    RD = "RD"  # rejected with detail
    RJ = "RJ"  # rejected
    RO = "RO"  # rejected with counter-offer


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocationKind(StrEnum):
    HOSPITAL = "hospital"
    DISTRIBUTION_CENTER = "distribution_center"
    PROCUREMENT_OFFICE = "procurement_office"


class Location(_Frozen):
    gln: Gln
    name: str = Field(min_length=1)
    kind: LocationKind


class Supplier(_Frozen):
    supplier_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    gln: Gln
    edi_id: str = Field(min_length=2, max_length=15, description="ISA sender/receiver id")


class UomStep(_Frozen):
    """One rung of a unit-of-measure ladder: one ``uom`` contains ``quantity`` of ``contains``."""

    uom: Uom
    quantity: int = Field(gt=1)
    contains: Uom


class Item(_Frozen):
    gtin: Gtin
    description: str = Field(min_length=1)
    unspsc: Unspsc
    supplier_id: str
    vendor_part: str = Field(min_length=1)
    order_uom: Uom
    uom_ladder: tuple[UomStep, ...] = ()
    unit_price: float = Field(gt=0)
    critical: bool = False
    ndc: str | None = Field(
        None, pattern=r"^\d{11}$", description="a drug's FDA NDC, 11-digit 5-4-2 billing form"
    )

    @model_validator(mode="after")
    def _ladder_is_connected(self) -> Item:
        for upper, lower in zip(self.uom_ladder, self.uom_ladder[1:], strict=False):
            if upper.contains != lower.uom:
                raise ValueError(
                    f"uom_ladder: {upper.uom} contains {upper.contains}, "
                    f"but the next rung is {lower.uom}"
                )
        return self

    def each_per(self, uom: Uom) -> int:
        """How many of the ladder's smallest unit one ``uom`` holds."""
        factor = 1
        counting = False
        for step in self.uom_ladder:
            if step.uom == uom:
                counting = True
            if counting:
                factor *= step.quantity
        if not counting and self.uom_ladder and uom != self.uom_ladder[-1].contains:
            raise ValueError(f"item {self.gtin} has no unit {uom} in its ladder")
        return factor


class PurchaseOrderLine(_Frozen):
    line_no: int = Field(ge=1)
    gtin: Gtin
    vendor_part: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    uom: Uom
    unit_price: float = Field(gt=0)
    critical: bool = False


class PurchaseOrder(_Frozen):
    po_number: str = Field(min_length=1, max_length=22)
    supplier_id: str
    ship_to: Gln
    department: str
    order_date: dt.date
    requested_date: dt.date
    version: int = Field(ge=1, description="source version: the ERP's revision of this PO")
    lines: tuple[PurchaseOrderLine, ...] = Field(min_length=1)
    canceled: bool = Field(False, description="the whole PO was canceled (lines as they were)")
    # a case PO's patient and procedure date, as tokens only (sync_core.phi): a raw MRN or
    # date does not map
    patient_token: str | None = Field(None, pattern=TOKEN_PATTERNS["mrn"])
    procedure_token: str | None = Field(None, pattern=TOKEN_PATTERNS["date"])

    @property
    def case_reference(self) -> str | None:
        """What a target may know of the case (the supplier's 850: ``REF*CR``), or None."""
        if self.patient_token is None or self.procedure_token is None:
            return None
        return case_reference(self.patient_token, self.procedure_token)

    @model_validator(mode="after")
    def _unique_lines(self) -> PurchaseOrder:
        numbers = [line.line_no for line in self.lines]
        if len(numbers) != len(set(numbers)):
            raise ValueError(f"lines: duplicate line numbers in PO {self.po_number}")
        return self

    @property
    def critical(self) -> bool:
        return any(line.critical for line in self.lines)


_NOT_CONFIRMED = frozenset({LineStatus.IB, LineStatus.IR, LineStatus.ID})


class LineAck(_Frozen):
    """One ACK segment: a status for part (or all) of a PO line's quantity."""

    status: LineStatus
    quantity: int = Field(ge=0)
    uom: Uom
    expected_date: dt.date | None = None


class AcknowledgmentLine(_Frozen):
    """A PO line as acknowledged: e.g. 40 accepted (IA) and 60 backordered (IB)."""

    line_no: int = Field(ge=1)
    ordered_quantity: int = Field(gt=0)
    uom: Uom
    unit_price: float = Field(gt=0)
    acks: tuple[LineAck, ...] = Field(min_length=1)

    @property
    def confirmed_quantity(self) -> int:
        """Quantity the supplier commits to ship now (backordered and rejected parts excluded)."""
        return sum(a.quantity for a in self.acks if a.status not in _NOT_CONFIRMED)

    @property
    def backordered_quantity(self) -> int:
        return sum(a.quantity for a in self.acks if a.status == LineStatus.IB)

    @property
    def status(self) -> str:
        """The line's ACK01 codes in order, e.g. ``IA`` or ``IA/IB``."""
        return "/".join(a.status.value for a in self.acks)


class Acknowledgment(_Frozen):
    po_number: str = Field(min_length=1)
    ack_type: AckType
    ack_date: dt.date
    revision: int = Field(
        ge=1, description="source version: the supplier's revision of its acknowledgment"
    )
    lines: tuple[AcknowledgmentLine, ...]


class ShipNoticeLine(_Frozen):
    """One shipped PO line: quantity, lot and expiry (the 856's item level)."""

    line_no: int = Field(ge=1)
    gtin: str = ""
    vendor_part: str = ""
    quantity: int = Field(gt=0)
    uom: Uom
    lot: str | None = None
    expiry: dt.date | None = None
    sscc: Sscc | None = None  # the labelled pack it travels in (856 MAN*GM)


class ShipNotice(_Frozen):
    """What one shipment carries for one PO (an 856 order level)."""

    asn_number: str = Field(min_length=1)
    po_number: str = Field(min_length=1)
    ship_date: dt.date
    bill_of_lading: str | None = None  # REF*BM
    lines: tuple[ShipNoticeLine, ...] = Field(min_length=1)


class InvoiceLine(_Frozen):
    line_no: int = Field(ge=1)
    quantity: int = Field(gt=0)
    uom: Uom
    unit_price: float = Field(gt=0)


class Invoice(_Frozen):
    """A supplier's invoice against one PO (an 810)."""

    supplier_id: str = Field(min_length=1)
    invoice_number: str = Field(min_length=1)
    invoice_date: dt.date
    po_number: str = Field(min_length=1)
    lines: tuple[InvoiceLine, ...] = Field(min_length=1)
    total: float = Field(gt=0, description="the 810's TDS total, in currency units")
    remit_to: Gln | None = Field(None, description="N1*RI: where to pay")
    bill_to: Gln | None = Field(None, description="N1*BT: who pays")
    ship_to: Gln | None = Field(None, description="N1*ST: where the goods went")
    net_days: int | None = Field(None, ge=0, description="ITD07: terms net days")
    shipped_on: dt.date | None = Field(None, description="DTM*011: the shipped date")


class Receipt(_Frozen):
    """Goods the dock accepted against one PO line (a WMS receipt)."""

    receipt_id: str = Field(min_length=1)
    po_number: str = Field(min_length=1)
    line_no: int = Field(ge=1)
    received_quantity: int = Field(ge=0)
    rejected_quantity: int = Field(ge=0)


class FaStatus(StrEnum):
    """A functional acknowledgment's verdict (997 AK501 / AK901; syntax only, not business)."""

    ACCEPTED = "A"
    ACCEPTED_WITH_ERRORS = "E"
    PARTIALLY_ACCEPTED = "P"  # AK901 only: some sets of the group accepted
    REJECTED = "R"


class SetSyntaxError(_Frozen):
    """Where a set is in error (AK3: segment id and position; AK4: element and why)."""

    segment: str
    position: int = Field(ge=1)
    element: int = Field(0, ge=0)  # 0: the segment as a whole
    reference: str = ""  # the data element reference number, e.g. "355"
    code: str = ""  # AK403 (element 723), e.g. "7" invalid code value
    value: str = ""  # a copy of the bad data

    def describe(self) -> str:
        where = f"{self.segment}{self.element:02d}" if self.element else self.segment
        why = _AK4_REASONS.get(self.code, f"error {self.code}") if self.code else "in error"
        bad = f" {self.value!r}" if self.value else ""
        return f"{where} (segment {self.position}): {why}{bad}"


_AK4_REASONS = {
    "1": "mandatory data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
}


class SetAcknowledgment(_Frozen):
    code: str  # AK201, the set's ST01
    control_number: str  # AK202, its ST02
    status: FaStatus
    errors: tuple[SetSyntaxError, ...] = ()


class FunctionalAcknowledgment(_Frozen):
    """One 997: a partner's syntax verdict on one functional group we sent (AK1)."""

    group_code: str  # AK101, our GS01
    group_control: str  # AK102, our GS06
    status: FaStatus  # AK901
    sets: tuple[SetAcknowledgment, ...]

    def reason(self) -> str:
        """The partner's reasons for what it rejected, as a person reads them."""
        parts = []
        for s in self.sets:
            if s.status is FaStatus.REJECTED:
                why = "; ".join(e.describe() for e in s.errors) or "no detail given"
                parts.append(f"{s.code} {s.control_number} rejected: {why}")
        return " | ".join(parts)
