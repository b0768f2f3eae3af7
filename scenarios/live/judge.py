"""The judgement of a live run: the emulators' histories, collected and judged.

Theory of operation.  After the load, :func:`wait_until_settled` waits until no
emulator's ``/__admin/history`` has grown for a quiet period (with our core, counted from
the newest record's stamp), none has a webhook still to deliver and our core has nothing
queued or left in its outbox; :func:`collect_changes` reads every history and
puts each record on the run's time axis (the clock offsets of
:func:`~scenarios.live.faults.clock_offsets`); :func:`of_the_run` keeps what the run did
(:func:`judge_changes` is given nothing else); :func:`judge_changes` turns them, with the
fault windows, into one :class:`~analysis.history.History`, judged by the same
analysis as a simulated run — the one place that touches the analysis API.

Judging exactly the run.  A record stamped before the run's start (the master data the
run loaded, anything an emulator held when it was not reset) is the starting state,
never judged.  Against emulators that were not reset (``--no-reset``) that is not
enough: a PO raised before the start may be confirmed, shipped and received during the
run, and its lags began before it.  So an entity whose first owner change (any fact's
owner, in :data:`analysis.facts.FACTS`) came before the start is left out whole, with
its replicas' records.  Master data is the exception (:data:`MASTER_ENTITIES`): a
contract price that existed before is the starting state, and each change of it during
the run is a business event of the run, judged.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import httpx

from scenarios.live.options import LiveError
from scenarios.spec.models import ScenarioSpec

__all__ = [
    "MASTER_ENTITIES",
    "collect_changes",
    "core_busy",
    "history_age",
    "history_size",
    "judge_changes",
    "keyless_writes",
    "of_the_run",
    "wait_until_settled",
    "webhook_stats",
    "webhooks_pending",
]

#: entity prefixes of master data: changed in place, each change judged on its own
MASTER_ENTITIES = ("price:",)


def history_size(client: httpx.Client, urls: dict[str, str]) -> int:
    return sum(len(client.get(f"{u}/__admin/history").json()) for u in urls.values())


def history_age(client: httpx.Client, urls: dict[str, str]) -> tuple[int, float]:
    """The records in every emulator's history, and the seconds since the newest of them
    was written, on its emulator's own clock (read first: a record written meanwhile is
    younger than 0); infinite with none."""
    size, age = 0, math.inf
    for url in urls.values():
        now = float(client.get(f"{url}/__admin/clock").json()["t"])
        records = client.get(f"{url}/__admin/history").json()
        size += len(records)
        if records:
            age = min(age, now - max(float(r["t"]) for r in records))
    return size, age


def wait_until_settled(
    client: httpx.Client,
    urls: dict[str, str],
    quiet_s: float,
    max_s: float,
    core_url: str | None = None,
) -> float:
    """Wait until no emulator's history has grown for ``quiet_s``, none has a webhook
    still to deliver (one waiting out its backoff would arrive later) and our core (at
    ``core_url``) has nothing queued or in its outbox (a write waiting out a retry after
    an outage would land later), at most ``max_s``.

    With our core, whose status shows every message it holds, the quiet counts from the
    newest history record (on its emulator's clock): systems that went quiet during the
    timeline's settle period are not watched ``quiet_s`` more.  Without it (a middleware
    we cannot see into, or none yet) the histories are watched for ``quiet_s``."""
    started = time.monotonic()
    size, since = -1, started
    while time.monotonic() - started < max_s:
        now = time.monotonic()
        now_size, age = history_age(client, urls)
        busy = webhooks_pending(client, urls) or core_busy(client, core_url)
        if busy:
            since = now
        elif now_size != size:
            since = now - age if core_url is not None else now
        size = now_size
        if not busy and now - since >= quiet_s:
            break
        time.sleep(0.25)
    return time.monotonic() - started


def core_busy(client: httpx.Client, core_url: str | None) -> int:
    """Messages our core has queued or still to deliver (retries included); 0 for no core
    of ours (a middleware under test is judged as it is)."""
    if core_url is None:
        return 0
    try:
        status = client.get(f"{core_url}/status", timeout=2).json()
        return int(status.get("queued", 0)) + int(status.get("outbox_pending", 0))
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return 1  # cannot tell (restarting): not settled


def collect_changes(
    client: httpx.Client, urls: dict[str, str], clocks: dict[str, float]
) -> list[Any]:
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


def of_the_run(changes: list[Any], whole_entities: bool) -> tuple[list[Any], int]:
    """The changes the run made (``t >= 0``); with ``whole_entities``, without the
    entities (and their replicas' records) whose first owner change came before the
    start.  Also the number of entities left out that way."""
    from analysis.facts import FACTS

    kept = [c for c in changes if c.t >= 0]
    if not whole_entities:
        return kept, 0
    owners = {f.owner for f in FACTS}
    first: dict[str, float] = {}
    for c in changes:
        if (c.system, c.field) in owners and c.t < first.get(c.entity, float("inf")):
            first[c.entity] = c.t
    before = {e for e, t in first.items() if t < 0 and not e.startswith(MASTER_ENTITIES)}
    if not before:
        return kept, 0
    replicas = {r: f for f in FACTS for r in f.replicas}

    def owner_entity(c: Any) -> str | None:
        fact = replicas.get((c.system, c.field))
        return c.entity if fact is None else fact.owner_entity(c.entity)

    return [c for c in kept if owner_entity(c) not in before], len(before)


def webhooks_pending(client: httpx.Client, urls: dict[str, str]) -> int:
    """Webhooks the emulators have sent or will retry but not yet delivered or given up."""
    total = 0
    for url in urls.values():
        try:
            total += int(client.get(f"{url}/__admin/webhooks", timeout=2).json().get("pending", 0))
        except (httpx.HTTPError, ValueError):
            return 1  # cannot tell: not settled
    return total


def webhook_stats(client: httpx.Client, url: str) -> dict[str, int]:
    """What an emulator's webhook dispatcher did (published, delivered, duplicated...)."""
    stats = client.get(f"{url}/__admin/webhooks").json()
    return {k: v for k, v in stats.items() if isinstance(v, int)}


def judge_changes(
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
    from analysis.judged import judge_run
    from analysis.results import Slos

    # every flow is expected of the middleware unless the header names the flows it
    # declares it carries (--carries): one that never wrote a replica lost it all
    history = History({"flows": list(FLOWS), **header})
    for c in changes:
        history.record(c)
    for system, kind, start, end in faults:
        history.fault(system, kind, start, max(start, end))
    known = {f.name for f in fields(Slos)}
    slos = Slos(**{k: v for k, v in spec.slos.model_dump().items() if k in known})
    return history, judge_run(history, slos=slos, volumes=volumes)


_READS = ("get_", "list_", "mailbox", "inventory")


def keyless_writes(
    client: httpx.Client, urls: dict[str, str], clocks: dict[str, float]
) -> dict[str, int]:
    """Writes each emulator journalled after the start without an ``Idempotency-Key``,
    per ``system operation`` (the load generator and the harness always send one: these
    are the middleware's)."""
    found: Counter[str] = Counter()
    for system, url in urls.items():
        r = client.get(f"{url}/__admin/requests", timeout=60)
        if r.status_code != 200:
            raise LiveError(f"{system}: GET /__admin/requests answered {r.status_code}")
        for rec in r.json():
            if rec.get("idempotency_key") or float(rec["t"]) < clocks[system]:
                continue
            if not str(rec["operation"]).startswith(_READS):
                found[f"{system} {rec['operation']}"] += 1
    return dict(sorted(found.items()))
