"""The supplysync command line as a user meets it: outputs, verdicts, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.cli.main import main

README = Path(__file__).parents[2] / "README.md"


def test_run_event_meets_slos_and_writes_artefacts(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(scenario_file()), "--architecture", "event", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["schema_version"] == 2
    assert results["architecture"] == "event" and results["mode"] == "simulation"
    assert results["passed"] is True
    ack = results["flows"]["po_acknowledgment"]
    assert ack["updates"] > 0 and ack["lag_s"]["p99"] < 60
    header, *changes = (out / "history.jsonl").read_text().splitlines()
    assert json.loads(header)["type"] == "header" and len(changes) > 100
    page = (out / "report.html").read_text()
    assert "<img" in page and "data:image/png;base64," in page and "http" not in page
    assert "report:" in capsys.readouterr().out


def test_run_batch_violates_lag_slo_exit_1(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(scenario_file()), "--architecture", "batch", "--out", str(out)]) == 1
    results = json.loads((out / "results.json").read_text())
    failed = [s["name"] for s in results["slos"] if not s["passed"]]
    assert "po_acknowledgment p99 lag <= 900 s" in failed
    assert "violates" in capsys.readouterr().out


def test_compare_partial_confirmation_tells_batch_from_event(tmp_path, capsys):
    """The issue's story: batch learns of partial confirmations hours late, event in seconds."""
    out = tmp_path / "cmp"
    code = main(["compare", "partial_confirmation", "--architectures", "batch,event",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    batch = json.loads((out / "batch" / "results.json").read_text())
    event = json.loads((out / "event" / "results.json").read_text())
    assert batch["flows"]["po_acknowledgment"]["lag_s"]["p99"] > 3600
    assert event["flows"]["po_acknowledgment"]["lag_s"]["p99"] <= 300
    for r in (batch, event):
        assert r["consistency"] == {**r["consistency"], "lost_updates": 0, "duplicate_effects": 0}
        # the same seed gives both architectures the very same demand
        assert r["seed"] == batch["seed"]
        assert r["volumes"]["po_lines"] == batch["volumes"]["po_lines"] > 1000
    assert event["consistency"]["converged"]
    # the suppliers ship and bill after demand stops: at the end, what they did since the
    # last nightly run is still on its way under batch (pending, not lost)
    assert not batch["consistency"]["converged"] and batch["consistency"]["pending_at_end"] > 0
    assert (out / "report.html").exists() and (out / "summary.md").exists()
    # the README shows this very table: its rows must be what the tool prints
    printed = capsys.readouterr().out
    block = README.read_text().split("## What you get", 1)[1].split("```", 2)[1]
    for row in block.strip().splitlines()[1:]:
        assert row in printed, f"README row not in the output: {row}"
    # and its results.json example's SLO entry is this run's first, to the letter
    example = README.read_text().split("### results.json (schema_version 2)", 1)[1]
    example = " ".join(example.split("```", 2)[1].split())
    for key, value in event["slos"][0].items():
        assert f'"{key}": {json.dumps(value)}' in example, (key, value)


def test_report_rebuilds_a_comparison_byte_identical_in_the_order_it_ran(scenario_file, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", str(scenario_file()), "--architectures", "event,batch", "--out", str(out)]
    assert main(args) == 0
    written = {name: (out / name).read_bytes() for name in ("summary.md", "report.html")}
    assert "| | event | batch |" in written["summary.md"].decode()

    assert main(["report", str(out)]) == 0

    for name, before in written.items():
        assert (out / name).read_bytes() == before, name


def test_compare_strict_exits_1_when_an_architecture_misses_slos(scenario_file, tmp_path):
    args = ["compare", str(scenario_file()), "--out", str(tmp_path / "c"), "--strict"]
    assert main(args) == 1


def test_same_seed_same_bytes_other_seed_differs(scenario_file, tmp_path):
    path = scenario_file()

    def results(seed: int, name: str) -> bytes:
        out = tmp_path / name
        main(["run", str(path), "--seed", str(seed), "--out", str(out)])
        return (out / "results.json").read_bytes()

    first, again, other = results(7, "a"), results(7, "b"), results(8, "c")
    assert first == again
    assert other != first
    assert json.loads(other)["seed"] == 8


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name: x\n  bad: [\n", r"invalid YAML"),
        (None, r"small\.yaml: demand\.pos_per_day: unknown field"),
        ("typo", r"small\.yaml: suppliers\.partial_rate: Input should be less than or equal to 1"),
    ],
    ids=["invalid-yaml", "unknown-field", "out-of-range"],
)
def test_bad_scenario_exit_2_names_file_field_reason(
    scenario_file, tmp_path, capsys, content, expected
):
    if content is None:
        path = scenario_file(demand={"pos_per_day": 5, "pos_per_day ": 1})
        path.write_text(path.read_text().replace("'pos_per_day '", "pos_per_dya"))
        expected = r"small\.yaml: demand\.pos_per_dya: unknown field"
    elif content == "typo":
        path = scenario_file(suppliers={"partial_rate": 1.5})
    else:
        path = tmp_path / "small.yaml"
        path.write_text(content)
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert re.search(expected, err), err
    assert "Traceback" not in err


def test_unknown_scenario_and_architecture_exit_2(capsys):
    assert main(["run", "no_such_story"]) == 2
    err = capsys.readouterr().err
    assert "no_such_story" in err and "partial_confirmation" in err
    with pytest.raises(SystemExit) as e:
        main(["compare", "partial_confirmation", "--architectures", "batch,carrier_pigeon"])
    assert e.value.code == 2
    assert "unknown architecture 'carrier_pigeon'" in capsys.readouterr().err


def test_readme_error_example_is_what_the_tool_says(scenario_file, tmp_path):
    """The README's bad-input example, run as a real process: message, exit 2, no traceback."""
    example = README.read_text().split("$ supplysync run my.yaml\n", 1)[1].splitlines()[0]
    path = scenario_file("my.yaml", suppliers={"partial_rate": 1.5})
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.cli.main", "run", "my.yaml"],
        cwd=path.parent, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == example
    assert not (path.parent / "out").exists()


def test_scenarios_list_validate_schema(capsys, scenario_file):
    assert main(["scenarios", "list"]) == 0
    assert re.search(r"^partial_confirmation\s+A regional network", capsys.readouterr().out, re.M)
    assert main(["scenarios", "validate", str(scenario_file())]) == 0
    assert "valid scenario 'partial_confirmation'" in capsys.readouterr().out
    assert main(["scenarios", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "suppliers" in schema["properties"] and schema["additionalProperties"] is False
