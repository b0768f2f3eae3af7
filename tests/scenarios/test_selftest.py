"""``supplysync selftest``: every named defect is caught, and a broken checker is found out.

The whole catalogue runs on two seeds (about ten seconds); the other tests run one
defect on one seed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis import metrics
from analysis.checkers import Checked, check
from scenarios.cli.main import main
from scenarios.sim.catalogue import CATALOGUE
from scenarios.sim.selftest import Report, run_selftest, table


@pytest.fixture(scope="module")
def report() -> Report:
    return run_selftest((1, 2))


def test_the_catalogue_names_at_least_nine_defects_and_the_issue_s_list() -> None:
    names = {d.name for d in CATALOGUE}
    assert len(names) == len(CATALOGUE) >= 9
    assert {
        "drop_every_nth_ack", "no_idempotency_keys", "no_inbox_dedupe", "apply_out_of_order",
        "wrong_ap_price", "receipt_posted_twice", "stop_retrying_after_outage",
        "lose_outbox_on_crash", "skip_wms_expected_receipt",
    } <= names  # fmt: skip


def test_every_defect_is_caught_on_two_seeds_naming_an_entity_it_touched(report: Report) -> None:
    assert len(report.verdicts) == 2 * len(CATALOGUE)
    missed = [(v.defect.name, v.seed, v.explanation) for v in report.verdicts if not v.caught]
    assert not missed
    for v in report.verdicts:
        assert v.fired[v.defect.checker] > 0
        assert v.entity and v.entity in v.explanation  # the explanation names the entity


def test_the_clean_runs_show_no_violation_of_any_kind(report: Report) -> None:
    assert {c.base.name for c in report.clean_runs} == {d.base.name for d in CATALOGUE}
    assert all(c.clean for c in report.clean_runs), [
        (c.base.name, c.seed, c.fired, c.explanation) for c in report.clean_runs if not c.clean
    ]
    assert report.passed


def test_the_table_lists_each_defect_its_checker_and_first_explanation(report: Report) -> None:
    text = table(report)
    for d in CATALOGUE:
        row = next(line for line in text.splitlines() if line.startswith(d.name + " "))
        assert d.checker in row and ("po_line:" in row or "price:" in row)
    assert f"{2 * len(CATALOGUE)} of {2 * len(CATALOGUE)} defect runs caught" in text
    assert "NOT CAUGHT" not in text and "FIRED" not in text


def test_selftest_exits_0_when_every_defect_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--defect", "drop_every_nth_ack", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "drop_every_nth_ack" in out and "lost_update" in out and "1 of 1" in out


def test_a_checker_that_never_reports_duplicates_fails_the_selftest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def blind(*args: object, **kwargs: object) -> Checked:
        checked = check(*args, **kwargs)  # type: ignore[arg-type]
        return replace(
            checked, violations=[v for v in checked.violations if v.kind != "duplicate_effect"]
        )

    monkeypatch.setattr(metrics, "check", blind)  # what judge() calls
    code = main(["selftest", "--defect", "receipt_posted_twice", "--seed", "1"])
    out = capsys.readouterr().out
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("receipt_posted_twice"))
    assert "NOT CAUGHT" in row and "duplicate_effect never fired" in row
    assert "uncaught: receipt_posted_twice" in out


def test_the_same_seed_gives_the_same_table(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["selftest", "--defect", "apply_out_of_order", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "abc"], "not a seed (an integer): 'abc'"),
        (["--seed", "1,x"], "not a seed"),
        (["--defect", "no_such_defect"], "unknown defect 'no_such_defect' (known: drop_every"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["selftest", *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_list_names_every_defect(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(d.name in out and d.description in out for d in CATALOGUE)


def test_a_clean_run_that_settled_nothing_is_not_measured_not_clean() -> None:
    from scenarios.sim.catalogue import BASES, CHECKERS
    from scenarios.sim.selftest import Outcome, Report, _clean

    base, none = BASES[0], {kind: [] for kind in CHECKERS}
    idle = Outcome({}, 0, none, frozenset())
    run = _clean(base, 1, idle)
    assert not run.clean and run.explanation.startswith("not measured")
    assert not Report((), (run,)).passed
    busy = Outcome({}, 12, none, frozenset())
    assert _clean(base, 1, busy).clean
