"""The load generator across machines: Locust's master in ``supplysync live``, its workers apart.

Theory of operation.  ``supplysync live --workers N`` forks one Locust master and N workers
on this machine (Locust's ``--processes``).  With ``--master-bind HOST:PORT
--expect-workers K`` the live run starts Locust's master alone instead (``--master
--master-bind-host --master-bind-port --expect-workers K``): it runs no users itself, and the
load starts once K workers have connected (the run fails if they have not within
:data:`WAIT_S` seconds).  A worker needs the run's settings — the scenario, seed, speed-up,
the services' URLs and the run's id, which the locustfile reads from ``SUPPLYSYNC_*``
variables — so the live run writes them to ``OUT/loadgen.json`` before its master starts,
and ``supplysync loadgen worker --master HOST:PORT --settings OUT/loadgen.json`` starts a
Locust worker with them (``--worker --master-host --master-port``) on any machine with the
same supplysync installed that reaches the master and the services.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from scenarios.command import Command
from scenarios.live.options import LOCUSTFILE, ROOT, LiveOptions
from scenarios.spec.load import ScenarioError

__all__ = ["COMMAND", "WAIT_S", "master_arguments", "master_flags", "write_settings"]

WAIT_S = 120  # how long the master waits for its --expect-workers


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (argparse type)."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def master_arguments(p: argparse.ArgumentParser) -> None:
    """``live``'s options for a master whose workers start apart."""
    p.add_argument(
        "--master-bind",
        type=host_port,
        metavar="HOST:PORT",
        help="run Locust's master alone, listening here for workers started with "
        "'supplysync loadgen worker' (e.g. on other machines); instead of --workers",
    )
    p.add_argument(
        "--expect-workers",
        type=int,
        default=1,
        metavar="K",
        help=f"with --master-bind: start the load once K workers have connected (default 1; "
        f"the run fails if they have not within {WAIT_S} s)",
    )


def master_flags(o: LiveOptions) -> list[str]:
    """Locust's flags for the master of :func:`master_arguments` (none without it)."""
    if o.master_bind is None:
        return []
    host, port = o.master_bind
    return ["--master", "--master-bind-host", host, "--master-bind-port", str(port),
            "--expect-workers", str(o.expect_workers),
            "--expect-workers-max-wait", str(WAIT_S)]  # fmt: skip


def write_settings(o: LiveOptions, env: dict[str, str]) -> Path:
    """``OUT/loadgen.json``: what a worker started apart needs to run the run's actors."""
    assert o.master_bind is not None
    host, port = o.master_bind
    path = o.out / "loadgen.json"
    settings = {
        "master": f"{host}:{port}",
        "env": {k: v for k, v in sorted(env.items()) if k.startswith("SUPPLYSYNC_")},
    }
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return path


def _settings(path: Path) -> dict[str, str]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        env = data["env"]
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise TypeError
    except OSError as e:
        raise ScenarioError(str(path), "", e.strerror or str(e)) from None
    except (ValueError, KeyError, TypeError):
        raise ScenarioError(
            str(path), "", "not a loadgen.json written by supplysync live"
        ) from None
    return {k: v for k, v in env.items() if k.startswith("SUPPLYSYNC_")}


def _arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="role", required=True)
    worker = sub.add_parser("worker", help="a Locust worker for a live run's master")
    worker.add_argument("--master", type=host_port, required=True, metavar="HOST:PORT")
    worker.add_argument(
        "--settings",
        type=Path,
        required=True,
        metavar="FILE",
        help="the run's loadgen.json (written by supplysync live --master-bind in its --out)",
    )


def handle(args: argparse.Namespace) -> int:
    """Run one Locust worker until its master ends the load; exit 0, or 2 if it failed."""
    env = _settings(args.settings)
    host, port = args.master
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
           "--master-host", host, "--master-port", str(port), "--loglevel", "WARNING"]  # fmt: skip
    path = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    code = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": path, **env}, check=False
    ).returncode
    if code != 0:
        raise ScenarioError(f"{host}:{port}", "", f"the Locust worker exited with {code}")
    print(f"loadgen worker: the master at {host}:{port} ended the load")
    return 0


COMMAND = Command(
    "loadgen",
    "a Locust worker for a live run's master on this or another machine",
    _arguments,
    handle,
    "Start a Locust worker that connects to the master of 'supplysync live --master-bind "
    "HOST:PORT' and runs the run's actors with the settings it wrote (loadgen.json).",
)
