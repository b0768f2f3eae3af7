"""Reports people read: one self-contained HTML page, plots embedded as PNG.

``write_report`` renders any number of judged runs (one for ``run``, one per
architecture for ``compare``): a table of verdicts and lag percentiles side by
side, the cumulative distribution of sync lag per flow, and the number of
stale replica values over time, the picture of "the ERP still shows the full
commitment".  ``summary_markdown`` gives the same table for CI job summaries.
The page needs no network and no other file.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from analysis.facts import FLOWS
from analysis.metrics import Judgement

__all__ = ["JudgedRun", "stale_over_time", "summary_markdown", "write_report"]

_COLORS = {"batch": "#c0392b", "event": "#2471a3", "api": "#7d3c98", "hybrid": "#1e8449"}


@dataclass(frozen=True)
class JudgedRun:
    results: dict[str, Any]
    judgement: Judgement


def _human(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def stale_over_time(judgement: Judgement, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, count) step function: replica values that lag their owner at each time."""
    starts = [x.t_owner for x in judgement.lags if x.lag_s > 0]
    ends = [x.t_owner + x.lag_s for x in judgement.lags if x.lag_s > 0]
    starts += [x.owner_t for x in judgement.lost]
    ends += [end_s for _ in judgement.lost]
    times = np.array(starts + ends + [0.0, end_s])
    steps = np.array([1] * len(starts) + [-1] * len(ends) + [0, 0])
    order = np.argsort(times, kind="stable")
    return times[order], np.cumsum(steps[order])


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _lag_cdfs(runs: list[JudgedRun]) -> str:
    fig, axes = plt.subplots(1, len(FLOWS), figsize=(5.2 * len(FLOWS), 3.6), squeeze=False)
    for ax, flow in zip(axes[0], FLOWS, strict=True):
        for run in runs:
            arch = run.results["architecture"]
            lags = np.array(run.judgement.flow_lags(flow))
            if lags.size == 0:
                continue
            shares = np.linspace(0.0, 1.0, 401)  # the CDF drawn at 400 quantiles
            x = np.quantile(lags, shares, method="inverted_cdf")
            ax.step(np.maximum(x, 1e-3), shares, where="post", label=arch, color=_COLORS.get(arch))
        ax.set_xscale("log")
        ax.set_xlabel("sync lag (seconds, log scale)")
        ax.set_ylabel("share of replica updates")
        ax.set_title(flow)
        for mark, text in ((60, "1 min"), (3600, "1 h"), (86400, "1 day")):
            ax.axvline(mark, color="#bbb", lw=0.8, ls=":")
            ax.text(mark, 0.02, text, color="#888", fontsize=8, rotation=90, va="bottom")
        ax.grid(alpha=0.3)
        ax.legend(loc="center left")
    return _png(fig)


def _staleness(runs: list[JudgedRun]) -> str:
    fig, ax = plt.subplots(figsize=(10.4, 3.6))
    for run in runs:
        arch = run.results["architecture"]
        end = run.results["simulated_seconds"]
        t, n = stale_over_time(run.judgement, end)
        ax.step(t / 3600, n, where="post", label=arch, color=_COLORS.get(arch))
    ax.set_xlabel("hours since the start of the run")
    ax.set_ylabel("stale replica values")
    ax.set_title("Replica values that disagree with their owner (ERP, WMS, supplier)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _png(fig)


def _table_rows(runs: list[JudgedRun]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    for flow in FLOWS:
        for p in ("p50", "p95", "p99", "max"):
            rows.append(
                (f"{flow} lag {p}", [_human(r.results["flows"][flow]["lag_s"][p]) for r in runs])
            )
    for key in ("lost_updates", "duplicate_effects", "converged"):
        rows.append((key.replace("_", " "), [str(r.results["consistency"][key]) for r in runs]))
    rows.append(("SLOs", ["met" if r.results["passed"] else "violated" for r in runs]))
    return rows


def summary_markdown(runs: list[JudgedRun]) -> str:
    first = runs[0].results
    head = "| | " + " | ".join(r.results["architecture"] for r in runs) + " |"
    lines = [
        f"## supplysync: {first['scenario']} (seed {first['seed']})",
        "",
        head,
        "|---|" + "---|" * len(runs),
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in _table_rows(runs)]
    for r in runs:
        failed = [s for s in r.results["slos"] if not s["passed"]]
        for s in failed:
            lines.append(f"- **{r.results['architecture']}** violates `{s['name']}`: {s['detail']}")
    return "\n".join(lines) + "\n"


def write_report(path: Path, runs: list[JudgedRun]) -> None:
    first = runs[0].results
    esc = html.escape
    header = "".join(f"<th>{esc(r.results['architecture'])}</th>" for r in runs)
    body_rows = "".join(
        f"<tr><td>{esc(name)}</td>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>"
        for name, cells in _table_rows(runs)
    )
    slo_rows = "".join(
        f"<tr class='{'ok' if s['passed'] else 'bad'}'><td>{esc(r.results['architecture'])}</td>"
        f"<td>{esc(s['name'])}</td><td>{'met' if s['passed'] else 'VIOLATED'}</td>"
        f"<td>{esc(s['detail'])}</td></tr>"
        for r in runs
        for s in r.results["slos"]
    )
    volumes = first["volumes"]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>supplysync: {esc(first["scenario"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1150px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
td, th {{ border: 1px solid #ccc; padding: .3rem .7rem; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
tr.bad td {{ background: #fdecea; }} tr.ok td {{ background: #eef8ee; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>supplysync report: {esc(first["scenario"])}</h1>
<p>Seed {first["seed"]}, {first["mode"]} mode, {first["simulated_seconds"] / 86400:.2f} simulated
days; {volumes["purchase_orders"]} purchase orders with {volumes["po_lines"]} lines.
Lag is the time from the owner's change of a fact to a replica reflecting it.</p>
<h2>Architectures side by side</h2>
<table><tr><th></th>{header}</tr>{body_rows}</table>
<h2>Sync lag</h2>
<img alt="Sync lag distribution per flow" src="data:image/png;base64,{_lag_cdfs(runs)}">
<h2>Staleness over time</h2>
<img alt="Stale replica values over time" src="data:image/png;base64,{_staleness(runs)}">
<h2>Service-level objectives</h2>
<table><tr><th>architecture</th><th>objective</th><th>verdict</th><th>measured</th></tr>
{slo_rows}</table>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
