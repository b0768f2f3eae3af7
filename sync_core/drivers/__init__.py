"""The drivers: one sans-IO outbox runner, carried out in virtual time and in real time.

:mod:`sync_core.drivers.runner` decides (lanes, retries, the breaker, superseded
writes, give-up letters, replies, poison messages); :mod:`sync_core.drivers.simpy`
and :mod:`sync_core.drivers.asyncio` only pass time and move bytes.  Nothing is
imported here: the submodules are named after the libraries they drive, so a name
bound in this package would shadow one of them.
"""
