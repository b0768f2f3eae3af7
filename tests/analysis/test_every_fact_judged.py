"""Every replicated fact is judged: for each row of the facts table, the library story that
exercises it makes its owner journal changes, the replicas reflect them, and a wrong or a
missing replica value planted in that very history is reported on that fact and entity.

The mutations are what a faulty middleware leaves behind: AP shown a unit price 25 % too
high, a contract-price change never sent to AP, a receipt quantity mistyped, ..."""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest

from analysis.facts import FACTS, Fact
from analysis.history import Change, History
from analysis.metrics import judge
from analysis.results import coverage
from scenarios.sim.runner import run_architecture
from scenarios.spec.load import load_scenario

SHORT = {"duration_days": 1, "settle_days": 1.5, "demand.pos_per_day": 150, "network.items": 120}
#: the library story that exercises each fact (shortened as in test_library_runs)
STORY = {fact.name: ("partial_confirmation", {}) for fact in FACTS} | {
    "contract_price": (
        "price_change_propagation",
        {"contract_price_changes": [{"at_hours": 10, "item_share": 0.2, "factor": [0.97, 1.08]}]},
    ),
}


@cache
def story(name: str) -> History:
    scenario, shift = STORY[name]
    spec = load_scenario(scenario, overrides={**SHORT, **shift})
    return run_architecture(spec, "event").history


def replica_writes(history: History, fact: Fact) -> list[Change]:
    replicas = set(fact.replicas)
    return [c for c in history.changes if (c.system, c.field) in replicas]


def with_changes(history: History, changes: list[Change]) -> History:
    return dataclasses.replace(history, changes=changes)


def wrong(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"WRONG {value}"
    return round(value * 1.25 + 1, 2)  # 25 % too high (and never equal to a small 0)


def violations_on(history: History, fact: Fact, entity: str) -> list[str]:
    return [v.kind for v in judge(history).violations if v.fact == fact.name and v.entity == entity]


def test_the_table_names_a_story_for_every_fact() -> None:
    assert set(STORY) == {f.name for f in FACTS}


@pytest.mark.parametrize("fact", FACTS, ids=lambda f: f.name)
def test_the_owner_journals_the_fact_and_every_replica_reflects_it(fact: Fact) -> None:
    history = story(fact.name)
    judgement = judge(history)
    entry = coverage(judgement)[fact.name]
    assert entry["owner_updates"] >= 1, f"{entry['owner']} never journalled {fact.name}"
    assert entry["status"] == "carried", entry
    assert not [v for v in judgement.violations if v.fact == fact.name]  # the clean run


@pytest.mark.parametrize("fact", FACTS, ids=lambda f: f.name)
def test_a_wrong_replica_value_is_reported_on_its_fact_and_entity(fact: Fact) -> None:
    history = story(fact.name)
    last = replica_writes(history, fact)[-1]  # the value the replica ends the run with
    entity = fact.owner_entity(last.entity)
    assert entity is not None
    planted = last._replace(value=wrong(last.value))
    mutated = [planted if c is last else c for c in history.changes]

    found = violations_on(with_changes(history, mutated), fact, entity)

    assert found, f"{last.system}.{last.field} of {last.entity} set to {planted.value!r}: unseen"


@pytest.mark.parametrize("fact", FACTS, ids=lambda f: f.name)
def test_a_dropped_update_is_reported_as_lost(fact: Fact) -> None:
    history = story(fact.name)
    last = replica_writes(history, fact)[-1]
    entity = fact.owner_entity(last.entity)
    # the middleware never carried anything of this entity to this replica
    mutated = [
        c
        for c in history.changes
        if (c.system, c.field, c.entity) != (last.system, last.field, last.entity)
    ]

    assert "lost_update" in violations_on(with_changes(history, mutated), fact, str(entity))


def test_ap_shown_a_unit_price_25_percent_too_high_is_caught() -> None:
    history = story("ordered_price")
    prices = [c for c in history.changes if (c.system, c.field) == ("ap", "ap_unit_price")]
    high = {id(c): c._replace(value=round(c.value * 1.25, 2)) for c in prices[:10]}
    judgement = judge(with_changes(history, [high.get(id(c), c) for c in history.changes]))
    wrong_price = {
        v.entity for v in judgement.violations if v.fact == "ordered_price" and v.kind != "pending"
    }
    assert wrong_price == {c.entity for c in prices[:10]}


def test_a_contract_price_change_never_sent_to_ap_is_caught() -> None:
    history = story("contract_price")
    changed = sorted({c.entity for c in history.changes if c.field == "contract_price"})
    assert changed, "the story changed no contract price during the run"
    target = changed[0]
    # the middleware drops the change: AP never shows a price for that item
    kept = [
        c for c in history.changes
        if not (c.field == "ap_contract_price" and c.entity.startswith(target + ":"))
    ]  # fmt: skip
    judgement = judge(with_changes(history, kept))
    [lost] = [v for v in judgement.violations if v.fact == "contract_price"]
    assert (lost.kind, lost.entity, lost.replica) == ("lost_update", target, "ap.ap_contract_price")
    assert not judgement.converged
