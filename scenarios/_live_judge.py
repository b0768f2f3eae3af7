"""The judgement of a live run: the emulators' histories, collected and judged.

Theory of operation.  After the load, :func:`_settle` waits until no emulator's
``/__admin/history`` grows any more and none has a webhook still to deliver;
:func:`_collect` reads every history and puts each record on the run's time axis (the
clock offsets of :func:`~scenarios._live_faults.clock_offsets`); :func:`_judge` turns
them, with the fault windows, into one :class:`~analysis.history.History`, judged by the
same analysis as a simulated run — the one place that touches the analysis API.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from scenarios.spec import ScenarioSpec

__all__ = ["_collect", "_history_size", "_judge", "_settle", "_webhook_stats", "webhooks_pending"]


def _history_size(client: httpx.Client, urls: dict[str, str]) -> int:
    return sum(len(client.get(f"{u}/__admin/history").json()) for u in urls.values())


def _settle(client: httpx.Client, urls: dict[str, str], quiet_s: float, max_s: float) -> float:
    """Wait until no emulator's history has grown for ``quiet_s`` and none has a webhook
    still to deliver (one waiting out its backoff would arrive later), at most ``max_s``."""
    started = time.monotonic()
    size, since = -1, time.monotonic()
    while time.monotonic() - started < max_s:
        now_size = _history_size(client, urls)
        if now_size != size or webhooks_pending(client, urls):
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.25)
    return time.monotonic() - started


def _collect(client: httpx.Client, urls: dict[str, str], clocks: dict[str, float]) -> list[Any]:
    from analysis.history import Change

    changes = []
    for system, url in urls.items():
        for r in client.get(f"{url}/__admin/history", timeout=60).json():
            t = round(float(r["t"]) - clocks[system], 6)
            changes.append(
                Change(
                    t,
                    r["system"],
                    r["entity"],
                    r["field"],
                    r["value"],
                    r["cause"],
                    r.get("correlation_id"),
                )
            )
    changes.sort(key=lambda c: c.t)
    return changes


def webhooks_pending(client: httpx.Client, urls: dict[str, str]) -> int:
    """Webhooks the emulators have sent or will retry but not yet delivered or given up."""
    total = 0
    for url in urls.values():
        try:
            total += int(client.get(f"{url}/__admin/webhooks", timeout=2).json().get("pending", 0))
        except (httpx.HTTPError, ValueError):
            return 1  # cannot tell: not settled
    return total


def _webhook_stats(client: httpx.Client, url: str) -> dict[str, int]:
    """What an emulator's webhook dispatcher did (published, delivered, duplicated...)."""
    stats = client.get(f"{url}/__admin/webhooks").json()
    return {k: v for k, v in stats.items() if isinstance(v, int)}


def _judge(
    header: dict[str, Any],
    changes: list[Any],
    faults: list[tuple[str, str, float, float]],
    spec: ScenarioSpec,
    volumes: dict[str, int],
) -> Any:
    """The one place that uses the analysis API: history → judged run (results + judgement)."""
    from dataclasses import fields

    from analysis.facts import FLOWS
    from analysis.history import History
    from analysis.report import judge_run
    from analysis.results import Slos

    # every flow is expected of the middleware: one that never wrote a replica lost it all
    history = History({**header, "flows": list(FLOWS)})
    for c in changes:
        history.record(c)
    for system, kind, start, end in faults:
        history.fault(system, kind, start, max(start, end))
    known = {f.name for f in fields(Slos)}
    slos = Slos(**{k: v for k, v in spec.slos.model_dump().items() if k in known})
    return history, judge_run(history, slos=slos, volumes=volumes)
