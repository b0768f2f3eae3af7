"""The bus contract (``bus_contract.cases``) on the in-process bus, its clock moved by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest

from sync_core.bus import Bus, BusConfig, BusError, MemoryBus, Span, partition_of
from tests.sync_core.bus_contract.cases import BusContract

START = 1_796_000_000.0  # 2026-11-29, seconds since the epoch


class TestMemoryBus(BusContract):
    @pytest.fixture(autouse=True)
    def _clock(self) -> None:
        self.now = START

    async def make_bus(self, config: BusConfig) -> Bus:
        return MemoryBus(config, clock=lambda: self.now)

    async def reopen(self, bus: Bus, **fields: Any) -> Bus:
        return bus  # one process: every consumer shares the object

    async def pass_time(self, seconds: float) -> None:
        self.now += seconds

    def test_a_dedup_id_is_forgotten_after_the_window(self) -> None:
        async def case() -> None:
            bus = await self.bus(dedup_window=60.0)
            first = await bus.publish("po1", b"a", "ev-1")
            await self.pass_time(59.0)
            assert (await bus.publish("po1", b"a", "ev-1")).duplicate
            await self.pass_time(1.0)
            assert not (await bus.publish("po1", b"a", "ev-1")).duplicate
            assert first.seq == 1

        self.run(case)

    def test_a_closed_bus_refuses_work(self) -> None:
        async def case() -> None:
            bus = await self.bus()
            await bus.close()
            with pytest.raises(BusError, match="publish: the bus is closed"):
                await bus.publish("po1", b"a", "ev-1")

        self.run(case)


def test_bad_config_is_refused_naming_the_field() -> None:
    with pytest.raises(BusError, match="partitions must be at least 1, not 0"):
        BusConfig(partitions=0)
    with pytest.raises(BusError, match="ack_wait must be positive, not 0"):
        BusConfig(ack_wait=0)


def test_a_bad_replay_range_is_refused_naming_why() -> None:
    with pytest.raises(BusError, match="start_seq or start_time, not both"):
        Span(start_seq=1, start_time=datetime.fromisoformat("2026-01-01T00:00:00+00:00"))
    with pytest.raises(BusError, match="start_time must carry a time zone"):
        Span(start_time=datetime(2026, 1, 1))
    with pytest.raises(BusError, match="end_seq 2 is before start_seq 3"):
        Span(start_seq=3, end_seq=2)


def test_the_partition_of_a_key_is_the_same_in_every_process() -> None:
    keys = ["4500000001", "4500000002", "PO-é-17"]
    here = [partition_of(k, 16) for k in keys]
    code = f"from sync_core.bus import partition_of; print([partition_of(k, 16) for k in {keys!r}])"
    for seed in ("0", "1", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        assert out.strip() == str(here)
    assert here[:2] == [5, 15]  # zlib.crc32 % 16: written down, so a change of hash shows
