"""The report's tables: rows for the side-by-side table and HTML for the others.

The side-by-side rows (lag per flow, the consistency counts, SLO verdicts) are
shared by the HTML page and the Markdown summary; coverage, conformance of an
external middleware, violations with their examples, worst-case staleness and
fault windows are HTML tables of the page.  Cells say ``not measured`` where a
run had nothing to measure, never a made-up zero.
"""

from __future__ import annotations

import html
from typing import Any

from analysis.judged import JudgedRun, active_flows, human
from analysis.topology import build_topology, staleness_table
from analysis.violations import Violation, examples

__all__ = [
    "NOT_MEASURED",
    "conformance_html",
    "coverage_html",
    "coverage_rows",
    "fault_rows",
    "partner_html",
    "shown_violations",
    "slo_word",
    "staleness_rows",
    "table_rows",
    "violation_rows",
]

VIOLATION_ROWS = 40  # per run, in the page
NOT_MEASURED = "not measured"
_ROW_NAMES = {"reposts": "re-posts (same value again, no effect)"}


def table_rows(runs: list[JudgedRun]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    # one row per flow (p50 / p99): the full percentiles and the priorities are in the report
    for flow in active_flows(runs):
        cells = []
        for r in runs:
            lag = r.results["flows"].get(flow, {}).get("lag_s", {})
            if lag.get("p99") is None:
                cells.append(NOT_MEASURED)
            else:
                cells.append(f"{human(lag.get('p50'))} / {human(lag.get('p99'))}")
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
                [human(r.results["consistency"].get("converge_after_last_fault_s")) for r in runs],
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
    if any("invoice_exceptions" in r.results for r in runs):
        rows.append(("UoM mismatches caught / billed", [_uom_cell(r.results) for r in runs]))
    rows.append(("SLOs", [_slos_word(r.results) for r in runs]))
    return rows


def _uom_cell(results: dict[str, Any]) -> str:
    """Lines billed in another unit than ordered that AP held UOM, of those the supplier
    billed so (analysis.invoice_exceptions); none billed: not measured."""
    found = (results.get("invoice_exceptions") or {}).get("uom_mismatch")
    if not found or not found["billed_lines"]:
        return NOT_MEASURED
    return f"{found['caught']} / {found['billed_lines']}"


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
            else f"{human(lag.get('p50'))} / {human(lag.get('p99'))}"
        )
        counts = [(fa.get(d) or {}).get("unacknowledged") for d in ("partner_997s", "core_997s")]
        measured = [n for n in counts if n is not None]
        missing.append(str(sum(measured)) if measured else NOT_MEASURED)
    return [("core's 997 lag p50 / p99", lags), ("unacknowledged interchanges", missing)]


