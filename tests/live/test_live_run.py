"""``supplysync live`` end to end: real processes, real faults, Locust load, one verdict.

One short live run (about 20 s of load, six users) of a small scenario whose
ERP is down for three hours of scenario time, whose ERP, supplier
network and WMS deliver a fifth of their webhooks twice, and whose sync core
is SIGKILLed once and restarted; judged from the emulators' own histories by
the same checkers as a simulated run.  The bad-input cases exit 2 before
anything starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios.live import run as live

DUPLICATE_WEBHOOKS = Path(__file__).parents[1] / "duplicate_webhooks.yaml"  # the shared base
SCENARIO = f"""\
extends: {DUPLICATE_WEBHOOKS}
name: live_smoke
description: A small network for a short live run, with an ERP outage and duplicate webhooks.
seed: 7
faults:
  erp:
    outage_at_hours: 7  # invoices are on hold and being matched by then
    outage_minutes: 180  # about 2 s of the run: long enough that some buyer meets it
  core:
    crashes:
      - {{at_hours: 13, down_minutes: 10}}
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "live_smoke.yaml"
    path.write_text(SCENARIO)
    return path


def test_live_run_under_load_with_faults_loses_nothing(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = live.main(["live", str(scenario), "--users", "6", "--spawn-rate", "6",
                      "--duration", "18s", "--out", str(out), "--settle-max", "30s"])  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    consistency = results["consistency"]
    assert consistency["lost_updates"] == 0, results["violations"]["lost"]
    assert consistency["duplicate_effects"] == 0, results["violations"]["duplicates"]
    assert consistency["converged"], results["violations"]
    assert code == 0 and results["passed"] and results["mode"] == "live"
    # the faults really happened: the ERP refused the buyers, the core went down once,
    # and duplicates reached the core
    windows = {(f["system"], f["kind"]) for f in results["faults"]}
    assert windows == {("erp", "outage"), ("core", "crash")}
    assert results["volumes"]["core_starts"] == 2
    erp_errors = [e for e in results["load"]["errors"] if "503" in e["error"]]
    assert erp_errors, results["load"]["errors"]
    hooks = results["live"]["webhooks"]
    assert sum(h["duplicated"] for h in hooks.values()) > 0, hooks
    assert all(h["failed"] == 0 for h in hooks.values()), hooks
    # every flow of the order-to-pay cycle was carried, with measured lags
    for flow in ("po_dispatch", "po_acknowledgment", "ship_notice", "receipt", "invoice"):
        assert results["flows"][flow]["replica_updates"] > 0, flow
    # the load section holds Locust's own numbers
    load = results["load"]
    creates = load["endpoints"]["POST ERP /purchaseOrders"]
    assert creates["requests"] > 10 and creates["p95_ms"] > 0
    assert load["total"]["requests"] == sum(e["requests"] for e in load["endpoints"].values())
    assert load["total"]["rps"] > 1
    assert len(load["over_time"]) >= 10 and max(p["users"] for p in load["over_time"]) == 6
    assert "POST ERP /purchaseOrders" in (out / "summary.md").read_text()
    page = (out / "report.html").read_text()
    assert "Load and sync on one time axis" in page and "data:image/png;base64," in page
    lines = (out / "history.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["mode"] == "live"
    assert "Traceback" not in (out / "core.log").read_text()


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--users", "1"], "--users"),
        (["--sut", "external"], "--webhook-target"),
        (["--webhook-target", "http://127.0.0.1:9/hooks"], "--webhook-target"),
        (["--erp", "http://127.0.0.1:9"], "--ap"),
        (["--erp", "http://example.com"], "--erp"),
        (["--speedup", "1"], "--speedup"),
        (["--no-reset"], "--no-reset"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
    names: str,
) -> None:  # fmt: skip
    code = live.main(["live", str(scenario), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and names in err and "Traceback" not in err, err
    assert not (tmp_path / "o" / "results.json").exists()


def test_an_unknown_scenario_or_duration_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert live.main(["live", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        live.main(["live", "erp_outage", "--duration", "soon"])
    assert exit_.value.code == 2
    assert "not a duration" in capsys.readouterr().err
