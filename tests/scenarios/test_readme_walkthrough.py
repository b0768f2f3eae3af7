"""The README's curl walkthrough, executed: a PO to the supplier's 855 and back to the ERP.

Every ```` ```bash walkthrough ```` block of README.md is parsed (``NAME=value`` lines and
``curl`` commands: ``-s``, ``-X``, ``-H``, ``-d``, a URL), and each request is sent with httpx,
in order, to ``supplysync serve all --scenario partial_confirmation --speedup 600`` (the
command the README starts) on free ports — the README's 8100..8104 mapped onto them.  The
steps that wait on the supplier (the 850 sent, the 855 in the mailbox, the line confirmed)
are polled for up to a minute.  So the README cannot drift from what the services do.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.scenarios.test_cli_serve import free_base
from tests.scenarios.test_serve_scenario import _running

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```bash walkthrough\n(.*?)```", re.S)


def walkthrough() -> list[list[str]]:
    """The README's walkthrough: each line split as a shell would, variables expanded."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert blocks, "README.md has no ```bash walkthrough blocks"
    variables: dict[str, str] = {}
    steps = []
    for line in "\n".join(blocks).splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if m := re.fullmatch(r"([A-Z]+)=(\S+)", line):
            variables[m[1]] = m[2]
            continue
        words = shlex.split(line)
        expanded = [re.sub(r"\$([A-Z]+)", lambda v: variables[v[1]], w) for w in words]
        steps.append(expanded)
    return steps


def request(words: list[str], base: int) -> dict[str, Any]:
    """A ``curl`` command as httpx arguments, its 127.0.0.1:810k URL moved onto ``base``."""
    assert words[0] == "curl", words
    method, headers, body, url = "GET", {}, None, None
    rest = iter(words[1:])
    for word in rest:
        if word == "-s":
            continue
        if word == "-X":
            method = next(rest)
        elif word == "-H":
            name, value = next(rest).split(":", 1)
            headers[name.strip()] = value.strip()
        elif word == "-d":
            body = next(rest)
        else:
            url = word
    assert url is not None, words
    url = re.sub(r"127\.0\.0\.1:810(\d)", lambda m: f"127.0.0.1:{base + int(m[1])}", url)
    return {"method": method, "url": url, "headers": headers, "content": body}


def _until(check: Callable[[httpx.Response], bool], send: Callable[[], httpx.Response]) -> Any:
    deadline = time.monotonic() + 60
    while True:
        r = send()
        if check(r) or time.monotonic() > deadline:
            return r
        time.sleep(0.25)


def _confirmed(r: httpx.Response) -> bool:
    return r.status_code == 200 and all(
        ln.get("SupplierConfirmedQuantity") is not None for ln in r.json()["lines"]
    )


WAITS: dict[str, Callable[[httpx.Response], bool]] = {
    "/__admin/requests": lambda r: any(x["operation"] == "receive_edi" for x in r.json()),
    "/edi/mailbox": lambda r: any(d["type"] == "855" for d in r.json()["documents"]),
    "/purchaseOrders/": _confirmed,
}


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    steps = walkthrough()
    base = free_base()
    serve = [sys.executable, "-m", "scenarios.cli.main", "serve", "all", "--scenario",
             "partial_confirmation", "--speedup", "600", "--port-base", str(base),
             "--store", str(tmp_path / "core.sqlite")]  # fmt: skip
    answers: dict[str, httpx.Response] = {}
    with _running(serve, base, tmp_path, "serve"), httpx.Client(timeout=10) as client:

        def subscribed(r: httpx.Response) -> bool:
            subs = r.json().get("subscriptions") or {} if r.status_code == 200 else {}
            return len(subs) == 4 and all(str(v).startswith("http") for v in subs.values())

        core = _until(subscribed, lambda: client.get(f"http://127.0.0.1:{base}/health"))
        assert subscribed(core), core.text
        for words in steps:
            args = request(words, base)
            wait = next((c for k, c in WAITS.items() if k in args["url"]), None)
            r = _until(wait, lambda a=args: client.request(**a)) if wait else client.request(**args)
            assert r.status_code in (200, 201), (words, r.status_code, r.text)
            if wait is not None:
                assert wait(r), (words, r.text[:2000])
            answers[args["url"].split("/", 3)[3]] = r

    created = next(r for u, r in answers.items() if u.endswith("purchaseOrders"))
    assert created.status_code == 201 and created.json()["OrderNumber"] == "4500000001"
    partners = next(r for u, r in answers.items() if u.endswith("edi/partners")).json()
    assert partners["partners"][0]["SupplierNumber"] == "S1001"
    assert partners["partners"][0]["EdiId"] == "SUPP1001"
