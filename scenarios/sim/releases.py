"""A scenario's ERP releases in a simulated run: the ERP's side and the history's header.

Both sides are built by :mod:`scenarios.spec.releases` (shared with live runs): the ERP
emulator's :class:`~emulators.erp.releases.ErpReleases` (it switches at each release's
time) and, for a core that follows releases, the core's registry of dialects.  The
history's header records the releases (only when there are any, so a scenario without
one runs byte for byte as before) for the analysis to judge the run before and after
each (:mod:`analysis.erp_release`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulators.erp.releases import ErpReleases
from scenarios.spec.architectures import Architecture
from scenarios.spec.models import ScenarioSpec
from scenarios.spec.releases import follows, releases

__all__ = ["erp_releases", "header"]


def erp_releases(spec: ScenarioSpec, clock: Callable[[], float]) -> ErpReleases | None:
    """The ERP's API versions over the run, or None when the scenario has no release."""
    if not spec.erp.releases:
        return None
    return ErpReleases(clock, spec.start, spec.erp.base_version, releases(spec))


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
