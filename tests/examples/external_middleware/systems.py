"""Calls to the four systems, over one aiohttp session; failures sorted by what to do.

:class:`Retry`: the target answered 5xx or 429, or not at all — the event is failed and
redelivered later.  :class:`Refused`: any other 4xx — it will not get better; the event
is dead-lettered.  Writes carry ``Idempotency-Key`` unless the settings switch it off.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from .settings import Settings

__all__ = ["Refused", "Retry", "Systems"]

API = {
    "erp": "/fscmRestApi/resources/latest",
    "supplier": "/edi",
    "wms": "/wms/api/v1",
    "ap": "/payables/v1",
}


class Retry(Exception):
    """A call that may succeed later (5xx, 429, timeout, refused connection)."""


class Refused(Exception):
    """A call the target refused for good (a 4xx other than 408 and 429)."""


class Systems:
    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._session = session

    async def read(self, system: str, path: str) -> Any:
        return await self._call("GET", system, path, None, None)

    async def write(
        self, method: str, system: str, path: str, body: Any, key: str, *, x12: bool = False
    ) -> Any:
        headers = {"Idempotency-Key": key} if self._settings.idempotency_keys else {}
        if x12:
            headers["Content-Type"] = "application/edi-x12"
        return await self._call(method, system, path, body, headers, x12=x12)

    async def _call(
        self,
        method: str,
        system: str,
        path: str,
        body: Any,
        headers: dict[str, str] | None,
        *,
        x12: bool = False,
    ) -> Any:
        url = self._settings.urls[system] + API[system] + path
        payload = {"data": body.encode()} if x12 else {"json": body} if body is not None else {}
        try:
            async with self._session.request(method, url, headers=headers, **payload) as r:
                answer = await r.json(content_type=None) if r.status != 204 else None
                status = r.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise Retry(f"{method} {url}: {type(e).__name__} {e}") from e
        if status in (408, 429) or status >= 500:
            raise Retry(f"{method} {url}: {status}")
        if status >= 400:
            detail = answer.get("detail") if isinstance(answer, dict) else answer
            raise Refused(f"{method} {url}: {status} {detail}")
        return answer
