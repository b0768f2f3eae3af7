"""Live runs: the emulators and the sync core as real HTTP services, in real time.

:mod:`~scenarios.live.run` is ``supplysync live`` (Locust load while the scenario's faults
and business events are played); :mod:`~scenarios.live.serve_core` and
:mod:`~scenarios.live.serve_all` are ``supplysync serve``; the other modules are the parts a
live run is made of (options, processes, faults, events, load, judgement, report).
"""
