"""``supplysync bus replay``: a range of the scale-out core's event stream, read again.

Against the local NATS (``$SUPPLYSYNC_NATS_URL``): skipped without it, failed instead when
``SUPPLYSYNC_REQUIRE_SERVICES=1``.  Each test publishes to streams of its own, as the
scale-out core's ingress does (:func:`sync_core.scaleout.envelope.encode`), and deletes them.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scenarios.cli.bus_replay import main
from sync_core.bus import BusConfig, PublishAck
from sync_core.messages import Inbound, Kind
from sync_core.scaleout.envelope import encode
from tests.ports import free_port
from tests.sync_core.conftest import nats_url, probe_nats, reachable

ROOT = Path(__file__).parents[2]
PARTITIONS = 4
PO_A, PO_B = "4500000001", "4500000003"  # one partition of 4: --key must filter by key


@dataclass
class Stream:
    url: str
    prefix: str
    acks: list[PublishAck]  # in publish order: PO_A, PO_A, PO_B, PO_A
    sent: list[Inbound]

    def replay(self, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
        base = [self.url, "--bus-prefix", self.prefix, "--bus-partitions", str(PARTITIONS)]
        assert main(["replay", *base, *args]) == 0
        out = capsys.readouterr()
        lines = [json.loads(line) for line in out.out.splitlines()]
        assert f"{len(lines)} message(s) replayed" in out.err
        return lines


async def _publish(url: str, prefix: str, sent: list[Inbound]) -> list[PublishAck]:
    from sync_core.bus.nats import NatsBus

    bus = await NatsBus.connect(url, BusConfig(partitions=PARTITIONS), prefix=prefix)
    acks = []
    for message in sent:
        key = PO_B if message.message_id == "ev-3" else PO_A
        acks.append(await bus.publish(key, encode(message), dedup_id=message.message_id))
        await asyncio.sleep(0.05)  # apart in time, so a time can fall between two
    await bus.close()
    return acks


async def _destroy(url: str, prefix: str) -> None:
    from sync_core.bus.nats import NatsBus

    bus = await NatsBus.connect(url, BusConfig(partitions=PARTITIONS), prefix=prefix)
    await bus.destroy()
    await bus.close()


@pytest.fixture
def stream() -> Iterator[Stream]:
    url = reachable(nats_url(), probe_nats)
    prefix = f"replay{uuid.uuid4().hex[:12]}"
    sent = [
        Inbound(f"ev-{n}", Kind.ERP_PO_CHANGED, {"OrderNumber": po})
        for n, po in enumerate((PO_A, PO_A, PO_B, PO_A), start=1)
    ]
    try:
        yield Stream(url, prefix, asyncio.run(_publish(url, prefix, sent)), sent)
    finally:
        asyncio.run(_destroy(url, prefix))


def test_the_whole_stream_comes_back_in_order_as_the_ingress_stored_it(
    stream: Stream, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = stream.replay(capsys)
    assert [x["seq"] for x in lines] == [a.seq for a in stream.acks] == [1, 2, 3, 4]
    assert [x["key"] for x in lines] == [PO_A, PO_A, PO_B, PO_A]
    assert [x["dedup_id"] for x in lines] == ["ev-1", "ev-2", "ev-3", "ev-4"]
    assert [x["partition"] for x in lines] == [a.partition for a in stream.acks] == [1] * 4
    for line, message in zip(lines, stream.sent, strict=True):
        assert line["message"]["id"] == message.message_id
        assert line["message"]["kind"] == "erp.po_changed"
        assert line["message"]["body"] == message.body


def test_a_range_by_sequence_is_inclusive_and_by_time_ends_before_its_end(
    stream: Stream, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [x["seq"] for x in stream.replay(capsys, "--from", "2", "--to", "3")] == [2, 3]
    third = stream.replay(capsys, "--from", "3", "--to", "3")[0]["published_at"]
    assert [x["seq"] for x in stream.replay(capsys, "--from", third)] == [3, 4]
    assert [x["seq"] for x in stream.replay(capsys, "--to", third)] == [1, 2]
    assert stream.replay(capsys, "--from", "5") == []


def test_one_pos_messages_by_its_key(stream: Stream, capsys: pytest.CaptureFixture[str]) -> None:
    assert [x["seq"] for x in stream.replay(capsys, "--key", PO_A)] == [1, 2, 4]
    assert [x["seq"] for x in stream.replay(capsys, "--key", PO_B)] == [3]
    assert [x["seq"] for x in stream.replay(capsys, "--key", PO_A, "--from", "3")] == [4]


def test_the_readme_command_replays_a_pos_messages_from_a_time(stream: Stream) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```bash bus-replay\n(.*?)```", text, re.S)
    words = shlex.split(block.strip())
    assert words[:3] == ["supplysync", "bus", "replay"] and "--key" in words
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    given = {
        "nats://127.0.0.1:4222": stream.url,
        "supplysync": stream.prefix,
        words[words.index("--from") + 1]: since,
        words[words.index("--key") + 1]: PO_B,
    }
    argv = [given.get(w, w) for w in words[1:]]
    if stream.prefix not in argv:  # the README leaves the default prefix out
        argv += ["--bus-prefix", stream.prefix]
    run = subprocess.run(
        [sys.executable, "-m", "scenarios.cli.main", *argv, "--bus-partitions", str(PARTITIONS)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert [json.loads(line)["dedup_id"] for line in run.stdout.splitlines()] == ["ev-3"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nats://127.0.0.1:PORT"], "no NATS at nats://127.0.0.1:"),
        (["http://127.0.0.1:4222"], "is not a nats:// URL"),
        (["URL", "--bus-prefix", "nobodypublishedhere"], "no stream NOBODYPUBLISHEDHERE"),
        (["URL", "--from", "2026-12-03T10:00"], "has no time zone"),
        (["URL", "--from", "yesterday"], "neither a sequence number nor an ISO 8601 time"),
        (["URL", "--from", "0"], "sequence numbers start at 1"),
        (["URL", "--from", "4", "--to", "2"], "end_seq 2 is before start_seq 4"),
        (["URL", "--partition", "32"], "--partition must be within 0..31"),
    ],
)
def test_bad_input_or_no_bus_exits_2_naming_it(args: list[str], says: str) -> None:
    url = reachable(nats_url(), probe_nats) if "URL" in args else ""
    argv = [a.replace("URL", url).replace("PORT", str(free_port())) for a in args]
    run = subprocess.run(
        [sys.executable, "-m", "scenarios.cli.main", "bus", "replay", *argv],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2 and says in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
