"""Benchmark asyncio HTTP clients (httpx vs aiohttp) against a local FastAPI/uvicorn server.

Usage::

    python -m loadtests.bench_http_client [--seconds 5] [--concurrency 1,8,32]
        [--endpoints post,get] [--clients aiohttp,httpx] [--loop uvloop|asyncio]
        [--out out/bench_http_client.json]

What it does
------------
* Starts a uvicorn server (uvloop + httptools, access log off, one worker) in a subprocess, on a
  listening socket bound by this process to ``127.0.0.1:0`` and handed over by file descriptor
  (no free-port race). The app has a typed POST endpoint (a 6-field pydantic body, a small JSON
  reply) and a GET endpoint (a small JSON reply).
* For every endpoint, concurrency level and client it opens a fresh shared client (httpx:
  ``AsyncClient`` over HTTP/1.1 with ``Limits`` sized to the concurrency; aiohttp:
  ``ClientSession`` with ``TCPConnector(limit=concurrency)``), runs that many closed-loop workers
  for a 1 s warm-up and then ``--seconds`` of measurement. Every reply is checked (status 200)
  and its JSON decoded, as a connector would.
* Reports requests/s, p50/p99/max latency, errors, client and server CPU per request, and each
  cell's throughput as a ratio of the best cell of the same endpoint in the same run (the
  server's measured capacity). Prints a Markdown table and writes JSON to ``--out``.

Bounds: loopback only; the whole run must fit in ``--budget`` seconds (default 115) or it refuses
to start; the server is terminated in a ``finally`` (and kills itself if this process goes away
or after the budget). Client and server share the machine's cores, as they do in the emulated
deployment, so the figures are of one hop A -> B on this machine, not of the server alone.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
WARMUP_S = 1.0
REQUEST_TIMEOUT_S = 10.0
STARTUP_TIMEOUT_S = 20.0
CELL_OVERHEAD_S = 0.5  # client open/close and drain, used only to check the time budget

POST_BODY: dict[str, Any] = {
    "order_id": "PO-2026-000123",
    "gtin": "00312345678906",
    "gln": "0614141000005",
    "quantity": 12,
    "unit_price": 3.75,
    "requested_at": "2026-11-23T10:15:00Z",
}


# --------------------------------------------------------------------------------------------
# Benchmark (parent process)
# --------------------------------------------------------------------------------------------


@dataclass
class Cell:
    client: str
    endpoint: str
    concurrency: int
    seconds: float
    requests: int = 0
    errors: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    client_cpu_us_per_req: float | None = None
    server_cpu_us_per_req: float | None = None
    other_load_cores: float | None = None  # CPU used by other processes during the window
    ratio_to_best: float = 0.0
    first_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy_seconds() -> float | None:
    """CPU seconds all processes spent busy since boot, from /proc/stat (Linux); None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


RequestFn = Callable[[], Awaitable[None]]


async def drive(
    request: RequestFn, concurrency: int, seconds: float, server_pid: int
) -> tuple[list[tuple[float, float]], int, str | None, float, float, float | None, float | None]:
    """Closed loop: `concurrency` workers issue requests back to back.

    Returns (start, end) of each successful request, the error count and first error, the
    measurement window, and the client, server and whole-machine busy CPU seconds in it.
    """
    samples: list[tuple[float, float]] = []
    errors = 0
    first_error: str | None = None
    stop = False

    async def worker() -> None:
        nonlocal errors, first_error
        perf = time.perf_counter
        while not stop:
            start = perf()
            try:
                await request()
            except Exception as exc:
                errors += 1
                if first_error is None:
                    first_error = f"{type(exc).__name__}: {exc}"[:300]
                await asyncio.sleep(0.01)  # do not spin on a dead server
                continue
            samples.append((start, perf()))

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await asyncio.sleep(WARMUP_S)
        errors, first_error = 0, None
        sys0 = system_busy_seconds()
        t0, cpu0, srv0 = time.perf_counter(), time.process_time(), proc_cpu_seconds(server_pid)
        await asyncio.sleep(seconds)
        t1, cpu1, srv1 = time.perf_counter(), time.process_time(), proc_cpu_seconds(server_pid)
        sys1 = system_busy_seconds()
        stop = True
        await asyncio.wait_for(asyncio.gather(*tasks), REQUEST_TIMEOUT_S + 5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    window = [(s, e) for s, e in samples if t0 <= e < t1]
    server_cpu = None if srv0 is None or srv1 is None else srv1 - srv0
    system = None if sys0 is None or sys1 is None else sys1 - sys0
    return window, errors, first_error, t1 - t0, cpu1 - cpu0, server_cpu, system


def summarise(
    cell: Cell,
    window: list[tuple[float, float]],
    errors: int,
    first_error: str | None,
    elapsed: float,
    client_cpu: float,
    server_cpu: float | None,
    system_busy: float | None,
) -> Cell:
    latencies = sorted(e - s for s, e in window)
    n = len(latencies)
    cell.requests = n
    cell.errors = errors
    cell.first_error = first_error
    cell.rps = n / elapsed if elapsed > 0 else 0.0
    cell.p50_ms = percentile(latencies, 0.50) * 1e3
    cell.p99_ms = percentile(latencies, 0.99) * 1e3
    cell.max_ms = (latencies[-1] if latencies else float("nan")) * 1e3
    if n:
        cell.client_cpu_us_per_req = client_cpu / n * 1e6
        if server_cpu is not None:
            cell.server_cpu_us_per_req = server_cpu / n * 1e6
    if system_busy is not None and server_cpu is not None and elapsed > 0:
        cell.other_load_cores = max(0.0, system_busy - client_cpu - server_cpu) / elapsed
    return cell


async def run_httpx(base: str, endpoint: str, concurrency: int, seconds: float, pid: int) -> Cell:
    import httpx

    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=30
    )
    async with httpx.AsyncClient(
        base_url=base,
        http1=True,
        http2=False,
        limits=limits,
        timeout=REQUEST_TIMEOUT_S,
        trust_env=False,  # loopback only: never route through an environment proxy
    ) as client:
        if endpoint == "post":

            async def request() -> None:
                r = await client.post("/orders", json=POST_BODY)
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:100]}")
                r.json()

        else:
            counter = 0

            async def request() -> None:
                nonlocal counter
                counter += 1
                r = await client.get(f"/items/{counter}")
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:100]}")
                r.json()

        result = await drive(request, concurrency, seconds, pid)
    cell = Cell("httpx", endpoint, concurrency, seconds)
    return summarise(cell, *result)


