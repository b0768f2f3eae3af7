"""The store contract (``store_contract.cases``) on the in-memory store."""

from __future__ import annotations

from sync_core.store import MemoryStore, Store
from tests.sync_core.store_contract.cases import StoreContract
from tests.sync_core.store_contract.helpers import clock


class TestMemoryStore(StoreContract):
    def create_store(self) -> Store:
        return MemoryStore(clock=clock)
