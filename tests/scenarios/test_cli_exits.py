"""Clean exits: every user mistake or unavailable resource is exit 2 and one line naming it.

Each test is a reproduction, run as a real ``supplysync`` process where the exit code or a
traceback is the point: stderr must hold no "Traceback" and name the file, URL or port.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from scenarios.cli.main import main
from scenarios.live import run as live
from tests.ports import free_port

TINY = """\
extends: partial_confirmation
name: tiny
start: 2026-03-02 07:00:00
duration_days: 0.25
settle_days: 0.1
seed: 3
demand: {pos_per_day: 40}
network: {items: 30}
"""
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
# root reads and writes anything: as root, run the CLI without the capabilities that allow it
DROP_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def _as_a_user() -> list[str]:
    """The prefix that makes file permissions apply to the CLI (none unless root)."""
    if os.geteuid() != 0:
        return []
    try:
        probe = subprocess.run([*DROP_DAC, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("root without setpriv: file permissions do not apply")
    if probe.returncode != 0:
        pytest.skip("root, and setpriv cannot drop CAP_DAC_OVERRIDE here")
    return DROP_DAC


def cli(
    *args: str, cwd: Path, timeout: float = 120, prefix: tuple[str, ...] = (), **kw: Any
) -> subprocess.CompletedProcess:
    options: dict[str, Any] = {"capture_output": True, "text": True, **kw}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "scenarios.cli.main", *args],
        cwd=cwd, timeout=timeout, check=False, **options,
    )  # fmt: skip


def one_clean_line(proc: subprocess.CompletedProcess, *names: str) -> str:
    """Exit 2, no traceback, one line on stderr naming every one of ``names``."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


# -- scenario files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"name: caf\xe9\n", "byte 0xe9 at offset 9"),  # Latin-1, not UTF-8
        (bytes(range(256)) * 4, "byte 0x80 at offset 128"),  # binary
        (b"\xff\xfen\x00a\x00m\x00e\x00", "byte 0xff at offset 0"),  # UTF-16
    ],
    ids=["latin-1", "binary", "utf-16"],
)
@pytest.mark.parametrize("command", [["scenarios", "validate"], ["run"]])
def test_a_file_that_is_not_utf8_is_exit_2_not_1(tmp_path, content, reason, command):
    """Before: UnicodeDecodeError traceback and exit 1, the "SLO violated" code."""
    (tmp_path / "bad.yaml").write_bytes(content)
    line = one_clean_line(cli(*command, "bad.yaml", cwd=tmp_path), "bad.yaml", "UTF-8", reason)
    assert line.startswith("supplysync: error: bad.yaml: ")
    assert not (tmp_path / "out").exists()


def test_nul_bytes_in_utf8_are_one_line_of_invalid_yaml(tmp_path):
    (tmp_path / "nul.yaml").write_bytes(b"name: x\x00\n")
    one_clean_line(cli("run", "nul.yaml", cwd=tmp_path), "nul.yaml", "invalid YAML")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "is a folder, not a scenario file"),
        (lambda p: os.mkfifo(p), "is not a regular file"),  # reading it would block forever
    ],
    ids=["folder", "fifo"],
)
def test_a_folder_or_fifo_given_as_the_scenario_is_named(tmp_path, make, reason):
    make(tmp_path / "s.yaml")
    one_clean_line(
        cli("scenarios", "validate", "s.yaml", cwd=tmp_path, timeout=30), "s.yaml", reason
    )


def test_an_extends_base_that_is_binary_names_the_base(tmp_path):
    (tmp_path / "base.yaml").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: c\n")
    one_clean_line(
        cli("scenarios", "validate", "child.yaml", cwd=tmp_path),
        "child.yaml: extends:", "base.yaml", "not UTF-8",
    )  # fmt: skip


def test_yaml_nested_too_deeply_or_an_alias_bomb_is_refused(tmp_path):
    (tmp_path / "deep.yaml").write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    one_clean_line(cli("run", "deep.yaml", cwd=tmp_path), "deep.yaml", "nested too deeply")
    one_clean_line(cli("run", "bomb.yaml", cwd=tmp_path, timeout=30), "bomb.yaml", "aliases")


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ("2026-03-02T07:00:00+05:00", "start: local time without a UTC offset"),  # TypeError
        ("9999-12-30 07:00:00", "start: the year must be within 1970..2200"),  # OverflowError
    ],
    ids=["with-offset", "year-9999"],
)
def test_a_start_the_simulation_cannot_use_is_bad_input_not_a_crash(tmp_path, start, reason):
    """Found by test_cli_fuzz: both crashed in the simulation (exit 1, a traceback)."""
    (tmp_path / "s.yaml").write_text(TINY.replace("2026-03-02 07:00:00", start))
    one_clean_line(cli("run", "s.yaml", cwd=tmp_path), f"s.yaml: {reason}")


