"""The pytest plugin: the ``supplysync`` and ``supplysync_live`` fixtures.

:mod:`~scenarios.plugin.fixture` is the ``pytest11`` entry point (options, hooks,
fixtures); :mod:`~scenarios.plugin.simulated` holds what a simulated run returns (a result
view with SLO assertions); :mod:`~scenarios.plugin.services` the running live services.
"""
