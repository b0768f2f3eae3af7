"""The README's scale-out commands, executed on 127.0.0.1: a Dask scheduler, its workers, a sweep.

Every line of the ```` ```bash scale-out ```` blocks of README.md runs, in order, with the
README's ports 8786 (scheduler) and 8787 (its dashboard) moved onto free ones: ``dask ...``
lines start as background processes (stopped at the end), ``supplysync ...`` lines run to
completion and must exit 0.  So the commands a user copies are the ones that work.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.live.procs import stop_group
from tests.ports import free_port
from tests.scenarios.test_cli_exits import cli

pytest.importorskip("distributed")

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```bash scale-out\n(.*?)```", re.S)


def commands() -> list[list[str]]:
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```bash scale-out blocks"
    lines = "\n".join(blocks).splitlines()
    return [shlex.split(line) for line in lines if line.strip() and not line.startswith("#")]


def test_the_readme_scale_out_commands_run(tmp_path):
    port, dashboard = str(free_port()), str(free_port())
    steps = [
        [w.replace("8786", port).replace("8787", dashboard) for w in words] for words in commands()
    ]
    assert all("127.0.0.1" in " ".join(s) for s in steps)  # loopback only
    assert [s[:2] for s in steps[:2]] == [["dask", "scheduler"], ["dask", "worker"]]
    background: list[subprocess.Popen[bytes]] = []
    try:
        for words in steps:
            if words[0] == "dask":
                background.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "dask", *words[1:]],
                        cwd=tmp_path,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
                continue
            assert words[0] == "supplysync", words
            proc = cli(*words[1:], cwd=tmp_path)
            assert proc.returncode == 0, proc.stderr
    finally:
        for proc in reversed(background):
            stop_group(proc)
    sweep = tmp_path / "out" / "cluster-sweep"
    rows = (sweep / "sweep.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # 2 seeds x 2 architectures
    assert (sweep / "runs" / "003-batch" / "results.json").is_file()
