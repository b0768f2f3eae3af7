"""Run the same emulator test cases in-process and over HTTP.

``InProcess`` calls the behaviour through its host, as the simulated transport
does; ``OverHttp`` sends real HTTP requests to the emulator's FastAPI app served
by uvicorn on 127.0.0.1.  Both answer a ``Reply``, so one test body checks both
worlds and they can never drift.  Both are built from the emulator's operation
table (:mod:`emulators.operations`): a suite only names its short keywords.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from emulators._base import Reply
from emulators.faults import Faults, Outage
from emulators.host import Host
from emulators.operations import REQUIRED, Api, Operation, call_native
from emulators.web.supplier_api import EDI_MEDIA_TYPES
from tests.ports import free_port


@dataclass
class FakeClock:
    """A clock tests move by hand; ``epoch`` is what live systems read once."""

    t: float = 0.0
    epoch: dt.datetime = dt.datetime(2026, 3, 2, 8, 0)

    def __call__(self) -> float:
        return self.t


@dataclass
class HttpRequest:
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None


@dataclass(frozen=True)
class Table:
    """A suite's view of an emulator's operation table: ``names`` maps the short
    keywords its cases use (``number=``) to the table's params (``order_number``),
    ``defaults`` fills params the cases leave out (the one vendor of a suite).  A
    case calls ``api.call(operation, body=..., key=..., **params)``."""

    api: Api
    names: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def resolve(
        self, operation: str, kw: Mapping[str, Any]
    ) -> tuple[Operation, dict[str, Any], Any]:
        """The row, its params (defaults filled in) and the body of a case's call."""
        op = self.api.by_name()[operation]
        given = {self.names.get(k, k): v for k, v in kw.items()}
        body = given.pop("body", None)
        return op, {**{k: v for k, v in self.defaults.items() if _takes(op, k)}, **given}, body

    def http(
        self, op: Operation, params: dict[str, Any], body: Any, key: str | None
    ) -> HttpRequest:
        """The HTTP request the operation's route answers."""
        path = op.path.format_map({p.native: params[p.name] for p in op.params if p.name in params})
        request = HttpRequest(op.method, self.api.prefix + path)
        for p in op.params:
            value = params.get(p.name, None if p.default is REQUIRED else p.default)
            if value is None:
                continue
            if p.where == "query":
                request.params[p.native] = value
            elif p.where == "header":
                request.headers[p.native] = value
        if key:
            request.headers["Idempotency-Key"] = key
        if op.body_kind == "x12":
            request.content = body
            request.headers["content-type"] = EDI_MEDIA_TYPES[0]
        else:
            request.json = body
        return request


def _takes(op: Operation, name: str) -> bool:
    return any(p.name == name for p in op.params)


class InProcess:
    """The behaviour through its host, as the simulated transport calls it."""

    mode = "in-process"

    def __init__(self, host: Host, behaviour: Any, table: Table):
        self.host, self.behaviour, self.table = host, behaviour, table

    def call(self, operation: str, key: str | None = None, **kw: Any) -> Reply:
        op, params, body = self.table.resolve(operation, kw)
        return self.host.invoke(
            operation,
            lambda: call_native(op, self.behaviour, params, body, key),
            idempotency_key=key,
        )


class OverHttp:
    """Real HTTP requests to the emulator's app served by uvicorn."""

    mode = "http"

    def __init__(self, base: str, host: Host, behaviour: Any, table: Table) -> None:
        self.client = httpx.Client(base_url=base, timeout=10)
        self.host, self.behaviour, self.table = host, behaviour, table

    def close(self) -> None:
        self.client.close()

    def call(self, operation: str, key: str | None = None, **kw: Any) -> Reply:
        op, params, body = self.table.resolve(operation, kw)
        return self.send(self.table.http(op, params, body, key))

    def admin(self, what: str) -> Any:
        """What the admin API shows of ``what``: ``requests`` (answered), ``history``
        (facts changed), ``state``..."""
        return self.client.get(f"/__admin/{what}").json()

    def webhook_stats(self, delivered: int, timeout_s: float = 5.0) -> dict[str, Any]:
        """The admin API's webhook counters once ``delivered`` deliveries are counted (the
        emulator counts a delivery once the subscriber has answered it)."""
        deadline = time.monotonic() + timeout_s
        while (stats := self.admin("webhooks"))["delivered"] < delivered:
            assert time.monotonic() < deadline, stats
            time.sleep(0.02)
        return stats

    def answered(self) -> list[tuple[str, int]]:
        """The requests the admin API lists as answered, in order: (operation, status)."""
        return [(r["operation"], r["status"]) for r in self.admin("requests")]

    def assert_logged(
        self, answered: list[tuple[str, int]], changed: list[tuple[str, str, Any]]
    ) -> list[dict[str, Any]]:
        """The admin API lists the requests ``answered`` (the second sent with the key
        ``k-1``) and the facts ``changed`` as (entity, field, value); returns the history."""
        assert self.answered() == answered
        assert self.admin("requests")[1]["idempotency_key"] == "k-1"
        history: list[dict[str, Any]] = self.admin("history")
        assert [(h["entity"], h["field"], h["value"]) for h in history] == changed
        return history

    def send(self, r: HttpRequest) -> Reply:
        resp = self.client.request(
            r.method, r.path, params=r.params, json=r.json, headers=r.headers, content=r.content
        )
        ctype = resp.headers.get("content-type", "")
        if not resp.content:
            body = None
        elif "json" in ctype:
            body = resp.json()
        else:
            body = resp.text
        return Reply(resp.status_code, body, dict(resp.headers))


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def open_api(mode: str, clock: FakeClock, live: Any, table: Table) -> Iterator[Any]:
    """A live system's API in ``mode`` ("in-process" or "http"), with ``.clock`` set."""
    behaviour = live.host.behaviour
    if mode == "in-process":
        api: Any = InProcess(live.host, behaviour, table)
        api.clock = clock
        yield api
        return
    with served(live.app) as base:
        api = OverHttp(base, live.host, behaviour, table)
        api.clock = clock
        try:
            yield api
        finally:
            api.close()


