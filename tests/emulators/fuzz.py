"""Property-based API fuzzing (schemathesis) of an emulator's OpenAPI document.

Each operation gets generated requests, valid and invalid.  The emulators must
never answer 5xx, every 4xx must be problem+json (RFC 9457), and a 400/422 must
name the field at fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from emulators.web.apps import FACTORIES
from tests.emulators.harness import live_system


def _app(system: str) -> Any:
    return live_system(FACTORIES[system]).app


def _problem_checks(response: Any, case: Any) -> None:
    status = response.status_code
    assert status < 500, f"{case.method} {case.formatted_path} answered {status}: {response.text}"
    if 400 <= status < 500:
        assert response.headers.get("content-type", [""])[0].startswith(
            "application/problem+json"
        ), f"{status} without problem+json: {response.text}"
        body = json.loads(response.content)
        assert body["status"] == status and body["title"]
        if status in (400, 422):
            assert body.get("field"), f"{status} problem does not name the field: {body}"


# Schemathesis sends strings only as the media types it knows: X12 goes on the wire as text.
schemathesis.serializer.alias("application/edi-x12", "text/plain")


def fuzz(system: str, max_examples: int = 25) -> Callable[..., None]:
    """A pytest test fuzzing every operation of ``system``'s app (one test per operation)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app(system))

    @schema.parametrize()
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
    def test(case: Any) -> None:
        response = case.call()
        _problem_checks(response, case)

    return test
