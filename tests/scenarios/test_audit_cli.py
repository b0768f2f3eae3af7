"""``supplysync audit`` against real stores, and the README's audit trail example, executed."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
from pathlib import Path

import pytest

from scenarios.cli.main import main
from sync_core.messages import DeadLetter, Kind
from sync_core.store_sqlite import SqliteStore
from tests.sync_core.conftest import PostgresSchemas, postgres_url, probe_postgres, service_missing

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIELDS = ["seq", "at", "actor", "action", "subject", "detail", "prev_hash", "hash"]


def one_dead_letter(path: Path) -> Path:
    """What the README's example starts from: a store where the core dead-lettered ev:1."""
    with SqliteStore(path) as store:
        reason = "erp.po_changed: no OrderNumber"
        store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, reason, {}))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # STORE is relative to the folder the command runs in
    return tmp_path


def test_verify_passes_an_intact_trail_and_fails_a_tampered_one(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one_dead_letter(in_tmp / "core.sqlite")
    code, out, _ = run(capsys, "dlq", "replay", "core.sqlite", "1", "--actor", "carol")
    assert code == 0
    code, out, err = run(capsys, "audit", "verify", "core.sqlite")
    assert (code, err) == (0, "")
    assert re.fullmatch(r"core\.sqlite: 2 records, chain intact \(head [0-9a-f]{64}\)\n", out)

    db = sqlite3.connect(in_tmp / "core.sqlite")
    db.execute("DELETE FROM audit_trail WHERE seq = 1")
    db.commit()
    db.close()
    code, out, _ = run(capsys, "audit", "verify", "core.sqlite")
    assert (code, out) == (1, "core.sqlite: record 2: gap (record 1 missing before it)\n")


def test_an_empty_trail_is_no_verdict(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SqliteStore(in_tmp / "empty.sqlite").close()
    code, out, _ = run(capsys, "audit", "verify", "empty.sqlite")
    assert code == 1
    assert out == "empty.sqlite: no audit records: nothing to verify\n"
    assert "intact" not in out


def test_dlq_records_the_os_user_when_no_actor_is_given(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "dana")  # getpass reads LOGNAME first
    one_dead_letter(in_tmp / "core.sqlite")
    assert run(capsys, "dlq", "discard", "core.sqlite", "1", "--reason", "dup")[0] == 0
    with SqliteStore(in_tmp / "core.sqlite") as store:
        assert [e.actor for e in store.audit_trail()] == ["sync-core", "dana"]


def test_export_writes_json_lines_to_stdout_or_a_file(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one_dead_letter(in_tmp / "core.sqlite")
    run(capsys, "dlq", "discard", "core.sqlite", "1", "--reason", "dup", "--actor", "Zoë")
    code, out, _ = run(capsys, "audit", "export", "core.sqlite")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [list(r) for r in records] == [FIELDS, FIELDS]
    assert [(r["seq"], r["actor"], r["action"]) for r in records] == [
        (1, "sync-core", "dead_letter"),
        (2, "Zoë", "discard"),
    ]
    assert records[1]["prev_hash"] == records[0]["hash"]

    code, out, err = run(capsys, "audit", "export", "core.sqlite", "--out", "siem.jsonl")
    assert (code, out, err) == (0, "", "siem.jsonl: 2 audit records\n")
    lines = (in_tmp / "siem.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records


def test_a_postgresql_store_is_verified_too(capsys: pytest.CaptureFixture[str]) -> None:
    url = postgres_url()
    problem = probe_postgres(url)
    if problem is not None:
        service_missing(problem)
    from sync_core.store_postgres import PostgresStore

    with PostgresSchemas(url).fresh() as schema:
        with PostgresStore(url, schema=schema) as store:
            store.add_dead_letter(DeadLetter("ev:1", Kind.ERP_PO_CHANGED, "r", {}))
            store.discard_dead_letter(1, "dup", actor="erin")
        # the URL names the schema the way libpq does: the search_path option
        code, out, _ = run(capsys, "audit", "verify", f"{url}?options=-csearch_path%3D{schema}")
    assert code == 0, out
    assert ": 2 records, chain intact" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "missing.sqlite"], "missing.sqlite: no such store file"),
        (["export", "missing.sqlite"], "missing.sqlite: no such store file"),
        (["verify", "not-a-store.sqlite"], "not-a-store.sqlite"),
        (["verify", "foreign.sqlite"], "a database, but not a store"),
        (["verify", "postgresql://127.0.0.1:1/test"], "127.0.0.1:1"),
        (["export", "core.sqlite", "--out", "no/such/dir/x.jsonl"], "no/such/dir"),
        (["verify"], "the following arguments are required: STORE"),
        (["check", "core.sqlite"], "invalid choice: 'check'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    one_dead_letter(in_tmp / "core.sqlite")
    (in_tmp / "not-a-store.sqlite").write_text("hello\n")
    foreign = sqlite3.connect(in_tmp / "foreign.sqlite")
    foreign.execute("CREATE TABLE t (x)")
    foreign.close()
    try:
        code, out, err = run(capsys, "audit", *argv)
    except SystemExit as e:  # argparse's own errors
        code, (out, err) = int(str(e.code)), capsys.readouterr()
    assert code == 2
    assert message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("supplysync: error: ")
    assert out == ""


def test_a_bad_actor_is_refused_before_anything_changes(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one_dead_letter(in_tmp / "core.sqlite")
    with pytest.raises(SystemExit) as exited:
        main(["dlq", "discard", "core.sqlite", "1", "--reason", "x", "--actor", " "])
    assert exited.value.code == 2
    assert "an actor must be a non-blank string" in capsys.readouterr().err
    with SqliteStore(in_tmp / "core.sqlite") as store:
        assert len(store.audit_trail()) == 1


# -- the README's example ----------------------------------------------------------------

EXAMPLE = re.compile(r"```console audit\n(.*?)```", re.S)
VARYING = re.compile(r"[0-9a-f]{64}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def steps() -> list[tuple[list[str], list[str]]]:
    """Each ``$`` command of the README's example with the lines it shows after it."""
    [block] = EXAMPLE.findall(README)
    found: list[tuple[list[str], list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((shlex.split(line[2:]), []))
        else:
            found[-1][1].append(line)
    return found


def same_shape(line: str) -> str:
    """A line with its hashes and times blanked: they differ with every run's clock."""
    return VARYING.sub(lambda m: "HASH" if len(m[0]) == 64 else "AT", line)


def test_the_readme_example_is_what_the_commands_do(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each ``supplysync`` line run through the command line's ``main`` in the example's
    folder; ``sqlite3`` is played by Python."""
    one_dead_letter(in_tmp / "core.sqlite")
    codes = []
    for words, shown in steps():
        if words[0] == "sqlite3":
            db = sqlite3.connect(in_tmp / words[1])
            db.execute(words[2])
            db.commit()
            db.close()
            continue
        assert words[0] == "supplysync", words
        code, out, err = run(capsys, *words[1:])
        assert err == "", err
        assert [same_shape(x) for x in out.splitlines()] == [same_shape(x) for x in shown]
        codes.append(code)
    assert codes == [0, 0, 0, 1]  # the last verify: the tampered record