def test_an_unreadable_scenario_file_is_named(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text(TINY)
    path.chmod(0)
    proc = cli("run", "secret.yaml", cwd=tmp_path, prefix=tuple(_as_a_user()))
    one_clean_line(proc, "secret.yaml", "Permission denied")


# -- output folders --------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["run", "tiny.yaml"],
        ["compare", "tiny.yaml", "--architectures", "event"],
        ["sweep", "tiny.yaml", "--param", "seed=1", "--workers", "1"],
    ],
    ids=["run", "compare", "sweep"],
)
def test_out_that_is_a_file_is_named_before_anything_runs(tmp_path, command):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "taken").write_text("a file")
    proc = cli(*command, "--out", "taken", cwd=tmp_path)
    one_clean_line(proc, "taken", "is a file, not a folder")
    assert proc.stdout == ""  # nothing simulated, nothing reported


@pytest.mark.parametrize("command", [["run", "tiny.yaml"], ["compare", "tiny.yaml"]])
def test_out_below_a_file_cannot_be_created(tmp_path, command):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "file").write_text("a file")
    one_clean_line(cli(*command, "--out", "file/sub", cwd=tmp_path), "file/sub", "Not a directory")


@pytest.mark.parametrize("out", ["ro/x", "ro"], ids=["create-in", "write-in"])
def test_out_in_a_read_only_folder_is_named(tmp_path, out):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "ro").mkdir(mode=0o500)
    proc = cli("run", "tiny.yaml", "--out", out, cwd=tmp_path, prefix=tuple(_as_a_user()))
    line = one_clean_line(proc, out, "Permission denied")
    assert line.startswith(f"supplysync: error: {out}: cannot ")


@needs_dev_full
@pytest.mark.parametrize(
    ("command", "victim"),
    [
        (["run", "tiny.yaml"], "results.json"),
        (["compare", "tiny.yaml", "--architectures", "event,batch"], "summary.md"),
        (["sweep", "tiny.yaml", "--param", "seed=1", "--workers", "1"], "sweep.csv"),
    ],
    ids=["run", "compare", "sweep"],
)
def test_a_full_disk_names_the_out_folder(tmp_path, command, victim):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / victim).symlink_to("/dev/full")
    line = one_clean_line(cli(*command, "--out", "o", cwd=tmp_path), "No space left on device")
    assert line.startswith("supplysync: error: o: cannot write"), line


