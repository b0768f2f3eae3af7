"""The sync engine's flows: one module per flow, each exporting its ``TABLES``.

:mod:`sync_core.engine` merges the tables and dispatches; :mod:`sync_core.flows.base`
holds what the flows share.  Like the engine, every module here is sans-IO: no clock,
no randomness, no I/O (``tests/sync_core/test_engine_sans_io.py`` checks the source).
"""
