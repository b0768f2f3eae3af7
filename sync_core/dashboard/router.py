"""The live dashboard: one page and two JSON feeds, served by the sync core.

Theory of operation
-------------------
``GET /dashboard`` serves a static page (``static/``: plain HTML, CSS and JS, no build
step, no CDN) that polls ``GET /v1/experience/dashboard/feed.json`` every two seconds and
draws it; ``.../story.json?q=`` tells one PO's story (by PO number or trace id).  The page's
*replay* and *discard* buttons call the process API (``/v1/process/dead-letters/{id}/...``).
The router is mounted twice: in the experience layer, and at ``/dashboard`` where its feeds
are the deprecated first address (``old``).  With access on, the page sends the token it
was opened with (``/dashboard#token=<JWT>``) as a bearer token.

The feed joins what the driver holds in memory (circuit breakers, the
:class:`~sync_core.dashboard._recorder.Recorder` ring of recent lag observations,
target results and PO stages) with what the store holds (pending outbox rows,
exceptions, dead letters, webhook feed gaps, each PO's ship-to site): a handful of
reads in the store's thread per poll.  Times are turned into ages (seconds) or
wall-clock ISO times here, so the page never needs the driver's clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sync_core.dashboard._recorder import STAGES, LagSample, Recorder, trace_of
from sync_core.drivers.asyncio import LiveDriver
from sync_core.flows.base import traceparent
from sync_core.messages import Request
from sync_core.service.access import requires
from sync_core.store import DeadLetterRecord, DeadLetterStatus, Store

__all__ = ["dashboard_router"]

_STATIC = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "screenshot.png": "image/png",
}
_RATE_WINDOW_S = 60.0  # error and retry rates: over the last minute
_BUCKET_S = 10.0  # the lag chart's resolution
_SITES_READ_MAX = 200  # PO ship-to sites read from the store per poll, at most
_PO_KINDS = ("po", "ack", "po_canceled")

Q = Annotated[str, Query(min_length=1, max_length=80, description="a PO number or trace id")]


def _asset(name: str) -> bytes:
    return resources.files("sync_core.dashboard").joinpath("static", name).read_bytes()


def nearest_rank(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (None for no sample)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _summary(values: list[float]) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 4)

    return {
        "n": len(values),
        "p50": r(nearest_rank(values, 50)),
        "p95": r(nearest_rank(values, 95)),
        "p99": r(nearest_rank(values, 99)),
        "max": r(max(values) if values else None),
    }


class _Feeds:
    """Builds the feeds for one driver; keeps a small cache of PO number → site."""

    def __init__(self, driver: Callable[[], LiveDriver]) -> None:
        self.driver = driver
        self.sites: dict[str, str | None] = {}

    # -- time -------------------------------------------------------------------------

    def _wall_of(self, at: float) -> str:
        d = self.driver()
        when = d.wall() - dt.timedelta(seconds=d.clock() - at)
        return when.isoformat(timespec="milliseconds")

    def _age(self, at: float | None) -> float | None:
        return None if at is None else round(max(0.0, self.driver().clock() - at), 3)

    # -- the feed ---------------------------------------------------------------------

    async def feed(self) -> dict[str, Any]:
        d = self.driver()
        rec = d.observe
        now = d.clock()
        stored = await d.db(self._read_store)
        lag = rec.recent_lag(now)
        await self._learn_sites(rec)
        return {
            "now": d.wall().isoformat(timespec="seconds"),
            "status": d.status(),
            "health": self._health(d, rec, now),
            "gaps": stored["gaps"],
            "lag": self._lag(lag, now, rec.keep_s),
            "cycle": self._cycle(rec),
            "backlog": stored["backlog"] | {"in_flight": len(d.stats.in_flight)},
            "exceptions": stored["exceptions"],
            "dead_letters": [self._letter(r) for r in stored["letters"]],
            "sites": self._sites(rec, lag, stored),
        }

    def _read_store(self, store: Store) -> dict[str, Any]:
        pending = store.pending()
        by_target: dict[str, dict[str, int]] = {}
        for item in pending:
            lanes = by_target.setdefault(item.request.target, {"critical": 0, "routine": 0})
            lanes["critical" if item.request.critical else "routine"] += 1
        now = self.driver().wall()
        exceptions = []
        for e in store.entities("exception"):
            row = e.data
            if not isinstance(row, dict) or not row.get("open"):
                continue
            try:
                since = dt.datetime.fromisoformat(str(row["since"]))
                age = (now - since.replace(tzinfo=None)).total_seconds()
            except (KeyError, ValueError):
                age = None
            exceptions.append(row | {"age_s": None if age is None else round(age, 1)})
        exceptions.sort(key=lambda r: -(r["age_s"] or 0.0))
        gaps = []
        wall_s = (now - dt.datetime(1970, 1, 1)).total_seconds()
        for feed in store.entities("feed"):
            missing = feed.data.get("missing", {}) if isinstance(feed.data, dict) else {}
            oldest = min(missing.values(), default=None)
            gaps.append(
                {
                    "feed": feed.key,
                    "highest": feed.version,
                    "missing": len(missing),
                    "oldest_missing_age_s": None if oldest is None else round(wall_s - oldest, 1),
                }
            )
        return {
            "backlog": {"pending": len(pending), "by_target": by_target},
            "exceptions": exceptions,
            "gaps": gaps,
            "letters": store.dead_letter_records(DeadLetterStatus.OPEN),
        }

    def _health(self, d: LiveDriver, rec: Recorder, now: float) -> list[dict[str, Any]]:
        targets = sorted(set(rec.targets) | set(d.planner.breakers))
        rows = []
        for target in targets:
            breaker = d.planner.breakers.get(target)
            stats = breaker.stats() if breaker is not None else None
            h = rec.targets.get(target)
            recent = [kind for at, kind in (h.recent if h else ()) if at >= now - _RATE_WINDOW_S]
            answered = sum(1 for k in recent if k in ("ok", "error", "rejected"))
            errors = sum(1 for k in recent if k == "error")
            rows.append(
                {
                    "target": target,
                    "circuit": str(stats.state) if stats else "closed",
                    "trips": stats.trips if stats else 0,
                    "circuit_changed_age_s": self._age(stats.changed_at if stats else None),
                    "last_success_age_s": self._age(h.last_success if h else None),
                    "last_error_age_s": self._age(h.last_error if h else None),
                    "last_error": h.last_error_detail if h else None,
                    "calls_1m": answered,
                    "error_rate_1m": round(errors / answered, 3) if answered else None,
                    "retries_1m": sum(1 for k in recent if k == "retry"),
                    "successes": h.successes if h else 0,
                    "errors": h.errors if h else 0,
                    "rejected": h.rejected if h else 0,
                    "given_up": h.given_up if h else 0,
                }
            )
        return rows

    def _lag(self, samples: list[LagSample], now: float, keep_s: float) -> dict[str, Any]:
        series: dict[str, list[LagSample]] = {}
        for s in samples:
            series.setdefault(f"{s.flow}/{s.lane}", []).append(s)
        buckets = math.ceil(keep_s / _BUCKET_S)
        out = []
        for name in sorted(series):
            got = series[name]
            points: list[list[float]] = []
            per: dict[int, list[float]] = {}
            for s in got:
                i = int((now - s.at) // _BUCKET_S)
                if i < buckets:
                    per.setdefault(i, []).append(s.lag_s)
            for i in sorted(per, reverse=True):
                worst = nearest_rank(per[i], 95)
                points.append([-(i * _BUCKET_S), round(worst or 0.0, 4), len(per[i])])
            flow, _, lane = name.partition("/")
            out.append(
                {"flow": flow, "lane": lane, "points": points} | _summary([s.lag_s for s in got])
            )
        return {"window_s": keep_s, "bucket_s": _BUCKET_S, "series": out}

    def _cycle(self, rec: Recorder) -> dict[str, Any]:
        spans: dict[str, list[float]] = {}
        reached = dict.fromkeys(STAGES, 0)
        for trace in rec.traces.values():
            st = trace.stages
            known = [s for s in STAGES if s in st]
            if known:
                reached[known[-1]] += 1
            for a, b in itertools.pairwise(known):
                spans.setdefault(f"{a}→{b}", []).append(max(0.0, st[b] - st[a]))
        stages = [{"stage": k} | _summary(v) for k, v in spans.items()]
        rank = {s: i for i, s in enumerate(STAGES)}
        stages.sort(key=lambda r: [rank[s] for s in r["stage"].split("→")])
        return {"stages": stages, "furthest_stage": reached}

    def _letter(self, record: DeadLetterRecord) -> dict[str, Any]:
        letter = record.letter
        tid = trace_of(letter.correlation_id)
        trace = self.driver().observe.trace(tid) if tid else None
        return {
            "id": record.id,
            "source": record.source,
            "kind": letter.kind,
            "reason": letter.reason,
            "age_s": self._age(letter.at),
            "trace_id": tid,
            "po_number": trace.po_number if trace else None,
            "target": letter.request.target if letter.request else None,
        }

    async def _learn_sites(self, rec: Recorder) -> None:
        wanted = [
            t.po_number
            for t in rec.traces.values()
            if t.po_number and t.po_number not in self.sites
        ][:_SITES_READ_MAX]
        if not wanted:
            return

        def read(store: Store) -> dict[str, str | None]:
            found: dict[str, str | None] = {}
            for number in wanted:
                e = store.entity("po", number)
                data = e.data if e is not None else None
                found[number] = data.get("ship_to") if isinstance(data, dict) else None
            return found

        self.sites.update(await self.driver().db(read))
        for trace in rec.traces.values():
            if trace.po_number and trace.site is None:
                trace.site = self.sites.get(trace.po_number)

    def _sites(
        self, rec: Recorder, lag: Iterable[LagSample], stored: dict[str, Any]
    ) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}

        def row(site: str) -> dict[str, Any]:
            return rows.setdefault(
                site,
                {
                    "site": site,
                    "pos": 0,
                    "failed_calls": 0,
                    "dead_letters": 0,
                    "open_exceptions": 0,
                    "lags": [],
                },
            )

        site_of_trace = {tid: t.site for tid, t in rec.traces.items() if t.site}
        for t in rec.traces.values():
            if t.site:
                r = row(t.site)
                r["pos"] += 1
                r["failed_calls"] += sum(1 for e in t.events if e["what"] == "failed")
        for s in lag:
            site = site_of_trace.get(s.trace or "")
            if site:
                row(site)["lags"].append(s.lag_s)
        for record in stored["letters"]:
            site = site_of_trace.get(trace_of(record.letter.correlation_id) or "")
            if site:
                row(site)["dead_letters"] += 1
        for ex in stored["exceptions"]:
            site = self.sites.get(str(ex.get("po_number")))
            if site:
                row(site)["open_exceptions"] += 1
        out = []
        for site in sorted(rows):
            r = rows[site]
            lags = r.pop("lags")
            out.append(r | {"lag_p95_s": _summary(lags)["p95"], "lag_n": len(lags)})
        return out

    # -- one PO's story ---------------------------------------------------------------

    async def story(self, q: str) -> dict[str, Any] | None:
        d = self.driver()
        q = q.strip()
        tid = trace_of(q.lower())
        if tid is not None:
            trace = d.observe.trace(tid)
            number = trace.po_number if trace else None
        else:
            number = q
            tid = trace_of(traceparent(q, "read"))
            trace = d.observe.trace(tid) if tid else None

        def read(store: Store) -> dict[str, Any]:
            core = {}
            if number is not None:
                for kind in _PO_KINDS:
                    e = store.entity(kind, number)
                    if e is not None:
                        core[kind] = {"version": e.version, "data": e.data}
            letters = [
                r
                for r in store.dead_letter_records(None)
                if trace_of(r.letter.correlation_id) == tid
            ]
            exceptions = [
                e.data
                for e in store.entities("exception")
                if isinstance(e.data, dict) and e.data.get("po_number") == number
            ]
            return {"core": core, "letters": letters, "exceptions": exceptions}

        known = await d.db(read)
        if not known["core"] and trace is None and not known["letters"]:
            return None
        timeline = [
            {"at": self._wall_of(e["at"])} | {k: v for k, v in e.items() if k != "at"}
            for e in (trace.events if trace else ())
        ]
        for r in known["letters"]:
            if r.letter.at is not None:
                timeline.append(
                    {
                        "at": self._wall_of(r.letter.at),
                        "what": f"dlq #{r.id}",
                        "where": r.letter.kind,
                        "detail": f"{r.status.value}: {r.letter.reason}",
                        "lane": None,
                    }
                )
        timeline.sort(key=lambda e: e["at"])
        stages = {s: self._wall_of(t) for s, t in (trace.stages.items() if trace else ())}
        return {
            "po_number": number,
            "trace_id": tid,
            "site": trace.site if trace else None,
            "stages": stages,
            "systems": await self._systems(number, known["core"], trace),
            "exceptions": known["exceptions"],
            "dead_letters": [
                self._letter(r) | {"status": r.status.value} for r in known["letters"]
            ],
            "timeline": timeline,
        }

    async def _systems(
        self, number: str | None, core: dict[str, Any], trace: Any
    ) -> dict[str, Any]:
        """Each system's view as the core can tell it: the ERP's document read now; for the
        others, the writes the core made to them and what they sent it."""
        views: dict[str, Any] = {"core": core}
        if number is not None:
            views["erp"] = await self._read_erp(number)
        for system in ("supplier", "wms", "ap"):
            events = [
                e for e in (trace.events if trace else ()) if e["where"].startswith(f"{system}.")
            ]
            views[system] = {
                "written": sorted({e["where"] for e in events if e["what"] == "written"}),
                "failed": sum(1 for e in events if e["what"] == "failed"),
                "last": events[-1]["what"] + " " + events[-1]["where"] if events else None,
            }
        return views

    async def _read_erp(self, number: str) -> dict[str, Any]:
        connector = self.driver().connector
        request = Request("erp", "get_purchase_order", {"order_number": number})
        if connector.knows(request) is not None:
            return {"read": "not available: the core has no ERP connection"}
        try:
            response = await asyncio.wait_for(connector.call(request), 3.0)
        except TimeoutError:
            return {"read": "no answer within 3 s"}
        if not response.ok:
            return {"read": f"HTTP {response.status or 'no answer'}"}
        body = response.body if isinstance(response.body, dict) else {}
        keep = ("OrderNumber", "Status", "Revision", "SupplierNumber", "ShipToLocationGLN")
        lines = body.get("lines")
        return (
            {"read": "ok"}
            | {k: body[k] for k in keep if k in body}
            | ({"lines": len(lines)} if isinstance(lines, list) else {})
        )


def dashboard_router(driver: Callable[[], LiveDriver], *, old: bool = False) -> APIRouter:
    """The dashboard's page, assets and feeds, over the driver ``driver()`` returns; ``old``:
    the feeds at their first address, deprecated for ``/v1/experience/dashboard/...``."""
    feeds = _Feeds(driver)
    router = APIRouter(prefix="/dashboard", tags=["dashboard"])

    @router.get("", response_class=HTMLResponse, dependencies=[requires(None)])
    async def page() -> Response:
        """The live dashboard (a page that polls ``feed.json``)."""
        return HTMLResponse(_asset("index.html"), headers={"cache-control": "no-cache"})

    @router.get("/static/{name}", include_in_schema=False, dependencies=[requires(None)])
    async def static(name: str) -> Response:
        if name not in _STATIC:
            return JSONResponse({"detail": f"no asset {name}"}, status_code=404)
        return Response(_asset(name), media_type=_STATIC[name])

    @router.get("/feed.json", deprecated=old, dependencies=[requires("status:read")])
    async def feed() -> dict[str, Any]:
        """Integration health, lag, cycle time, backlog, exceptions, dead letters, sites."""
        return await feeds.feed()

    @router.get(
        "/story.json",
        responses={404: {"description": "no such PO or trace"}},
        deprecated=old,
        dependencies=[requires("po:read")],
    )
    async def story(q: Q) -> Response:
        """One PO's story: every system's view and every message on one timeline."""
        found = await feeds.story(q)
        if found is None:
            return JSONResponse(
                {
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "detail": f"the core knows no PO or trace {q!r}",
                    "field": "q",
                },
                status_code=404,
                media_type="application/problem+json",
            )
        return JSONResponse(found)

    return router