@needs_dev_full
def test_report_on_a_full_disk_names_the_folder(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert cli("run", "tiny.yaml", "--out", "o", cwd=tmp_path).returncode == 0
    (tmp_path / "o" / "summary.md").unlink()
    (tmp_path / "o" / "summary.md").symlink_to("/dev/full")
    one_clean_line(cli("report", "o", cwd=tmp_path), "o: cannot write", "No space left on device")


def test_report_given_a_file_says_so(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    one_clean_line(cli("report", "results.json", cwd=tmp_path), "results.json", "not a folder")


def test_report_on_a_binary_history_names_the_file(tmp_path):
    """Before: UnicodeDecodeError traceback from the history reader."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert cli("run", "tiny.yaml", "--out", "o", cwd=tmp_path).returncode == 0
    (tmp_path / "o" / "history.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n" * 10)
    one_clean_line(cli("report", "o", cwd=tmp_path), "o/history.jsonl", "not UTF-8")


def test_live_on_a_full_disk_names_the_out_folder(tmp_path, monkeypatch, capsys):
    def full(options: object, log: object = print) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(live, "run_live", full)
    assert main(["live", "partial_confirmation", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == f"supplysync: error: {tmp_path / 'o'}: cannot write (No space left on device)\n"


@needs_dev_full
@pytest.mark.parametrize("command", [["selftest", "--list"], ["scenarios", "schema"]])
def test_stdout_on_a_full_disk_is_exit_2(tmp_path, command):
    with open("/dev/full", "w") as full:
        proc = cli(
            *command, cwd=tmp_path, stdout=full, capture_output=False, stderr=subprocess.PIPE
        )
    one_clean_line(proc, "<stdout>", "No space left on device")


def test_stdout_closed_early_is_one_line_not_a_traceback(tmp_path):
    with subprocess.Popen(
        [sys.executable, "-m", "scenarios.cli.main", "scenarios", "schema"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # as `| head -c 0` does, before the schema is written
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 2
    assert "Traceback" not in err and "Broken pipe" in err


# -- services --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra", [[], ["--sut", "external", "--webhook-target", "URL", "--no-reset"]]
)
def test_live_against_a_closed_port_names_the_url(tmp_path, extra):
    """Before: an httpx.ConnectError traceback (with --sut external), or 30 s of waiting."""
    url = f"http://127.0.0.1:{free_port()}"
    extra = [url if a == "URL" else a for a in extra]
    urls = [part for s in ("erp", "supplier", "wms", "ap") for part in (f"--{s}", url)]
    proc = cli(
        "live", "partial_confirmation", *urls, *extra, "--out", "o", cwd=tmp_path, timeout=60
    )
    line = one_clean_line(proc, f"erp at {url} is unreachable", "Connection refused")
    assert line.startswith("supplysync: live run failed: ")


def test_live_with_a_closed_core_port_names_it(tmp_path):
    from tests.live._services import emulators

    with emulators() as emu:
        urls = [part for s, u in emu.urls.items() for part in (f"--{s}", u)]
        core = f"http://127.0.0.1:{free_port()}"
        proc = cli("live", "partial_confirmation", *urls, "--core", core, "--out", "o",
                   cwd=tmp_path, timeout=60)  # fmt: skip
    one_clean_line(proc, f"core at {core} is unreachable")


def test_serve_core_on_a_busy_port_names_it(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = cli("serve", "core", "--port", str(port), "--erp", "http://127.0.0.1:9",
                   "--store", "core.sqlite", cwd=tmp_path, timeout=60)  # fmt: skip
    one_clean_line(proc, str(port), "Address already in use")


# -- the version -----------------------------------------------------------------------


def test_version_comes_from_the_installed_distribution(tmp_path):
    proc = cli("--version", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout == f"supplysync {metadata.version('supplysync')}\n"


def test_results_of_a_clean_run_still_exit_0(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    proc = cli("run", "tiny.yaml", "--out", "o", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr  # a verdict, whichever it is
    assert json.loads((tmp_path / "o" / "results.json").read_text())["scenario"] == "tiny"


# -- paths -----------------------------------------------------------------------------


def test_live_takes_relative_paths_from_the_users_directory(tmp_path):
    """Before: the emulators' process (run in the project folder) could not find
    tiny.yaml, and the core's store and Locust's CSVs went below the project folder."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    proc = cli("live", "tiny.yaml", "--duration", "3s", "--users", "2", "--out", "o",
               cwd=tmp_path, timeout=300)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    out = tmp_path / "o"
    for name in ("results.json", "core.sqlite", "locust_stats.csv", "report.html"):
        assert (out / name).exists(), name
    assert json.loads((out / "results.json").read_text())["scenario"] == "tiny"


def test_help_describes_every_command_and_version_imports_none(tmp_path):
    helped = cli("--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    text = " ".join(helped.stdout.split())  # argparse wraps the lines
    for line in (
        "run a scenario under one architecture",  # a built-in command's
        "list, inspect, replay or discard the dead letters of a store",  # dlq's
        "read the scale-out core's event stream again",  # bus's
    ):
        assert line in text
    assert cli("--hel", cwd=tmp_path).stdout == helped.stdout  # argparse's prefix of --help
    wrong = cli("frobnicate", cwd=tmp_path)
    line = wrong.stderr.strip().splitlines()[-1]
    assert wrong.returncode == 2 and "invalid choice: 'frobnicate'" in line
    assert all(f"'{name}'" in line for name in ("run", "compare", "sweep", "dlq", "bus", "live"))
    # --version and a usage error name the commands without importing the work behind them
    probe = subprocess.run(
        [sys.executable, "-c", "import contextlib, sys\n"
         "from scenarios.cli.main import main\n"
         "for argv in (['--version'], ['frobnicate']):\n"
         "    with contextlib.suppress(SystemExit): main(argv)\n"
         "print(sorted(m for m in ('scenarios.sim.sweep', 'scenarios.live.serve_core', "
         "'scenarios.cli.dlq', 'matplotlib') if m in sys.modules))"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert probe.stdout.splitlines()[-1] == "[]", probe.stderr
