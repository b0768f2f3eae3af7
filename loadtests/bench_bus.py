"""Benchmark the bus: publish then consume-and-ack N messages, in process and on NATS.

Usage::

    python -m loadtests.bench_bus [--messages 20000] [--partitions 8] [--window 64]
        [--in-flight 256] [--nats nats://127.0.0.1:4222]

Both buses get the same work in the same run: ``--messages`` messages of
~200 bytes for 1,000 PO numbers (the entity keys), published ``--window`` at a
time (``asyncio.gather``; a publish waits for the bus's acknowledgment, which on
NATS is JetStream's: stored), then one consumer per partition, all at once,
fetching batches of ``--in-flight`` and acking each message.  It reports
messages/s for each phase and for the whole, the NATS/memory ratio, and the
load average before and after (other processes share this machine's 2 cores).
NATS runs on a fresh stream (``bench<hex>``) deleted at the end.  About 10 s
with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter

from sync_core.bus import Bus, BusConfig, MemoryBus


async def publish_all(bus: Bus, count: int, window: int) -> Counter[int]:
    """Publish ``count`` messages; how many landed in each partition."""
    body = b"{" + b'"line": 1, "qty": 10, "gtin": "00312345678906", ' * 4 + b"}"
    landed: Counter[int] = Counter()

    async def one(i: int) -> None:
        ack = await bus.publish(f"45{i % 1000:08d}", body, dedup_id=f"ev:{i}")
        landed[ack.partition] += 1

    for start in range(0, count, window):
        await asyncio.gather(*(one(i) for i in range(start, min(start + window, count))))
    return landed


async def consume_all(bus: Bus, landed: Counter[int], batch: int) -> int:
    """Consume and ack every partition at once, each until all it was given came back."""

    async def partition(p: int) -> int:
        sub, got = await bus.consume(p), 0
        while got < landed[p] and (messages := await sub.fetch(batch, timeout=5.0)):
            for message in messages:
                await bus.ack(message)
            got += len(messages)
        await sub.close()
        return got

    counts = await asyncio.gather(*(partition(p) for p in range(bus.config.partitions)))
    return sum(counts)


async def measure(bus: Bus, count: int, window: int, batch: int) -> dict[str, float]:
    start = time.perf_counter()
    landed = await publish_all(bus, count, window)
    published = time.perf_counter()
    got = await consume_all(bus, landed, batch)
    done = time.perf_counter()
    if got != count:
        raise SystemExit(f"bench_bus: consumed {got} of {count} messages")
    return {"publish": count / (published - start), "consume": count / (done - published),
            "total": count / (done - start)}  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    config = BusConfig(partitions=args.partitions, in_flight=args.in_flight, ack_wait=30.0)
    load_before = os.getloadavg()[0]
    rows = {"memory": await measure(MemoryBus(config), args.messages, args.window, args.in_flight)}
    from sync_core.bus.nats import NatsBus

    nats = await NatsBus.connect(args.nats, config, prefix=f"bench{uuid.uuid4().hex[:12]}")
    try:
        rows["nats"] = await measure(nats, args.messages, args.window, args.in_flight)
    finally:
        await nats.destroy()
        await nats.close()
    load_after = os.getloadavg()[0]
    print(f"{args.messages} messages, {args.partitions} partitions, publish window "
          f"{args.window}, in flight {args.in_flight}; load average {load_before:.1f} → "
          f"{load_after:.1f}\n")  # fmt: skip
    print("| bus | publish msg/s | consume+ack msg/s | end to end msg/s |")
    print("|---|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['publish']:,.0f} | {row['consume']:,.0f} | {row['total']:,.0f} |")
    ratio = rows["nats"]["total"] / rows["memory"]["total"]
    print(f"\nNATS / memory, end to end: {ratio:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    asyncio.run(main(parser.parse_args()))
