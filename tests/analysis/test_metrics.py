"""Sync lag and consistency judged from hand-built histories; the history file format."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from analysis.history import SCHEMA_VERSION, Change, History, HistoryError
from analysis.metrics import judge, percentiles

LINE = "po_line:4500000001:1"


def supplier_confirms(t: float, qty: int, cause: str = "855:4500000001:1") -> Change:
    return Change(t, "supplier", LINE, "confirmed_qty", qty, cause)


def erp_confirms(t: float, qty: int, cause: str = "855:4500000001:1:erp") -> Change:
    return Change(t, "erp", LINE, "confirmed_qty", qty, cause)


def wms_expects(t: float, qty: int, cause: str = "855:4500000001:1:wms") -> Change:
    return Change(t, "wms", LINE, "expected_qty", qty, cause)


def lags(changes: list[Change]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for lag in judge(changes).lags:
        out.setdefault(lag.replica, []).append(lag.lag_s)
    return out


def test_lag_is_computed_per_replica() -> None:
    changes = [supplier_confirms(100.0, 6), erp_confirms(130.0, 6), wms_expects(175.5, 6)]

    verdict = judge(changes)

    assert lags(changes) == {"erp.confirmed_qty": [30.0], "wms.expected_qty": [75.5]}
    assert {lag.flow for lag in verdict.lags} == {"po_acknowledgment"}
    assert verdict.flow_lags("po_acknowledgment") == [30.0, 75.5]
    assert verdict.updates["po_acknowledgment"] == 1
    assert verdict.converged


def test_replica_already_holding_the_value_has_lag_zero() -> None:
    changes = [
        supplier_confirms(100.0, 6),
        erp_confirms(130.0, 6),
        wms_expects(140.0, 6),
        supplier_confirms(500.0, 6, cause="855:4500000001:2"),  # revision 2, same quantity
    ]

    assert lags(changes) == {"erp.confirmed_qty": [30.0, 0.0], "wms.expected_qty": [40.0, 0.0]}
    assert judge(changes).converged


def test_update_never_reaching_a_replica_is_lost() -> None:
    other = "po_line:4500000002:1"
    changes = [
        supplier_confirms(100.0, 6),
        erp_confirms(130.0, 6),  # the WMS never learns, though it is in the run:
        Change(90.0, "wms", other, "expected_qty", 3, "c0"),
    ]

    verdict = judge(changes)

    assert not verdict.converged
    [lost] = verdict.lost
    assert (lost.fact, lost.entity, lost.replica) == ("confirmed_qty", LINE, "wms.expected_qty")
    assert (lost.owner_value, lost.owner_t) == (6, 100.0)
    assert (lost.replica_value, lost.replica_t) == (None, None)
    assert lags(changes) == {"erp.confirmed_qty": [30.0]}
    assert "wms.expected_qty of po_line:4500000001:1 never showed 6" in lost.explanation


def test_a_system_absent_from_the_run_is_not_carried_unless_its_flow_is_declared() -> None:
    changes = [supplier_confirms(100.0, 6), erp_confirms(130.0, 6)]  # no WMS in this run

    verdict = judge(changes)
    assert verdict.converged and verdict.lost == []
    assert verdict.checked.not_carried == ["confirmed_qty: wms.expected_qty"]

    strict = judge(changes, header={"flows": ["po_acknowledgment"]})
    assert [x.replica for x in strict.lost] == ["wms.expected_qty"]


def test_replica_left_at_an_old_value_is_lost() -> None:
    changes = [
        supplier_confirms(100.0, 6),
        erp_confirms(130.0, 6),
        wms_expects(140.0, 6),
        supplier_confirms(500.0, 4, cause="855:4500000001:2"),
        erp_confirms(520.0, 4, cause="855:4500000001:2:erp"),
    ]

    [lost] = judge(changes).lost

    assert lost.replica == "wms.expected_qty"
    assert (lost.owner_value, lost.replica_value, lost.replica_t) == (4, 6, 140.0)


def test_superseded_update_is_not_lost() -> None:
    changes = [
        supplier_confirms(100.0, 6),
        supplier_confirms(200.0, 4, cause="855:4500000001:2"),  # before anyone learnt of 6
        erp_confirms(230.0, 4, cause="855:4500000001:2:erp"),
        wms_expects(260.0, 4, cause="855:4500000001:2:wms"),
    ]

    verdict = judge(changes)

    assert verdict.lost == []
    assert verdict.converged
    assert verdict.updates["po_acknowledgment"] == 2
    # only the second update was reflected, each replica with its own lag
    assert lags(changes) == {"erp.confirmed_qty": [30.0], "wms.expected_qty": [60.0]}


def test_same_cause_applied_twice_with_the_same_value_is_a_repost_not_a_duplicate() -> None:
    changes = [
        supplier_confirms(100.0, 6),
        erp_confirms(130.0, 6, cause="erp-ack-1"),
        erp_confirms(190.0, 6, cause="erp-ack-1"),  # a retried post applied again
        wms_expects(140.0, 6),
    ]

    verdict = judge(changes)

    assert verdict.duplicates == []  # the value did not move: no effect
    [again] = verdict.of_kind("repost")
    assert (again.system, again.entity, again.field, again.cause) == (
        "erp", LINE, "confirmed_qty", "erp-ack-1",
    )  # fmt: skip
    assert again.times == (130.0, 190.0)
    assert again.explanation.endswith("(at 130, 190 s), 6 each time")
    assert verdict.converged


def test_same_cause_applied_twice_that_moves_the_value_is_a_duplicate_effect() -> None:
    changes = [
        supplier_confirms(100.0, 6),
        erp_confirms(130.0, 6, cause="erp-ack-1"),
        erp_confirms(190.0, 12, cause="erp-ack-1"),  # re-applied on top of itself
        wms_expects(140.0, 6),
    ]

    [dup] = judge(changes).duplicates
    assert (dup.system, dup.entity, dup.cause, dup.count) == ("erp", LINE, "erp-ack-1", 1)


def test_distinct_causes_are_not_duplicates() -> None:
    changes = [
        supplier_confirms(100.0, 6),
        erp_confirms(130.0, 6, cause="erp-ack-1"),
        erp_confirms(190.0, 6, cause="erp-ack-2"),
        wms_expects(140.0, 6, cause="erp-ack-1"),  # same cause, other system: not a duplicate
    ]
    assert judge(changes).duplicates == []


def test_owner_and_replica_of_another_fact_are_judged_separately() -> None:
    changes = [
        Change(0.0, "erp", LINE, "ordered_qty", 10, "erp:create:4500000001"),
        Change(2.5, "supplier", LINE, "ordered_qty", 10, "edi:HOSPNET01:1"),
    ]
    verdict = judge(changes)
    assert [(lag.flow, lag.replica, lag.lag_s) for lag in verdict.lags] == [
        ("po_dispatch", "supplier.ordered_qty", 2.5)
    ]
    assert verdict.entities == 1


# -- percentiles ------------------------------------------------------------------


def test_percentiles_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    random.Random(3).shuffle(values)
    # nearest rank: the ceil(p/100 * n)-th smallest value
    assert percentiles(values) == {"n": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}


def test_percentiles_nearest_rank_on_a_short_list() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]  # n = 5
    # p50: ceil(2.5) = 3rd → 35; p95: ceil(4.75) = 5th → 50; p99: 5th → 50
    assert percentiles(values) == {"n": 5, "p50": 35.0, "p95": 50.0, "p99": 50.0, "max": 50.0}


def test_percentiles_round_to_milliseconds() -> None:
    assert percentiles([0.12345]) == {
        "n": 1, "p50": 0.123, "p95": 0.123, "p99": 0.123, "max": 0.123,
    }  # fmt: skip


def test_percentiles_of_no_sample_are_not_measured_never_zero() -> None:
    assert percentiles([]) == {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}


# -- history file -----------------------------------------------------------------


def test_history_round_trips_through_a_file(tmp_path: Path) -> None:
    header = {"scenario": "partial_confirmation", "architecture": "event", "seed": 7}
    history = History(
        header,
        [
            Change(0.0, "erp", LINE, "ordered_qty", 10, "erp:create:4500000001", "00-abc-01"),
            supplier_confirms(1234.5, 6),
            Change(1300.25, "erp", LINE, "ack_status", "IA/IB", "c2"),
        ],
    )
    path = tmp_path / "history.jsonl"

    history.write(path)
    back = History.read(path)

    assert back.header == header
    assert back.changes == history.changes
    first = json.loads(path.read_text().splitlines()[0])
    assert (first["type"], first["schema_version"]) == ("header", SCHEMA_VERSION)


def test_history_bad_change_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    History({"seed": 1}, [supplier_confirms(1.0, 6)]).write(path)
    with path.open("a") as out:
        out.write(json.dumps({"type": "change", "t": 2.0, "system": "erp"}) + "\n")

    with pytest.raises(HistoryError, match=r"line 3: not a change record"):
        History.read(path)


@pytest.mark.parametrize(
    ("first_line", "reason"),
    [
        ("{not json", "line 1: not JSON"),
        (json.dumps({"type": "header", "schema_version": 99}), "line 1: expected a header"),
        (json.dumps({"type": "change"}), "line 1: expected a header"),
    ],
)
def test_history_bad_header_is_rejected(tmp_path: Path, first_line: str, reason: str) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(first_line + "\n")
    with pytest.raises(HistoryError, match=reason):
        History.read(path)


def test_history_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text("")
    with pytest.raises(HistoryError, match="empty file"):
        History.read(path)


def test_history_not_utf8_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"type": "header", "schema_version": 2}\n\xff\xfe garbage\n')
    with pytest.raises(HistoryError, match=r"history\.jsonl: not UTF-8 text \(byte 0xff"):
        History.read(path)
