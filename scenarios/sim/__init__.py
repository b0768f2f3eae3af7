"""Simulated runs: a scenario played in SimPy's virtual time, in this process.

:mod:`~scenarios.sim.network` builds the emulators, the sync core and the links between
them and runs them (``simulate``); :mod:`~scenarios.sim.runner` judges a run and writes its
artefacts (what ``supplysync run``, ``compare`` and the pytest fixture share);
:mod:`~scenarios.sim.sweep` varies parameters over a grid; :mod:`~scenarios.sim.selftest`
runs the checkers against the defects of :mod:`~scenarios.sim.catalogue`;
:mod:`~scenarios.sim.progress` draws the progress line of a long run.
"""
