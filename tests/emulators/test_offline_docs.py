"""Offline docs (issue 15): /docs and /redoc work on a machine with no way out.

Every emulator serves Swagger UI and ReDoc, and every asset those pages load,
itself; the pages name no host but the one they were served from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from emulators.web.apps import FACTORIES
from tests.emulators.harness import live_system, served

_URL = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]?([^'")\s>]+)""")
_EXTERNAL = re.compile(r"https?://(?!127\.0\.0\.1|localhost)|//cdn|(?<![:/])//[a-z]", re.I)


@pytest.fixture(params=sorted(FACTORIES), scope="module")
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    live = live_system(FACTORIES[request.param])
    with served(live.app) as url, httpx.Client(base_url=url, timeout=10) as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_and_every_asset_they_load_come_from_the_service(
    client: httpx.Client, page: str
) -> None:
    html = client.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert not _EXTERNAL.search(html.text), f"{page} names an outside host: {html.text}"

    assets = [u for u in _URL.findall(html.text) if not u.startswith(("data:", "#"))]
    assert any(u.endswith(".js") for u in assets), assets
    for url in [*assets, "/openapi.json"]:
        resp = client.get(url)
        assert resp.status_code == 200 and resp.content, f"{url}: {resp.status_code}"
