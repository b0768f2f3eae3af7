"""The rule for tests of backends on real servers (PostgreSQL, NATS JetStream).

Without the server such a test is skipped, with the reason; with
``SUPPLYSYNC_REQUIRE_SERVICES=1`` (CI, ``.ci/run``) the same reason fails it,
so a missing service can never pass CI as a row of skips.  The rule lives in
``tests/sync_core/conftest.py`` (``service_missing``, ``probe_postgres``, ``probe_nats``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest

from tests.ports import free_port
from tests.sync_core.conftest import (
    REQUIRE_SERVICES_ENV,
    probe_nats,
    probe_postgres,
    service_missing,
)


@pytest.mark.parametrize("value", [None, "", "0"])
def test_a_missing_service_is_a_skip_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_SERVICES_ENV, value)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL at"):
        service_missing("no PostgreSQL at postgresql://127.0.0.1:1/x")


def test_a_missing_service_fails_when_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"no PostgreSQL at .*REQUIRE_SERVICES=1"):
        service_missing("no PostgreSQL at postgresql://127.0.0.1:1/x")


@pytest.mark.parametrize(
    ("probe", "url", "module", "without_client", "unreachable"),
    [
        (probe_postgres, "postgresql://postgres@127.0.0.1:{port}/test", "psycopg",
         "PostgreSQL tests need psycopg", "no PostgreSQL at "),
        (probe_nats, "nats://127.0.0.1:{port}", "nats",
         "NATS tests need nats-py", "no NATS JetStream at "),
    ],
)  # fmt: skip
def test_the_probe_names_the_server_it_could_not_reach(
    probe: Callable[[str], str | None], url: str, module: str, without_client: str, unreachable: str
) -> None:
    url = url.format(port=free_port())
    try:
        importlib.import_module(module)
    except ImportError:
        expected = without_client
    else:
        expected = unreachable + url
    problem = probe(url)
    assert problem is not None and problem.startswith(expected)
