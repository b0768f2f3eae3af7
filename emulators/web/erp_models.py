"""The ERP's native models: what its API takes and answers, as pydantic models.

The models mirror the behaviour's own checks (``emulators/erp/_checks.py``),
field by field, so both worlds accept and refuse the same bodies: the same
PascalCase names, no coercion (``"5"`` is not 5, and 41 stays 41), unknown
fields refused where the behaviour refuses them (purchase orders, change
orders, receipts, invoice status, masters) and let through where it takes them
(acknowledgments), optional fields that may be left out but not sent as
``null`` unless the behaviour takes ``null``.  What a schema cannot say (a line
that is not on the order, an over-receipt, a state that forbids the call, a key
that exists) the behaviour answers with the same problem in both worlds.

Where the worlds differ, on purpose: a body the model refuses is 422 before the
behaviour is asked, so a bad body for an unknown PO is 422 over HTTP and 404
in-process, and a body that is not a JSON object is 422 over HTTP (400
in-process); ``CorrelationId`` must be a string; a price beyond the float range
is refused over HTTP where the behaviour would raise.

Limits (:class:`~emulators.limits.Limits`): the models state the bounds in
OpenAPI (``maxLength``, ``maxItems``, ``maximum``, filled in from the app's
limits) and the behaviour enforces them, so both worlds refuse the same field
with the same 422.  A list stops at its first bad entry (``fail_fast``), so a
huge bad list costs one error, not one per entry.  The public models document
what the ERP answers (OpenAPI only; replies are the behaviour's own dicts).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    create_model,
)
from pydantic.fields import FieldInfo

from emulators.limits import Bounded
from emulators.web._params import Lines

__all__ = [
    "AcknowledgmentApplied",
    "AcknowledgmentPost",
    "ContractPrice",
    "ContractPriceCreate",
    "ContractPriceUpdate",
    "Invoice",
    "InvoiceStatusPost",
    "Item",
    "ItemCreate",
    "ItemUpdate",
    "Location",
    "LocationCreate",
    "Page",
    "PurchaseOrder",
    "PurchaseOrderChange",
    "PurchaseOrderCreate",
    "ReceiptApplied",
    "ReceiptCreate",
    "Vendor",
    "VendorCreate",
    "VendorUpdate",
]

# -- field types: the behaviour's checks (emulators/erp/_checks.py) as a schema ----------


def _number(v: Any) -> int | float:
    """A price: an int or a finite float > 0, kept as sent (never 41 → 41.0)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("must be a number > 0")
    try:
        ok = math.isfinite(v) and v > 0
    except OverflowError:  # an int beyond the float range
        ok = False
    if not ok:
        raise ValueError("must be a number > 0")
    return v


def _date(v: str) -> str:
    """A date as the ERP reads it (``date.fromisoformat``), kept as sent."""
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        raise ValueError("must be an ISO 8601 date (YYYY-MM-DD)") from None
    return v


def _absent(**constraints: Any) -> Any:
    """An optional field: it may be left out, but not sent as ``null``."""

    def no_default(schema: dict[str, Any]) -> None:
        schema.pop("default", None)

    return Field(default=None, json_schema_extra=no_default, **constraints)


Text = Annotated[str, Field(min_length=1), Bounded("text")]
Key = Annotated[str, Bounded("text")]
Gtin = Annotated[str, Field(pattern=r"^[0-9]{14}$", description="GTIN-14, by shape only")]
Gln = Annotated[str, Field(pattern=r"^[0-9]{13}$", description="GLN, by shape only")]
Uom = Literal["EA", "BX", "CA", "PK", "CT", "DZ"]
YesNo = Literal["Y", "N"]
Ordered = Annotated[int, Field(ge=1), Bounded("quantity")]
Qty = Annotated[int, Field(ge=1), Bounded("quantity")]
Count = Annotated[int, Field(ge=0), Bounded("quantity")]
LineNo = Annotated[int, Field(ge=1)]
Money = Annotated[
    int | float,
    PlainValidator(_number),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0}),
    Bounded("price"),
]
Day = Annotated[str, AfterValidator(_date), WithJsonSchema({"type": "string", "format": "date"})]
InvoiceMatch = Literal["UNMATCHED", "MATCHED", "ON_HOLD", "PAID", "CANCELED"]
VendorStatus = Literal["ACTIVE", "INACTIVE"]
LocationKind = Literal["HOSPITAL", "DISTRIBUTION_CENTER", "PROCUREMENT_OFFICE"]
Correlation = Annotated[
    str | None,
    Field(description="journalled with the facts this request changes"),
    Bounded("text"),
]


