"""The supplier network's native API as data: its public models and operation table.

An EDI VAN's inbound door and mailbox under ``/edi``: the buyer posts a raw X12
interchange of 850s (``application/edi-x12`` or ``text/plain``), and the 855,
856 and 810 documents the suppliers send later wait in the buyer's mailbox,
paged by sequence number.  The table (:data:`SUPPLIER_API`) is what the web
router, the simulated transport, the test links and the contract suites are
built from (:mod:`emulators.operations`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from emulators.operations import PROBLEM, Api, Operation, Param
from emulators.web._params import COMMON, IDEMPOTENCY_KEY, TRACEPARENT

__all__ = [
    "EDI_MEDIA_TYPES",
    "SUPPLIER_API",
    "SUPPLIER_PREFIX",
    "InterchangeAccepted",
    "MailboxDocument",
    "MailboxPage",
    "Partner",
    "PartnerList",
]

SUPPLIER_PREFIX = "/edi"
EDI_MEDIA_TYPES = ("application/edi-x12", "text/plain")


# -- public models (what the API answers; documented in OpenAPI) ---------------------


class InterchangeAccepted(BaseModel):
    accepted: int = Field(description="purchase orders entered (a repeat of a known PO is not)")
    interchange: int = Field(description="the interchange control number (ISA13)")


class MailboxDocument(BaseModel):
    seq: int = Field(ge=1, description="the mailbox sequence number, 1, 2, 3, ...")
    supplier: str = Field(description="the sending supplier's interchange id (ISA06)")
    type: Literal["855", "856", "810", "865"]
    payload: str = Field(description="one X12 interchange holding one transaction set")


class MailboxPage(BaseModel):
    documents: list[MailboxDocument]
    hasMore: bool


class Partner(BaseModel):
    EdiId: str = Field(description="the partner's interchange id: ISA08 of an 850 sent to it")
    SupplierNumber: str | None = Field(description="the ERP's SupplierNumber of this partner")
    Name: str | None = Field(description="the partner's name, when configured")
    profile: dict[str, Any] = Field(
        description="how it answers: rates per line or document, delays in real seconds"
    )


class PartnerList(BaseModel):
    partners: list[Partner]


# -- the operation table ---------------------------------------------------------------

_X12_BODY = {
    "requestBody": {
        "required": True,
        "description": "One X12 4010 interchange (ISA ... IEA) of 850 purchase orders "
        "or 860 change orders (or 997s for the network's own groups)",
        "content": {media: {"schema": {"type": "string"}} for media in EDI_MEDIA_TYPES},
    }
}

SUPPLIER_API = Api(
    "supplier",
    SUPPLIER_PREFIX,
    (
        # The key is journalled, not kept: an interchange's control numbers are its identity
        # (the behaviour answers a repeated PO without entering it again).
        Operation(
            "receive_edi", "POST", "/inbound",
            lambda network, body, idempotency_key: network.receive_edi(body),
            body="x12", idempotent=True, traced=True, status=202, tag="edi",
            responses={**COMMON, 202: {"model": InterchangeAccepted}, 400: PROBLEM,
                       425: PROBLEM},
            doc="Post an interchange of 850s or 860s; a bad set refuses the whole interchange, "
            "an 860 for a PO not entered yet is 425 Too Early (try again).",
            openapi_extra=_X12_BODY, aliases=("post_edi",),
        ),
        Operation(
            "mailbox", "GET", "/mailbox",
            lambda network, after, limit: network.mailbox(after, limit),
            params=(
                Param("after", "query",
                      Annotated[int, Query(ge=0, description="documents with seq > after")], 0),
                Param("limit", "query", Annotated[int, Query(ge=1, le=1000)], 100),
            ),
            tag="edi", responses={**COMMON, 200: {"model": MailboxPage}, 400: PROBLEM},
            doc="The buyer's mailbox: 855, 856 and 810 documents, oldest first.",
        ),
    ),
    idempotency_header=IDEMPOTENCY_KEY,
    trace_header=TRACEPARENT,
    title="supplysync supplier network emulator",
    description=(
        "An EDI VAN with its suppliers behind it: X12 850 purchase orders in; 855 "
        "acknowledgments, 856 ship notices and 810 invoices out, in the buyer's mailbox "
        "and pushed to the subscriber."
    ),
)  # fmt: skip
