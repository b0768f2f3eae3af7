"""Lag per priority, consistency over time, t-visibility, backlog around faults, recovery,
dead letters and the topology, on hand-built histories whose answers can be worked out."""

from __future__ import annotations

import pytest

from analysis.history import Change, History
from analysis.metrics import (
    backlog_over_time,
    consistency_over_time,
    fault_windows,
    judge,
    message_counts,
    t_visibility,
    time_to_converge,
)
from analysis.results import Slos, build_results
from analysis.topology import analytic_staleness, blast_radius, build_topology, staleness_table


def line(n: int) -> str:
    return f"po_line:45000000{n:02d}:1"


def acked(n: int, t: float, erp_lag: float, wms_lag: float | None) -> list[Change]:
    """Line ``n`` confirmed at ``t``; the ERP and (unless None) the WMS learn it later."""
    out = [
        Change(t, "supplier", line(n), "confirmed_qty", 5, f"855:{n}"),
        Change(t + erp_lag, "erp", line(n), "confirmed_qty", 5, f"a{n}"),
    ]
    if wms_lag is not None:
        out.append(Change(t + wms_lag, "wms", line(n), "expected_qty", 5, f"w{n}"))
    return out


def outage_history() -> History:
    """Two lines confirmed before an ERP outage (100..400 s) reach the ERP only after it."""
    history = History({"end_s": 1000.0, "architecture": "event"})
    changes = acked(1, 10, 1, 2) + acked(2, 150, 300, 2) + acked(3, 200, 250, 2)
    changes += acked(4, 600, 1, 2)
    for c in sorted(changes, key=lambda c: c.t):
        history.record(c)
    history.fault("erp", "outage", 100.0, 400.0)
    history.priority("po:4500000002", "critical")
    history.message(160, "retried", "erp", "post_acknowledgment", "a2", "t2", 503)
    history.message(390, "dead_lettered", "erp", "post_acknowledgment", "x", "t9", 503, "deadline")
    history.message(395, "dead_lettered", "erp", "post_acknowledgment", "y", "t8", 422, "mapping")
    history.message(396, "dead_lettered", "erp", "post_acknowledgment", "z", "t7", 503, "deadline")
    return history


def test_lag_is_reported_per_priority() -> None:
    verdict = judge(outage_history())
    assert sorted(verdict.flow_lags("po_acknowledgment", "critical")) == [2, 300]
    assert sorted(verdict.flow_lags("po_acknowledgment", "routine")) == [1, 1, 2, 2, 2, 250]
    results = build_results(
        verdict, scenario="s", architecture="event", seed=1, simulated_seconds=1000,
        slos=Slos(), volumes={},
    )  # fmt: skip
    by_priority = results["flows"]["po_acknowledgment"]["by_priority"]
    assert by_priority["critical"]["max"] == 300 and by_priority["routine"]["max"] == 250


def test_consistency_over_time_is_the_share_of_entities_in_agreement() -> None:
    verdict = judge(outage_history())
    times, share = consistency_over_time(verdict, 1000.0, samples=1001)  # one sample a second

    at = dict(zip(times.round(6), share, strict=True))
    assert at[5.0] == 1.0  # nothing born yet
    assert at[50.0] == 1.0  # line 1 agreed at 12 s
    assert at[300.0] == pytest.approx(1 / 3)  # lines 2 and 3 wait for the ERP
    assert at[449.0] == pytest.approx(1 / 3)  # both reach the ERP at 450 s
    assert at[460.0] == 1.0 and at[999.0] == 1.0
    assert at[601.0] == pytest.approx(3 / 4)  # line 4: the ERP knows, the WMS not yet


def test_t_visibility_is_the_share_of_updates_seen_within_t() -> None:
    verdict = judge(outage_history())
    # 8 (update, replica) pairs: delays 1,2, 300,2, 250,2, 1,2
    assert t_visibility(verdict, [0.5, 1, 2, 249, 250, 300]) == [
        0.0, 0.25, 0.75, 0.75, 0.875, 1.0,
    ]  # fmt: skip


