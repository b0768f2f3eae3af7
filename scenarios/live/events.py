"""The business events of a scenario's timeline, played live through the systems' HTTP APIs.

Theory of operation.  A simulated run plays each contract-price change of the scenario
straight on the ERP's behaviour; a live run plays the same change at its scheduled
(scaled) time through the ERP's REST API, as a buyer's pricing team would: for a share
of the catalog, read the contract price, write the new one (:class:`PriceChanges`, one
SimPy process per change on the :class:`~scenarios.live.faults.FaultSchedule`'s
real-time environment), in the API version the ERP speaks (its client is upgraded with
each of the scenario's ERP releases).  It draws the items and factors from the same
seeded stream as the simulation, so the same scenario changes the same prices in both
worlds.

A price can only change if it exists: before the run's clock starts, :func:`load_masters`
puts the scenario's network into the ERP (vendors, items, contract prices, locations) and
AP (its prices, from the same contract) — the records an emulator served from the scenario
holds from its start — as the simulation does before its first event.  What it
writes is the starting state: the run judges only what happens after its start.  A record
that is already there (a running emulator not reset) is left as it is.

:func:`erp_releases` reads when the ERP's API changes version (the emulators play the
scenario's releases on the ERP's own clock) and puts it on the run's time axis.
:func:`not_played` names the timeline items a live run cannot play (printed at the start,
kept in ``results.json``), so nothing of the scenario is dropped in silence.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx
import simpy

from scenarios.live.options import LiveError
from scenarios.live.setup import master_records
from scenarios.spec.masterdata import MasterData
from scenarios.spec.models import ScenarioSpec
from scenarios.spec.releases import client_versions, incoming, outgoing

__all__ = [
    "AP_PRICES",
    "ERP",
    "PriceChanges",
    "erp_releases",
    "load_masters",
    "not_played",
    "restart_erp_releases",
]

ERP = "/fscmRestApi/resources/latest"
AP_PRICES = "/payables/v1/prices"
_AP_BATCH = 999  # AP's limit of prices per upsert
_TRIES = 4
_KEYS = ("SupplierNumber", "ItemNumber", "LocationGLN")
_OPERATIONS = {"GET": "get_contract_price", "PATCH": "update_contract_price"}


def not_played(spec: ScenarioSpec, core_is_ours: bool) -> list[str]:
    """The timeline items of ``spec`` a live run cannot play, each with the reason."""
    out = [
        f"core latency spike at {s.at_hours:g} h (+{s.extra_ms:g} ms for {s.minutes:g} min): "
        "the core's links are real sockets, no latency can be injected into them"
        for s in spec.core_faults.latency_spikes
    ]
    if not core_is_ours:
        out += [
            f"core crash at {c.at_hours:g} h: the middleware under test is not ours to kill"
            for c in spec.core_faults.crashes
        ]
    return out


def restart_erp_releases(client: httpx.Client, erp_url: str, log: Callable[[str], None]) -> None:
    """Start the ERP's release timeline with the run's clock (its faults count from the
    same instant): a release at 7 h comes 7 h into the run, however long the emulators,
    the core and the master data took to come up."""
    from emulators.web.erp_releases import RESTART_PATH  # the web stack: only with releases

    r = client.post(erp_url + RESTART_PATH)
    if r.status_code == 404:
        log(f"the ERP at {erp_url} plays no release (not served with this scenario)")
    elif r.status_code != 204:
        raise LiveError(f"POST {RESTART_PATH} at the ERP answered {r.status_code}: {r.text[:300]}")


def erp_releases(client: httpx.Client, erp_url: str, erp_clock: float) -> list[dict[str, Any]]:
    """The ERP's releases on the run's time axis (``erp_clock``: the ERP's clock at the
    run's start), as the ERP itself says (its apiVersion resource); none without one."""
    from emulators.web.erp_releases import VERSION_PATH  # the web stack: only with releases

    r = client.get(erp_url + VERSION_PATH)
    if r.status_code != 200:
        return []
    return [{"version": x["version"], "at_s": round(float(x["at_s"]) - erp_clock, 3)}
            for x in r.json().get("releases", [])]  # fmt: skip


def _check(r: httpx.Response, what: str, ok: tuple[int, ...] = (200, 201)) -> None:
    if r.status_code not in ok:
        raise LiveError(f"loading the master data: {what} answered {r.status_code}: {r.text[:300]}")


def load_masters(client: httpx.Client, urls: dict[str, str], master: MasterData) -> int:
    """The network's masters in the ERP and AP's prices (existing records kept), the
    records :func:`~scenarios.live.setup.master_records` gives a served emulator; the
    number of records written."""
    erp, written = urls["erp"] + ERP, 0
    masters, rows = master_records(master, dt.date.today())
    kept = (200, 201, 409)  # 409: a running emulator has it already
    paths = {"vendor": "vendors", "item": "items", "contract_price": "contractPrices",
             "location": "locations"}  # fmt: skip
    for kind in ("vendor", "item", "contract_price", "location"):
        for record in masters[kind]:
            r = client.post(f"{erp}/{paths[kind]}", json=record)
            key = "/".join(str(v) for k, v in record.items() if k in _KEYS)
            _check(r, f"ERP {kind} {key}", kept)
            written += r.status_code == 201
    for n in range(0, len(rows), _AP_BATCH):
        r = client.put(urls["ap"] + AP_PRICES, json={"prices": rows[n : n + _AP_BATCH]})
        _check(r, "AP prices")
    return written + len(rows)


class PriceChanges:
    """The scenario's contract-price changes, played through the ERP's API in real time."""

    def __init__(
        self,
        spec: ScenarioSpec,
        master: MasterData,
        erp_url: str,
        run_id: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spec, self.master, self.run_id = spec, master, run_id
        self.url = erp_url + ERP + "/contractPrices"
        self.errors: list[str] = []  # what could not be played, and why
        self.sleep = sleep
        self.rng = random.Random(f"{spec.seed}/prices")  # the simulation's stream
        self.changed = 0
        self.client = httpx.Client(timeout=5)
        self.versions = client_versions(spec)  # the ERP's releases, followed

    def processes(self, env: simpy.Environment) -> list[Generator[simpy.Event, Any, None]]:
        return [self._play(env, n, c) for n, c in enumerate(self.spec.contract_price_changes)]

    def _play(
        self, env: simpy.Environment, n: int, change: Any
    ) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(change.at_hours * 3600 - env.now)
        self.apply(n, change)

    def apply(self, n: int, change: Any) -> None:
        """Change the price of ``change.item_share`` of the catalog (as the simulation)."""
        items = sorted(self.master.items, key=lambda i: i.gtin)
        for item in self.rng.sample(items, round(len(items) * change.item_share)):
            factor = self.rng.uniform(*change.factor)
            one = f"{self.url}/{item.supplier_id}/{item.gtin}"
            current = self._call("GET", one, None, None)
            if current is None:
                continue
            price = max(round(current["ContractPrice"] * factor, 2), 0.01)
            key = f"price-{self.run_id}-{n}-{item.supplier_id}-{item.gtin}"
            if self._call("PATCH", one, {"ContractPrice": price}, key) is not None:
                self.changed += 1

    def _call(self, method: str, url: str, body: dict[str, Any] | None, key: str | None) -> Any:
        """One call, tried again after a 5xx, a 429 or no answer (honouring Retry-After,
        at most 2 s), or refused by a release meanwhile (in the ERP's version, as the
        pricing team's client is upgraded with it); its reply's JSON in the base names, or
        None, with the reason in ``errors``, when it never succeeds."""
        operation = _OPERATIONS[method]
        what = f"contract-price change: {method} {url.split(ERP)[-1]}"
        for attempt in range(_TRIES):
            sent_body, headers, sent = outgoing(self.versions, operation, body)
            headers |= {"Idempotency-Key": key} if key else {}
            try:
                r = self.client.request(method, url, json=sent_body, headers=headers)
            except httpx.HTTPError as e:
                problem = f"{type(e).__name__}"
            else:
                reply, again = incoming(self.versions, operation, sent, r.status_code, r.headers,
                                        r.json() if r.status_code < 300 else None)  # fmt: skip
                if again:
                    continue
                if r.status_code < 300:
                    return reply
                problem = f"answered {r.status_code}"
                if r.status_code < 500 and r.status_code != 429:
                    break
                retry_after = r.headers.get("retry-after", "")
                if retry_after.isdigit():
                    self.sleep(min(2.0, float(retry_after)))
                    continue
            self.sleep(min(2.0, 0.1 * 2**attempt))
        self.errors.append(f"{what} {problem}")
        return None

    def close(self) -> None:
        self.client.close()
