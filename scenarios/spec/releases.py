"""A scenario's ERP releases as both sides are built with them, in simulation and live.

The scenario's ``erp.releases`` (:mod:`scenarios.spec.erp`), each with every change
since the base, become the ERP emulator's :class:`~emulators.erp.releases.Release` list
(:func:`releases`: it switches at each one's time; a live run divides the times by its
speed-up, as it does every delay) and, for a core that follows releases, the core's
registry of dialects (:func:`core_versions`, an
:class:`~sync_core.mappers.erp_versions.ErpVersions`): the document a rename is about
becomes the operations whose bodies and replies carry it, as the ERP's API reference
says.  The point-to-point ``api`` baseline, and any core under
``erp.core_follows_releases: false``, ignores them (:func:`follows`): it keeps speaking
the base version.  The ERP's own users' clients (the buyers and the pricing team of a live
run: :mod:`loadtests.locustfile`, :mod:`scenarios.live.events`) are upgraded with the ERP:
they always follow (:func:`client_versions`, :func:`outgoing`, :func:`incoming`).  The
simulation (:mod:`scenarios.sim.releases`) and the live harness
(:mod:`scenarios.live.setup`, :mod:`scenarios.live.serve_core`) both build from here.
"""

from __future__ import annotations

from typing import Any

from emulators.erp.releases import SENT_BY, TAKEN_BY, Release
from scenarios.spec.architectures import Architecture
from scenarios.spec.erp import Cumulative
from scenarios.spec.models import ScenarioSpec
from sync_core.mappers.erp_versions import Dialect, ErpVersions
from sync_core.messages import Request, Response

__all__ = [
    "client_versions",
    "core_versions",
    "dialect",
    "follows",
    "incoming",
    "outgoing",
    "releases",
]


def releases(spec: ScenarioSpec, speedup: float = 1.0) -> list[Release]:
    """The ERP's releases, each at its time / ``speedup`` (seconds on the ERP's clock)."""
    return [
        Release(c.version, c.at_s / speedup, c.renames, c.envelope, c.headers)
        for c in spec.erp.cumulative()
    ]


def follows(spec: ScenarioSpec, design: Architecture) -> bool:
    """The core follows the ERP's releases: not the point-to-point baseline, nor a core
    the scenario tells to ignore them."""
    return spec.erp.core_follows_releases and not design.point_to_point


def _by_operation(table: dict[str, str], renames: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {op: renames[doc] for op, doc in table.items() if renames.get(doc)}


def dialect(c: Cumulative) -> Dialect:
    """The core's dialect of one version: renames by the operations that carry them."""
    return Dialect(
        c.version,
        requests=_by_operation(dict(TAKEN_BY), c.renames),
        replies=_by_operation(dict(SENT_BY), c.renames),
        envelope=c.envelope,
        headers=c.headers,
    )


def client_versions(spec: ScenarioSpec) -> ErpVersions | None:
    """A registry of the ERP's versions, or None for a scenario without a release."""
    if not spec.erp.releases:
        return None
    return ErpVersions(spec.erp.base_version, [dialect(c) for c in spec.erp.cumulative()])


def core_versions(spec: ScenarioSpec, design: Architecture) -> ErpVersions | None:
    """The core's registry of the ERP's versions, or None for a core that ignores them
    (or a scenario without a release)."""
    return client_versions(spec) if follows(spec, design) else None


def outgoing(
    versions: ErpVersions | None, operation: str, body: Any
) -> tuple[Any, dict[str, str], str]:
    """An HTTP client's ``body`` of an ERP ``operation`` and the headers it needs in the
    version it follows (as given without ``versions``), and that version."""
    if versions is None:
        return body, {}, ""
    out, headers, sent = versions.outgoing(Request("erp", operation, body=body))
    return out.body, headers, sent


def incoming(
    versions: ErpVersions | None,
    operation: str,
    sent: str,
    status: int,
    headers: Any,
    body: Any = None,
) -> tuple[Any, bool]:
    """The ERP's reply ``body`` in the base names (the version it announces followed), and
    whether to send the call again (a release refused it on its way)."""
    if versions is None:
        return body, False
    reply = Response(status, body, dict(headers.items()))
    return versions.incoming(Request("erp", operation), reply).body, versions.resend(sent, reply)
