"""The scenario library: every file validates and says what the story promises."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from importlib import resources
from pathlib import Path

import pytest
import yaml

from analysis.facts import FLOWS
from scenarios.spec.load import ScenarioError, library_names, load_scenario

EXPECTED = {
    "regional_network",
    "partial_confirmation",
    "erp_outage",
    "supplier_network_outage",
    "backorder_storm",
    "price_change_propagation",
    "invoice_exceptions",
    "webhook_chaos",
    "rate_limit_pressure",
    "crash_recovery",
    "bill_only_implants",
    "erp_release",
    "silent_partner",
    "uom_mismatch",
    "change_orders",
}


def raw(name: str) -> dict:
    text = resources.files("scenarios.library").joinpath(f"{name}.yaml").read_text()
    return yaml.safe_load(text)


def test_the_library_holds_every_story():
    assert set(library_names()) >= EXPECTED


SOURCES = Path(__file__).parents[2] / "scenarios" / "library" / "SOURCES.md"
SOURCE_NAMES = ("Vizient", "GHX", "FDA", "HIMSS", "cXML", "Oracle", "Ontario", "ASC X12")


def test_the_sources_page_explains_every_source_a_story_names():
    page = SOURCES.read_text()
    for source in SOURCE_NAMES:
        assert source in page, source


def test_no_file_of_the_repository_cites_a_path_outside_it():
    root = Path(__file__).parents[2]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = re.compile(r"\.\./shared/|\b(DOMAIN|DESIGN|STYLE)\.md\b")
    found = [
        f"{name}:{n}"
        for name in tracked
        if not name.startswith(".") and (root / name).is_file()
        for n, line in enumerate((root / name).read_text(errors="replace").splitlines(), 1)
        if outside.search(line)
    ]
    assert found == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_library_file_validates_and_cites_its_sources(name):
    spec = load_scenario(name)
    assert spec.name == name
    # its sources, named in the description and explained in the repository's own page
    assert "Sources (SOURCES.md beside this file):" in " ".join(spec.description.split())
    named = " ".join(spec.description.split()).split("SOURCES.md beside this file):", 1)[1]
    assert any(source in named for source in SOURCE_NAMES), named
    assert spec.last_fault_end_s <= spec.end_s
    # every lag SLO is on a flow the analysis measures today, or the run could not judge it
    assert set(spec.slos.lag_p99_s) <= set(FLOWS)
    # the library runs shortened in CI: down to the end of its last fault
    days = max(0.5, spec.last_fault_end_s / 86400 - spec.settle_days)
    short = load_scenario(name, overrides={"duration_days": days, "network.items": 40})
    assert short.end_s >= short.last_fault_end_s == spec.last_fault_end_s


STANDALONE = {"regional_network", "partial_confirmation", "bill_only_implants"}


@pytest.mark.parametrize("name", sorted(EXPECTED - STANDALONE))
def test_fault_stories_extend_the_regional_network(name):
    assert raw(name)["extends"] == "regional_network"
    base, spec = load_scenario("regional_network"), load_scenario(name)
    assert spec.network.model_copy(update={"drugs": 0}) == base.network  # drugs: an addition
    assert spec.latency == base.latency


def test_regional_network_is_the_size_the_issue_names():
    spec = load_scenario("regional_network")
    assert (spec.network.hospitals, spec.network.distribution_centers) == (8, 2)
    assert spec.demand.pos_per_day == 800 and spec.duration_days == 30
    assert spec.start.weekday() == 0


def test_erp_outage_is_four_hours_at_month_end_in_working_hours():
    spec = load_scenario("erp_outage")
    (outage,) = spec.faults["erp"].outages
    assert outage.end_s - outage.start_s == 4 * 3600
    begins = spec.start + dt.timedelta(seconds=outage.start_s)
    assert (begins + dt.timedelta(days=1)).day == 1  # the last day of the month
    assert spec.demand.working_hours[0] <= begins.hour < spec.demand.working_hours[1]
    assert spec.slos.converged_within_minutes is not None


def test_supplier_network_outage_refuses_connections_for_six_hours():
    (outage,) = load_scenario("supplier_network_outage").faults["supplier"].outages
    assert outage.mode == "refuse" and outage.end_s - outage.start_s == 6 * 3600


def test_backorder_storm_shorts_about_half_the_critical_lines_for_weeks():
    spec = load_scenario("backorder_storm")
    s = spec.suppliers
    assert 0.45 <= s.critical_partial_rate + s.critical_backorder_rate <= 0.55
    assert s.partial_rate + s.backorder_rate <= 0.10  # other lines: normal times
    assert spec.duration_days >= 14 and s.backorder_days[0] >= 14


def test_price_and_invoice_stories_ship_and_bill():
    for name in ("price_change_propagation", "invoice_exceptions"):
        p = load_scenario(name).suppliers.profile()
        assert p.ship_notices and p.invoices and p.price_change_rate > 0
    assert load_scenario("invoice_exceptions").suppliers.duplicate_invoice_rate == 0.005
    (change,) = load_scenario("price_change_propagation").contract_price_changes
    assert 0 < change.item_share < 1 and change.factor[0] < 1 < change.factor[1]


def test_webhook_chaos_drops_duplicates_and_reorders_both_publishers():
    spec = load_scenario("webhook_chaos")
    for system in ("erp", "supplier"):
        hooks = spec.faults[system].webhooks
        assert hooks.drop > 0 and hooks.duplicate > 0 and hooks.reorder > 0
    assert spec.suppliers.duplicate_ack_rate > 0


def test_rate_limit_pressure_limits_the_erp_at_ten_requests_a_second():
    erp = load_scenario("rate_limit_pressure").faults["erp"]
    assert erp.rate_limit_rps == 10


def test_crash_recovery_kills_the_core_repeatedly_mid_stream():
    spec = load_scenario("crash_recovery")
    crashes = spec.core_faults.crashes
    assert len(crashes) >= 3 and "core" not in spec.faults
    in_hours = [c for c in crashes if 7 <= (spec.start + dt.timedelta(hours=c.at_hours)).hour < 19]
    assert len(in_hours) >= 3  # while buyers are ordering


def test_a_user_file_can_extend_a_library_fault_story(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: erp_outage\nname: mine\nfaults: {erp: {outage_minutes: 30}}\n")
    spec = load_scenario(str(path))
    (outage,) = spec.faults["erp"].outages
    assert outage.start_s == 206 * 3600 and outage.end_s - outage.start_s == 1800


def test_shortening_a_fault_story_past_its_fault_names_the_fault():
    with pytest.raises(ScenarioError) as e:
        load_scenario("erp_outage", overrides={"duration_days": 2})
    assert e.value.field == "faults.erp.outage_at_hours" and "past the end" in e.value.reason
