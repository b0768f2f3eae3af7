"""AP's HTTP app: its routes generated from :data:`~emulators.web.ap_api.AP_API`.

Thin over :class:`~emulators.ap.Ap`: each route validates the body against AP's
native models, then calls the behaviour through the host, which applies faults
and journals the request; the behaviour answers the same problem replies in
both worlds.  Invoice status changes leave as thin webhooks.  Limits
(:class:`~emulators.limits.Limits`, one object for the app and the behaviour): a
body past ``max_body_bytes`` is a 413 before it is read; the other bounds are
stated in OpenAPI and enforced by the behaviour (the same 422 in both worlds).
"""

from __future__ import annotations

from typing import Any

from emulators.ap import Ap
from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.web._common import LiveSystem
from emulators.web._routes import assemble
from emulators.web.ap_api import AP_API

__all__ = ["ap_system"]


def ap_system(
    *,
    clock: Any,
    limits: Limits = DEFAULT_LIMITS,
    prices: list[dict[str, Any]] | None = None,
    **common: Any,
) -> LiveSystem:
    """The live AP; ``limits`` bound every request, over HTTP and in the behaviour;
    ``prices`` (rows as ``PUT /prices`` takes them) are held from the start and after
    every reset; ``common``: ``seed``, ``schedule``, ``webhook_target`` (see
    :func:`assemble`)."""

    def behaviour(host: Host) -> Ap:
        ap = Ap(host.journal, clock, clock.epoch, limits=limits)
        if prices:
            ap.seed_prices(prices)
        return ap

    return assemble(AP_API, behaviour, clock=clock, limits=limits, **common)
