"""``silent_partner``: one trading partner never sends a 997, one sends them hours late.

The library story, shortened (``SHORT`` of ``test_library_runs``), under the event
architecture.  What each partner received and answered is read from the run's results
(the supplier network's journal); the core's ``missing_997`` exceptions from its store
and from the per-partner figures the results carry.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from analysis.rebuild import rebuild
from analysis.report import write_report
from emulators._base import Journal
from emulators.supplier import SupplierNetwork
from scenarios.sim.network import fa_deadline_s
from scenarios.sim.runner import Outcome, run_architecture, write_run
from scenarios.spec.architectures import ARCHITECTURES
from scenarios.spec.load import ScenarioError, load_scenario
from sync_core.flows import functional_acks
from sync_core.store import MemoryStore
from tests.emulators.test_supplier import CLEAN, EPOCH, LINES, SUPPLIER, World
from tests.scenarios.test_library_997 import missing_997s, run
from tests.scenarios.test_library_runs import SHORT

SILENT, LATE = "SUPP1003", "SUPP1005"


@pytest.fixture(scope="module")
def event() -> tuple[Outcome, MemoryStore]:
    with pytest.MonkeyPatch.context() as mp:
        return run(mp, "silent_partner")


def partners(outcome: Outcome) -> dict[str, Any]:
    fa: dict[str, Any] = outcome.results["functional_acks"]  # type: ignore[assignment]
    return dict(fa["partners"])


def test_the_silent_partners_850s_are_all_missing_997_exceptions_and_unacknowledged(
    event: tuple[Outcome, MemoryStore],
) -> None:
    outcome, store = event
    rows = partners(outcome)
    silent = rows[SILENT]
    assert silent["850s_sent"] > 0 and silent["997s_received"] == 0
    assert silent["unacknowledged"] == silent["850s_sent"]  # counted where they arrived
    assert silent["lag_s"]["n"] == 0 and silent["lag_s"]["p50"] is None  # not measured
    assert silent["missing_997_open"] == silent["missing_997_opened"] == silent["850s_sent"]
    assert silent["missing_997_check"] == "met"
    overdue = missing_997s(store)
    assert {x["partner"] for x in overdue if x["open"]} == {SILENT}
    assert sum(1 for x in overdue if x["open"]) == silent["850s_sent"]
    for partner, row in rows.items():
        if partner == SILENT:
            continue
        assert row["850s_sent"] > 0 and row["997s_received"] == row["850s_sent"], partner
        assert (row["unacknowledged"], row["missing_997_open"]) == (0, 0), partner
        assert row["missing_997_check"] == "not measured", partner  # nothing was due
    whole = outcome.results["functional_acks"]["partner_997s"]  # type: ignore[index]
    assert whole["unacknowledged"] == silent["850s_sent"]


def test_the_late_partners_lag_is_measured_and_its_exceptions_close(
    event: tuple[Outcome, MemoryStore],
) -> None:
    outcome, store = event
    late = partners(outcome)[LATE]
    assert late["lag_s"]["n"] == late["850s_sent"] > 0
    assert late["lag_s"]["p50"] > 4 * 3600  # past the core's deadline
    others = [r["lag_s"]["p99"] for p, r in partners(outcome).items() if p not in (SILENT, LATE)]
    assert max(others) < 3600
    closed = [x for x in missing_997s(store) if x["partner"] == LATE]
    assert closed and late["missing_997_opened"] == len(closed)
    assert all(not x["open"] and x["lag_s"] > 4 * 3600 for x in closed)


def test_the_report_shows_each_partner_its_exceptions_and_lag(
    event: tuple[Outcome, MemoryStore], tmp_path: Path
) -> None:
    outcome, _ = event
    write_report(tmp_path / "report.html", [outcome.judged])
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = page.split("<h2>Functional acknowledgments (997) per trading partner</h2>")[1]
    table = section.split("</table>")[0]
    rows = {r.split("</td>")[1].removeprefix("<td>"): r for r in table.split("<tr")[2:]}
    silent = partners(outcome)[SILENT]
    assert f"<td>{silent['850s_sent']}</td><td>0</td><td>not measured</td>" in rows[SILENT]
    assert f"<td>{silent['850s_sent']} ({silent['850s_sent']} opened)</td>" in rows[SILENT]
    assert "class='bad'" in rows[SILENT] and "class='ok'" in rows["SUPP1001"]
    late = partners(outcome)[LATE]
    assert f"<td>{late['850s_sent']}</td><td>{late['850s_sent']}</td><td>6." in rows[LATE]
    assert f"<td>0 ({late['missing_997_opened']} opened)</td>" in rows[LATE]  # closed late


def test_re_judging_the_stored_run_gives_the_same_partner_figures(
    event: tuple[Outcome, MemoryStore], tmp_path: Path
) -> None:
    outcome, _ = event
    write_run(tmp_path, outcome, report=False)
    before = (tmp_path / "results.json").read_text(encoding="utf-8")
    rebuild(tmp_path)  # from history.jsonl alone: the core's figures are in its header
    assert (tmp_path / "results.json").read_text(encoding="utf-8") == before
    assert '"missing_997_check": "met"' in before


def test_a_core_that_never_opens_missing_997_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(functional_acks, "overdue_997s", lambda flow, work, now: None)
    outcome, store = run(monkeypatch, "silent_partner")
    silent = partners(outcome)[SILENT]
    assert missing_997s(store) == []
    assert silent["missing_997_open"] == 0 and silent["missing_997_due"] > 0
    assert silent["missing_997_check"] == "violated"


def test_an_unknown_partner_is_an_error_naming_it_and_the_known_ones() -> None:
    with pytest.raises(ScenarioError) as e:
        load_scenario(
            "silent_partner", overrides={"suppliers.partners.SUPP1013.functional_acks": False}
        )
    assert "suppliers.partners.SUPP1013: not a trading partner of the network" in str(e.value)
    known = ", ".join(f"SUPP{1001 + i}" for i in range(12))
    assert str(e.value).endswith(f"(known: {known})")
    with pytest.raises(ScenarioError, match=r"suppliers\.partners\.SUPP1002\.fa_reject_rate"):
        load_scenario("silent_partner", overrides={"suppliers.partners.SUPP1002.fa_reject_rate": 2})


def test_the_per_partner_section_is_only_there_for_a_scenario_that_names_partners() -> None:
    plain = run_architecture(load_scenario("partial_confirmation", overrides=SHORT), "event")
    assert "partners" not in plain.results["functional_acks"]  # type: ignore[operator]


def test_a_nightly_batch_core_waits_a_pickup_more_before_a_missing_997() -> None:
    spec = load_scenario("silent_partner")
    assert fa_deadline_s(spec, ARCHITECTURES["event"]) == 4 * 3600
    assert fa_deadline_s(spec, ARCHITECTURES["batch"]) == (4 + 24) * 3600
    with pytest.MonkeyPatch.context() as mp:
        outcome, store = run(mp, "silent_partner", "batch", **{"settle_days": 2.5})
    # the 997s of the partners that answer came in the next night's pickup: no exception
    # for them (with the 4 h alone, every 850 of the night before was one)
    assert {x["partner"] for x in missing_997s(store)} == {SILENT}
    assert partners(outcome)[SILENT]["missing_997_check"] == "met"


README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_readme_partners_example_loads_and_singles_the_partners_out(
    tmp_path: Path,
) -> None:
    [block] = re.findall(r"```yaml partners\n(.*?)```", README, re.S)
    (tmp_path / "mine.yaml").write_text(block, encoding="utf-8")
    spec = load_scenario(str(tmp_path / "mine.yaml"), overrides=SHORT)
    outcome = run_architecture(spec, "event")
    rows = partners(outcome)
    assert rows[SILENT]["unacknowledged"] == rows[SILENT]["missing_997_open"] > 0
    assert rows[LATE]["lag_s"]["p50"] > 4 * 3600
    error = re.search(r"\(`(suppliers\.partners\.SUPP1009: [^`]*), …\)`", README)
    assert error is not None
    with pytest.raises(ScenarioError, match=re.escape(error[1])):
        load_scenario(str(tmp_path / "mine.yaml"), overrides={"suppliers.partners.SUPP1009": {}})


def test_the_network_journals_every_850_it_receives_and_whom_it_was_for() -> None:
    world = World(CLEAN)  # functional_acks off: a partner that never sends a 997
    world.net = SupplierNetwork(
        Journal("supplier", world.clock, world.facts.append),
        world.clock,
        EPOCH,
        world.schedule,
        {SUPPLIER: CLEAN},
        7,
        journal_receivers=True,
    )
    world.order("4500000001", LINES, control=41)
    world.run()
    assert world.facts_of("received") == {"interchange:HOSPNET01:41": [1]}
    assert world.facts_of("receiver") == {"interchange:HOSPNET01:41": [SUPPLIER]}
    assert world.docs("997") == [] and world.docs("855")  # no 997, the business goes on
    plain = World(dataclasses.replace(CLEAN, functional_acks=True))
    plain.order("4500000001", LINES, control=41)
    assert plain.facts_of("receiver") == {}  # off by default: histories stay as they were
