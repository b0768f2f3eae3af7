"""The outputs of a live run: results.json, history.jsonl, summary.md and report.html.

Theory of operation.  :func:`write_outputs` writes what the analysis writes for a simulated run,
then adds the load: a Locust table to the summary, and to the HTML report a section with
RPS, response times, sync lag and consistency on one time axis, fault windows shaded
(:func:`_load_plot`, matplotlib without a display).  The modules that judge and draw
(matplotlib, NumPy, NetworkX: about a second to import) are imported on a thread of
:func:`warm_up` while the run waits for its systems to settle.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any

__all__ = ["warm_up", "write_outputs"]


def warm_up() -> threading.Thread:
    """Import the judgement's and the report's modules on a thread (the caller joins it
    before it judges, so no import runs on two threads at once); an import that fails is
    left for the judgement's own import to raise."""

    def load() -> None:
        try:
            import analysis.judged
            import analysis.report
            import analysis.results  # noqa: F401
        except ImportError:
            return

    thread = threading.Thread(target=load, name="supplysync-warm-up", daemon=True)
    thread.start()
    return thread


def _load_plot(
    results: dict[str, Any], judged: Any, faults: list[tuple[str, str, float, float]], end_s: float
) -> str | None:
    """RPS, response times, sync lag and consistency on one time axis, faults shaded."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.metrics import consistency_over_time

    over = results["load"]["over_time"]
    if not over:
        return None
    fig, axes = plt.subplots(4, 1, figsize=(9, 8.5), sharex=True)
    t = [p["t"] for p in over]
    axes[0].plot(t, [p["rps"] for p in over], label="requests/s")
    axes[0].plot(t, [p["failures_per_s"] for p in over], label="failures/s", color="#c0392b")
    axes[0].set_ylabel("Locust")
    axes[1].plot(t, [p["p50_ms"] for p in over], label="p50")
    axes[1].plot(t, [p["p95_ms"] for p in over], label="p95")
    axes[1].set_ylabel("response ms")
    for flow in ("po_dispatch", "po_acknowledgment", "ship_notice", "receipt", "invoice"):
        lags = [x for x in judged.judgement.lags if x.flow == flow]
        if lags:
            axes[2].scatter([x.t_owner for x in lags], [x.lag_s for x in lags], s=4, label=flow)
    axes[2].set_ylabel("sync lag s")
    times, agreement = consistency_over_time(judged.judgement, end_s)
    axes[3].plot(times, agreement, color="#1e8449", label="agreement")
    axes[3].set_ylabel("consistency")
    axes[3].set_xlabel("seconds since the run started")
    for ax in axes:
        for _, _, start, end in faults:
            ax.axvspan(start, max(end, start + 0.05), color="#f5b7b1", alpha=0.5)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _load_markdown(load: dict[str, Any]) -> str:
    """Locust's table (failures include what the emulators journalled), then the load
    generator's writes as the emulators journalled them."""
    rows = [
        "| endpoint | requests | failures | RPS | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in [*sorted(load["endpoints"].items()), ("**all**", load["total"])]:
        if e:
            rows.append(
                f"| {name} | {e['requests']} | {e['failures']} | {e['rps']:g} | "
                f"{e['p50_ms']:g} | {e['p95_ms']:g} | {e['p99_ms']:g} |"
            )
    text = "\n## Load (Locust)\n\n" + "\n".join(rows) + "\n"
    journal = load.get("journal")
    if journal:
        rows = [
            "| system operation | writes | non-2xx | statuses |",
            "|---|---:|---:|---|",
        ]
        for name, e in journal.items():
            statuses = ", ".join(f"{code}: {n}" for code, n in e["statuses"].items()) or "—"
            rows.append(f"| {name} | {e['writes']} | {e['failures']} | {statuses} |")
        text += (
            "\nThe load generator's writes as the emulators journalled them (a non-2xx "
            "answer is a failure, whatever Locust counted):\n\n" + "\n".join(rows) + "\n"
        )
    return text


def write_outputs(out: Path, history: Any, judged: Any, faults: list[Any], end_s: float) -> None:
    from analysis.report import summary_markdown, write_report
    from analysis.results import dumps

    results = judged.results
    (out / "results.json").write_text(dumps(results), encoding="utf-8")
    history.write(out / "history.jsonl")
    (out / "summary.md").write_text(
        summary_markdown([judged]) + _load_markdown(results["load"]), encoding="utf-8"
    )
    report = out / "report.html"
    write_report(report, [judged])
    png = _load_plot(results, judged, faults, end_s)
    table = html.escape(_load_markdown(results["load"]))
    section = "<section><h2>Load and sync on one time axis</h2>"
    if png:
        section += f'<img alt="load, lag and consistency" src="data:image/png;base64,{png}">'
    section += f"<pre>{table}</pre></section>"
    page = report.read_text(encoding="utf-8")
    page = page.replace("</body>", section + "</body>") if "</body>" in page else page + section
    report.write_text(page, encoding="utf-8")
