"""The blast radius of an ERP release: the run cut at each release, before and after.

A run whose history header says the ERP's API changed version (``erp_releases``, written
by the simulation for a scenario's ``erp.releases``) is judged in windows: from the start
to the first release, from each release to the next, from the last to the end.  Per
window, ``results.json``'s ``erp_release.windows`` counts the dead letters (messages the
core dead-lettered, an event it refused included), the lost updates (by when the owner
last changed the fact) and the lag of the replica updates whose owner changed in the
window (p99 and its sample count).  A release the run never reached leaves its window
out; when none was reached the section's ``status`` is ``not measured`` (a verdict needs
evidence), and so is a window's p99 without a sample.  A run without releases has no
such section, so its ``results.json`` is as it was.
"""

from __future__ import annotations

import html
from typing import Any

from analysis.metrics import Judgement, percentiles

__all__ = ["erp_release", "release_html"]


def _window(judgement: Judgement, version: str, start: float, end: float) -> dict[str, Any]:
    def inside(t: float) -> bool:
        return start <= t < end

    lags = [x.lag_s for x in judgement.lags if inside(x.t_owner)]
    p = percentiles(lags)
    dead = [m for m in judgement.messages if m.direction == "dead_lettered" and inside(m.t)]
    return {
        "version": version,
        "from_s": round(start, 3),
        "to_s": round(end, 3),
        "dead_letters": len(dead),
        "lost_updates": sum(v.count for v in judgement.lost if inside(v.t)),
        "replica_updates": p["n"],
        "lag_p99_s": p["p99"],
    }


def erp_release(judgement: Judgement) -> dict[str, Any] | None:
    """The ``erp_release`` section of ``results.json``, or None for a run without one."""
    spec = judgement.header.get("erp_releases")
    if not isinstance(spec, dict):
        return None
    end = judgement.end_s
    releases = [r for r in spec.get("releases", []) if float(r["at_s"]) <= end]
    cuts = [(str(spec.get("base_version")), 0.0)]
    cuts += [(str(r["version"]), float(r["at_s"])) for r in releases]
    bounds = [at for _, at in cuts[1:]] + [end + 1e-9]
    windows = [
        _window(judgement, version, start, stop)
        for (version, start), stop in zip(cuts, bounds, strict=True)
    ]
    measured = bool(releases)
    return {
        "core_follows": bool(spec.get("core_follows")),
        "releases": [{"version": r["version"], "at_s": r["at_s"]} for r in spec["releases"]],
        "status": "measured" if measured else "not measured",
        "detail": (
            f"{len(releases)} release(s) within the run"
            if measured
            else "not measured: the run ended before the first release"
        ),
        "windows": windows if measured else [],
    }


def _cell(value: Any) -> str:
    if value is None:
        return "not measured"
    return f"{value:g}" if isinstance(value, float) else str(value)


def release_html(runs: list[Any]) -> str:
    """The report's ERP release section (runs are ``JudgedRun``); empty when no run of the
    page had a release in its scenario."""
    sections = [(r.architecture, r.results.get("erp_release")) for r in runs]
    sections = [(a, s) for a, s in sections if s]
    if not sections:
        return ""
    esc = html.escape
    rows = []
    for architecture, s in sections:
        follows = "follows" if s["core_follows"] else "ignores"
        if not s["windows"]:
            rows.append(f"<tr class='na'><td>{esc(architecture)}</td><td>{follows}</td>"
                        f"<td class='l' colspan='6'>{esc(s['detail'])}</td></tr>")  # fmt: skip
        for w in s["windows"]:
            cells = [w["version"], w["from_s"] / 3600, w["dead_letters"], w["lost_updates"],
                     w["replica_updates"], w["lag_p99_s"]]  # fmt: skip
            rows.append(
                f"<tr><td>{esc(architecture)}</td><td>{follows}</td>"
                + "".join(f"<td>{esc(_cell(c))}</td>" for c in cells)
                + "</tr>"
            )
    return (
        "<h2>ERP release</h2><p>The run cut at each release of the ERP's API: what the core "
        "dead-lettered and lost, and its lag, in each version's window.</p>"
        "<table><tr><th>architecture</th><th>core</th><th>version</th><th>from (h)</th>"
        "<th>dead letters</th><th>lost updates</th><th>replica updates</th>"
        "<th>lag p99 (s)</th></tr>" + "".join(rows) + "</table>"
    )
