"""An emulator's webhooks under a backlog: a bounded number on the wire, the rest waiting
their turn, and a delivery's timeout counted from when it is sent (not from when it was
queued behind the others): a slow subscriber makes webhooks late, never failed unsent."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Response

from emulators.web._common import _http_deliver, _Target
from tests.emulators.harness import served

ANSWER_S = 0.3  # the subscriber's time per webhook


def slow_subscriber(seen: dict[str, int]) -> FastAPI:
    app = FastAPI()

    @app.post("/hook")
    async def hook() -> Response:
        seen["now"] += 1
        seen["most"] = max(seen["most"], seen["now"])
        await asyncio.sleep(ANSWER_S)
        seen["now"] -= 1
        return Response(status_code=204)

    return app


def test_a_backlog_is_sent_two_at_a_time_and_each_delivery_gets_its_whole_timeout() -> None:
    seen = {"now": 0, "most": 0}
    with served(slow_subscriber(seen)) as base:
        # 8 webhooks, 2 at a time: the last is sent 1.2 s after it was queued, after the
        # timeout of 1 s had it counted from then; each takes 0.3 s once sent
        target = _Target(f"{base}/hook", in_flight=2, timeout_s=1.0)
        deliver = _http_deliver(target, "erp")

        async def deliver_all() -> list[Any]:
            results: list[bool] = []
            for k in range(8):
                deliver({"eventId": f"ev-{k}"}, results.append)
            for _ in range(200):
                if len(results) == 8:
                    break
                await asyncio.sleep(0.05)
            await target.close()
            return results

        results = asyncio.run(deliver_all())
    assert results == [True] * 8
    assert seen["most"] == 2  # never more on the wire than the bound