def test_backlog_and_drain_time_around_a_fault_window() -> None:
    verdict = judge(outage_history())
    _, backlog = backlog_over_time(verdict)
    assert backlog.max() == 3 and backlog[-1] == 0  # at 200 s: 2 for the ERP, 1 for the WMS

    [window] = fault_windows(verdict)
    assert window == {
        "system": "erp", "kind": "outage", "start_s": 100.0, "end_s": 400.0,
        "backlog_at_start": 0, "backlog_peak": 3, "drain_s": 50.0,
        "retried": 1, "dead_lettered": 3,
    }  # fmt: skip
    assert time_to_converge(verdict) == 50.0


def test_time_to_converge_is_unknown_when_something_never_arrives() -> None:
    history = outage_history()
    history.record(Change(390.0, "supplier", line(9), "confirmed_qty", 7, "855:9"))
    assert time_to_converge(judge(history)) is None
    assert time_to_converge(judge(History({}, acked(1, 10, 1, 2)))) is None  # no faults


def test_dead_letters_are_counted_by_reason() -> None:
    counts = message_counts(judge(outage_history()))
    assert counts == {
        "by_direction": {"dead_lettered": 3, "retried": 1},
        "dead_letters_by_reason": {"deadline": 2, "mapping": 1},
    }


def test_topology_edges_blast_radius_and_analytic_staleness() -> None:
    history = outage_history()
    history.header |= {"latency": {"median_ms": 100, "sigma": 0.0}}
    graph = build_topology(judge(history))

    assert sorted((u, v, d["replica"]) for u, v, d in graph.edges(data=True)) == [
        ("supplier", "erp", "erp.confirmed_qty"),
        ("supplier", "wms", "wms.expected_qty"),
    ]
    assert blast_radius(graph, "wms") == {
        "flows": ["po_acknowledgment"], "facts": ["confirmed_qty"],
        "replicas": ["wms.expected_qty"],
    }  # fmt: skip
    assert blast_radius(graph, "ap")["facts"] == []
    assert len(blast_radius(graph, "core")["replicas"]) == 2
    [erp_row, wms_row] = staleness_table(graph)
    assert (erp_row["mechanism"], erp_row["analytic_s"], erp_row["lag_max_s"]) == (
        "event", 0.4, 300,
    )  # fmt: skip
    assert wms_row["lag_max_s"] == 2


def test_analytic_staleness_adds_the_batch_interval() -> None:
    header = {"latency": {"median_ms": 50, "sigma": 0.5}, "batch": {"interval_hours": 4}}
    per_hop = 0.05 * 4.6939  # exp(3.09 x 0.5)
    assert analytic_staleness(header, "event") == pytest.approx(4 * per_hop, abs=0.01)
    assert analytic_staleness(header, "batch") == pytest.approx(14400 + 4 * per_hop, abs=0.01)
    assert analytic_staleness({}, "event") is None


def test_an_update_within_the_batch_paths_worst_case_at_the_end_is_pending_not_lost() -> None:
    header = {"architecture": "batch", "end_s": 100_000.0, "batch": {"interval_hours": 4}}
    header |= {"latency": {"median_ms": 40, "sigma": 0.0}}
    changes = acked(1, 1_000, 3_600, 3_600) + acked(2, 90_000, 0, None)  # 2: no WMS yet
    changes.append(Change(50_000, "supplier", line(3), "confirmed_qty", 5, "855:3"))  # never

    verdict = judge(History(header, sorted(changes, key=lambda c: c.t)))

    assert [(v.entity, v.replica) for v in verdict.lost] == [
        (line(3), "erp.confirmed_qty"),
        (line(3), "wms.expected_qty"),
    ]
    [pending] = verdict.checked.pending
    assert (pending.entity, pending.replica) == (line(2), "wms.expected_qty")
    assert "still within the path's worst case" in pending.explanation
    assert not verdict.converged
    without_params = judge(History({"end_s": 100_000.0}, sorted(changes, key=lambda c: c.t)))
    assert len(without_params.lost) == 3 and without_params.checked.pending == []
