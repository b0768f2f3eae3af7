"""The README's scaled-out core, executed: every line of its ```` ```bash scale-out-core ````
block starts as a process, on free ports, a schema and streams of this test's own; then POs
raised at the ERP are decided by the workers and delivered, with nothing left behind.

Skipped without PostgreSQL or NATS; failed instead when ``SUPPLYSYNC_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from scenarios.live.procs import stop_group
from scenarios.live.serve_scaleout import fresh_backends
from tests.live._services import create_pos, wait_until
from tests.scenarios.test_cli_serve import free_base
from tests.sync_core.conftest import nats_url, postgres_url, probe_nats, probe_postgres, reachable

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```bash scale-out-core\n(.*?)```", re.S)
README_STORE = "postgresql://postgres@127.0.0.1:5432/test"


def commands() -> list[list[str]]:
    blocks = BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```bash scale-out-core block"
    lines = "\n".join(blocks).splitlines()
    return [shlex.split(line) for line in lines if line.strip() and not line.startswith("#")]


def _status(url: str) -> dict[str, Any]:
    try:
        return dict(httpx.get(f"{url}/status", timeout=2).json())
    except (httpx.HTTPError, ValueError):
        return {}


@pytest.fixture
def backends() -> Any:
    pg = reachable(postgres_url(), probe_postgres)
    bus = reachable(nats_url(), probe_nats)
    store, prefix, remove = fresh_backends(pg, bus)
    yield pg, store, bus, prefix
    remove()


def test_the_readme_commands_start_a_scaled_out_core_that_delivers(
    backends: Any, tmp_path: Path
) -> None:
    pg, store, _, prefix = backends
    steps = commands()
    core = [s for s in steps if s[:3] in (["supplysync", "serve", "core"],
                                          ["supplysync", "serve", "core-worker"])]  # fmt: skip
    assert len(core) == 3 and all("--bus" in s and "--store" in s for s in core)
    base = free_base(6)  # the README's 8100..8105, moved
    ports = {str(8100 + k): str(base + k) for k in range(6)}

    def local(word: str) -> str:
        for old, new in ports.items():
            word = word.replace(old, new)
        return store if word == README_STORE else prefix if word == "supplysync" else word

    log = (tmp_path / "services.log").open("ab")
    started: list[subprocess.Popen[bytes]] = []
    try:
        for words in steps:
            assert words[0] == "supplysync", words
            argv = [sys.executable, "-m", "scenarios.cli.main", *map(local, words[1:])]
            started.append(subprocess.Popen(argv, cwd=tmp_path, stdout=log, stderr=log,
                                            start_new_session=True))  # fmt: skip
            if words[1:3] == ["serve", "all"]:  # the emulators first
                assert wait_until(lambda: _up(f"http://127.0.0.1:{base + 1}"), 60), _log(tmp_path)
        ingress = f"http://127.0.0.1:{base}"
        assert wait_until(lambda: _status(ingress).get("workers") == 3, 90), _log(tmp_path)
        assert wait_until(lambda: _subscribed(ingress), 30), _log(tmp_path)
        orders = create_pos(f"http://127.0.0.1:{base + 1}", 6)
        # each PO: its event, then the PO read back; all decided, nothing left to deliver
        assert wait_until(lambda: _settled(pg, store, 2 * len(orders)), 90), _log(tmp_path)
        status = _status(ingress)
        assert status["published"] >= len(orders) and status["dead_letters"] == 0, status
    finally:
        for proc in reversed(started):
            stop_group(proc)
        log.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _subscribed(url: str) -> bool:
    try:
        subs = httpx.get(f"{url}/health", timeout=1).json()["subscriptions"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return len(subs) == 4 and all(str(v).startswith("http") for v in subs.values())


def _settled(pg: str, store: str, messages: int) -> bool:
    import psycopg

    from sync_core.scaleout.membership import store_schema

    schema = store_schema(store)
    with psycopg.connect(pg, autocommit=True) as db:
        inbox = db.execute(f'SELECT count(*) FROM "{schema}".inbox').fetchone()
        outbox = db.execute(f'SELECT count(*) FROM "{schema}".outbox').fetchone()
    assert inbox is not None and outbox is not None
    return bool(inbox[0] >= messages and outbox[0] == 0)


def _log(folder: Path) -> str:
    return (folder / "services.log").read_text(errors="replace")[-3000:]
