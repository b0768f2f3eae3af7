"""The bus contract, written once and run against every bus.

``cases.BusContract`` holds what every bus promises (``sync_core/bus/base.py``);
``tests/sync_core/test_bus_memory.py`` and ``test_bus_nats.py`` subclass it,
one per implementation, saying how to make a bus and how to let time pass.
"""
