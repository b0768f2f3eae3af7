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

``rebuild(run_dir)`` re-judges a stored run without re-running it: it reads
``history.jsonl`` (and, for what the history's header lacks, the SLOs and
volumes recorded in the old ``results.json``), writes ``results.json``,
``summary.md`` and ``report.html`` again and returns the report's path.  A
comparison folder (one sub-folder per architecture) is rebuilt whole.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from analysis.checkers import Violation, examples
from analysis.history import History, HistoryError
from analysis.metrics import (
    Judgement,
    backlog_over_time,
    consistency_over_time,
    judge,
    t_visibility,
)
from analysis.results import Slos, build_results, dumps
from analysis.topology import build_topology, staleness_table

__all__ = [
    "JudgedRun",
    "judge_run",
    "rebuild",
    "stale_over_time",
    "summary_markdown",
    "write_compare_order",
    "write_report",
]

_COLORS = {"batch": "#c0392b", "event": "#2471a3", "api": "#7d3c98", "hybrid": "#1e8449"}
_VIOLATION_ROWS = 40  # per run, in the page


@dataclass(frozen=True)
class JudgedRun:
    results: dict[str, Any]
    judgement: Judgement


def judge_run(
    history: History,
    *,
    slos: Slos | None = None,
    volumes: dict[str, int] | None = None,
) -> JudgedRun:
    """Judge a history into results, taking scenario, seed and SLOs from its header."""
    head = history.header
    slos = slos or _slos(head.get("slos"))
    judgement = judge(history)
    results = build_results(
        judgement,
        scenario=str(head.get("scenario", "unknown")),
        architecture=str(head.get("architecture", "unknown")),
        seed=int(head.get("seed", 0)),
        simulated_seconds=float(head.get("end_s", judgement.end_s)),
        slos=slos,
        volumes=dict(volumes if volumes is not None else head.get("volumes") or {}),
        mode=str(head.get("mode", "simulation")),
    )
    return JudgedRun(results, judgement)


def _slos(spec: Any) -> Slos:
    if not isinstance(spec, dict):
        return Slos()
    known = {f.name for f in fields(Slos)}
    return Slos(**{k: v for k, v in spec.items() if k in known})


_SLO_NAMES = (
    (re.compile(r"^(\w+) p99 lag <= ([0-9.e+-]+) s$"), "lag"),
    (re.compile(r"^lost updates <= (\d+)$"), "max_lost_updates"),
    (re.compile(r"^duplicate effects <= (\d+)$"), "max_duplicate_effects"),
    (re.compile(r"^regressions <= (\d+)$"), "max_regressions"),
    (re.compile(r"^three-way-match errors <= (\d+)$"), "max_match_errors"),
)


def _slos_from_entries(entries: Any) -> Slos:
    """The SLOs a schema-1 results.json (no ``slo_spec``) was judged against, from its names."""
    spec: dict[str, Any] = {"lag_p99_s": {}, "converged": False}
    for entry in entries if isinstance(entries, list) else ():
        name = str(entry.get("name", ""))
        if name == "converged":
            spec["converged"] = True
        for pattern, key in _SLO_NAMES:
            m = pattern.match(name)
            if m and key == "lag":
                spec["lag_p99_s"][m.group(1)] = float(m.group(2))
            elif m:
                spec[key] = int(m.group(1))
    return _slos(spec)


