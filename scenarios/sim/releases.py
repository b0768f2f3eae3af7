"""A scenario's ERP releases in a simulated run: the ERP's side and the core's.

The scenario's ``erp.releases`` (:mod:`scenarios.spec.erp`), each with every change
since the base, become the ERP emulator's :class:`~emulators.erp.releases.ErpReleases`
(it switches at each release's time) and, for a core that follows releases, the core's
registry of dialects (:class:`~sync_core.mappers.erp_versions.ErpVersions`): the
document a rename is about becomes the operations whose bodies and replies carry it,
as the ERP's API reference says.  The point-to-point ``api`` baseline, and any core
under ``erp.core_follows_releases: false``, ignores them: it keeps speaking the base
version.  The history's header records the releases (only when there are any, so a
scenario without one runs byte for byte as before) for the analysis to judge the run
before and after each (:mod:`analysis.erp_release`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulators.erp.releases import SENT_BY, TAKEN_BY, ErpReleases, Release
from scenarios.spec.architectures import Architecture
from scenarios.spec.erp import Cumulative
from scenarios.spec.models import ScenarioSpec
from sync_core.mappers.erp_versions import Dialect, ErpVersions

__all__ = ["core_versions", "erp_releases", "header"]


def erp_releases(spec: ScenarioSpec, clock: Callable[[], float]) -> ErpReleases | None:
    """The ERP's API versions over the run, or None when the scenario has no release."""
    if not spec.erp.releases:
        return None
    releases = [
        Release(c.version, c.at_s, c.renames, c.envelope, c.headers) for c in spec.erp.cumulative()
    ]
    return ErpReleases(clock, spec.start, spec.erp.base_version, releases)


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


def core_versions(spec: ScenarioSpec, design: Architecture) -> ErpVersions | None:
    """The core's registry of the ERP's versions, or None for a core that ignores them
    (or a scenario without a release)."""
    if not spec.erp.releases or not follows(spec, design):
        return None
    return ErpVersions(spec.erp.base_version, [dialect(c) for c in spec.erp.cumulative()])


def header(spec: ScenarioSpec, design: Architecture) -> dict[str, Any]:
    """What the history's header says of the releases: nothing when there is none."""
    if not spec.erp.releases:
        return {}
    return {
        "erp_releases": {
            "base_version": spec.erp.base_version,
            "core_follows": follows(spec, design),
            "releases": [
                {
                    "version": r.version,
                    "at_s": r.at_hours * 3600,
                    "changes": [c.model_dump() for c in r.changes],
                }
                for r in spec.erp.releases
            ],
        }
    }
