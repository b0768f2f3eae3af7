"""The store contract, written once and run against every backend.

``cases.StoreContract`` holds what every store promises (MemoryStore included);
``durable.DurableStoreContract`` adds what only a durable store can promise —
reopening, atomicity under an injected failure or a crash of the process,
schema versions, lock waits — on a few hooks each durable backend supplies.
The ``tests/sync_core/test_store_*.py`` modules subclass them, one per backend.
"""
