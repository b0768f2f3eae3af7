"""The rule for tests of backends on real servers (PostgreSQL now; NATS next).

Without the server such a test is skipped, with the reason; with
``SUPPLYSYNC_REQUIRE_SERVICES=1`` (CI, ``.ci/run``) the same reason fails it,
so a missing service can never pass CI as a row of skips.  The rule lives in
``tests/sync_core/conftest.py`` (``service_missing``, ``probe_postgres``).
"""

from __future__ import annotations

import socket

import pytest

from tests.sync_core.conftest import REQUIRE_SERVICES_ENV, probe_postgres, service_missing


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def test_the_probe_names_the_server_it_could_not_reach() -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/test"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        expected = "PostgreSQL tests need psycopg"
    else:
        expected = f"no PostgreSQL at {url}"
    problem = probe_postgres(url)
    assert problem is not None and problem.startswith(expected)
