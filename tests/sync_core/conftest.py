"""Backends on real servers: PostgreSQL for the store contract, NATS for the bus contract.

The server is ``$SUPPLYSYNC_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``).  It is probed once per session
(psycopg installed, the server answering within a few seconds); when it is
not there, tests that need it are skipped with the reason — unless
``SUPPLYSYNC_REQUIRE_SERVICES=1`` (CI sets it in ``.ci/run``), which turns the
same reason into a failure: a skip there would hide a missing service.

NATS (``$SUPPLYSYNC_NATS_URL``, default ``nats://127.0.0.1:4222``) is probed
the same way, JetStream included, for ``tests/sync_core/test_bus_nats.py``.

Each test gets :class:`PostgresSchemas`: every store it opens lives in a new
schema with a unique name (``supplysync_test_<hex>``), and every schema made
for the test is dropped (``CASCADE``) at teardown, so tests never see each
other's rows and leave nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    import psycopg

    from sync_core.store_postgres import PostgresStore

POSTGRES_URL_ENV = "SUPPLYSYNC_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REQUIRE_SERVICES_ENV = "SUPPLYSYNC_REQUIRE_SERVICES"
NATS_URL_ENV = "SUPPLYSYNC_NATS_URL"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES_ENV, "") not in ("", "0")


def service_missing(reason: str) -> NoReturn:
    """Skip with ``reason``; fail with it when services are required (CI)."""
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1: a missing service fails)", pytrace=False)
    pytest.skip(reason)


def reachable(url: str, probe: Callable[[str], str | None]) -> str:
    """``url`` when ``probe`` finds its server usable; else a skip (a failure in CI)."""
    problem = probe(url)
    if problem is not None:
        service_missing(problem)
    return url


class Unreachable(Exception):
    """The server at a URL did not answer as the tests need (the message says how)."""


@dataclass(frozen=True)
class Service:
    """A server some tests need: where it is, and how to tell that it is usable."""

    name: str  # as a reason names it: "no <name> at <url>"
    env: str  # the variable that overrides the URL
    default: str
    without_client: str  # the reason when the check cannot import its client
    check: Callable[[str], None]  # raises ImportError or Unreachable

    def url(self) -> str:
        return os.environ.get(self.env) or self.default

    def probe(self, url: str) -> str | None:
        """Why the server at ``url`` cannot be used, or ``None`` when it can."""
        try:
            self.check(url)
        except ImportError:
            return self.without_client
        except Unreachable as e:
            return f"no {self.name} at {url} (set {self.env}): {e}"
        return None


def check_postgres(url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as db:
            db.execute("SELECT 1")
    except psycopg.Error as e:
        text = str(e).strip()
        raise Unreachable(text.splitlines()[0] if text else type(e).__name__) from e


def check_nats(url: str) -> None:
    from sync_core.bus import BusError
    from sync_core.bus.nats import NatsBus

    async def probe() -> None:
        bus = await NatsBus.connect(url, prefix=f"probe{uuid.uuid4().hex[:12]}")
        await bus.destroy()
        await bus.close()

    try:
        asyncio.run(probe())
    except BusError as e:
        raise Unreachable(str(e)) from e


POSTGRES = Service(
    "PostgreSQL",
    POSTGRES_URL_ENV,
    DEFAULT_POSTGRES_URL,
    "PostgreSQL tests need psycopg: pip install 'psycopg[binary]'",
    check_postgres,
)
NATS = Service(
    "NATS JetStream",
    NATS_URL_ENV,
    DEFAULT_NATS_URL,
    "NATS tests need nats-py: pip install 'nats-py'",
    check_nats,
)
postgres_url, probe_postgres = POSTGRES.url, POSTGRES.probe
nats_url, probe_nats = NATS.url, NATS.probe


@pytest.fixture(scope="session")
def nats_server() -> str:
    """The URL of a NATS server with JetStream; skip (or fail, in CI) without one."""
    return reachable(nats_url(), probe_nats)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a PostgreSQL server that answers; skip (or fail, in CI) without one."""
    return reachable(postgres_url(), probe_postgres)


class PostgresSchemas:
    """Fresh schemas on one server for one test; all dropped when it ends."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[str] = []

    def new_schema(self) -> str:
        name = f"supplysync_test_{uuid.uuid4().hex[:16]}"
        self.made.append(name)
        return name

    def open(self, schema: str | None = None, **options: Any) -> PostgresStore:
        """A store in ``schema`` (a new one by default)."""
        from sync_core.store_postgres import PostgresStore

        return PostgresStore(self.url, schema=schema or self.new_schema(), **options)

    def connect(self, schema: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
        """A plain autocommit connection, its search_path set to ``schema`` if given."""
        import psycopg
        from psycopg import sql

        db = psycopg.connect(self.url, autocommit=True)
        if schema is not None:
            db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        return db

    @contextmanager
    def raw(self, schema: str | None = None) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        db = self.connect(schema)
        try:
            yield db
        finally:
            db.close()

    def drop(self, schemas: list[str]) -> None:
        from psycopg import sql

        with self.raw() as db:
            for name in schemas:
                db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    def drop_all(self) -> None:
        made, self.made = self.made, []
        self.drop(made)

    @contextmanager
    def fresh(self) -> Iterator[str]:
        """A schema for one block (one Hypothesis example), dropped at its end."""
        name = f"supplysync_test_{uuid.uuid4().hex[:16]}"
        try:
            yield name
        finally:
            self.drop([name])


@pytest.fixture
def postgres(postgres_server: str) -> Iterator[PostgresSchemas]:
    """Isolated schemas on the PostgreSQL server (see the module docstring)."""
    schemas = PostgresSchemas(postgres_server)
    yield schemas
    schemas.drop_all()
