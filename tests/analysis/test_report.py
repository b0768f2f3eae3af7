"""The report page, the CI summary, and re-judging a stored run without re-running it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from analysis.history import Change, History, HistoryError
from analysis.judged import JudgedRun, judge_run
from analysis.rebuild import rebuild
from analysis.report import summary_markdown, write_report
from analysis.results import Slos, dumps

LINE = "po_line:4500000001:{}"


def history(architecture: str, *, lose: bool) -> History:
    """A small run: three lines acknowledged, an ERP outage, and (``lose``) one update lost."""
    h = History(
        {
            "scenario": "erp_outage",
            "architecture": architecture,
            "seed": 11,
            "end_s": 7200.0,
            "mode": "simulation",
            "latency": {"median_ms": 80, "sigma": 0.4},
        }
    )
    h.fault("erp", "outage", 600.0, 1800.0)
    for n, t in ((1, 100.0), (2, 900.0), (3, 1200.0)):
        entity = LINE.format(n)
        h.record(Change(t, "supplier", entity, "confirmed_qty", 4 + n, f"855:{n}", f"tr-{n}"))
        h.record(Change(t + 1.5, "wms", entity, "expected_qty", 4 + n, f"w{n}", f"tr-{n}"))
        if not (lose and n == 3):
            late = 1900.0 if t > 600 else t + 0.8
            h.record(Change(late, "erp", entity, "confirmed_qty", 4 + n, f"a{n}", f"tr-{n}"))
    h.changes.sort(key=lambda c: c.t)
    h.message(1250.0, "retried", "erp", "post_acknowledgment", "a3", "tr-3", 503)
    if lose:
        h.message(
            1790.0, "dead_lettered", "erp", "post_acknowledgment", "a3", "tr-3", 503, "gave up"
        )
    return h


def judged(architecture: str, *, lose: bool) -> JudgedRun:
    slos = Slos(lag_p99_s={"po_acknowledgment": 900.0})
    return judge_run(history(architecture, lose=lose), slos=slos, volumes={"po_lines": 3})


def test_report_is_self_contained_and_explains_each_violation(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_report(path, [judged("api", lose=True)])
    page = path.read_text()

    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{500,}"', page)) == 5
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page
    assert "<script" not in page
    # the lost update, with the replica, the owner's value and time, and the dead letter
    assert "erp.confirmed_qty of po_line:4500000001:3 never showed 7" in page
    assert "1790 s dead_lettered erp post_acknowledgment 503" in page
    assert "<td>erp</td><td>outage</td>" in page  # the fault window's drain table


def test_compare_shows_architectures_side_by_side(tmp_path: Path) -> None:
    runs = [judged("api", lose=True), judged("event", lose=False)]
    path = tmp_path / "report.html"

    write_report(path, runs)
    page = path.read_text()
    summary = summary_markdown(runs)

    assert "<tr><th></th><th>api</th><th>event</th></tr>" in page
    # one chart per metric for all architectures, and one topology per architecture
    assert page.count("data:image/png") == 4 + 2
    assert "| lost updates | 1 | 0 |" in summary
    assert "| converged | False | True |" in summary
    assert "- **api** lost update: erp.confirmed_qty of po_line:4500000001:3" in summary


def store(folder: Path, run: History, slos: Slos) -> dict[str, object]:
    folder.mkdir(parents=True)
    j = judge_run(run, slos=slos, volumes={"po_lines": 3})
    run.write(folder / "history.jsonl")
    (folder / "results.json").write_text(dumps(j.results))
    return j.results


def test_rebuild_gives_the_same_results_as_the_run(tmp_path: Path) -> None:
    slos = Slos(lag_p99_s={"po_acknowledgment": 900.0}, max_regressions=0)
    store(tmp_path / "run", history("api", lose=True), slos)
    produced = (tmp_path / "run" / "results.json").read_bytes()

    report = rebuild(tmp_path / "run")

    assert report == tmp_path / "run" / "report.html" and report.is_file()
    assert (tmp_path / "run" / "results.json").read_bytes() == produced
    results = json.loads(produced)
    assert results["passed"] is False and results["consistency"]["lost_updates"] == 1
    assert results["messages"]["dead_letters_by_reason"] == {"gave up": 1}
    assert "lost update" in (tmp_path / "run" / "summary.md").read_text()


def test_rebuild_reads_the_slos_of_a_schema_1_results_file(tmp_path: Path) -> None:
    slos = Slos(lag_p99_s={"po_acknowledgment": 60.0})
    results = store(tmp_path / "run", history("event", lose=False), slos)
    old = {k: v for k, v in results.items() if k != "slo_spec"}  # as written before it existed
    (tmp_path / "run" / "results.json").write_text(dumps(old))

    rebuild(tmp_path / "run")

    again = json.loads((tmp_path / "run" / "results.json").read_text())
    assert again["slos"] == results["slos"] and again["passed"] is False  # 1000 s > 60 s


def test_rebuild_of_a_comparison_folder_rejudges_every_architecture(tmp_path: Path) -> None:
    for arch, lose in (("api", True), ("event", False)):
        store(tmp_path / arch, history(arch, lose=lose), Slos())

    report = rebuild(tmp_path)

    assert report == tmp_path / "report.html"
    assert "<th>api</th><th>event</th>" in report.read_text()
    assert (tmp_path / "event" / "results.json").is_file()


def test_rebuild_of_a_folder_without_a_history_says_so(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"no history\.jsonl here nor in its sub-folders"):
        rebuild(tmp_path)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium_with_its_plots_visible(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_report(page, [judged("event", lose=False)])
    shot = tmp_path / "report.png"

    done = subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--window-size=1280,5000", f"--screenshot={shot}", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (5000, 1280)
    assert (pixels.min(axis=2) < 0.9).mean() > 0.02  # not a blank page
    # the plots drew: pixels in the event architecture's blue (#2471a3) are on the page
    blue = np.abs(pixels - np.array([0x24, 0x71, 0xA3]) / 255).max(axis=2) < 0.08
    assert blue.sum() > 2000


def test_rebuild_of_a_live_folder_keeps_its_load_section(tmp_path: Path) -> None:
    results = store(tmp_path / "run", history("event", lose=False), Slos())
    load = {"total": {"requests": 1200, "failures": 3}, "endpoints": []}
    live = {"users": 20, "sut": "builtin"}
    (tmp_path / "run" / "results.json").write_text(dumps({**results, "load": load, "live": live}))

    rebuild(tmp_path / "run")

    again = json.loads((tmp_path / "run" / "results.json").read_text())
    assert again["load"] == load and again["live"] == live  # measured outside the history
    assert {k: v for k, v in again.items() if k not in ("load", "live")} == results


def test_a_run_with_no_update_renders_without_a_warning(tmp_path: Path) -> None:
    empty = History({"scenario": "idle", "architecture": "event", "seed": 1, "end_s": 60.0})
    run = judge_run(empty, slos=Slos(), volumes={})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels" included
        write_report(tmp_path / "report.html", [run])
    page = (tmp_path / "report.html").read_text()
    assert "not measured" in page and "not exercised" in page
