"""The README's "API layers and access" example, executed as written.

The ```` ```yaml auth-file ```` block is written to ``auth.yaml``; the ```` ```bash governance
```` block is run in order: ``supplysync serve all --auth auth.yaml`` (on free ports, the
README's 8100..8104 mapped onto them), ``NAME=$(supplysync auth token ...)`` through the
command line in this process, ``NAME=value`` lines, and each ``curl`` sent with httpx — its
status the one a trailing ``# NNN`` comment names, else a 2xx.  The partner read waits (up
to a minute) for the PO the ERP announced to reach the core through the emulator's webhook,
sent with the harness's own token.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
import time
from pathlib import Path

import httpx
import pytest

from scenarios.cli.main import main
from tests.scenarios.test_cli_serve import free_base
from tests.scenarios.test_readme_walkthrough import request
from tests.scenarios.test_serve_scenario import _running

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(kind: str) -> str:
    found = re.findall(rf"```{kind}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(found) == 1, f"README.md needs one ```{kind} block"
    return str(found[0])


def _mint(words: list[str]) -> str:
    assert words[:3] == ["supplysync", "auth", "token"], words
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(words[1:]) == 0, words
    return out.getvalue().strip()


def _expected(line: str) -> int | None:
    m = re.search(r"#\s*(\d{3})\b", line)
    return int(m[1]) if m else None


def _send(client: httpx.Client, args: dict[str, object], status: int | None) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:  # the partner read waits for the PO to arrive through the webhook
        r = client.request(**args)  # type: ignore[arg-type]
        if status is not None or r.status_code < 300 or time.monotonic() > deadline:
            return r
        time.sleep(0.25)


def _subscribed(client: httpx.Client, base: int) -> None:
    """Wait until the core has subscribed at the four emulators (their admin API: a token)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        subs = client.get(f"http://127.0.0.1:{base}/health").json()["subscriptions"]
        if len(subs) == 4 and all(str(v).startswith("http") for v in subs.values()):
            assert subs["erp"].endswith("/v1/system/erp/webhooks"), subs
            return
        time.sleep(0.1)
    raise AssertionError(f"the core did not subscribe within 60 s: {subs}")


def _verify_trail(words: list[str], base: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert words[1:3] == ["audit", "verify"], words
    url = re.sub(r"127\.0\.0\.1:810(\d)", lambda m: f"127.0.0.1:{base + int(m[1])}", words[3])
    capsys.readouterr()
    assert main(["audit", "verify", url, *words[4:]]) == 0, capsys.readouterr()
    assert "2 records, chain intact" in capsys.readouterr().out  # as the README says


def test_the_readme_governance_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "auth.yaml").write_text(_block("yaml auth-file"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the README's paths are relative to where it runs
    lines = [ln for ln in _block("bash governance").splitlines() if ln.strip()]
    serve = shlex.split(lines[0])
    assert serve[:4] == ["supplysync", "serve", "all", "--auth"], lines[0]
    base = free_base()
    command = [sys.executable, "-m", "scenarios.cli.main", *serve[1:], "--port-base", str(base),
               "--store", str(tmp_path / "core.sqlite")]  # fmt: skip
    variables: dict[str, str] = {}
    seen: list[int] = []
    with _running(command, base, tmp_path, "serve"), httpx.Client(timeout=10) as client:
        _subscribed(client, base)
        for line in lines[1:]:
            words = shlex.split(line, comments=True)
            if m := re.fullmatch(r"([A-Z]+)=\$\((.*)\)", line.strip()):
                variables[m[1]] = _mint(shlex.split(m[2]))
                continue
            if m := re.fullmatch(r"([A-Z]+)=(\S+)", line.strip()):
                variables[m[1]] = m[2]
                continue
            words = [re.sub(r"\$([A-Z]+)", lambda v: variables[v[1]], w) for w in words]
            if words[0] == "supplysync":  # the emulator's admin trail, checked by URL
                _verify_trail(words, base, capsys)
                continue
            status = _expected(line)
            r = _send(client, request(words, base), status)
            if status is None:
                assert r.status_code < 300, (line, r.status_code, r.text)
            else:
                assert r.status_code == status, (line, r.status_code, r.text)
            if r.status_code in (401, 403, 404):
                assert r.headers["content-type"] == "application/problem+json", line
            seen.append(r.status_code)
            if "/partner/suppliers/S1001/" in line:
                assert r.json()["po"]["data"]["supplier_id"] == "S1001", r.text
    assert sorted(set(seen)) == [200, 201, 401, 403, 404]
