"""Scenario files as a user writes them: extends, overrides, shorthands, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from emulators.faults import ErrorRate, Faults, Outage
from emulators.supplier import SupplierProfile
from scenarios.spec.architectures import ARCHITECTURES
from scenarios.spec.load import ScenarioError, apply_overrides, load_scenario, parse_param
from scenarios.spec.models import ScenarioSpec, SupplierBehaviour


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# -- extends ----------------------------------------------------------------------


def test_extends_library_merges_mappings_and_replaces_lists(tmp_path):
    path = write(
        tmp_path / "mine.yaml",
        {
            "extends": "partial_confirmation",
            "name": "mine",
            "demand": {"pos_per_day": 40, "lines_per_po": [1, 2]},
            "suppliers": {"ack_delay": {"median_minutes": 10}},
        },
    )
    spec = load_scenario(str(path))
    base = load_scenario("partial_confirmation")
    assert spec.name == "mine" and spec.description == base.description
    assert spec.demand.pos_per_day == 40 and spec.demand.lines_per_po == (1, 2)
    assert spec.demand.quantity == base.demand.quantity  # sibling kept
    assert spec.suppliers.ack_delay.median_minutes == 10
    assert spec.suppliers.ack_delay.sigma == base.suppliers.ack_delay.sigma  # deep merge
    assert spec.suppliers.critical_partial_rate == base.suppliers.critical_partial_rate
    assert spec.extends is None


def test_extends_relative_path_resolves_against_the_extending_file(tmp_path, monkeypatch):
    base = load_scenario("partial_confirmation").model_dump(mode="json", exclude={"extends"})
    write(tmp_path / "bases" / "base.yaml", {**base, "name": "base", "seed": 11})
    write(tmp_path / "bases" / "middle.yaml", {"extends": "base.yaml", "name": "middle"})
    child = write(
        tmp_path / "suite" / "child.yaml",
        {"extends": "../bases/middle.yaml", "name": "child", "network": {"items": 50}},
    )
    monkeypatch.chdir(tmp_path / "suite")  # the path is not relative to the cwd
    spec = load_scenario(str(child))
    assert (spec.name, spec.seed, spec.network.items) == ("child", 11, 50)
    assert spec.network.suppliers == base["network"]["suppliers"]


def test_extends_cycle_is_an_error_naming_the_file(tmp_path):
    write(tmp_path / "a.yaml", {"extends": "b.yaml", "name": "a"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml", "name": "b"})
    with pytest.raises(ScenarioError) as e:
        load_scenario(str(tmp_path / "a.yaml"))
    assert e.value.field == "extends"
    assert "cycle" in e.value.reason and "a.yaml -> b.yaml -> a.yaml" in e.value.reason
    assert e.value.source.endswith("b.yaml")


def test_extends_itself_is_a_cycle(tmp_path):
    path = write(tmp_path / "self.yaml", {"extends": "self.yaml", "name": "x"})
    with pytest.raises(ScenarioError, match=r"self\.yaml: extends: cycle"):
        load_scenario(str(path))


@pytest.mark.parametrize(
    ("ref", "reason"),
    [("missing.yaml", r"cannot read the base .*missing\.yaml"), ("no_such", r"no library")],
)
def test_extends_missing_base_names_the_file(tmp_path, ref, reason):
    path = write(tmp_path / "child.yaml", {"extends": ref, "name": "child"})
    with pytest.raises(ScenarioError, match=rf"child\.yaml: extends: {reason}"):
        load_scenario(str(path))


def test_validating_an_unresolved_extends_is_refused():
    data = load_scenario("partial_confirmation").model_dump()
    with pytest.raises(ValueError, match="extends"):
        ScenarioSpec.model_validate({**data, "extends": "partial_confirmation"})


# -- overrides and --param ---------------------------------------------------------


def test_overrides_parse_yaml_scalars_and_apply_after_extends():
    spec = load_scenario(
        "partial_confirmation",
        overrides={
            "duration_days": "1",
            "demand.lines_per_po": "[1,2]",
            "suppliers.ship_notices": "false",
            "faults.erp.outage_minutes": "60",
            "faults.erp.outage_at_hours": 8,
            "architectures.hybrid.reconcile_minutes": 5.5,
        },
        seed=3,
    )
    assert spec.duration_days == 1 and spec.seed == 3
    assert spec.demand.lines_per_po == (1, 2)
    assert spec.suppliers.ship_notices is False
    assert spec.faults["erp"].outages == (Outage(start_s=8 * 3600, end_s=9 * 3600),)
    assert spec.architectures.hybrid.reconcile_minutes == 5.5


def test_apply_overrides_leaves_the_input_alone():
    data = {"a": {"b": 1}, "l": [{"x": 1}]}
    out = apply_overrides(data, {"a.b": "2", "a.c.d": "x", "l.0.x": "5"})
    assert out == {"a": {"b": 2, "c": {"d": "x"}}, "l": [{"x": 5}]}
    assert data == {"a": {"b": 1}, "l": [{"x": 1}]}


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("demand.pos_per_dya", "5", "demand.pos_per_dya", "unknown field"),
        ("faults.erp.outage_minuts", "60", "faults.erp.outage_minuts", "unknown field"),
        ("suppliers.reject_rate", "1.5", "suppliers.reject_rate", "less than or equal to 1"),
        ("architectures.api.retries", "-1", "architectures.api.retries", "greater than"),
        ("seed.x", "1", "seed", "is not a mapping"),
    ],
)
def test_bad_override_names_the_dotted_field(path, value, field, reason):
    with pytest.raises(ScenarioError) as e:
        load_scenario("partial_confirmation", overrides={path: value})
    assert e.value.source == "library:partial_confirmation"
    assert e.value.field == field and reason in e.value.reason


def test_parse_param_splits_values_outside_brackets():
    assert parse_param("faults.erp.outage_minutes=0,60,240") == (
        "faults.erp.outage_minutes",
        [0, 60, 240],
    )
    assert parse_param("demand.lines_per_po=[1,2],[4, 10]") == (
        "demand.lines_per_po",
        [[1, 2], [4, 10]],
    )
    assert parse_param(" suppliers.invoices = true,false") == ("suppliers.invoices", [True, False])
    assert parse_param("name=abc") == ("name", ["abc"])


@pytest.mark.parametrize("text", ["nothing", "=1", "a..b=1", "a.b=1,,2", "a.b="])
def test_parse_param_rejects_malformed_text(text):
    with pytest.raises(ScenarioError) as e:
        parse_param(text)
    assert e.value.source == "--param"


# -- suppliers ---------------------------------------------------------------------


def _hand_built(b: SupplierBehaviour) -> SupplierProfile:
    """What scenarios/sim/network.py builds by hand today (before profile() existed)."""
    return SupplierProfile(
        partial_rate=b.partial_rate,
        backorder_rate=b.backorder_rate,
        critical_partial_rate=b.critical_partial_rate,
        critical_backorder_rate=b.critical_backorder_rate,
        partial_fill=b.partial_fill,
        backorder_days=b.backorder_days,
        ack_delay_median_s=b.ack_delay.median_minutes * 60,
        ack_delay_sigma=b.ack_delay.sigma,
        ship_notices=True,
        invoices=True,
        # a scenario's partners answer 850s with 997s (a bare emulator profile does not)
        functional_acks=b.functional_acks,
        fa_delay_median_s=b.fa_delay.median_minutes * 60,
        fa_delay_sigma=b.fa_delay.sigma,
    )


@pytest.mark.parametrize("scenario", ["partial_confirmation", "regional_network", None])
def test_profile_equals_todays_hand_built_profile_for_defaults(scenario):
    b = SupplierBehaviour() if scenario is None else load_scenario(scenario).suppliers
    assert b.profile() == _hand_built(b)


def test_profile_carries_every_behaviour_in_emulator_units():
    b = SupplierBehaviour.model_validate(
        {
            "reject_rate": 0.01,
            "substitution_rate": 0.02,
            "price_change_rate": 0.1,
            "price_change": [0.9, 1.2],
            "missing_ack_rate": 0.03,
            "duplicate_ack_rate": 0.04,
            "duplicate_ack_delay_minutes": 2,
            "ship_notices": False,
            "ship_delay": {"median_minutes": 120, "sigma": 0.3},
            "shelf_life_days": [30, 60],
            "invoices": True,
            "invoice_delay": {"median_minutes": 60, "sigma": 0.2},
            "duplicate_invoice_rate": 0.005,
            "duplicate_invoice_delay_days": 2,
        }
    )
    p = b.profile()
    assert (p.reject_rate, p.substitution_rate, p.price_change_rate) == (0.01, 0.02, 0.1)
    assert p.price_change == (0.9, 1.2) and p.shelf_life_days == (30, 60)
    assert (p.missing_ack_rate, p.duplicate_rate, p.duplicate_delay_s) == (0.03, 0.04, 120)
    assert (p.ship_notices, p.ship_delay_median_s, p.ship_delay_sigma) == (False, 7200, 0.3)
    assert (p.invoices, p.invoice_delay_median_s, p.invoice_delay_sigma) == (True, 3600, 0.2)
    assert (p.duplicate_invoice_rate, p.duplicate_invoice_delay_s) == (0.005, 2 * 86400)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"suppliers.reject_rate": 0.5, "suppliers.substitution_rate": 0.6}, "suppliers",
         "reject_rate + substitution_rate + price_change_rate must not exceed 1"),
        ({"suppliers.price_change": [0, 1]}, "suppliers.price_change", "needs 0 < min <= max"),
        ({"suppliers.ship_delay.median_minutes": 0}, "suppliers.ship_delay.median_minutes",
         "greater than 0"),
        ({"suppliers.missing_ack_rate": -0.1}, "suppliers.missing_ack_rate", "greater than"),
    ],
)  # fmt: skip
def test_invalid_supplier_behaviour_names_the_field(overrides, field, reason):
    with pytest.raises(ScenarioError) as e:
        load_scenario("partial_confirmation", overrides=overrides)
    assert e.value.field == field and reason in e.value.reason


# -- faults ------------------------------------------------------------------------


def test_fault_shorthands_expand_into_emulator_faults():
    spec = load_scenario(
        "partial_confirmation",
        overrides={
            "faults.erp.outage_at_hours": 30,
            "faults.erp.outage_minutes": 240,
            "faults.erp.outage_mode": "refuse",
            "faults.erp.error_rate": 0.02,
            "faults.erp.outages": [{"start_s": 100, "end_s": 200}],
            "faults.wms.error_rate": {"rate": 0.1, "status": 502},
        },
    )
    erp = spec.faults["erp"]
    assert isinstance(erp, Faults)
    assert erp.outages == (
        Outage(start_s=100, end_s=200),
        Outage(start_s=30 * 3600, end_s=34 * 3600, mode="refuse"),
    )
    assert erp.error_rate == ErrorRate(rate=0.02, status=500)
    plain = erp.faults()
    assert type(plain) is Faults and plain.outages == erp.outages
    assert plain.error_rate == erp.error_rate
    wms = spec.faults["wms"]
    assert wms.error_rate == ErrorRate(rate=0.1, status=502) and wms.outages == ()
    assert spec.last_fault_end_s == 34 * 3600


def test_expanded_faults_survive_a_round_trip_without_doubling():
    spec = load_scenario(
        "partial_confirmation",
        overrides={"faults.erp.outage_at_hours": 30, "faults.erp.outage_minutes": 60},
    )
    again = ScenarioSpec.model_validate(spec.model_dump())
    assert again.faults["erp"].outages == spec.faults["erp"].outages
    assert len(again.faults["erp"].outages) == 1


def test_zero_minute_outage_is_no_outage():
    spec = load_scenario("partial_confirmation", overrides={"faults.erp.outage_minutes": 0})
    assert spec.faults["erp"].outages == () and spec.last_fault_end_s == 0


def test_core_crashes_are_kept_apart_from_system_faults():
    spec = load_scenario(
        "partial_confirmation",
        overrides={
            "faults.core.crashes": "[{at_hours: 10, down_minutes: 5}, {at_hours: 20}]",
            "faults.core.latency_spikes": [{"at_hours": 1, "minutes": 30, "extra_ms": 500}],
        },
    )
    assert "core" not in spec.faults
    crashes = spec.core_faults.crashes
    assert [(c.start_s, c.end_s) for c in crashes] == [(36000, 36300), (72000, 72000)]
    assert spec.core_faults.latency_spikes[0].end_s == 3600 + 1800
    assert spec.last_fault_end_s == 72000


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"faults.erp.outage_at_hours": 106, "faults.erp.outage_minutes": 240},
         "faults.erp.outage_at_hours", "past the end of the run (108 h)"),
        ({"faults.erp.outages": [{"start_s": 0, "end_s": 1e9}]},
         "faults.erp.outages.0.end_s", "past the end of the run"),
        ({"faults.core.crashes": [{"at_hours": 200}]},
         "faults.core.crashes.0.at_hours", "past the end of the run"),
        ({"faults.core.crashes": [{"at_hours": 5, "down_minutes": 120}, {"at_hours": 6}]},
         "faults.core.crashes.1.at_hours", "starts before crash 0 has restarted"),
        ({"faults.core.crashes": [{"at_hours": -1}]},
         "faults.core.crashes.0.at_hours", "greater than or equal to 0"),
        ({"faults.erp.outage_minutes": -5}, "faults.erp.outage_minutes", "greater than"),
        ({"faults.erp.error_rate": 2}, "faults.erp.error_rate.rate", "less than or equal to 1"),
        ({"faults.erp.rate_limit_rps": 0}, "faults.erp.rate_limit_rps", "greater than 0"),
        ({"faults.mainframe.outage_minutes": 5}, "faults.mainframe", "unknown key"),
        ({"slos.lag_p99_s.ship_notices": 60}, "slos.lag_p99_s", "unknown flow 'ship_notices'"),
        ({"slos.lag_p99_s.invoice": -1}, "slos.lag_p99_s.invoice", "greater than 0"),
        ({"contract_price_changes": [{"at_hours": 500, "item_share": 0.2}]},
         "contract_price_changes.0.at_hours", "past the end of the run"),
        ({"contract_price_changes": [{"at_hours": 5, "item_share": 0.2, "factor": [1.1, 0.9]}]},
         "contract_price_changes.0.factor", "needs 0 < min <= max"),
    ],
)  # fmt: skip
def test_invalid_faults_and_slos_name_the_field(overrides, field, reason):
    with pytest.raises(ScenarioError) as e:
        load_scenario("partial_confirmation", overrides=overrides)
    assert e.value.field == field, str(e.value)
    assert reason in e.value.reason, str(e.value)


# -- architectures, SLOs, schema ---------------------------------------------------


def test_architectures_and_their_defaults():
    assert tuple(ARCHITECTURES) == ("batch", "api", "event", "hybrid")
    archs = ScenarioSpec.model_fields["architectures"].default
    assert (archs.api.retries, archs.api.retry_delay_s) == (3, 5)
    assert archs.hybrid.reconcile_minutes == 15
    with pytest.raises(ScenarioError, match=r"architectures\.event\.fast: unknown field"):
        load_scenario("partial_confirmation", overrides={"architectures.event.fast": True})


def test_new_slos_accept_every_flow_and_keep_results_slos_compatible():
    spec = load_scenario(
        "partial_confirmation",
        overrides={"slos.lag_p99_s.invoice": 3600, "slos.converged_within_minutes": 30},
    )
    assert spec.slos.lag_p99_s["invoice"] == 3600
    assert spec.slos.converged_within_minutes == 30
    # runner.py passes this dump to analysis.results.Slos: every key must be one it takes
    from dataclasses import fields

    from analysis.results import Slos

    assert set(spec.slos.model_dump()) <= {f.name for f in fields(Slos)}
    assert Slos(**spec.slos.model_dump()).converged_within_minutes == 30


def test_json_schema_documents_every_new_field():
    schema = ScenarioSpec.model_json_schema()
    defs = schema["$defs"]
    text = json.dumps(schema)
    assert "extends" in schema["properties"]
    faults = schema["properties"]["faults"]
    assert faults["properties"]["core"] == {"$ref": "#/$defs/CoreFaults"}
    assert "core" in faults["propertyNames"]["enum"]
    for model, fields in {
        "SystemFaults": ["outage_minutes", "outage_at_hours", "rate_limit_rps", "latency_spikes"],
        "SupplierBehaviour": ["reject_rate", "duplicate_ack_rate", "ship_delay", "invoices"],
        "ApiSpec": ["retries", "retry_delay_s"],
        "HybridSpec": ["reconcile_minutes"],
        "Crash": ["at_hours", "down_minutes"],
        "SloSpec": ["converged_within_minutes"],
    }.items():
        for name in fields:
            assert defs[model]["properties"][name].get("description"), (model, name)
        assert defs[model]["additionalProperties"] is False
    assert "match_status" in text
