"""Re-judging a stored run without re-running it.

``rebuild(run_dir)`` reads ``history.jsonl`` (and, for what the history's header
lacks, the SLOs and volumes recorded in the old ``results.json``), writes
``results.json``, ``summary.md`` and ``report.html`` again and returns the
report's path.  A comparison folder (one sub-folder per architecture) is
rebuilt whole, its runs in the order they were run (``compare.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.history import History, HistoryError
from analysis.judged import JudgedRun, judge_run, slos_from_entries, slos_of
from analysis.report import summary_markdown, write_report
from analysis.results import dumps

__all__ = ["COMPARE_ORDER", "rebuild", "write_compare_order"]


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
        slos = slos_of(head.get("slos") or old.get("slo_spec"))
    else:
        slos = slos_from_entries(old.get("slos"))
    volumes = head.get("volumes") or old.get("volumes") or {}
    judged = judge_run(history, slos=slos, volumes=volumes)
    for key in _KEPT:  # what the run measured beside its history (live mode's load)
        if key in old:
            judged.results[key] = old[key]
    (folder / "results.json").write_text(dumps(judged.results), encoding="utf-8")
    (folder / "summary.md").write_text(summary_markdown([judged]), encoding="utf-8")
    return judged
