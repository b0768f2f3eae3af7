"""``supplysync sweep``: the grid, its table and plots, determinism, and bad --param input."""

from __future__ import annotations

import argparse
import csv

import pytest

from scenarios.sim import sweep as sweep_cli
from scenarios.sim.sweep import sweep
from scenarios.spec.load import ScenarioError

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def small(scenario_file) -> str:
    """Half a day of demand; the ERP outage, when its length is swept above 0, starts at 09:00."""
    return str(
        scenario_file(
            duration_days=0.5,
            demand={"pos_per_day": 120},
            faults={"erp": {"outage_at_hours": 9}},
        )
    )


def _cli(argv: list[str]) -> argparse.Namespace:
    """The sweep sub-command as ``supplysync`` registers it."""
    parser = argparse.ArgumentParser(prog="supplysync")
    sweep_cli.COMMAND.install(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_sweep_outage_length_event_vs_batch(small, tmp_path, capsys):
    out = tmp_path / "sweep"
    args = _cli(["sweep", small, "--param", "faults.erp.outage_minutes=0,120", "--architectures",
                 "event,batch", "--out", str(out), "--workers", "2"])  # fmt: skip
    assert sweep_cli.handle(args) == 0

    with (out / "sweep.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    grid = [(r["faults.erp.outage_minutes"], r["architecture"]) for r in rows]
    assert grid == [("0", "event"), ("0", "batch"), ("120", "event"), ("120", "batch")]
    header = list(rows[0])
    assert header[:3] == ["faults.erp.outage_minutes", "architecture", "seed"]
    for metric in ("po_acknowledgment_lag_p99_s", "lost_updates", "duplicate_effects",
                   "converged", "slos_passed"):  # fmt: skip
        assert metric in header
    by = {(r["faults.erp.outage_minutes"], r["architecture"]): r for r in rows}
    # the story the sweep tells: event-driven sync learns of acknowledgments in seconds, but
    # not while the ERP is down; the nightly batch is slow or loses them either way
    assert float(by["0", "event"]["po_acknowledgment_lag_p99_s"]) < 60
    assert float(by["120", "event"]["po_acknowledgment_lag_p99_s"]) > 1800
    assert by["0", "event"]["slos_passed"] == "true"
    assert all(by[o, "batch"]["slos_passed"] == "false" for o in ("0", "120"))
    assert {r["seed"] for r in rows} == {"20241004"}

    for metric in header[3:]:
        if metric.endswith("_samples"):  # the count behind a percentile: a column, no plot
            assert not (out / f"{metric}.png").exists()
            continue
        assert (out / f"{metric}.png").read_bytes()[:8] == PNG, metric
    assert int(by["0", "event"]["po_acknowledgment_lag_samples"]) > 0
    # a flow the short run never exercised is not measured: empty, never 0
    assert (
        by["0", "event"]["price_lag_p99_s"] == "" and by["0", "event"]["price_lag_samples"] == "0"
    )
    md = (out / "sweep.md").read_text()
    assert "| faults.erp.outage_minutes | architecture | seed |" in md
    assert "![po_acknowledgment_lag_p99_s](po_acknowledgment_lag_p99_s.png)" in md
    assert "| not measured |" in md
    assert (out / "runs" / "002-event" / "results.json").is_file()
    printed = capsys.readouterr()
    assert "| 120 | event | 20241004 |" in printed.out
    assert f"table: {out / 'sweep.csv'}" in printed.out
    assert printed.err == ""  # no progress line when stderr is not a terminal


def test_same_inputs_same_csv_whatever_the_workers(small, tmp_path):
    params = [("demand.pos_per_day", [60, 120])]
    seen: list[tuple[int, int]] = []
    one = sweep(small, params, ["event"], tmp_path / "a", seed=5, workers=1, plots=False,
                progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen == [(1, 2), (2, 2)]
    two = sweep(small, params, ["event"], tmp_path / "b", seed=5, workers=2, plots=False)
    assert one.csv_path.read_bytes() == two.csv_path.read_bytes()
    assert [r["seed"] for r in one.rows] == [5, 5]
    assert one.rows[0]["demand.pos_per_day"] == 60 and not one.plots
    other = sweep(small, params, ["event"], tmp_path / "c", seed=6, workers=1, plots=False)
    assert other.csv_path.read_bytes() != one.csv_path.read_bytes()


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("faults.erp.outage_minutes", "argument --param: --param: faults.erp.outage_minutes: "),
        ("=1,2", "argument --param: --param: =1,2: "),
        ("demand.pos_per_day=1,,2", "argument --param: --param: demand.pos_per_day: empty value"),
    ],
    ids=["no-values", "no-path", "empty-value"],
)
def test_bad_param_syntax_exits_2_naming_it(param, message, capsys):
    with pytest.raises(SystemExit) as e:
        _cli(["sweep", "partial_confirmation", "--param", param])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("demand.pos_per_dya", [1, 2])], r"small\.yaml: demand\.pos_per_dya: unknown field"),
        (
            [("demand.pos_per_day", [60, -1])],
            r"small\.yaml: demand\.pos_per_day: .*greater than 0 "
            r"\(sweep point demand\.pos_per_day=-1\)",
        ),
        ([("seed", [1, 2]), ("seed", [3])], r"--param: seed: given twice"),
    ],
    ids=["unknown-field", "bad-value", "twice"],
)
def test_bad_grid_point_is_named_before_anything_runs(small, tmp_path, params, message):
    with pytest.raises(ScenarioError, match=message):
        sweep(small, params, ["event"], tmp_path / "o", workers=1)
    assert not (tmp_path / "o").exists()


def test_unknown_architecture_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        _cli(["sweep", "partial_confirmation", "--param", "seed=1", "--architectures", "fax"])
    assert e.value.code == 2
    assert "unknown architecture 'fax'" in capsys.readouterr().err
