"""The supplier network's own X12 translator (4010): 850 in; 855, 856 and 810 out; 997 both ways.

Theory of operation: :func:`tokenize` splits one ISA...IEA interchange into
segments using the delimiters its fixed-width ISA declares.
:class:`Interchange` checks the envelope on the way in (ISA version and
control number; per group GE01 = its sets and GE02 = GS06; IEA01 = the groups
and IEA02 = ISA13; per set SE01 = its segments ST..SE inclusive and SE02 =
ST02; GS01 fits ST01) and renders one on the way out, refusing any value that
holds a delimiter (4010 has no escape).  Inside the envelope each transaction
set has a reader and a writer over plain frozen records (one module per set:
``_orders`` 850/855, ``_shipping`` 856, ``_invoices`` 810, ``_functional_acks`` 997,
``_changes`` 860/865;
the shared element checks in ``_elements``, the envelope in ``_envelope``), so what is written
reads back equal: ``read_850`` gives the supplier's order-entry record (a
dict); ``render_855``/``read_855`` a :class:`PurchaseOrderAck`;
``render_856``/``read_856`` a :class:`ShipNotice` (TD1/TD5/REF*BM/DTM*011/N1
ST and SF, then HL Shipment → Order (PRF) → Pack (MAN*GM SSCC-18) when packs are
sent, BSN05 ``0001``, else ``0004`` → Item (LIN, SN1, REF*LT lot, DTM*036 expiry));
``render_810``/``read_810`` an :class:`Invoice` (BIG, IT1 lines, TDS total in
cents).  Readers check the code lists (ACK01 668, BAK02 587, UoM 355, HL03
735) and the trailer counts (CTT01, TDS01).  What comes in is bounded by a
:class:`~emulators.limits.Limits`: the interchange's segment count and every
element's length (``Interchange.parse``), and in an 850 the number of PO1
lines, quantities, unit prices, dates that exist (BEG05, DTM02) and GS1 keys
with a valid check digit (GLN in ``N1*..*UL``, GTIN after ``UK``/``EN`` in
PO1), as a partner's translator checks them (GS1 General Specifications,
section 7.9: the standard check digit calculation).  Every error is an
:class:`X12Error` naming where: the envelope element (``"SE01"``) or, inside a
set, the element and its segment's position counted from ST = 1
(``"ACK01 (segment 7)"``).
"""

from __future__ import annotations

from emulators.x12._changes import (
    CHANGE_CODES,
    ChangedLine,
    PurchaseOrderChangeAck,
    read_860,
    read_865,
    render_865,
)
from emulators.x12._elements import (
    ACK_CODES,
    BAK_CODES,
    GROUP_CODES,
    HL_LEVELS,
    UOM_CODES,
    X12Error,
    cents,
)
from emulators.x12._envelope import Interchange, tokenize
from emulators.x12._functional_acks import (
    AK5_CODES,
    AK9_CODES,
    ElementError,
    FunctionalAck,
    SetAck,
    read_997,
    render_997,
)
from emulators.x12._invoices import Invoice, InvoiceLine, read_810, render_810
from emulators.x12._orders import (
    Ack,
    AckLine,
    PurchaseOrderAck,
    read_850,
    read_855,
    render_855,
    write_855,
)
from emulators.x12._shipping import (
    Party,
    ShipNotice,
    ShippedItem,
    ShippedOrder,
    read_856,
    render_856,
    sscc_valid,
)

__all__ = [
    "ACK_CODES",
    "AK5_CODES",
    "AK9_CODES",
    "BAK_CODES",
    "CHANGE_CODES",
    "GROUP_CODES",
    "HL_LEVELS",
    "UOM_CODES",
    "Ack",
    "AckLine",
    "ChangedLine",
    "ElementError",
    "FunctionalAck",
    "Interchange",
    "Invoice",
    "InvoiceLine",
    "Party",
    "PurchaseOrderAck",
    "PurchaseOrderChangeAck",
    "SetAck",
    "ShipNotice",
    "ShippedItem",
    "ShippedOrder",
    "X12Error",
    "cents",
    "read_810",
    "read_850",
    "read_855",
    "read_856",
    "read_860",
    "read_865",
    "read_997",
    "render_810",
    "render_855",
    "render_856",
    "render_865",
    "render_997",
    "sscc_valid",
    "tokenize",
    "write_855",
]
