"""The history file, schema 2: changes, messages, faults, priorities; schema 1 still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.history import DIRECTIONS, Change, Fault, History, HistoryError, Message

LINE = "po_line:4500000001:1"


def sample() -> History:
    history = History({"scenario": "erp_outage", "architecture": "event", "seed": 3, "end_s": 900})
    history.priority("po:4500000001", "critical")
    history.fault("erp", "outage", 100.0, 400.0)
    history.record(Change(10.0, "supplier", LINE, "confirmed_qty", 6, "855:1"))
    history.message(10.5, "received", "supplier", "edi_855", "edi:7", "00-abc-01")
    history.message(11.0, "sent", "erp", "post_acknowledgment", "m1", "00-abc-01", status=503)
    history.message(
        12.0, "dead_lettered", "erp", "post_acknowledgment", "m1", "00-abc-01", 503, "deadline"
    )
    history.record(Change(450.0, "erp", LINE, "confirmed_qty", 6, "m1", "00-abc-01"))
    return history


def test_schema_2_round_trips_every_kind_of_record(tmp_path: Path) -> None:
    history = sample()
    path = tmp_path / "history.jsonl"

    history.write(path)
    back = History.read(path)

    assert back.header == history.header
    assert back.changes == history.changes
    assert back.messages == history.messages
    assert back.faults == [Fault("erp", "outage", 100.0, 400.0)]
    assert back.priority_of("po_line:4500000001:3") == "critical"
    assert back.priority_of("po_line:4500000002:1") == "routine"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0]["schema_version"] == 2
    # changes and messages are written in time order
    timed = [(r["type"], r["t"]) for r in rows if "t" in r]
    assert timed == sorted(timed, key=lambda x: x[1])
    assert rows[-2]["type"] == "message" and rows[-2]["detail"] == "deadline"


def test_schema_1_files_are_still_read(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    head = {"type": "header", "schema_version": 1, "scenario": "s", "seed": 1}
    change = {"type": "change", "t": 1.5, "system": "erp", "entity": LINE}
    change |= {"field": "ordered_qty", "value": 4, "cause": "c", "correlation_id": None}
    path.write_text(json.dumps(head) + "\n" + json.dumps(change) + "\n")

    back = History.read(path)

    assert back.header == {"scenario": "s", "seed": 1}
    assert back.changes == [Change(1.5, "erp", LINE, "ordered_qty", 4, "c")]
    assert back.messages == [] and back.faults == []


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"type": "message", "t": 1.0, "direction": "sent"}, r"line 2: not a message record"),
        (
            {"type": "message", "t": 1, "direction": "lost", "system": "erp", "operation": "x"}
            | {"message_id": "m"},
            r"line 2: not a message record \(message direction 'lost'",
        ),
        ({"type": "fault", "system": "erp", "kind": "outage", "start": 5, "end": 1}, "ends"),
        ({"type": "gossip"}, r"line 2: unknown record type 'gossip'"),
    ],
)
def test_bad_records_name_their_line_and_reason(
    tmp_path: Path, row: dict[str, object], reason: str
) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(json.dumps({"type": "header", "schema_version": 2}) + "\n" + json.dumps(row))
    with pytest.raises(HistoryError, match=reason):
        History.read(path)


def test_recording_rejects_an_unknown_direction_and_rounds_times() -> None:
    history = History({})
    with pytest.raises(ValueError, match="direction 'bounced'"):
        history.message(1.0, "bounced", "erp", "post", "m1")
    history.message(1.23456789, "sent", "erp", "post", "m1")
    assert history.messages == [Message(1.234568, "sent", "erp", "post", "m1")]


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
_TIMES = st.floats(min_value=0, max_value=1e7) | st.integers(min_value=0, max_value=10**7)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(st.builds(Change, _TIMES, st.text(), st.text(), st.text(), _VALUES, st.text(),
                               st.none() | st.text()), max_size=4),
    messages=st.lists(st.builds(Message, _TIMES, st.sampled_from(DIRECTIONS), st.text(), st.text(),
                                st.text(), st.none() | st.text(), st.none() | st.integers(),
                                st.none() | st.text()), max_size=4),
)  # fmt: skip
def test_each_record_is_written_as_its_sorted_json_row(
    tmp_path: Path, changes: list[Change], messages: list[Message]
) -> None:
    """Every change and message line is json.dumps of the record's row with sorted keys (any
    value: non-ASCII text, NaN, nested lists and maps), in time order, changes first at a tie."""
    changes.sort(key=lambda c: c.t)  # as a run records them
    history = History({"scenario": "s"}, changes=changes, messages=messages)
    path = tmp_path / "history.jsonl"

    history.write(path)

    rows = [("change", c) for c in changes] + [("message", m) for m in messages]
    rows.sort(key=lambda row: row[1].t)
    expected = [
        json.dumps({"type": kind, **r._asdict(), "t": round(r.t, 6)}, sort_keys=True)
        for kind, r in rows
    ]
    assert path.read_text(encoding="utf-8").splitlines()[1:] == expected