def _no_timers(delay: float, action: Callable[[], None]) -> None:
    """A schedule for systems whose tests fire no timers."""


def live_system(factory: Callable[..., Any], clock: FakeClock | None = None, **options: Any) -> Any:
    """A live system from ``factory``: seed 1, a fresh clock unless given, no timers
    unless ``schedule`` is given, then ``options``."""
    options.setdefault("schedule", _no_timers)
    return factory(seed=1, clock=FakeClock() if clock is None else clock, **options)


@contextmanager
def world(
    factory: Callable[..., Any], table: Table, mode: str, clock: FakeClock | None = None,
    **options: Any,
) -> Iterator[Any]:  # fmt: skip
    """A :func:`live_system` from ``factory`` and its API in ``mode``."""
    clock = FakeClock() if clock is None else clock
    with open_api(mode, clock, live_system(factory, clock, **options), table) as api:
        yield api


def world_fixtures(name: str, factory: Callable[..., Any], table: Table) -> tuple[Any, Any]:
    """A contract suite's two fixtures: ``name``, the system from ``factory`` in both
    worlds (in-process, then over HTTP), and ``name_http``, over HTTP only, for what
    has no in-process twin (the admin API, headers, webhooks)."""

    @pytest.fixture(name=name, params=["in-process", "http"])
    def both(request: pytest.FixtureRequest) -> Iterator[Any]:
        with world(factory, table, request.param) as api:
            yield api

    @pytest.fixture(name=f"{name}_http")
    def http_only() -> Iterator[Any]:
        with world(factory, table, "http") as api:
            yield api

    return both, http_only


def assert_problem(reply: Reply, status: int, field: str) -> None:
    """A problem+json reply with ``status`` naming ``field``."""
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["status"] == status and reply.body["field"] == field, reply.body


def assert_4xx_problem(reply: Reply, field: str) -> None:
    """A problem+json reply with a 4xx status naming ``field`` (where the behaviour
    and the HTTP schema may differ on the status)."""
    assert 400 <= reply.status < 500, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["field"] == field, reply.body


@contextmanager
def changes_nothing(api: Any) -> Iterator[None]:
    """The behaviour's state and journal are the same after the block as before it."""
    before, history = api.host.snapshot(), list(api.host.history)
    yield
    assert api.host.snapshot() == before
    assert api.host.history == history


def call_during_outage(api: Any, call: Callable[[], Reply]) -> Reply:
    """``call()`` 30 s into an outage from 10 s to 70 s: a 503 problem saying to
    retry after 40 s, which the behaviour never sees."""
    api.host.set_faults(Faults(outages=(Outage(start_s=10, end_s=70),)))
    api.clock.t = 30
    with changes_nothing(api):
        down = call()
    assert down.status == 503 and down.headers["retry-after"] == "40"
    assert down.headers["content-type"] == "application/problem+json"
    return down


def call_after_outage(api: Any, call: Callable[[], Reply], status: int) -> Reply:
    """``call()`` at 70 s, when the outage of :func:`call_during_outage` ends: it
    goes through with ``status``, right after the 503."""
    api.clock.t = 70
    up = call()
    assert up.status == status, up.body
    assert [r.status for r in api.host.requests][-2:] == [503, status]
    return up


def outage_and_recovery(api: Any, call: Callable[[], Reply], status: int) -> Reply:
    """``call()`` during an outage (:func:`call_during_outage`: a 503 the behaviour never
    sees), then once it ends (:func:`call_after_outage`); the reply that went through."""
    call_during_outage(api, call)
    return call_after_outage(api, call, status)


def refused_unchanged(
    api: Any, operation: str, field: str, status: int | None = None, **params: Any
) -> Reply:
    """``operation`` called with ``params`` is a problem naming ``field`` (``status``, or
    any 4xx where the behaviour and the HTTP schema may differ) and changes nothing."""
    with changes_nothing(api):
        reply = api.call(operation, **params)
    if status is None:
        assert_4xx_problem(reply, field)
    else:
        assert_problem(reply, status, field)
    return reply


class WebhookReceiver:
    """A subscriber on 127.0.0.1 that records every event POSTed to it (path, headers, body)."""

    def __init__(self, path: str = "/hooks") -> None:
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                received.append(
                    (self.path, dict(self.headers), json.loads(self.rfile.read(length)))
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Any]:
        """The events received once ``count`` have arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout_s
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return [event for _, _, event in self.posts]

    def events(self, count: int) -> list[Any]:
        """:meth:`wait_for` ``count`` events, in the order they were published (the number
        their ``eventId`` ends with): deliveries run concurrently and may overtake."""
        return sorted(self.wait_for(count), key=lambda e: int(e["eventId"].split("-")[-1]))


@contextmanager
def subscribed(api: Any, path: str) -> Iterator[WebhookReceiver]:
    """A :class:`WebhookReceiver` at ``path`` that ``api`` (over HTTP) posts its events to,
    subscribed through the admin API."""
    with WebhookReceiver(path) as receiver:
        put = api.client.put("/__admin/subscription", json={"url": receiver.url})
        assert put.status_code == 200
        assert api.client.get("/__admin/subscription").json() == {"url": receiver.url}
        yield receiver
