"""Fault changes are privileged: every /__admin write is an entry of the emulator's
hash-chained admin trail, which ``supplysync audit verify URL`` checks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.web._common import AdminGuard
from emulators.web.wms_app import wms_system
from scenarios.cli.main import main
from sync_core.audit import AuditEntry, verify
from sync_core.auth import load_auth, mint
from sync_core.service.access import bearer_check
from tests.emulators.harness import live_system, served
from tests.live.test_access import AUTH

OUTAGE = {"outages": [{"start_s": 0, "end_s": 60}]}


@pytest.fixture
def wms() -> Iterator[tuple[Any, str]]:
    live = live_system(wms_system)
    with served(live.app) as base:
        yield live, base


def trail(base: str, **headers: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{base}/__admin/audit", headers=headers)
    assert reply.status_code == 200, reply.text
    entries: list[dict[str, Any]] = reply.json()
    return entries


def test_every_admin_write_is_a_chained_entry_naming_who(wms: tuple[Any, str]) -> None:
    _, base = wms
    with httpx.Client(base_url=base) as c:
        assert c.put("/__admin/faults", json=OUTAGE, headers={"X-Actor": "alice"}).is_success
        assert c.delete("/__admin/faults", headers={"X-Actor": "bob"}).is_success
        assert c.post("/__admin/reset").is_success
        url = "http://127.0.0.1:9/webhooks/wms"
        assert c.put("/__admin/subscription", json={"url": url, "bearer": "s3cret"}).is_success
        assert c.get("/__admin/faults").is_success  # a read is not an entry

    entries = trail(base)
    assert [(e["actor"], e["action"], e["subject"]) for e in entries] == [
        ("alice", "faults_set", "wms"),
        ("bob", "faults_cleared", "wms"),
        ("anonymous", "reset", "wms"),
        ("anonymous", "subscription_set", "wms"),
    ]
    assert entries[0]["detail"]["outages"][0]["end_s"] == 60
    assert entries[3]["detail"] == {"url": url, "bearer": True}  # never the token itself
    verdict = verify([AuditEntry(**e) for e in entries])
    assert verdict.intact and verdict.summary().startswith("4 records, chain intact")


def test_an_actor_the_trail_cannot_name_is_refused_before_anything_changes(
    wms: tuple[Any, str],
) -> None:
    live, base = wms
    reply = httpx.put(f"{base}/__admin/faults", json=OUTAGE, headers={"X-Actor": "x" * 201})
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert "X-Actor" in reply.json()["detail"]
    assert not live.host.gate.faults.outages and trail(base) == []


def test_audit_verify_reads_an_emulators_trail_and_names_an_edited_entry(
    wms: tuple[Any, str], capsys: pytest.CaptureFixture[str]
) -> None:
    live, base = wms
    assert main(["audit", "verify", base]) == 1  # no entries: nothing to vouch for
    assert "nothing to verify" in capsys.readouterr().out
    for actor in ("alice", "bob"):
        httpx.put(f"{base}/__admin/faults", json=OUTAGE, headers={"X-Actor": actor})
    assert main(["audit", "verify", base]) == 0
    assert "2 records, chain intact" in capsys.readouterr().out

    live.app.state.admin_trail.entries[0]["actor"] = "mallory"  # tampered in place
    assert main(["audit", "verify", base]) == 1
    assert "record 1: hash mismatch" in capsys.readouterr().out


def test_with_auth_the_admin_tokens_subject_is_the_actor(tmp_path: Path) -> None:
    (tmp_path / "auth.yaml").write_text(AUTH, encoding="utf-8")
    config = load_auth(tmp_path / "auth.yaml")
    token = mint(config, sub="chaos-bot", scopes=["admin:faults"], now=time.time(), ttl_s=60)
    live = live_system(wms_system)
    live.app.add_middleware(AdminGuard, check=bearer_check(config, "admin:faults"))
    with served(live.app) as base:
        bearer = {"Authorization": f"Bearer {token}"}
        put = httpx.put(f"{base}/__admin/faults", json=OUTAGE, headers=bearer | {"X-Actor": "m"})
        assert put.status_code == 200
        assert httpx.delete(f"{base}/__admin/faults").status_code == 401
        assert [e["actor"] for e in trail(base, **bearer)] == ["chaos-bot"]
        assert main(["audit", "verify", base, "--token", token]) == 0
        assert main(["audit", "verify", base]) == 2  # guarded, no token: one line


def test_an_emulator_that_does_not_answer_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["audit", "export", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "http://127.0.0.1:9: no answer" in err
