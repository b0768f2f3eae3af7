"""The ``erp_release`` story: the ERP's API changes version mid-run.

The event and hybrid cores follow the version the ERP announces and lose nothing, before
or after; the point-to-point baseline, and a core told to ignore releases, keep speaking
the old version: from the release on they dead-letter and lose updates, and the report's
ERP release section says so, window by window (the release is the only fault of the run,
so what goes wrong after it and not before is its doing).
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis.erp_release import erp_release, release_html
from analysis.judged import JudgedRun
from analysis.metrics import judge
from analysis.report import write_report
from scenarios.cli.main import main
from scenarios.live.events import not_played
from scenarios.live.setup import emulator_setup
from scenarios.sim.runner import Outcome, run_architecture
from scenarios.spec.load import ScenarioError, load_scenario
from sync_core.mappers.erp_versions import ErpVersions

SMALL = {"duration_days": 2, "settle_days": 1, "demand.pos_per_day": 60, "network.items": 60}
README = Path(__file__).parents[2] / "README.md"
RELEASE_S = 36 * 3600


@cache
def outcome(architecture: str, follows: bool = True) -> Outcome:
    overrides = {**SMALL, "erp.core_follows_releases": follows}
    return run_architecture(load_scenario("erp_release", overrides=overrides), architecture)


def windows(o: Outcome) -> tuple[dict[str, Any], dict[str, Any]]:
    section = o.results["erp_release"]
    assert section["status"] == "measured" and section["releases"][0]["at_s"] == RELEASE_S
    before, after = section["windows"]
    assert (before["version"], after["version"]) == ("2026.4", "2027.1")
    assert before["to_s"] == after["from_s"] == RELEASE_S
    return before, after


@pytest.mark.parametrize("architecture", ["event", "hybrid"])
def test_a_core_that_follows_the_release_loses_nothing_after_it(architecture: str) -> None:
    o = outcome(architecture)
    assert o.results["passed"], [s["detail"] for s in o.results["slos"] if not s["passed"]]
    c = o.results["consistency"]
    assert c["lost_updates"] == 0 and c["converged"] and c["duplicate_effects"] == 0
    slos = {s["name"]: s for s in o.results["slos"]}
    assert slos["lost updates <= 0"]["status"] == "met" and slos["lost updates <= 0"]["samples"]
    assert slos["converged"]["status"] == "met" and slos["converged"]["samples"] > 0
    before, after = windows(o)
    for w in (before, after):  # evidence on both sides, not an empty window
        assert w["replica_updates"] > 100 and w["lag_p99_s"] is not None
        assert w["dead_letters"] == 0 and w["lost_updates"] == 0
    # the ERP really switched: the core's calls after the release carried the new header
    erp_calls = [m for m in o.history.messages if m.system == "erp" and m.t >= RELEASE_S]
    assert erp_calls and all(m.status is None or m.status < 400 for m in erp_calls)


def _reasons(o: Outcome) -> dict[str, int]:
    return dict(o.results["messages"]["dead_letters_by_reason"])


@pytest.mark.parametrize(("architecture", "follows"), [("api", True), ("event", False)])
def test_a_core_that_ignores_the_release_shows_its_blast_radius(
    architecture: str, follows: bool
) -> None:
    o = outcome(architecture, follows)
    assert not o.results["passed"]
    assert o.results["erp_release"]["core_follows"] is False
    before, after = windows(o)
    assert before["dead_letters"] == before["lost_updates"] == 0 and before["replica_updates"]
    assert after["dead_letters"] > 0 and after["lost_updates"] > 0
    assert o.results["consistency"]["lost_updates"] == after["lost_updates"]
    reasons = _reasons(o)
    header = "header REST-Framework-Version is required from API version 2027.1"
    assert any(header in r for r in reasons), reasons
    assert any("OrderNumber: missing" in r for r in reasons), reasons  # the new event shape
    dead = [m for m in o.history.messages if m.direction == "dead_lettered"]
    assert dead and min(m.t for m in dead) >= RELEASE_S


def test_the_report_shows_the_release_and_says_not_measured_without_one(tmp_path: Path) -> None:
    runs = [outcome("api").judged, outcome("event").judged]
    write_report(tmp_path / "report.html", runs)
    page = (tmp_path / "report.html").read_text()
    section = page.split("<h2>ERP release</h2>", 1)[1].split("<h2>", 1)[0]
    assert "ignores" in section and "follows" in section and "2027.1" in section
    # the same history, judged as if the run had ended before the release: no evidence
    history = outcome("event").history
    releases = history.header["erp_releases"]
    history.header["erp_releases"] = {**releases, "releases": [
        {**releases["releases"][0], "at_s": history.header["end_s"] + 1}]}  # fmt: skip
    try:
        judgement = judge(history)
    finally:
        history.header["erp_releases"] = releases
    section_data = erp_release(judgement)
    assert section_data is not None and section_data["status"] == "not measured"
    assert section_data["windows"] == []
    early = JudgedRun({"architecture": "event", "erp_release": section_data}, judgement)
    assert "not measured" in release_html([early])


def test_a_run_without_a_release_has_no_release_section() -> None:
    spec = load_scenario("erp_release", overrides={**SMALL, "erp.releases": []})
    o = run_architecture(spec, "event")
    assert "erp_release" not in o.results and "erp_releases" not in o.history.header
    assert release_html([o.judged]) == ""


@pytest.mark.parametrize(
    ("releases", "field", "reason"),
    [
        ([{"at_hours": 1, "version": "2027.1", "changes": [{"kind": "rename_column"}]}],
         "erp.releases.0.changes.0", "rename_column"),
        ([{"at_hours": 1, "version": "2027.1", "changes": [
            {"kind": "rename_field", "document": "invoice", "field": "A", "to": "B"}]}],
         "erp.releases.0.changes.0.rename_field.document", "purchase_order"),
        ([{"at_hours": 1, "version": "2027.1", "changes": [
            {"kind": "rename_field", "document": "receipt", "field": "A", "to": "A"}]}],
         "erp.releases.0.changes.0.rename_field", "the same name"),
        ([{"at_hours": 1, "version": "2026.4", "changes": [
            {"kind": "event_shape", "envelope": "data"}]}],
         "erp.releases.0.version", "already in use"),
        ([{"at_hours": 900, "version": "2027.1", "changes": [
            {"kind": "event_shape", "envelope": "data"}]}],
         "erp.releases.0.at_hours", "past the end of the run"),
        ([{"at_hours": 1, "version": "2027.1", "changes": []}],
         "erp.releases.0.changes", "at least 1"),
    ],
)  # fmt: skip
def test_a_bad_release_is_refused_naming_the_field(releases: Any, field: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as e:
        load_scenario("erp_release", overrides={"erp.releases": releases})
    assert e.value.field.startswith(field), str(e.value)
    assert reason in str(e.value)


def _section() -> str:
    return README.read_text().split("### Change management: an ERP release mid-run", 1)[1]


def test_the_readme_example_section_validates(tmp_path: Path) -> None:
    example = yaml.safe_load(_section().split("```yaml", 1)[1].split("```", 1)[0])
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"extends": "erp_release", "name": "mine", **example}))
    spec = load_scenario(str(path))
    assert [c.kind for c in spec.erp.releases[0].changes] == [
        "rename_field", "event_shape", "required_header"]  # fmt: skip


def test_the_readme_command_compares_the_release_as_written(tmp_path: Path) -> None:
    """The README's command, run as written on ``erp_release`` made small (a file that
    extends it: the library story at full size takes minutes)."""
    command = next(line for line in _section().splitlines() if line.startswith("supplysync "))
    assert command.startswith("supplysync compare erp_release"), command
    small = tmp_path / "erp_release_small.yaml"
    small.write_text(
        yaml.safe_dump(
            {
                "extends": "erp_release",
                "name": "erp_release_small",
                "duration_days": 2,
                "settle_days": 1,
                "demand": {"pos_per_day": 40},
                "network": {"items": 60},
            }
        )
    )
    args = command.split()[1:]
    args[args.index("erp_release")] = str(small)
    out = tmp_path / "release"
    args[args.index("--out") + 1] = str(out)
    assert main(args) == 0
    for architecture in ("api", "event", "hybrid"):
        results = json.loads((out / architecture / "results.json").read_text())
        before, after = results["erp_release"]["windows"]
        assert before["dead_letters"] == before["lost_updates"] == 0, architecture
        damaged = after["dead_letters"] > 0 and after["lost_updates"] > 0
        assert damaged == (architecture == "api"), (architecture, after)
    assert "<h2>ERP release</h2>" in (out / "report.html").read_text()


def test_the_batch_core_follows_the_release_too() -> None:
    _, after = windows(outcome("batch"))
    assert after["dead_letters"] == 0 and after["replica_updates"] > 0


def test_a_live_run_plays_the_release_on_the_erps_clock_scaled() -> None:
    spec = load_scenario("erp_release")
    assert not_played(spec, core_is_ours=True) == []
    setup = emulator_setup(spec, 3600.0, dt.date(2026, 3, 2))
    (release,) = setup.options["erp"]["releases"]
    assert (release.version, release.at_s) == ("2027.1", 36.0)  # 36 h at x3600
    assert release.headers == {"REST-Framework-Version": "9"}
    assert "API 2027.1 from 36 s real" in setup.describe("erp")


def test_a_call_the_release_caught_on_its_way_is_dead_lettered_unless_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The injected defect the release section must catch: a core that follows the new
    version but never re-sends the calls the release refused while they were on their way
    (the hybrid's reconciliation reads at the release's instant)."""
    clean = outcome("hybrid")  # before the defect goes in: the cache must not keep its run
    monkeypatch.setattr(ErpVersions, "resend", lambda self, sent, response: False)
    spec = load_scenario("erp_release", overrides=SMALL)
    _, after = windows(run_architecture(spec, "hybrid"))
    assert after["dead_letters"] > 0
    assert clean.results["erp_release"]["windows"][1]["dead_letters"] == 0
