"""The supplier network's HTTP API: an EDI VAN's inbound door and mailbox under ``/edi``.

Thin over :class:`~emulators.supplier.SupplierNetwork`.  The buyer posts a raw
X12 interchange of 850s (``POST /edi/inbound``, ``application/edi-x12`` or
``text/plain``); the adapter only decodes it (UTF-8, else 400 naming
``body``) and hands the text to the behaviour through the host, which applies
faults and journals the request.  The behaviour parses the whole interchange
and answers 202, or a problem naming the X12 element at fault (400 for the
envelope, 422 for the content or an unknown trading partner; 413 naming
``body`` past the limits' ``max_body_bytes``, before the body is read whole).  The 855, 856
and 810 documents the suppliers send later wait in the buyer's mailbox
(``GET /edi/mailbox``, paged by sequence number) and are pushed as webhooks,
as an AS2 or API connection would.  The network has no read of a supplier's
order entry: its orders show in ``/__admin/state``.  ``GET /edi/partners`` lists the
trading partners: each one's interchange id (the ISA08 an 850 must name), the buyer's
supplier number for it in the ERP, its name, and the profile it answers with (delays in
real seconds, as configured).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from emulators._base import problem
from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.supplier import SupplierNetwork, SupplierProfile
from emulators.web._common import (
    PROBLEM,
    LiveSystem,
    Schedule,
    assemble,
    respond,
)

__all__ = [
    "DEFAULT_SUPPLIERS",
    "EDI_MEDIA_TYPES",
    "SUPPLIER_PREFIX",
    "InterchangeAccepted",
    "MailboxDocument",
    "MailboxPage",
    "Partner",
    "PartnerList",
    "default_partners",
    "default_profiles",
    "supplier_router",
    "supplier_system",
]

SUPPLIER_PREFIX = "/edi"
# the trading partners of scenarios/masterdata.py (edi_id = SUPP1001, SUPP1002, ...)
DEFAULT_SUPPLIERS = tuple(f"SUPP{1001 + i}" for i in range(6))
EDI_MEDIA_TYPES = ("application/edi-x12", "text/plain")


# -- public models (what the API answers; documented in OpenAPI) ---------------------


class InterchangeAccepted(BaseModel):
    accepted: int = Field(description="purchase orders entered (a repeat of a known PO is not)")
    interchange: int = Field(description="the interchange control number (ISA13)")


class MailboxDocument(BaseModel):
    seq: int = Field(ge=1, description="the mailbox sequence number, 1, 2, 3, ...")
    supplier: str = Field(description="the sending supplier's interchange id (ISA06)")
    type: Literal["855", "856", "810"]
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


# -- routes ------------------------------------------------------------------------

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Traceparent = Annotated[str | None, Header(max_length=200)]
_FAULTS: dict[int | str, dict[str, Any]] = {429: PROBLEM, 503: PROBLEM}
_X12_BODY = {
    "requestBody": {
        "required": True,
        "description": "One X12 4010 interchange (ISA ... IEA) of 850 purchase orders",
        "content": {media: {"schema": {"type": "string"}} for media in EDI_MEDIA_TYPES},
    }
}


def supplier_router(
    host: Host, network: SupplierNetwork, partners: Mapping[str, Mapping[str, str]] | None = None
) -> APIRouter:
    """The EDI routes; ``partners`` maps an interchange id to its ``SupplierNumber`` and
    ``Name`` (default: :func:`default_partners`)."""
    router = APIRouter(prefix=SUPPLIER_PREFIX, tags=["edi"], responses={422: PROBLEM, **_FAULTS})
    directory = default_partners() if partners is None else partners

    @router.post(
        "/inbound",
        status_code=202,
        openapi_extra=_X12_BODY,
        responses={202: {"model": InterchangeAccepted}, 400: PROBLEM},
    )
    async def receive_edi(
        request: Request,
        idempotency_key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> Response:
        """Post an interchange of 850s; a bad set refuses the whole interchange."""
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            detail = f"an X12 interchange must be UTF-8 text: {e.reason} at byte {e.start}"
            return respond(problem(400, "Bad Request", detail, "body"))
        return respond(
            host.invoke(
                "receive_edi",
                lambda: network.receive_edi(text),
                idempotency_key=idempotency_key,
                correlation_id=traceparent,
            )
        )

    @router.get("/mailbox", responses={200: {"model": MailboxPage}, 400: PROBLEM})
    async def mailbox(
        after: Annotated[int, Query(ge=0, description="documents with seq > after")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        """The buyer's mailbox: 855, 856 and 810 documents, oldest first."""
        return respond(host.invoke("mailbox", lambda: network.mailbox(after, limit)))

    @router.get("/partners", response_model=PartnerList)
    async def list_partners() -> PartnerList:
        """The trading partners: interchange id and the ERP's supplier number side by side."""
        return PartnerList(
            partners=[
                Partner(
                    EdiId=edi,
                    SupplierNumber=directory.get(edi, {}).get("SupplierNumber"),
                    Name=directory.get(edi, {}).get("Name"),
                    profile=asdict(profile),
                )
                for edi, profile in sorted(network.profiles.items())
            ]
        )

    return router


def default_profiles() -> dict[str, SupplierProfile]:
    return {edi: SupplierProfile() for edi in DEFAULT_SUPPLIERS}


def default_partners() -> dict[str, dict[str, str]]:
    """The default partners' ERP supplier numbers (SUPP1001 is S1001, as a scenario's)."""
    return {edi: {"SupplierNumber": f"S{edi.removeprefix('SUPP')}"} for edi in DEFAULT_SUPPLIERS}


def supplier_system(
    *,
    seed: int,
    clock: Any,
    schedule: Schedule,
    webhook_target: str | None = None,
    profiles: Mapping[str, SupplierProfile] | None = None,
    partners: Mapping[str, Mapping[str, str]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    **_: Any,
) -> LiveSystem:
    """The live supplier network; ``profiles`` maps each supplier's ISA id to its profile,
    ``partners`` to its ``SupplierNumber`` and ``Name`` in the ERP (listed by
    ``GET /edi/partners``); ``limits`` bound every request, over HTTP and in the
    behaviour."""
    chosen = dict(profiles) if profiles is not None else default_profiles()
    return assemble(
        "supplier",
        seed=seed,
        clock=clock,
        schedule=schedule,
        webhook_target=webhook_target,
        behaviour=lambda host: SupplierNetwork(
            host.journal, clock, clock.epoch, schedule, chosen, seed, limits=limits
        ),
        router=lambda host, network: supplier_router(host, network, partners),
        title="supplysync supplier network emulator",
        description=(
            "An EDI VAN with its suppliers behind it: X12 850 purchase orders in; 855 "
            "acknowledgments, 856 ship notices and 810 invoices out, in the buyer's mailbox "
            "and pushed to the subscriber."
        ),
        limits=limits,
    )