async def run_aiohttp(base: str, endpoint: str, concurrency: int, seconds: float, pid: int) -> Cell:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(
        base_url=base, connector=connector, timeout=timeout, trust_env=False
    ) as session:
        if endpoint == "post":

            async def request() -> None:
                async with session.post("/orders", json=POST_BODY) as r:
                    if r.status != 200:
                        raise RuntimeError(f"HTTP {r.status}: {(await r.text())[:100]}")
                    await r.json()

        else:
            counter = 0

            async def request() -> None:
                nonlocal counter
                counter += 1
                async with session.get(f"/items/{counter}") as r:
                    if r.status != 200:
                        raise RuntimeError(f"HTTP {r.status}: {(await r.text())[:100]}")
                    await r.json()

        result = await drive(request, concurrency, seconds, pid)
    cell = Cell("aiohttp", endpoint, concurrency, seconds)
    return summarise(cell, *result)


RUNNERS = {"aiohttp": run_aiohttp, "httpx": run_httpx}


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    host, port = base.removeprefix("http://").split(":")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} during startup")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1)
            writer.write(
                f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 1)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if b" 200 " in status:
                return
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("server did not become ready in time")


def start_server(budget_s: float, stderr: Any) -> tuple[subprocess.Popen[bytes], str]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    cmd = [
        sys.executable,
        "-m",
        "loadtests._http_server",
        str(listener.fileno()),
        str(os.getpid()),
        str(budget_s + 10),
    ]
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            pass_fds=(listener.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    finally:
        listener.close()  # the child holds its own copy of the descriptor
    return proc, f"http://127.0.0.1:{port}"


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def versions() -> dict[str, str]:
    out: dict[str, str] = {"python": platform.python_version()}
    for name in ("httpx", "httpcore", "sniffio", "anyio", "aiohttp", "fastapi", "pydantic"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    for name in ("uvicorn", "uvloop", "httptools"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


async def bench_cells(args: argparse.Namespace, stderr: Any) -> list[Cell]:
    proc, base = start_server(args.budget, stderr)
    cells: list[Cell] = []
    try:
        try:
            await wait_ready(base, proc)
        except RuntimeError:
            stderr.seek(0)
            sys.stderr.write(stderr.read().decode(errors="replace")[-3000:])
            raise
        for endpoint in args.endpoints:
            for concurrency in args.concurrency:
                for client in args.clients:
                    cell = await asyncio.wait_for(
                        RUNNERS[client](base, endpoint, concurrency, args.seconds, proc.pid),
                        args.seconds + WARMUP_S + REQUEST_TIMEOUT_S + 10,
                    )
                    cells.append(cell)
                    print(
                        f"  {endpoint:4} c={concurrency:<3} {client:8} {cell.rps:8.0f} req/s "
                        f"p50 {cell.p50_ms:6.2f} ms p99 {cell.p99_ms:7.2f} ms "
                        f"errors {cell.errors}",
                        file=sys.stderr,
                        flush=True,
                    )
                    if proc.poll() is not None:
                        raise RuntimeError(f"server died (exit {proc.returncode})")
    finally:
        stop_server(proc)
    return cells


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryFile() as stderr:
        cells = await bench_cells(args, stderr)

    best: dict[str, dict[str, Any]] = {}
    for endpoint in args.endpoints:
        row = [c for c in cells if c.endpoint == endpoint]
        top = max(row, key=lambda c: c.rps)
        best[endpoint] = {"client": top.client, "concurrency": top.concurrency, "rps": top.rps}
        for c in row:
            c.ratio_to_best = c.rps / top.rps if top.rps else 0.0
    per_client_peak: dict[str, dict[str, dict[str, Any]]] = {}
    for client in args.clients:
        per_client_peak[client] = {}
        for endpoint in args.endpoints:
            row = [c for c in cells if c.client == client and c.endpoint == endpoint]
            top = max(row, key=lambda c: c.rps)
            per_client_peak[client][endpoint] = {
                "concurrency": top.concurrency,
                "rps": top.rps,
                "p99_ms": top.p99_ms,
                "ratio_to_best": top.ratio_to_best,
            }
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m loadtests.bench_http_client", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_at_end": os.getloadavg(),
        },
        "versions": versions(),
        "settings": {
            "seconds": args.seconds,
            "warmup_s": WARMUP_S,
            "concurrency": args.concurrency,
            "endpoints": args.endpoints,
            "clients": args.clients,
            "client_loop": args.loop,
            "server": "uvicorn, 1 worker, uvloop + httptools, access log off, async endpoints",
        },
        "baseline": best,
        "peaks": per_client_peak,
        "cells": [asdict(c) for c in cells],
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| endpoint | client | conc. | req/s | ratio to best | p50 ms | p99 ms | max ms "
        "| client CPU µs/req | server CPU µs/req | other load (cores) | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    for c in report["cells"]:
        lines.append(
            f"| {c['endpoint']} | {c['client']} | {c['concurrency']} | {c['rps']:.0f} "
            f"| {c['ratio_to_best']:.2f} | {c['p50_ms']:.2f} | {c['p99_ms']:.2f} "
            f"| {c['max_ms']:.1f} | {num(c['client_cpu_us_per_req'], '.0f')} "
            f"| {num(c['server_cpu_us_per_req'], '.0f')} "
            f"| {num(c['other_load_cores'], '.2f')} | {c['errors']} |"
        )
    lines.append("")
    for endpoint, b in report["baseline"].items():
        lines.append(
            f"- baseline `{endpoint}`: {b['rps']:.0f} req/s ({b['client']} at concurrency "
            f"{b['concurrency']})"
        )
    for client, peaks in report["peaks"].items():
        for endpoint, p in peaks.items():
            lines.append(
                f"- {client} `{endpoint}` peaks at concurrency {p['concurrency']}: "
                f"{p['rps']:.0f} req/s = {p['ratio_to_best']:.2f} x best, p99 {p['p99_ms']:.2f} ms"
            )
    others = sorted(
        c["other_load_cores"] for c in report["cells"] if c["other_load_cores"] is not None
    )
    if others and others[len(others) // 2] > 0.5:
        lines.append(
            f"- WARNING: other processes used a median {others[len(others) // 2]:.2f} cores during "
            "the windows; absolute req/s and latencies are depressed, compare ratios only"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def csv(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
        return lambda text: [kind(part.strip()) for part in text.split(",") if part.strip()]

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="measurement per cell (s)")
    p.add_argument("--concurrency", type=csv(int), default=[1, 8, 32])
    p.add_argument("--endpoints", type=csv(str), default=["post", "get"])
    p.add_argument("--clients", type=csv(str), default=["aiohttp", "httpx"])
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    p.add_argument("--out", type=Path, default=Path("out/bench_http_client.json"))
    p.add_argument("--budget", type=float, default=115.0, help="refuse plans longer than this")
    args = p.parse_args(argv)
    bad = [c for c in args.clients if c not in RUNNERS] + [
        e for e in args.endpoints if e not in ("post", "get")
    ]
    if bad or not args.clients or not args.endpoints or not args.concurrency:
        p.error(f"bad or empty --clients/--endpoints/--concurrency: {bad}")
    if any(c < 1 for c in args.concurrency) or args.seconds <= 0:
        p.error("concurrency must be >= 1 and seconds > 0")
    cells = len(args.clients) * len(args.endpoints) * len(args.concurrency)
    planned = 3 + cells * (WARMUP_S + args.seconds + CELL_OVERHEAD_S)
    if planned > args.budget:
        p.error(
            f"plan takes ~{planned:.0f} s > budget {args.budget:.0f} s: "
            "lower --seconds or the number of cells"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    # Turn SIGTERM into an exception so that the `finally` that stops the server runs.
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    if args.loop == "uvloop":
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    else:
        loop_factory = None
    print(
        f"bench_http_client: {args.clients} x {args.endpoints} x c={args.concurrency}, "
        f"{args.seconds:g} s each after {WARMUP_S:g} s warm-up",
        file=sys.stderr,
    )
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        report = runner.run(asyncio.wait_for(bench(args), args.budget))
    table = markdown(report)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report["markdown"] = table
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}", file=sys.stderr)
    failed = [c for c in report["cells"] if c["errors"] or not c["requests"]]
    for c in failed:
        print(
            f"FAILED {c['endpoint']} {c['client']} c={c['concurrency']}: "
            f"{c['errors']} errors, first: {c['first_error']}",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
