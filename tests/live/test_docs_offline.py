"""The core's /docs and /redoc work with no network: every asset comes from the core.

The app is served by uvicorn on 127.0.0.1 (its driver a stand-in: the docs need no
store); each page and every script, stylesheet and image it names must load from
the core itself, and no page or asset may name another host.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
import pytest

from sync_core.service.app import create_app
from tests.emulators.harness import served


class NoDriver:
    """Enough of a driver for the app to start and stop."""

    def begin_shutdown(self) -> None:
        pass

    async def stop(self) -> None:
        pass


async def make() -> Any:
    return NoDriver()


ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ANY_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_and_its_assets_load_from_the_core(page: str) -> None:
    with served(create_app(make)) as base, httpx.Client(timeout=10) as client:
        reply = client.get(base + page)
        assert reply.status_code == 200, reply.text
        html = reply.text
        assets = [urljoin(base + page, a) for a in ASSET.findall(html)]
        assert assets, f"{page} names no script or stylesheet: {html[:500]}"
        for url in assets:
            assert urlparse(url).netloc == urlparse(base).netloc, f"{page} loads {url}"
            loaded = client.get(url)
            assert loaded.status_code == 200, (url, loaded.status_code)
        foreign = {
            m
            for m in ANY_URL.findall(html)
            if urlparse(m if ":" in m else "http:" + m).hostname not in ("127.0.0.1", None)
        }
        assert not foreign, f"{page} names other hosts: {sorted(foreign)}"
        openapi = client.get(base + "/openapi.json")
        assert openapi.status_code == 200 and "/webhooks/{system}" in openapi.json()["paths"]
