"""The four systems' native interfaces as documents: README.md and JSON Schemas.

``events/<system>.<event>.json`` is the schema of each webhook event, and
``documents/<system>.<Document>.json`` of each document a middleware reads back;
README.md ties them together with the X12, the writes that carry each fact, and the
idempotency and ordering rules.  They are package data; :func:`schema` loads one.
The tests check them against what the emulators emit (tests/emulators/test_interfaces.py).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["schema", "schema_names"]


def schema_names(kind: str) -> list[str]:
    """The schemas of ``kind`` (``events`` or ``documents``), e.g. ``erp.ItemChanged``."""
    folder = resources.files(__name__).joinpath(kind)
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def schema(kind: str, name: str) -> dict[str, Any]:
    """One JSON Schema: ``schema("events", "wms.receipt.created")``."""
    text = resources.files(__name__).joinpath(kind, f"{name}.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
