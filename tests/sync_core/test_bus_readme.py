"""The README's ``python bus`` block, executed on both buses: it cannot drift from the code."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]


def readme_bus_block() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```python bus\n(.*?)```", text, flags=re.S)
    names: dict[str, Any] = {}
    exec(compile(block, "README.md (python bus)", "exec"), names)
    return names


def test_the_readme_tour_runs_on_the_memory_bus() -> None:
    names = readme_bus_block()

    async def run() -> None:
        bus = await names["open_bus"]()
        await names["tour"](bus)
        await bus.close()

    asyncio.run(run())


def test_the_readme_tour_runs_on_nats(request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("nats_server")
    names = readme_bus_block()

    async def run() -> None:
        bus = await names["open_bus"](url, prefix=f"readme{uuid.uuid4().hex[:12]}")
        assert bus.stream.startswith("README") and bus.dlq_stream == f"{bus.stream}_DLQ"
        try:
            await names["tour"](bus)
        finally:
            await bus.destroy()
            await bus.close()

    asyncio.run(run())