def partner_html(runs: list[JudgedRun]) -> str:
    """Per architecture and trading partner (``functional_acks.partners``, only for a run
    that singles partners out): 850s and 997s, the partner's 997 lag, the interchanges it
    left unacknowledged, and the core's ``missing_997`` exceptions for it."""
    esc = html.escape
    rows = []
    for r in runs:
        partners = (r.results.get("functional_acks") or {}).get("partners") or {}
        for partner, p in partners.items():
            lag = p.get("lag_s") or {}
            lags = (
                NOT_MEASURED
                if lag.get("p99") is None
                else f"{human(lag.get('p50'))} / {human(lag.get('p99'))}"
            )
            missing = p.get("unacknowledged")
            look = "bad" if missing or p.get("missing_997_check") == "violated" else "ok"
            cells = [
                str(p["850s_sent"]),
                str(p["997s_received"]),
                lags,
                NOT_MEASURED if missing is None else str(missing),
                f"{p.get('missing_997_open')} ({p.get('missing_997_opened')} opened)",
                str(p.get("missing_997_check", NOT_MEASURED)),
            ]
            rows.append(
                f"<tr class='{look}'><td>{esc(r.architecture)}</td><td>{esc(partner)}</td>"
                + "".join(f"<td>{esc(c)}</td>" for c in cells)
                + "</tr>"
            )
    if not rows:
        return ""
    return (
        "<h2>Functional acknowledgments (997) per trading partner</h2>"
        "<p>As each partner's journal shows them: 850s it received, 997s it sent for them, "
        "the lag between the two, 850s left without a 997 past the grace; beside them the "
        "sync core's <code>missing_997</code> exceptions for the partner, open at the end "
        "(and opened in all), and whether it flagged every 850 left without a 997 past its "
        "deadline and next pickup (<em>not measured</em>: none was due).</p>"
        "<table><tr><th>architecture</th><th>partner</th><th>850s sent</th>"
        "<th>997s received</th><th>997 lag p50 / p99</th><th>unacknowledged interchanges</th>"
        "<th>missing_997 exceptions open</th><th>core flagged what was due</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def slo_word(entry: dict[str, Any]) -> str:
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


def coverage_rows(runs: list[JudgedRun]) -> list[tuple[str, list[str]]]:
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


def coverage_html(runs: list[JudgedRun]) -> str:
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
                f"<tr class='{look}'><td>{esc(run.architecture)}</td>"
                f"<td>{esc(fact)}</td><td>{esc(c['flow'])}</td><td>{esc(c['owner'])}</td>"
                f"<td>{c['owner_updates']:,}</td><td class='l'>{replicas}</td>"
                f"<td>{esc(c['status'])}</td></tr>"
            )
    return (
        "<table><tr><th>architecture</th><th>fact</th><th>flow</th><th>owner</th>"
        "<th>owner updates</th><th>replicas</th><th>coverage</th></tr>" + "".join(rows) + "</table>"
    )


def conformance_html(run: JudgedRun) -> str:
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


def shown_violations(run: JudgedRun, n: int = VIOLATION_ROWS) -> list[Violation]:
    return examples(run.judgement.violations, n)


def violation_rows(runs: list[JudgedRun]) -> str:
    esc = html.escape
    rows = []
    for run in runs:
        for v in shown_violations(run):
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
                f"<tr class='bad'><td>{esc(run.architecture)}</td><td>{esc(v.kind)}</td>"
                f"<td>{esc(v.entity)}</td><td class='l'>{esc(v.explanation)}</td>"
                f"<td class='l'>{replicas}</td><td class='l'>{ids}<br>{msgs}</td></tr>"
            )
    if not rows:
        return "<p>No violations: nothing lost, duplicated, regressed or diverged.</p>"
    counts = "".join(
        f"<tr><td>{esc(run.architecture)}</td><td>{esc(kind)}</td><td>{esc(where)}</td><td>{n}</td></tr>"
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


def staleness_rows(runs: list[JudgedRun]) -> str:
    esc = html.escape
    rows = []
    for run in runs:
        for row in staleness_table(build_topology(run.judgement)):
            rows.append(
                f"<tr><td>{esc(run.architecture)}</td><td>{esc(row['flow'])}</td>"
                f"<td>{esc(row['fact'])}</td><td>{esc(row['path'])}</td>"
                f"<td>{esc(row['mechanism'])}</td><td>{human(row['analytic_s'])}</td>"
                f"<td>{human(row['lag_p99_s'])}</td><td>{human(row['lag_max_s'])}</td></tr>"
            )
    return (
        "<table><tr><th>architecture</th><th>flow</th><th>fact</th><th>path</th>"
        "<th>mechanism</th><th>analytic worst case</th><th>measured p99</th>"
        "<th>measured max</th></tr>" + "".join(rows) + "</table>"
    )


def fault_rows(runs: list[JudgedRun]) -> str:
    esc = html.escape
    rows = [
        f"<tr><td>{esc(r.architecture)}</td><td>{esc(f['system'])}</td><td>{esc(f['kind'])}</td>"
        f"<td>{human(f['start_s'])}</td><td>{human(f['end_s'] - f['start_s'])}</td>"
        f"<td>{f['backlog_at_start']}</td><td>{f['backlog_peak']}</td>"
        f"<td>{human(f['drain_s'])}</td><td>{f['retried']}</td><td>{f['dead_lettered']}</td></tr>"
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
