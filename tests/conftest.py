"""Shared fixtures: small scenario files derived from the library's; how pytest -n splits.

The suite runs on every core (``-n auto --dist loadgroup`` in pyproject.toml).  A test module
whose tests share a module-scoped fixture (live services, a started cluster, one run judged
over the whole module) is one ``xdist_group``: its tests run on one worker, in file order, and
the fixture starts once.  Every other test goes wherever a worker is free; tests on real
servers keep apart by unique names (schemas, stream prefixes, free ports).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group") is not None:
            continue
        scopes = {d.scope for defs in info.name2fixturedefs.values() for d in defs}
        if scopes & {"module", "class", "package"}:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[..., Path]:
    """Write partial_confirmation with ``overrides`` merged in; small by default."""

    def write(name: str = "small.yaml", **overrides: Any) -> Path:
        text = resources.files("scenarios.library").joinpath("partial_confirmation.yaml")
        base = yaml.safe_load(text.read_text())
        small = {"duration_days": 1, "demand": {"pos_per_day": 60}, "network": {"items": 60}}
        data = _merge(_merge(base, small), overrides)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write
