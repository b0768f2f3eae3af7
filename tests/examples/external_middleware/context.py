"""What every flow works with: the settings, the store, the systems, per-PO locks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .settings import Settings
from .store import Store
from .systems import Systems

__all__ = ["Context"]


@dataclass
class Context:
    settings: Settings
    store: Store
    systems: Systems
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, name: str) -> asyncio.Lock:
        """One PO's documents (``name`` its number), or the copies of one event
        (``event:{id}``), are handled one at a time: they may arrive together."""
        return self._locks.setdefault(name, asyncio.Lock())