def stale_over_time(judgement: Judgement, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, count) step function: replica values that lag their owner at each time."""
    return backlog_over_time(judgement, end_s)


# -- rebuilding a stored run ---------------------------------------------------------------


def rebuild(run_dir: Path) -> Path:
    """Re-judge ``run_dir`` (or each architecture's folder in it) and rewrite its artefacts."""
    run_dir = Path(run_dir)
    if (run_dir / "history.jsonl").is_file():
        judged = _rebuild_one(run_dir)
        (run_dir / "summary.md").write_text(summary_markdown([judged]), encoding="utf-8")
        write_report(run_dir / "report.html", [judged])
        return run_dir / "report.html"
    parts = [p.parent for p in sorted(run_dir.glob("*/history.jsonl")) if p.is_file()]
    if not parts:
        raise HistoryError(f"{run_dir}: no history.jsonl here nor in its sub-folders")
    runs = [_rebuild_one(p) for p in _in_run_order(run_dir, parts)]
    (run_dir / "summary.md").write_text(summary_markdown(runs), encoding="utf-8")
    write_report(run_dir / "report.html", runs)
    return run_dir / "report.html"


#: results.json sections measured outside the history: carried over when re-judging
_KEPT = ("load", "live")
#: a comparison folder's record of its architectures, in the order they were run
COMPARE_ORDER = "compare.json"


def write_compare_order(out: Path, architectures: list[str]) -> None:
    """Record the order of a comparison's runs, so ``rebuild`` shows them the same way."""
    text = json.dumps({"architectures": architectures}, indent=2) + "\n"
    (out / COMPARE_ORDER).write_text(text, encoding="utf-8")


def _in_run_order(run_dir: Path, parts: list[Path]) -> list[Path]:
    try:
        order = json.loads((run_dir / COMPARE_ORDER).read_text(encoding="utf-8"))["architectures"]
    except (OSError, ValueError, KeyError, TypeError):
        return parts  # a folder from before the record: by name
    rank = {name: i for i, name in enumerate(order) if isinstance(name, str)}
    return sorted(parts, key=lambda p: (rank.get(p.name, len(rank)), p.name))


def _rebuild_one(folder: Path) -> JudgedRun:
    history = History.read(folder / "history.jsonl")
    old: dict[str, Any] = {}
    if (folder / "results.json").is_file():
        try:
            old = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise HistoryError(f"{folder / 'results.json'}: not JSON ({e.msg})") from None
    head = history.header
    if head.get("slos") or old.get("slo_spec"):
        slos = _slos(head.get("slos") or old.get("slo_spec"))
    else:
        slos = _slos_from_entries(old.get("slos"))
    volumes = head.get("volumes") or old.get("volumes") or {}
    judged = judge_run(history, slos=slos, volumes=volumes)
    for key in _KEPT:  # what the run measured beside its history (live mode's load)
        if key in old:
            judged.results[key] = old[key]
    (folder / "results.json").write_text(dumps(judged.results), encoding="utf-8")
    (folder / "summary.md").write_text(summary_markdown([judged]), encoding="utf-8")
    return judged


# -- plots -----------------------------------------------------------------------------------


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _legend(ax: Any, where: str) -> None:
    """A legend when something was drawn (a run with no update draws nothing to label)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=where, fontsize=8)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _arch(run: JudgedRun) -> str:
    return str(run.results["architecture"])


def _active_flows(runs: list[JudgedRun]) -> list[str]:
    flows: dict[str, None] = {}
    for run in runs:
        for flow, data in run.results["flows"].items():
            if data["replica_updates"]:
                flows[flow] = None
    return list(flows)


def _shade_faults(ax: Any, runs: list[JudgedRun]) -> None:
    seen: set[tuple[str, str, float, float]] = set()
    for run in runs:
        for f in run.judgement.faults:
            key = (f.system, f.kind, f.start, f.end)
            if key in seen:
                continue
            seen.add(key)
            ax.axvspan(f.start / 3600, max(f.end, f.start + 1) / 3600, color="#f5b041", alpha=0.25)
            label = f" {f.system} {f.kind}"
            ax.text(f.start / 3600, 1.0, label, transform=ax.get_xaxis_transform(),
                    fontsize=7, va="top", color="#9c640c")  # fmt: skip


def _lag_cdfs(runs: list[JudgedRun], flows: list[str]) -> str | None:
    if not flows:
        return None
    cols = min(3, len(flows))
    rows = (len(flows) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(flows) :]:
        ax.set_visible(False)
    for ax, flow in zip(axes.flat, flows, strict=False):
        for run in runs:
            lags = np.array(run.judgement.flow_lags(flow))
            if lags.size == 0:
                continue
            shares = np.linspace(0.0, 1.0, 401)
            x = np.quantile(lags, shares, method="inverted_cdf")
            arch = _arch(run)
            ax.step(np.maximum(x, 1e-3), shares, where="post", label=arch, color=_COLORS.get(arch))
        ax.set_xscale("log")
        ax.set_xlabel("sync lag (s, log scale)")
        ax.set_ylabel("share of replica updates")
        ax.set_title(flow)
        for mark in (60, 3600, 86400):
            ax.axvline(mark, color="#bbb", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
        _legend(ax, "lower right")
    fig.tight_layout()
    return _png(fig)


def _over_time(runs: list[JudgedRun], what: str) -> str:
    fig, ax = plt.subplots(figsize=(10.4, 3.4))
    for run in runs:
        arch, end = _arch(run), float(run.results["simulated_seconds"])
        if what == "consistency":
            t, y = consistency_over_time(run.judgement, end, samples=800)
            ax.plot(t / 3600, y * 100, label=arch, color=_COLORS.get(arch), lw=1.2)
        else:
            t, y = backlog_over_time(run.judgement, end)
            ax.step(t / 3600, y, where="post", label=arch, color=_COLORS.get(arch), lw=1.2)
    _shade_faults(ax, runs)
    ax.set_xlabel("hours since the start of the run (fault windows shaded)")
    if what == "consistency":
        ax.set_ylabel("% of entities in agreement")
        ax.set_title("Consistency over time: entities whose replicas all agree with the owner")
    else:
        ax.set_ylabel("updates not yet visible")
        ax.set_title("Backlog: (update, replica) pairs a replica does not reflect yet")
    ax.grid(alpha=0.3)
    _legend(ax, "lower left" if what == "consistency" else "upper left")
    return _png(fig)


def _visibility(runs: list[JudgedRun]) -> str:
    fig, ax = plt.subplots(figsize=(10.4, 3.4))
    ts = np.logspace(-2, 6, 200)
    for run in runs:
        arch = _arch(run)
        visible = [p for p in t_visibility(run.judgement, ts) if p is not None]
        if visible:  # None: no update, nothing to draw
            ax.plot(ts, visible, label=arch, color=_COLORS.get(arch))
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("t: seconds after the owner's change (log scale)")
    ax.set_ylabel("P(replica reflects it)")
    ax.set_title("t-visibility (probabilistically bounded staleness)")
    for mark in (60, 3600, 86400):
        ax.axvline(mark, color="#bbb", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    _legend(ax, "lower right")
    return _png(fig)


def _topology(run: JudgedRun) -> str:
    graph = build_topology(run.judgement)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    pos = nx.circular_layout(sorted(graph.nodes)) if graph.nodes else {}
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=2200, node_color="#d6eaf8")
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=10)
    pairs: dict[tuple[str, str], list[str]] = {}
    for u, v, d in graph.edges(data=True):
        pairs.setdefault((u, v), []).append(
            f"{d['fact']} ({d['mechanism']}, p99 {_human(d['lag_p99_s'])})"
        )
    nx.draw_networkx_edges(
        graph, pos, ax=ax, edgelist=list(pairs), arrows=True, arrowsize=18, node_size=2200,
        connectionstyle="arc3,rad=0.12", edge_color="#566573",
    )  # fmt: skip
    nx.draw_networkx_edge_labels(
        graph, pos, ax=ax, edge_labels={k: "\n".join(v) for k, v in pairs.items()},
        font_size=7, connectionstyle="arc3,rad=0.12",
    )  # fmt: skip
    ax.set_title(f"Flows through the middleware ({_arch(run)}): owner → replica")
    ax.axis("off")
    return _png(fig)


# -- tables ----------------------------------------------------------------------------------


def _table_rows(runs: list[JudgedRun]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    # one row per flow (p50 / p99): the full percentiles and the priorities are in the report
    for flow in _active_flows(runs):
        cells = []
        for r in runs:
            lag = r.results["flows"].get(flow, {}).get("lag_s", {})
            if lag.get("p99") is None:
                cells.append(NOT_MEASURED)
            else:
                cells.append(f"{_human(lag.get('p50'))} / {_human(lag.get('p99'))}")
        rows.append((f"{flow} lag p50 / p99", cells))
    for key in (
        "lost_updates",
        "duplicate_effects",
        "reposts",
        "regressions",
        "divergences",
        "match_errors",
        "converged",
    ):
        rows.append((_ROW_NAMES.get(key, key.replace("_", " ")), [
            str(r.results["consistency"].get(key, "—")) for r in runs
        ]))  # fmt: skip
    rows.append(
        (
            "agreement (time-averaged)",
            [_share(r.results["consistency"].get("agreement"), 3) for r in runs],
        )
    )
    rows.append(
        (
            "visible within 1 min",
            [_share(r.results.get("t_visibility", {}).get("60"), 2) for r in runs],
        )
    )
    if any(r.judgement.faults for r in runs):
        rows.append(
            (
                "converged after last fault",
                [_human(r.results["consistency"].get("converge_after_last_fault_s")) for r in runs],
            )
        )
    if any(r.judgement.messages for r in runs):
        rows.append(
            (
                "dead letters",
                [str(sum(r.results["messages"]["dead_letters_by_reason"].values())) for r in runs],
            )
        )
    if any("functional_acks" in r.results for r in runs):
        rows.extend(_functional_ack_rows(runs))
    rows.append(("SLOs", [_slos_word(r.results) for r in runs]))
    return rows


def _functional_ack_rows(runs: list[JudgedRun]) -> list[tuple[str, list[str]]]:
    """The core's 997 lag (a partner's document to the core's 997) and the interchanges
    either side left unanswered past the grace (analysis.functional_acks)."""
    lags, missing = [], []
    for r in runs:
        fa = r.results.get("functional_acks") or {}
        lag = (fa.get("core_997s") or {}).get("lag_s") or {}
        lags.append(
            NOT_MEASURED
            if lag.get("p99") is None
            else f"{_human(lag.get('p50'))} / {_human(lag.get('p99'))}"
        )
        counts = [(fa.get(d) or {}).get("unacknowledged") for d in ("partner_997s", "core_997s")]
        measured = [n for n in counts if n is not None]
        missing.append(str(sum(measured)) if measured else NOT_MEASURED)
    return [("core's 997 lag p50 / p99", lags), ("unacknowledged interchanges", missing)]


NOT_MEASURED = "not measured"
_ROW_NAMES = {"reposts": "re-posts (same value again, no effect)"}


def _slo_word(entry: dict[str, Any]) -> str:
    status = entry.get("status") or ("met" if entry["passed"] else "violated")
    if status == "not measured":
        return "not measured (allowed)" if entry["passed"] else "NOT MEASURED"
    return "met" if entry["passed"] else "VIOLATED"


def _slos_word(results: dict[str, Any]) -> str:
    unmeasured = sum(1 for e in results["slos"] if e.get("status") == "not measured")
    word = "met" if results["passed"] else "violated"
    return f"{word} ({unmeasured} not measured)" if unmeasured else word


def _share(value: float | None, digits: int) -> str:
    return NOT_MEASURED if value is None else f"{value * 100:.{digits}f} %"


def _coverage_rows(runs: list[JudgedRun]) -> list[tuple[str, list[str]]]:
    """One row per fact: its status and owner updates per architecture."""
    rows = []
    for fact in runs[0].results.get("coverage", {}):
        cells = []
        for r in runs:
            c = r.results.get("coverage", {}).get(fact)
            cells.append(
                "—" if c is None else f"{c['status']} ({c['owner_updates']:,} owner updates)"
            )
        rows.append((fact, cells))
    return rows


def _coverage_html(runs: list[JudgedRun]) -> str:
    esc = html.escape
    rows = []
    for run in runs:
        for fact, c in run.results.get("coverage", {}).items():
            replicas = "<br>".join(
                esc(
                    f"{name}: not carried"
                    if not r["carried"]
                    else f"{name}: {r['updates']:,} / {r['lost']:,} / {r['pending']:,}"
                )
                for name, r in c["replicas"].items()
            )
            look = {"carried": "ok", "not exercised": "na"}.get(c["status"], "bad")
            rows.append(
                f"<tr class='{look}'><td>{esc(_arch(run))}</td>"
                f"<td>{esc(fact)}</td><td>{esc(c['flow'])}</td><td>{esc(c['owner'])}</td>"
                f"<td>{c['owner_updates']:,}</td><td class='l'>{replicas}</td>"
                f"<td>{esc(c['status'])}</td></tr>"
            )
    return (
        "<table><tr><th>architecture</th><th>fact</th><th>flow</th><th>owner</th>"
        "<th>owner updates</th><th>replicas</th><th>coverage</th></tr>" + "".join(rows) + "</table>"
    )


def _conformance_html(run: JudgedRun) -> str:
    """For a middleware we did not write (header ``sut: external``): per flow, carried /
    partly carried / not carried / not exercised (from ``coverage``; ``not declared`` when
    it is outside the flows the run was told it carries), the first replica write it missed
    (the earliest lost update, with its entity), re-posts with a duplicate effect, and the
    writes it made without an ``Idempotency-Key`` (from the emulators' request journals,
    when the run read them).  Empty for our own architectures."""
    head = run.judgement.header
    if head.get("sut") != "external" and run.results.get("architecture") != "external":
        return ""
    esc = html.escape
    declared = set(head.get("flows") or ())
    by_flow: dict[str, list[dict[str, Any]]] = {}
    for c in run.results.get("coverage", {}).values():
        by_flow.setdefault(c["flow"], []).append(c)
    flow_of = {f.name: f.flow for f in run.judgement.facts}
    first_lost: dict[str, Violation] = {}
    for v in run.judgement.lost:
        flow = flow_of.get(v.fact, "")
        if flow not in first_lost or v.t < first_lost[flow].t:
            first_lost[flow] = v
    dupes: dict[str, int] = {}
    for v in run.judgement.duplicates:
        dupes[flow_of.get(v.fact, "")] = dupes.get(flow_of.get(v.fact, ""), 0) + 1
    rows = []
    for flow, facts in by_flow.items():
        exercised = [c["status"] for c in facts if c["status"] != "not exercised"]
        if not exercised:
            status = "not exercised"
        elif all(x == "carried" for x in exercised):
            status = "carried"
        elif all(x == "not carried" for x in exercised):
            status = "not carried"
        else:
            status = "partly carried"
        if declared and flow not in declared:
            status += " (not declared)"
        lost = first_lost.get(flow)
        missed = (
            "—"
            if lost is None
            else f"{lost.replica or '?'} of {lost.entity} (owner changed at {lost.t:.1f} s)"
        )
        look = {"carried": "ok", "not exercised": "na"}.get(status, "bad")
        look = "na" if status.endswith("(not declared)") else look
        rows.append(
            f"<tr class='{look}'><td>{esc(flow)}</td><td>{esc(status)}</td>"
            f"<td class='l'>{esc(missed)}</td><td>{dupes.get(flow, 0):,}</td></tr>"
        )
    keyless = (run.results.get("live") or {}).get("keyless_writes")
    if keyless is None:
        unkeyed = "<p>Writes without an Idempotency-Key: not read (no request journals).</p>"
    elif not keyless:
        unkeyed = "<p>Every write it made carried an Idempotency-Key.</p>"
    else:
        items = "".join(f"<li>{esc(k)}: {n:,}</li>" for k, n in keyless.items())
        unkeyed = f"<p>Writes it made without an Idempotency-Key:</p><ul>{items}</ul>"
    return (
        "<h2>Conformance of the middleware under test</h2>"
        "<p>Per flow: whether its replica writes reached the systems (<em>not declared</em>: "
        "outside the flows it declared it carries, not judged), the first replica write it missed, "
        "and re-posts that took effect twice.</p>"
        "<table><tr><th>flow</th><th>verdict</th><th>first missing replica write</th>"
        "<th>duplicate effects</th></tr>" + "".join(rows) + "</table>" + unkeyed
    )


def _violations(run: JudgedRun, n: int = _VIOLATION_ROWS) -> list[Violation]:
    return examples(run.judgement.violations, n)


def summary_markdown(runs: list[JudgedRun]) -> str:
    first = runs[0].results
    head = "| | " + " | ".join(_arch(r) for r in runs) + " |"
    lines = [
        f"## supplysync: {first['scenario']} (seed {first['seed']})",
        "",
        head,
        "|---|" + "---|" * len(runs),
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in _table_rows(runs)]
    coverage = _coverage_rows(runs)
    if coverage:
        lines += ["", "Coverage: what the run exercised and carried, per fact", "", head]
        lines += ["|---|" + "---|" * len(runs)]
        lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in coverage]
        lines.append("")
    for r in runs:
        for s in (s for s in r.results["slos"] if not s["passed"]):
            lines.append(f"- **{_arch(r)}** violates `{s['name']}`: {s['detail']}")
        for v in _violations(r, 5):
            lines.append(f"- **{_arch(r)}** {v.kind.replace('_', ' ')}: {v.explanation}")
    return "\n".join(lines) + "\n"


def _violation_rows(runs: list[JudgedRun]) -> str:
    esc = html.escape
    rows = []
    for run in runs:
        for v in _violations(run):
            replicas = "<br>".join(
                esc(f"{r}: nothing" if t is None else f"{r}: {val!r} since {t:g} s")
                for r, val, t in v.replicas
            )
            msgs = "<br>".join(
                esc(f"{m.t:g} s {m.direction} {m.system} {m.operation} {m.status or ''}")
                for m in v.messages[:5]
            )
            ids = esc(", ".join(v.correlation_ids) or ", ".join(v.causes))
            rows.append(
                f"<tr class='bad'><td>{esc(_arch(run))}</td><td>{esc(v.kind)}</td>"
                f"<td>{esc(v.entity)}</td><td class='l'>{esc(v.explanation)}</td>"
                f"<td class='l'>{replicas}</td><td class='l'>{ids}<br>{msgs}</td></tr>"
            )
    if not rows:
        return "<p>No violations: nothing lost, duplicated, regressed or diverged.</p>"
    counts = "".join(
        f"<tr><td>{esc(_arch(run))}</td><td>{esc(kind)}</td><td>{esc(where)}</td><td>{n}</td></tr>"
        for run in runs
        for kind, per in run.results["violations"].get("by_fact", {}).items()
        for where, n in per.items()
    )
    return (
        "<table><tr><th>architecture</th><th>kind</th><th>fact: replica</th><th>count</th></tr>"
        + counts
        + "</table><p>Examples, taken in turn from each kind and replica:</p>"
        "<table><tr><th>architecture</th><th>kind</th><th>entity</th><th>explanation</th>"
        "<th>replicas (value, since)</th><th>correlation / messages</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _staleness_rows(runs: list[JudgedRun]) -> str:
    esc = html.escape
    rows = []
    for run in runs:
        for row in staleness_table(build_topology(run.judgement)):
            rows.append(
                f"<tr><td>{esc(_arch(run))}</td><td>{esc(row['flow'])}</td>"
                f"<td>{esc(row['fact'])}</td><td>{esc(row['path'])}</td>"
                f"<td>{esc(row['mechanism'])}</td><td>{_human(row['analytic_s'])}</td>"
                f"<td>{_human(row['lag_p99_s'])}</td><td>{_human(row['lag_max_s'])}</td></tr>"
            )
    return (
        "<table><tr><th>architecture</th><th>flow</th><th>fact</th><th>path</th>"
        "<th>mechanism</th><th>analytic worst case</th><th>measured p99</th>"
        "<th>measured max</th></tr>" + "".join(rows) + "</table>"
    )


def _fault_rows(runs: list[JudgedRun]) -> str:
    esc = html.escape
    rows = [
        f"<tr><td>{esc(_arch(r))}</td><td>{esc(f['system'])}</td><td>{esc(f['kind'])}</td>"
        f"<td>{_human(f['start_s'])}</td><td>{_human(f['end_s'] - f['start_s'])}</td>"
        f"<td>{f['backlog_at_start']}</td><td>{f['backlog_peak']}</td>"
        f"<td>{_human(f['drain_s'])}</td><td>{f['retried']}</td><td>{f['dead_lettered']}</td></tr>"
        for r in runs
        for f in r.results.get("faults", [])
    ]
    if not rows:
        return "<p>No fault windows in this run.</p>"
    return (
        "<table><tr><th>architecture</th><th>system</th><th>fault</th><th>start</th>"
        "<th>duration</th><th>backlog at start</th><th>peak</th><th>drain time</th>"
        "<th>retried</th><th>dead-lettered</th></tr>" + "".join(rows) + "</table>"
    )


def _img(alt: str, data: str | None) -> str:
    if data is None:
        return "<p>No replica updates in this run.</p>"
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_report(path: Path, runs: list[JudgedRun]) -> None:
    first = runs[0].results
    esc = html.escape
    header = "".join(f"<th>{esc(_arch(r))}</th>" for r in runs)
    body_rows = "".join(
        f"<tr><td>{esc(name)}</td>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>"
        for name, cells in _table_rows(runs)
    )
    slo_rows = "".join(
        f"<tr class='{'ok' if s['passed'] else 'bad'}'><td>{esc(_arch(r))}</td>"
        f"<td>{esc(s['name'])}</td><td>{esc(_slo_word(s))}</td>"
        f"<td>{esc(s['detail'])}</td></tr>"
        for r in runs
        for s in r.results["slos"]
    )
    volumes = first.get("volumes", {})
    flows = _active_flows(runs)
    topologies = "".join(_img(f"Topology of {_arch(r)}", _topology(r)) for r in runs[:4])
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
{_coverage_html(runs)}
{_conformance_html(runs[0])}
<h2>Architectures side by side</h2>
<table><tr><th></th>{header}</tr>{body_rows}</table>
<h2>Service-level objectives</h2>
<table><tr><th>architecture</th><th>objective</th><th>verdict</th><th>measured</th></tr>
{slo_rows}</table>
<h2>Violations</h2>
{_violation_rows(runs)}
<h2>Topology</h2>
<div class="row">{topologies}</div>
<h3>Worst-case staleness per fact: analytic bound beside the measured lag</h3>
{_staleness_rows(runs)}
<h2>Sync lag</h2>
{_img("Sync lag distribution per flow", _lag_cdfs(runs, flows))}
<h2>Consistency over time</h2>
{_img("Consistency over time", _over_time(runs, "consistency"))}
<h2>Backlog and fault windows</h2>
{_img("Backlog over time", _over_time(runs, "backlog"))}
{_fault_rows(runs)}
<h2>t-visibility</h2>
{_img("t-visibility curve", _visibility(runs))}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
