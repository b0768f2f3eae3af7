"""The README's load generator across machines, on 127.0.0.1: a live run's Locust master, its
worker started apart (``supplysync loadgen worker``).

The ```` ```bash loadgen ```` block of README.md runs as written, its port 5557 moved onto a
free one: the ``live`` line in the background (its master waits for the worker), the
``loadgen worker`` line once the run's ``loadgen.json`` exists.  The worker stands for one on
another machine: the master runs no users itself, so the load the run reports is the worker's.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from scenarios.cli.main import main
from scenarios.live.procs import stop_group
from tests.ports import free_port
from tests.scenarios.test_cli_exits import cli

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```bash loadgen\n(.*?)```", re.S)


def _commands(port: int) -> list[list[str]]:
    (block,) = BLOCK.findall(README.read_text(encoding="utf-8"))
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return [shlex.split(line.replace("5557", str(port))) for line in lines]


def _appears(path: Path, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert proc.poll() is None, f"the live run exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"no {path} after {timeout_s:g} s"
        time.sleep(0.2)


def test_the_readme_worker_started_apart_carries_the_load(tmp_path):
    port = free_port()
    live_words, worker_words = _commands(port)
    assert live_words[:2] == ["supplysync", "live"], live_words
    assert worker_words[:3] == ["supplysync", "loadgen", "worker"], worker_words
    out = tmp_path / live_words[live_words.index("--out") + 1]
    with (tmp_path / "live.log").open("wb") as log:
        live = subprocess.Popen(
            [sys.executable, "-m", "scenarios.cli.main", *live_words[1:]],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _appears(out / "loadgen.json", live)
        worker = cli(*worker_words[1:], cwd=tmp_path, timeout=180)
        live.wait(timeout=180)
    finally:
        stop_group(live)
    printed = (tmp_path / "live.log").read_text()
    assert worker.returncode == 0, worker.stderr
    assert f"the master at 127.0.0.1:{port} ended the load" in worker.stdout
    assert live.returncode in (0, 1), printed
    assert f"supplysync loadgen worker --master 127.0.0.1:{port} --settings" in printed
    load = json.loads((out / "results.json").read_text())["load"]
    assert load["total"]["requests"] > 0  # the master ran no users: all of it is the worker's


def test_a_settings_file_that_is_not_one_is_named(tmp_path, capsys):
    bad = tmp_path / "loadgen.json"
    bad.write_text("{}")
    assert main(["loadgen", "worker", "--master", "127.0.0.1:5557", "--settings", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"supplysync: error: {bad}: not a loadgen.json written by supplysync live\n"


def test_workers_and_master_bind_together_is_bad_input(tmp_path, capsys):
    argv = ["live", "erp_outage", "--workers", "2", "--master-bind", "127.0.0.1:5557"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "--workers: not with --master-bind" in capsys.readouterr().err
