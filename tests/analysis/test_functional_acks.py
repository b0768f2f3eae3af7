"""997 lag and unacknowledged interchanges, judged from hand-built histories alone."""

from __future__ import annotations

from typing import Any

from analysis.functional_acks import GRACE_S, functional_acks
from analysis.history import Change, History
from analysis.judged import judge_run
from analysis.metrics import judge
from analysis.report import summary_markdown
from analysis.results import Slos, build_results

END = 2 * 86400.0


def row(t: float, entity: str, field: str, value: Any, system: str = "supplier") -> Change:
    return Change(t, system, f"interchange:{entity}", field, value, f"cause:{entity}")


def the_850(control: int, t: float, answered: float | None, verdict: str = "A") -> list[Change]:
    """Our 850 interchange ``control`` reaching the partner at ``t``, its 997 at ``answered``."""
    rows = [row(t, f"HOSPNET01:{control}", "received", 1)]
    if answered is not None:
        rows.append(row(answered, f"HOSPNET01:{control}", "fa_status", verdict))
    return rows


def theirs(
    control: int, kind: str, t: float, answered: float | None, verdict: str = "A"
) -> list[Change]:
    """The partner's ``kind`` interchange sent at ``t``, the core's 997 taken in at ``answered``."""
    rows = [row(t, f"SUPP1001:{control}", "sent", kind)]
    if answered is not None:
        rows.append(row(answered, f"SUPP1001:{control}", "fa_status", verdict))
    return rows


def test_lag_is_from_the_interchange_to_its_first_997_per_direction() -> None:
    history = [
        *the_850(1, 100.0, 220.0),
        *the_850(2, 200.0, 500.0),
        *theirs(1, "855", 1000.0, 1000.5),
        *theirs(2, "856", 2000.0, 2003.0),
        *theirs(3, "810", 3000.0, 3000.25),
        row(9000.0, "SUPP1001:2", "fa_status", "A"),  # the same 997 taken in again
    ]

    fa = functional_acks(sorted(history), END)

    partner, core = fa["partner_997s"], fa["core_997s"]
    assert partner["interchanges"] == 2 and partner["lag_s"] == {
        "n": 2, "p50": 120.0, "p95": 300.0, "p99": 300.0, "max": 300.0,
    }  # fmt: skip
    assert core["interchanges"] == 3 and core["lag_s"]["n"] == 3
    assert (core["lag_s"]["p50"], core["lag_s"]["max"]) == (0.5, 3.0)  # not 7000: the first 997
    for d in (partner, core):
        assert (d["unacknowledged"], d["pending_at_end"], d["unacknowledged_examples"]) == (
            0, 0, [],
        )  # fmt: skip
    assert fa["grace_s"] == GRACE_S and fa["unmatched_997s"] == 0


def test_verdicts_are_counted_by_ak901() -> None:
    history = [
        *the_850(1, 0.0, 60.0, "A"),
        *the_850(2, 0.0, 60.0, "E"),  # accepted, with errors noted
        *the_850(3, 0.0, 60.0, "P"),
        *the_850(4, 0.0, 60.0, "R"),
        *the_850(5, 0.0, 60.0, "X"),  # rejected: content could not be analysed
        *theirs(1, "855", 0.0, 1.0, "R"),
    ]

    fa = functional_acks(history, END)

    partner = fa["partner_997s"]
    assert (partner["accepted"], partner["partially_accepted"], partner["rejected"]) == (2, 1, 2)
    assert fa["core_997s"]["rejected"] == 1 and fa["core_997s"]["accepted"] == 0


def test_an_interchange_never_answered_is_unacknowledged_past_the_grace_pending_within_it() -> None:
    history = [
        *the_850(1, 1000.0, None),  # a day and more without its 997
        *the_850(2, 500.0, None),  # older still: listed first
        *the_850(3, END - GRACE_S + 1, None),  # sent just inside the grace: still on its way
        *the_850(4, 0.0, 30.0),
        *theirs(7, "810", END - 60, None),
    ]

    fa = functional_acks(history, END)

    partner, core = fa["partner_997s"], fa["core_997s"]
    assert (partner["unacknowledged"], partner["pending_at_end"]) == (2, 1)
    assert partner["unacknowledged_examples"] == [
        "interchange:HOSPNET01:2", "interchange:HOSPNET01:1",
    ]  # fmt: skip
    assert partner["lag_s"]["n"] == 1  # only what was answered is a lag sample
    assert (core["unacknowledged"], core["pending_at_end"], core["lag_s"]["n"]) == (0, 1, 0)
    assert core["lag_s"]["p50"] is None  # not measured, never 0


def test_with_no_interchange_journalled_nothing_is_measured_not_zero() -> None:
    """A partner that never sends 997s journals no interchange: nothing to judge."""
    other = Change(10.0, "erp", "po_line:1:1", "ordered_qty", 5, "c")
    foreign = row(20.0, "HOSPNET01:1", "received", 1, system="wms")  # not the network's journal

    fa = functional_acks([other, foreign], END)

    for name in ("partner_997s", "core_997s"):
        d = fa[name]
        assert d["interchanges"] == 0
        assert d["lag_s"] == {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
        assert d["unacknowledged"] is None and d["pending_at_end"] is None


def test_a_997_for_an_interchange_never_journalled_is_counted_apart() -> None:
    """A partner that sends no 997s still takes the buyer's: fa_status with no ``sent``."""
    history = [row(50.0, "SUPP1001:3", "fa_status", "A"), *theirs(4, "855", 60.0, 61.0)]

    fa = functional_acks(history, END)

    assert fa["unmatched_997s"] == 1
    assert fa["core_997s"]["interchanges"] == 1 and fa["core_997s"]["accepted"] == 1


def test_results_json_carries_the_section_judged_from_the_history() -> None:
    history = History({"type": "header", "end_s": END})
    for change in [*the_850(1, 0.0, 90.0), *the_850(2, 10.0, None), *theirs(1, "855", 5.0, 5.5)]:
        history.record(change)

    results = build_results(
        judge(history),
        scenario="s",
        architecture="event",
        seed=1,
        simulated_seconds=END,
        slos=Slos(),
        volumes={},
    )

    fa = results["functional_acks"]
    assert fa["partner_997s"]["lag_s"]["max"] == 90.0
    assert fa["partner_997s"]["unacknowledged_examples"] == ["interchange:HOSPNET01:2"]
    assert fa["core_997s"]["lag_s"]["p50"] == 0.5
    # no fact is made of them: the checkers judged nothing
    assert results["consistency"]["entities"] == 0


def test_the_summary_table_shows_the_core_s_997_lag_and_what_went_unanswered() -> None:
    answered = History({"type": "header", "end_s": END, "architecture": "event"})
    for change in [*the_850(1, 0.0, 90.0), *the_850(2, 10.0, None), *theirs(1, "855", 5.0, 5.5)]:
        answered.record(change)
    silent = History({"type": "header", "end_s": END, "architecture": "batch"})

    summary = summary_markdown([judge_run(answered), judge_run(silent)])

    assert "| core's 997 lag p50 / p99 | 500 ms / 500 ms | not measured |" in summary
    assert "| unacknowledged interchanges | 1 | not measured |" in summary
