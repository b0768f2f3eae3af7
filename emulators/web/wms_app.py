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

from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.web._common import LiveSystem
from emulators.web._routes import assemble
from emulators.web.wms_api import WMS_API
from emulators.wms import Wms

__all__ = ["wms_system"]


def wms_system(*, clock: Any, limits: Limits = DEFAULT_LIMITS, **common: Any) -> LiveSystem:
    """The live WMS; ``limits`` bound every request, over HTTP and in the behaviour;
    ``common``: ``seed``, ``schedule``, ``webhook_target`` (see :func:`assemble`)."""

    def behaviour(host: Host) -> Wms:
        return Wms(host.journal, clock, clock.epoch, limits=limits)

    return assemble(WMS_API, behaviour, clock=clock, limits=limits, **common)
