"""``supplysync dlq`` against a real store file: what a person types and reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.cli.dlq import main
from sync_core.messages import DeadLetter, Kind
from sync_core.store import DeadLetterStatus
from sync_core.store_sqlite import SqliteStore
from tests.sync_core.test_dlq import ERP_WRITE, given_up

ROOT = Path(__file__).parents[2]


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    """A store with three open dead letters: two inbound messages and one request."""
    path = tmp_path / "core.db"
    with SqliteStore(path) as store:
        store.add_dead_letter(
            DeadLetter(
                "edi:1",
                Kind.SUPPLIER_EDI,
                "X12 855: BAK03: PO 4500000001 was never dispatched",
                {"seq": 1, "payload": "ISA~"},
            )
        )
        given_up(store)  # the ERP write, as the sync core's own DLQ test has it
        store.add_dead_letter(DeadLetter("ev:9", Kind.ERP_PO_CHANGED, "no OrderNumber", {}))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_letter_and_filters(
    store_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "list", str(store_file))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "SOURCE", "KIND", "MESSAGE", "REASON"]
    assert lines[2].split()[:5] == ["2", "open", "request", "post_acknowledgment", "outbox:7"]
    assert "never dispatched" in lines[1]
    assert "3 dead letters: 3 open, 0 replayed, 0 discarded" in out

    code, out, _ = run(capsys, "list", str(store_file), "--source", "inbound", "--json")
    assert code == 0
    assert [(d["id"], d["message_id"]) for d in json.loads(out)] == [(1, "edi:1"), (3, "ev:9")]


def test_show_prints_one_letter_in_full(
    store_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "show", str(store_file), "2")
    shown = json.loads(out)
    assert code == 0
    assert shown["request"]["idempotency_key"] == "ack:4500000001:1"
    assert (shown["status"], shown["at"], shown["reason"]) == (
        "open",
        3600.0,
        "erp answered 503 six times",
    )


def test_replay_and_discard_change_the_store(
    store_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "replay", str(store_file), "1", "2")
    assert code == 0
    assert "replayed 1: inbound supplier.edi queued as edi:1#replay1 (replay 1)" in out
    assert "replayed 2: request erp post_acknowledgment back in the outbox as outbox:" in out

    code, out, _ = run(capsys, "discard", str(store_file), "3", "--reason", "test event")
    assert (code, out.strip()) == (0, "discarded 3 (ev:9): test event")

    with SqliteStore(store_file) as store:
        assert [r.status for r in store.dead_letter_records()] == [
            DeadLetterStatus.REPLAYED,
            DeadLetterStatus.REPLAYED,
            DeadLetterStatus.DISCARDED,
        ]
        assert [i.request for i in store.pending()] == [ERP_WRITE]
        assert [m.message_id for m in store.pending_inbound()] == ["edi:1#replay1"]

    code, out, _ = run(capsys, "list", str(store_file), "--status", "open")
    assert (code, "no dead letters match" in out) == (0, True)
    code, out, _ = run(capsys, "replay", str(store_file), "--all")
    assert (code, "no open dead letters" in out) == (0, True)


def test_replay_all_names_the_letters_it_cannot_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "core.db"
    with SqliteStore(path) as store:
        store.add_dead_letter(DeadLetter("outbox:3", "post_edi", "answered 400", "ISA~"))
        store.add_dead_letter(DeadLetter("ev:9", Kind.ERP_PO_CHANGED, "no OrderNumber", {}))
    code, out, _ = run(capsys, "replay", str(path), "--all")
    assert code == 0
    assert "replayed 2: inbound erp.po_changed queued as ev:9#replay1" in out
    assert "left open 1 (outbox:3): cannot be replayed" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "{store}", "9"], "dead letter 9: no such dead letter"),
        (["replay", "{store}", "1", "9"], "dead letter 9: no such dead letter"),
        (["discard", "{store}", "3", "--reason", " "], "a reason is required"),
        (["replay", "{store}"], "give dead-letter ids or --all"),
        (["replay", "{store}", "1", "--all"], "give dead-letter ids or --all"),
        (["show", "{missing}", "1"], "missing.db: no such store file"),
        (["list", "{not_a_store}"], "not-a-store.db"),
        (["discard", "{store}", "3"], "the following arguments are required: --reason"),
        (["show", "{store}", "x"], "not a dead-letter id: 'x'"),
        (["list", "{store}", "--status", "lost"], "invalid choice: 'lost'"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(
    store_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    not_a_store = store_file.parent / "not-a-store.db"
    not_a_store.write_text("hello\n")
    paths = {"store": store_file, "missing": store_file.parent / "missing.db",
             "not_a_store": not_a_store}  # fmt: skip
    args = [a.format(**{k: str(v) for k, v in paths.items()}) for a in argv]
    with SqliteStore(store_file) as store:
        before = store.dead_letter_records()

    try:
        code = main(args)
    except SystemExit as e:  # argparse's own errors
        code = e.code  # type: ignore[assignment]
    err = capsys.readouterr().err

    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (store_file.parent / "missing.db").exists()  # never creates a store
    with SqliteStore(store_file) as store:
        assert store.dead_letter_records() == before


def test_not_open_is_refused_naming_the_status(
    store_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "replay", str(store_file), "2")[0] == 0
    code, _, err = run(capsys, "discard", str(store_file), "2", "--reason", "late")
    assert code == 2 and "dead letter 2: is replayed, not open" in err


def test_the_module_runs_as_a_command(store_file: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "scenarios.cli.dlq", "list", str(store_file), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [d["status"] for d in json.loads(listed.stdout)] == ["open"] * 3

    bad = subprocess.run(
        [sys.executable, "-m", "scenarios.cli.dlq", "replay", str(store_file), "7"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "dead letter 7: no such dead letter" in bad.stderr and "Traceback" not in bad.stderr
