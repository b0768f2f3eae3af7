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
from typing import Any

from fastapi import APIRouter

from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.operations import PROBLEM
from emulators.supplier import SupplierNetwork, SupplierProfile
from emulators.web._common import LiveSystem, Schedule
from emulators.web._routes import assemble, router_from
from emulators.web.supplier_api import (
    SUPPLIER_API,
    Partner,
    PartnerList,
)

__all__ = [
    "DEFAULT_SUPPLIERS",
    "default_partners",
    "default_profiles",
    "supplier_router",
    "supplier_system",
]

# the trading partners of scenarios/spec/masterdata.py (edi_id = SUPP1001, SUPP1002, ...)
DEFAULT_SUPPLIERS = tuple(f"SUPP{1001 + i}" for i in range(6))


def supplier_router(
    host: Host, network: SupplierNetwork, partners: Mapping[str, Mapping[str, str]] | None = None
) -> APIRouter:
    """The EDI routes of :data:`SUPPLIER_API`, and the partner directory (no behaviour
    call: configuration); ``partners`` maps an interchange id to its ``SupplierNumber``
    and ``Name`` (default: :func:`default_partners`)."""
    router = router_from(SUPPLIER_API, host, network)
    directory = default_partners() if partners is None else partners

    @router.get(
        "/partners",
        response_model=PartnerList,
        tags=["edi"],
        responses={422: PROBLEM, 429: PROBLEM, 503: PROBLEM},
    )
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
    profiles: Mapping[str, SupplierProfile] | None = None,
    partners: Mapping[str, Mapping[str, str]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    **common: Any,
) -> LiveSystem:
    """The live supplier network; ``profiles`` maps each supplier's ISA id to its profile,
    ``partners`` to its ``SupplierNumber`` and ``Name`` in the ERP (listed by
    ``GET /edi/partners``); ``limits`` bound every request, over HTTP and in the
    behaviour; ``common``: ``webhook_target`` (see :func:`assemble`)."""
    chosen = dict(profiles) if profiles is not None else default_profiles()

    def behaviour(host: Host) -> SupplierNetwork:
        return SupplierNetwork(
            host.journal, clock, clock.epoch, schedule, chosen, seed, limits=limits
        )

    def router(host: Host, network: SupplierNetwork) -> APIRouter:
        return supplier_router(host, network, partners)

    return assemble(
        SUPPLIER_API,
        behaviour,
        seed=seed,
        clock=clock,
        schedule=schedule,
        limits=limits,
        router=router,
        **common,
    )
