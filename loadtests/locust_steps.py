"""The actors of ``locustfile.py`` under a stepped load (``loadtests/bench_live.py``).

``SUPPLYSYNC_STEPS`` lists target rates of the ``Staff`` tasks, e.g. ``10,25,50``
(with ``SUPPLYSYNC_MIX=orders`` they are POs a second); each step holds for
``SUPPLYSYNC_STEP_S`` seconds with ``rate / SUPPLYSYNC_USER_RPS`` users, each
doing ``SUPPLYSYNC_USER_RPS`` tasks a second.  After the last step the shape
ends the run.
"""

from __future__ import annotations

import math
import os
from typing import ClassVar

from locust import LoadTestShape

from loadtests.locustfile import Dock, Staff  # noqa: F401 - the users Locust runs


class Steps(LoadTestShape):
    rates: ClassVar[list[float]] = [
        float(r) for r in os.environ.get("SUPPLYSYNC_STEPS", "10").split(",")
    ]
    step_s = float(os.environ.get("SUPPLYSYNC_STEP_S", "10"))
    per_user = float(os.environ.get("SUPPLYSYNC_USER_RPS", "1"))

    def tick(self) -> tuple[int, float] | None:
        step = int(self.get_run_time() // self.step_s)  # type: ignore[no-untyped-call]
        if step >= len(self.rates):
            return None
        users = max(1, math.ceil(self.rates[step] / self.per_user))
        return users, float(users)  # reach the step's users within a second