class _Native(BaseModel):
    model_config = ConfigDict(field_title_generator=lambda name, _: name)  # "LineNumber"


class _Strict(_Native):
    """Refuses unknown fields and coerces nothing, as the behaviour does."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Open(_Native):
    """Coerces nothing, lets unknown fields through (the behaviour ignores them)."""

    model_config = ConfigDict(extra="allow", strict=True)


# -- request models: purchase orders --------------------------------------------------


class PurchaseOrderLineCreate(_Strict):
    SupplierItem: Text
    ItemGTIN: Gtin
    Quantity: Ordered
    UOMCode: Uom
    Price: Money
    CriticalSupply: YesNo = "N"
    CorrelationId: Correlation = Field(None, description="taken, and ignored, on a line")


class PurchaseOrderCreate(_Strict):
    """A PO raised for one patient's surgical case (a case cart, a bill-only implant)
    carries PatientMRN and ProcedureDate, both or neither."""

    SupplierNumber: Text
    ShipToLocationGLN: Gln
    RequesterDepartment: Text
    NeedByDate: Day
    lines: Lines[PurchaseOrderLineCreate]
    PatientMRN: Text = _absent(description="the patient's medical record number (PHI)")
    ProcedureDate: Day = _absent(description="the surgical case's date (PHI)")
    CorrelationId: Correlation = None


class PurchaseOrderChangeLine(_Strict):
    """``{LineNumber, Quantity?, Price?}`` changes a line (at least one of the two),
    ``{LineNumber, Action: CANCEL}`` cancels it, ``{Action: ADD, SupplierItem,
    ItemGTIN, Quantity, UOMCode, Price, CriticalSupply?}`` adds one; the ERP
    refuses a field the entry's action does not take."""

    Action: Literal["CHANGE", "CANCEL", "ADD"] = "CHANGE"
    LineNumber: LineNo = _absent()
    Quantity: Ordered = _absent()
    Price: Money = _absent()
    SupplierItem: Text = _absent()
    ItemGTIN: Gtin = _absent()
    UOMCode: Uom = _absent()
    CriticalSupply: YesNo = _absent()


class PurchaseOrderChange(_Strict):
    """A buyer's change order (860-style): ``{"Action": "CANCEL"}`` cancels the PO
    (before any receipt); otherwise ``lines`` lists the changes."""

    Action: Literal["CHANGE", "CANCEL"] = "CHANGE"
    lines: Annotated[list[PurchaseOrderChangeLine], Bounded("lines")] = _absent(
        min_length=1, fail_fast=True
    )
    CorrelationId: Correlation = None


class AcknowledgmentLine(_Open):
    LineNumber: LineNo
    SupplierConfirmedQuantity: Count
    BackorderedQuantity: Count
    AcknowledgmentStatus: Text = Field(description="X12 855 ACK01 code(s), e.g. IA or IA/IB")
    PromisedDate: Any = Field(None, description="stored as sent (an ISO 8601 date or null)")


class AcknowledgmentPost(_Open):
    AcknowledgmentRevision: Annotated[int, Field(ge=1)]
    AcknowledgmentType: Any = Field(None, description="stored nowhere; informative")
    lines: Lines[AcknowledgmentLine]
    CorrelationId: Correlation = None


class ReceiptLineCreate(_Strict):
    LineNumber: LineNo
    QuantityReceived: Qty
    CorrelationId: Correlation = Field(None, description="taken, and ignored, on a line")


class ReceiptCreate(_Strict):
    ReceiptNumber: Text
    ReceiptDate: Day = _absent()
    lines: Lines[ReceiptLineCreate]
    CorrelationId: Correlation = None


class InvoiceStatusPost(_Strict):
    """An invoice's match status as AP decided it; PAID and CANCELED are final."""

    InvoiceNumber: Text
    MatchStatus: InvoiceMatch
    HoldReason: Text | None = None
    CorrelationId: Correlation = None


# -- request models: masters ----------------------------------------------------------


class ItemCreate(_Strict):
    ItemNumber: Text
    GTIN: Gtin
    Description: Text
    UOMCode: Uom
    ListPrice: Money
    CorrelationId: Correlation = None


class VendorCreate(_Strict):
    SupplierNumber: Text
    Name: Text
    Status: VendorStatus = "ACTIVE"
    CorrelationId: Correlation = None


