"""Benchmark a sweep on a 2-worker Dask ``LocalCluster`` against local processes, same grid.

Usage::

    python -m loadtests.bench_sweep_cluster [--scenario partial_confirmation] [--days 1]
        [--seeds 1,2,3,4] [--architectures event,batch] [--repeat 2]
        [--out out/bench_sweep_cluster.json]

What it measures, in one run on this machine: the wall time of the same grid (the seeds x
the architectures of ``--scenario`` cut to ``--days`` days) run by :func:`scenarios.sim.sweep.
sweep` twice: (a) on 2 local processes, as ``supplysync sweep --workers 2`` does, and (b) on
a ``distributed.LocalCluster`` of 2 worker processes (1 thread each) on 127.0.0.1, as
``supplysync sweep --cluster`` does; the cluster is started before the clocks start, as a
user's scheduler would already be running.  (a) and (b) alternate ``--repeat`` times, so a
burst of other work hits both alike.  Printed: every wall time and the ratio of the fastest
of each (cluster ÷ local: above 1 is Dask's overhead — pickling each scenario and result, the
scheduler's round trips), and whether the two ``sweep.csv`` files are byte-identical.

On one machine this measures the cost of the cluster path, not its gain: the gain is more
cores on more machines, each cell being independent.  Other processes share the machine:
the load average before and after is recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scenarios.sim.sweep import sweep
from scenarios.spec.architectures import parse_names


def _timed(label: str, **kw: Any) -> tuple[float, bytes]:
    started = time.perf_counter()
    result = sweep(plots=False, **kw)
    wall = time.perf_counter() - started
    print(f"{label}: {len(result.rows)} runs in {wall:.2f} s", flush=True)
    return wall, result.csv_path.read_bytes()


def main(argv: list[str] | None = None) -> int:
    import distributed  # the 'cluster' extra

    p = argparse.ArgumentParser(prog="python -m loadtests.bench_sweep_cluster")
    p.add_argument("--scenario", default="partial_confirmation")
    p.add_argument("--days", type=float, default=1.0)
    p.add_argument("--seeds", default="1,2,3,4")
    p.add_argument("--architectures", type=parse_names, default=["event", "batch"])
    p.add_argument("--repeat", type=int, default=2, help="times each way, alternated")
    p.add_argument("--out", type=Path, default=Path("out/bench_sweep_cluster.json"))
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    grid = {
        "scenario": args.scenario,
        "params": [("seed", seeds), ("duration_days", [args.days])],
        "architectures": args.architectures,
    }
    load_before = os.getloadavg()
    local_s, cluster_s, csvs = [], [], set()
    with (
        tempfile.TemporaryDirectory() as tmp,
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
    ):
        for i in range(args.repeat):  # alternated, so a burst of other work hits both alike
            wall, csv = _timed("local, 2 processes", out_dir=Path(tmp, f"l{i}"), workers=2, **grid)
            local_s.append(wall)
            csvs.add(csv)
            wall, csv = _timed(
                "dask LocalCluster, 2 workers",
                out_dir=Path(tmp, f"c{i}"),
                cluster=cluster.scheduler_address,
                **grid,
            )
            cluster_s.append(wall)
            csvs.add(csv)
    figures = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "distributed": distributed.__version__,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "grid": {**grid, "params": dict(grid["params"])},
        "runs": len(seeds) * len(args.architectures),
        "local_wall_s": [round(w, 3) for w in local_s],
        "cluster_wall_s": [round(w, 3) for w in cluster_s],
        "cluster_over_local": round(min(cluster_s) / min(local_s), 3),  # fastest of each
        "identical_sweep_csv": len(csvs) == 1,
    }
    print(f"cluster / local wall time (fastest of each): {figures['cluster_over_local']:.2f}")
    print(f"sweep.csv identical: {figures['identical_sweep_csv']}")
    print(f"load average before {load_before}, after {figures['load_average_after']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if figures["identical_sweep_csv"] else 1


if __name__ == "__main__":
    sys.exit(main())
