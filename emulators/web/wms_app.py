"""The WMS's HTTP app: its routes generated from :data:`~emulators.web.wms_api.WMS_API`.

Thin over :class:`~emulators.wms.Wms`: each route validates the body against the
WMS's native models, then calls the behaviour through the host, which applies
faults and journals the request; the behaviour answers the same problem replies
in both worlds.  Receipt events leave as webhooks.  Limits
(:class:`~emulators.limits.Limits`, one object for the app and the behaviour): a
body past ``max_body_bytes`` is a 413 before it is read; list lengths and
quantities are stated in OpenAPI and enforced by the behaviour (the same 422 in
both worlds).
"""

from __future__ import annotations

from typing import Any

from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.web._common import LiveSystem, Schedule, assemble
from emulators.web._routes import router_from
from emulators.web.wms_api import WMS_API
from emulators.wms import Wms

__all__ = ["wms_system"]


def wms_system(
    *,
    seed: int,
    clock: Any,
    schedule: Schedule,
    webhook_target: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    **_: Any,
) -> LiveSystem:
    """The live WMS; ``limits`` bound every request, over HTTP and in the behaviour."""
    return assemble(
        "wms",
        seed=seed,
        clock=clock,
        schedule=schedule,
        webhook_target=webhook_target,
        behaviour=lambda host: Wms(host.journal, clock, clock.epoch, limits=limits),
        router=lambda host, wms: router_from(WMS_API, host, wms),
        title="supplysync WMS emulator",
        description=(
            "A warehouse management system's receiving API: expected receipts, ship notices, "
            "dock receipts, putaway and inventory."
        ),
        limits=limits,
    )