class ContractPriceCreate(_Strict):
    """Needs the vendor and the item in the master; EffectiveTo not before EffectiveFrom."""

    SupplierNumber: Text
    ItemNumber: Text
    ContractPrice: Money
    EffectiveFrom: Day
    EffectiveTo: Day | None = None
    CorrelationId: Correlation = None


def _update_of(create: type[_Strict], doc: str, *keys: str) -> type[_Strict]:
    """The partial update of what ``create`` creates, named after it: every field may be
    left out (but not sent as ``null``), except those that already default to ``None``
    (they stay as they are); the ``keys`` may be repeated but not changed (any text: the
    behaviour compares them with the stored ones)."""
    fields: dict[str, Any] = {}
    for name, info in create.model_fields.items():
        if name in keys:
            fields[name] = (Key, _absent())
        elif info.is_required() or info.default is not None:
            partial = FieldInfo.merge_field_infos(info, _absent())
            fields[name] = (info.annotation, partial)
        else:
            fields[name] = (info.annotation, info)
    model: type[_Strict] = create_model(
        create.__name__.replace("Create", "Update"),
        __base__=_Strict,
        __doc__=doc,
        __module__=__name__,
        **fields,
    )
    return model


_PARTIAL = "A partial update; the key may be repeated but not changed."
ItemUpdate = _update_of(ItemCreate, _PARTIAL, "ItemNumber")
VendorUpdate = _update_of(
    VendorCreate, f"{_PARTIAL}  An INACTIVE vendor gets no new purchase orders.", "SupplierNumber"
)
ContractPriceUpdate = _update_of(
    ContractPriceCreate,
    "A partial update; the keys may be repeated but not changed.",
    "SupplierNumber",
    "ItemNumber",
)


class LocationCreate(_Strict):
    """A ship-to location: a hospital, a distribution center or the procurement office."""

    LocationGLN: Gln
    Name: Text
    Kind: LocationKind
    CorrelationId: Correlation = None


# -- public models (what the ERP answers; documentation only) --------------------------

Row = TypeVar("Row")


class Page(_Native, Generic[Row]):
    items: list[Row]
    count: int
    offset: int
    limit: int
    hasMore: bool


class PurchaseOrderLine(_Native):
    LineNumber: int
    SupplierItem: str
    ItemGTIN: str
    Quantity: int
    UOMCode: str
    Price: float
    CriticalSupply: str
    OpenCommitmentQuantity: int
    SupplierConfirmedQuantity: int | None
    BackorderedQuantity: int | None
    AcknowledgmentStatus: str | None
    PromisedDate: Any
    LineStatus: Literal["OPEN", "PARTIALLY_RECEIVED", "RECEIVED", "CANCELED"]
    ReceivedQuantity: int


class PurchaseOrder(_Native):
    OrderNumber: str
    SupplierNumber: str
    ShipToLocationGLN: str
    RequesterDepartment: str
    Status: Literal["OPEN", "PARTIALLY_RECEIVED", "CLOSED_FOR_RECEIVING", "CANCELED"]
    OrderDate: str
    NeedByDate: str
    RevisionNumber: int
    LastUpdateDate: str
    AcknowledgmentRevision: int
    lines: list[PurchaseOrderLine]
    PatientMRN: str | None = Field(None, description="a case PO only: the patient's MRN")
    ProcedureDate: str | None = Field(None, description="a case PO only: the case's date")


class AcknowledgmentApplied(_Native):
    OrderNumber: str
    lines: int = Field(description="how many lines the acknowledgment updated")


class ReceivedLine(_Native):
    LineNumber: int
    ReceivedQuantity: int
    OpenCommitmentQuantity: int
    LineStatus: str


class ReceiptApplied(_Native):
    ReceiptNumber: str
    OrderNumber: str
    lines: list[ReceivedLine]


class Invoice(_Native):
    SupplierNumber: str
    InvoiceNumber: str
    OrderNumber: str
    MatchStatus: InvoiceMatch
    HoldReason: str | None


class Item(_Native):
    ItemNumber: str
    GTIN: str
    Description: str
    UOMCode: str
    ListPrice: float


class Vendor(_Native):
    SupplierNumber: str
    Name: str
    Status: VendorStatus


class Location(_Native):
    LocationGLN: str
    Name: str
    Kind: LocationKind


class ContractPrice(_Native):
    SupplierNumber: str
    ItemNumber: str
    ContractPrice: float
    EffectiveFrom: str
    EffectiveTo: str | None
