"""The ERP's HTTP app: its routes generated from :data:`~emulators.web.erp_api.ERP_API`.

Thin over :class:`~emulators.erp.Erp`: each route validates the body against the
ERP's native model (:mod:`emulators.web.erp_models`), so OpenAPI documents it,
then calls the behaviour through ``host.invoke``, which applies faults and
journals the request.  Bodies reach the behaviour as the client sent them (no
defaults filled in), so idempotency fingerprints and the causes of keyless
writes are the client's.  Limits (:class:`~emulators.limits.Limits`, one object
for the app and the behaviour): a body past ``max_body_bytes`` is a 413 before
it is read; the models state the other bounds, which the behaviour enforces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from emulators.erp import Erp
from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.web._common import LiveSystem
from emulators.web._routes import assemble
from emulators.web.erp_api import ERP_API

__all__ = ["erp_system"]


def erp_system(
    *,
    clock: Any,
    rate_limit_per_s: float | None = None,
    burst: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    masters: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    **common: Any,
) -> LiveSystem:
    """The live ERP; ``rate_limit_per_s`` and ``burst`` are the behaviour's token
    bucket (429 with ``retry-after`` beyond it), None for no limit; ``limits`` bound
    every request, over HTTP and in the behaviour; ``masters`` (kind → records, see
    :meth:`~emulators.erp.Erp.seed_masters`) are held from the start and after every
    reset; ``common``: ``seed``, ``schedule``, ``webhook_target`` (see :func:`assemble`)."""

    def behaviour(host: Host) -> Erp:
        erp = Erp(
            host.journal,
            clock,
            clock.epoch,
            rate_limit_per_s=rate_limit_per_s,
            burst=burst,
            limits=limits,
        )
        if masters:
            erp.seed_masters(masters)
        return erp

    return assemble(ERP_API, behaviour, clock=clock, limits=limits, **common)
