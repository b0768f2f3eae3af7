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

from fastapi import Request, Response

from emulators.erp import Erp
from emulators.erp.releases import ErpReleases, Release
from emulators.host import Host
from emulators.limits import DEFAULT_LIMITS, Limits
from emulators.web._common import AdminActor, LiveSystem, record_admin
from emulators.web._routes import assemble
from emulators.web.erp_api import ERP_API
from emulators.web.erp_releases import RESTART_PATH, ReleaseGate

__all__ = ["erp_system"]


def erp_system(
    *,
    clock: Any,
    rate_limit_per_s: float | None = None,
    burst: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    masters: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    releases: Sequence[Release] = (),
    base_version: str = "2026.4",
    **common: Any,
) -> LiveSystem:
    """The live ERP; ``rate_limit_per_s`` and ``burst`` are the behaviour's token
    bucket (429 with ``retry-after`` beyond it), None for no limit; ``limits`` bound
    every request, over HTTP and in the behaviour; ``masters`` (kind → records, see
    :meth:`~emulators.erp.Erp.seed_masters`) are held from the start and after every
    reset; ``releases`` switch its API's version at their times, from ``base_version``
    (:mod:`emulators.web.erp_releases`); ``common``: ``seed``, ``schedule``,
    ``webhook_target`` (see :func:`assemble`)."""
    versions = ErpReleases(clock, clock.epoch, base_version, releases) if releases else None

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

    live = assemble(ERP_API, behaviour, clock=clock, limits=limits,
                    event_shape=None if versions is None else versions.event, **common)  # fmt: skip
    if versions is not None:  # innermost: inside the body limit, before the routes
        live.app.add_middleware(ReleaseGate, releases=versions, api=ERP_API)
        live.app.user_middleware.append(live.app.user_middleware.pop(0))
        _add_restart_route(live, versions)
    return live


def _add_restart_route(live: LiveSystem, versions: ErpReleases) -> None:
    @live.app.post(RESTART_PATH, status_code=204, tags=["admin"])
    def restart_releases(request: Request, who: AdminActor) -> Response:
        """Count the releases' times from now (the base version until the first): a live
        run calls it when its clock starts, so a release at 7 h comes 7 h into the run."""
        versions.restart()
        record_admin(request, who, "releases_restarted", {"at_s": round(versions.started_s, 3)})
        return Response(status_code=204)
