"""Every library scenario x architecture x seed gives the same bytes as recorded.

A refactor or a speed-up must leave results.json and history.jsonl byte-identical.  The
recorded digests (``digests.json`` beside this file) are of the scaled-down library that
``loadtests.digests`` describes.  When a change is *meant* to change results, re-record them
with ``python -m loadtests.digests --write tests/scenarios/digests.json`` and say why in the
commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests.digests import cells, differences, digest, key, scaled

RECORDED = json.loads((Path(__file__).parent / "digests.json").read_text(encoding="utf-8"))


def test_every_library_cell_is_recorded() -> None:
    assert {key(*cell) for cell in cells()} == set(RECORDED)


# one test per cell, so pytest -n spreads the library over the cores
@pytest.mark.parametrize(("name", "architecture", "seed"), list(cells()), ids=lambda v: str(v))
def test_library_cell_gives_the_recorded_bytes(name: str, architecture: str, seed: int) -> None:
    cell = key(name, architecture, seed)
    got = {cell: digest(scaled(name, seed), architecture)}
    assert differences({k: v for k, v in RECORDED.items() if k == cell}, got) == []


def test_a_changed_run_is_named() -> None:
    """The comparison sees a change: another seed's bytes are not the recorded ones."""
    other = digest(scaled("partial_confirmation", 3), "event")
    got = {key("partial_confirmation", "event", 1): other}
    expected = {
        key("partial_confirmation", "event", 1): RECORDED[key("partial_confirmation", "event", 1)]
    }
    assert differences(expected, got) == [
        "partial_confirmation/event/seed1: results and history changed"
    ]
    assert differences(expected, {}) == ["partial_confirmation/event/seed1: not run"]
