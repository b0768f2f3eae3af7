"""The middleware under test: canonical model, sans-IO engine, store, drivers."""

from sync_core.engine import Engine, EngineConfig
from sync_core.errors import MappingError, SyncCoreError
from sync_core.messages import Decision, Inbound, Kind, Request, Response
from sync_core.store import MemoryStore, Store

__all__ = [
    "Decision",
    "Engine",
    "EngineConfig",
    "Inbound",
    "Kind",
    "MappingError",
    "MemoryStore",
    "Request",
    "Response",
    "Store",
    "SyncCoreError",
]
