"""``supplysync sweep --cluster``: the grid on a Dask scheduler's workers gives the same files.

A two-worker :class:`distributed.LocalCluster` on 127.0.0.1 stands in for machines: its
workers are separate processes that import supplysync by name, as a remote worker does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenarios.cli.main import main
from scenarios.sim import cells
from scenarios.sim import sweep as sweep_cli
from tests.ports import free_port
from tests.scenarios.test_sweep import _cli

distributed = pytest.importorskip("distributed")

# 2 architectures x 2 seeds of a library scenario, cut to half a day (~2 s on one core)
GRID = ["partial_confirmation", "--param", "seed=1,2", "--param", "duration_days=0.5",
        "--param", "demand.pos_per_day=60", "--param", "network.items=60",
        "--architectures", "event,batch"]  # fmt: skip


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # not None: without a dashboard the scheduler still serves /metrics on 8787, which a
        # cluster another test (or pytest -n worker) started may hold; port 0 is free
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield cluster.scheduler_address


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_sweep_on_the_cluster_writes_the_files_a_local_sweep_writes(scheduler, tmp_path, capsys):
    assert main(["sweep", *GRID, "--workers", "1", "--out", str(tmp_path / "local")]) == 0
    capsys.readouterr()
    assert main(["sweep", *GRID, "--cluster", scheduler, "--out", str(tmp_path / "cluster")]) == 0
    there = capsys.readouterr()
    assert there.err == ""
    local, cluster = _files(tmp_path / "local"), _files(tmp_path / "cluster")
    assert "sweep.csv" in local and "runs/003-batch/results.json" in local
    assert sorted(cluster) == sorted(local)
    assert [name for name in local if cluster[name] != local[name]] == []
    rows = local["sweep.csv"].decode().splitlines()
    assert [r.split(",")[4] for r in rows[1:]] == ["event", "batch", "event", "batch"]
    assert int(rows[1].split(",")[rows[0].split(",").index("invoice_lag_samples")]) > 0
    assert "Dask retried" not in there.out  # no worker was lost


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_an_unreachable_scheduler_is_one_line_exit_2(tmp_path, capsys):
    address = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "out"
    err = _one_line_exit_2(
        ["sweep", *GRID, "--cluster", address, "--cluster-timeout", "1", "--out", str(out)], capsys
    )
    assert f"{address}: no Dask scheduler answered within 1 s" in err


def test_a_scheduler_without_workers_is_one_line_exit_2(capsys):
    with distributed.LocalCluster(
        n_workers=0, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as empty:
        argv = ["sweep", *GRID, "--cluster", empty.scheduler_address, "--cluster-timeout", "1"]
        err = _one_line_exit_2(argv, capsys)
    assert f"{empty.scheduler_address}: no Dask worker joined within 1 s" in err


def test_workers_and_cluster_together_is_bad_input(capsys):
    argv = ["sweep", *GRID, "--cluster", "tcp://127.0.0.1:8786", "--workers", "2"]
    assert "--workers: not with --cluster" in _one_line_exit_2(argv, capsys)


def test_a_worker_with_another_supplysync_is_named(scheduler, monkeypatch, capsys):
    monkeypatch.setattr(cells, "_installed", lambda: "0.0.0-here")
    err = _one_line_exit_2(["sweep", *GRID, "--cluster", scheduler], capsys)
    assert "has supplysync 0.1.0, this machine 0.0.0-here" in err


def dies_once(marker: str, value: int) -> int:
    """A cell whose worker process dies the first time it runs cell 0."""
    if value == 0 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return value * 10


def test_a_cell_whose_worker_dies_runs_again_and_is_named(scheduler, tmp_path):
    marker = str(tmp_path / "died")
    with cells.dask(scheduler, timeout=30) as executor:
        assert list(executor.map(dies_once, [marker] * 3, [0, 1, 2])) == [0, 10, 20]
        # cell 0, and any cell the scheduler had queued on the same worker
        assert 0 in executor.rerun()
    assert Path(marker).exists()


def test_the_sweep_names_the_cells_a_lost_worker_had(monkeypatch, tmp_path, capsys):
    class LostOne(cells._Local):  # cell 1's worker was lost: the scheduler ran it again
        def rerun(self) -> list[int]:
            return [1]

    monkeypatch.setattr(sweep_cli, "executor", lambda *_: contextlib.nullcontext(LostOne(None)))
    out = tmp_path / "out"
    quarter_day = [w.replace("duration_days=0.5", "duration_days=0.25") for w in GRID]
    args = _cli(["sweep", *quarter_day, "--cluster", "tcp://127.0.0.1:1", "--out", str(out)])
    assert sweep_cli.handle(args) == 0
    printed = capsys.readouterr().out
    assert "after a Dask worker was lost (Dask retried): runs/001-batch\n" in printed
    assert (out / "runs" / "001-batch" / "results.json").is_file()
