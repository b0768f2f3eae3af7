"""Reports people read: one self-contained HTML page, plots embedded as PNG.

``write_report`` renders any number of judged runs (one for ``run``, one per
architecture for ``compare``) on one page: verdicts and lag percentiles side by
side in one table, then one chart per metric with every architecture on it —
the topology (systems, flows, mechanism and measured lag), the cumulative
distribution of sync lag per flow, consistency over time and the backlog with
fault windows shaded, the t-visibility curve — and the violations, each with
its explanation and the messages involved.  Plots are PNG data URIs, so the
page needs no network and no other file.  ``summary_markdown`` gives the
table and the first explanations for CI job summaries.

The page is assembled here from the tables (:mod:`analysis.report_tables`) and
the plots (:mod:`analysis.report_plots`); a stored run is re-judged and its
report written again by :mod:`analysis.rebuild`.
"""

from __future__ import annotations

import html
from pathlib import Path

from analysis.erp_release import release_html
from analysis.judged import JudgedRun, active_flows
from analysis.report_plots import lag_cdfs, over_time, topology, visibility
from analysis.report_tables import (
    conformance_html,
    coverage_html,
    coverage_rows,
    fault_rows,
    partner_html,
    shown_violations,
    slo_word,
    staleness_rows,
    table_rows,
    violation_rows,
)

__all__ = ["summary_markdown", "write_report"]


def summary_markdown(runs: list[JudgedRun]) -> str:
    first = runs[0].results
    head = "| | " + " | ".join(r.architecture for r in runs) + " |"
    lines = [
        f"## supplysync: {first['scenario']} (seed {first['seed']})",
        "",
        head,
        "|---|" + "---|" * len(runs),
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in table_rows(runs)]
    coverage = coverage_rows(runs)
    if coverage:
        lines += ["", "Coverage: what the run exercised and carried, per fact", "", head]
        lines += ["|---|" + "---|" * len(runs)]
        lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in coverage]
        lines.append("")
    for r in runs:
        for s in (s for s in r.results["slos"] if not s["passed"]):
            lines.append(f"- **{r.architecture}** violates `{s['name']}`: {s['detail']}")
        for v in shown_violations(r, 5):
            lines.append(f"- **{r.architecture}** {v.kind.replace('_', ' ')}: {v.explanation}")
    return "\n".join(lines) + "\n"


def _img(alt: str, data: str | None) -> str:
    if data is None:
        return "<p>No replica updates in this run.</p>"
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_report(path: Path, runs: list[JudgedRun]) -> None:
    first = runs[0].results
    esc = html.escape
    header = "".join(f"<th>{esc(r.architecture)}</th>" for r in runs)
    body_rows = "".join(
        f"<tr><td>{esc(name)}</td>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>"
        for name, cells in table_rows(runs)
    )
    slo_rows = "".join(
        f"<tr class='{'ok' if s['passed'] else 'bad'}'><td>{esc(r.architecture)}</td>"
        f"<td>{esc(s['name'])}</td><td>{esc(slo_word(s))}</td>"
        f"<td>{esc(s['detail'])}</td></tr>"
        for r in runs
        for s in r.results["slos"]
    )
    volumes = first.get("volumes", {})
    flows = active_flows(runs)
    topologies = "".join(_img(f"Topology of {r.architecture}", topology(r)) for r in runs[:4])
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>supplysync: {esc(first["scenario"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1150px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }}
td, th {{ border: 1px solid #ccc; padding: .3rem .7rem; text-align: right; vertical-align: top; }}
td:first-child, th:first-child, td.l {{ text-align: left; }}
tr.bad td {{ background: #fdecea; }} tr.ok td {{ background: #eef8ee; }}
tr.na td {{ background: #f2f2f2; color: #555; }}
img {{ max-width: 100%; display: block; margin: .5rem 0; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1rem; }} .row img {{ max-width: 560px; }}
</style></head><body>
<h1>supplysync report: {esc(first["scenario"])}</h1>
<p>Seed {first["seed"]}, {esc(str(first["mode"]))} mode,
{first["simulated_seconds"] / 86400:.2f} simulated days;
{volumes.get("purchase_orders", "?")} purchase orders with {volumes.get("po_lines", "?")} lines.
Lag is the time from the owner's change of a fact to a replica reflecting it.</p>
<h2>Coverage: what the run exercised and carried</h2>
<p>A fact is judged only where the run exercised it: <em>not exercised</em> means its owner
never changed (no evidence either way), <em>not carried</em> that no replica reflected any
update. Replica cells: updates reflected / lost / pending at the end.</p>
{coverage_html(runs)}
{conformance_html(runs[0])}
<h2>Architectures side by side</h2>
<table><tr><th></th>{header}</tr>{body_rows}</table>
{partner_html(runs)}
<h2>Service-level objectives</h2>
<table><tr><th>architecture</th><th>objective</th><th>verdict</th><th>measured</th></tr>
{slo_rows}</table>
<h2>Violations</h2>
{violation_rows(runs)}
<h2>Topology</h2>
<div class="row">{topologies}</div>
<h3>Worst-case staleness per fact: analytic bound beside the measured lag</h3>
{staleness_rows(runs)}
<h2>Sync lag</h2>
{_img("Sync lag distribution per flow", lag_cdfs(runs, flows))}
<h2>Consistency over time</h2>
{_img("Consistency over time", over_time(runs, "consistency"))}
<h2>Backlog and fault windows</h2>
{_img("Backlog over time", over_time(runs, "backlog"))}
{fault_rows(runs)}
{release_html(runs)}
<h2>t-visibility</h2>
{_img("t-visibility curve", visibility(runs))}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
