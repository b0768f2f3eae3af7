"""The designs a scenario can be run under, as a table of objects.

Why a table: the simulation, the command line, sweep, the pytest plugin and the run's
header all ask an architecture the same questions — does the core subscribe to the
systems' events or pull them on a schedule; is it the point-to-point baseline (no inbox,
no idempotency keys, no breaker, a few naive retries, every ERP event); does it
reconcile, and how often; how does the analysis see its mechanism.  Each answer is a
field of one :class:`Architecture`, looked up once by name in :data:`ARCHITECTURES`,
instead of a name compared wherever an answer is needed.  A run's files and the CLI keep
the name (``batch``, ``api``, ``event``, ``hybrid``); its options are the scenario's
``architectures.<name>`` section (:class:`~scenarios.spec.models.ArchitecturesSpec`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scenarios.spec.models import ArchitecturesSpec
from sync_core.delivery import RetryPolicy

__all__ = [
    "API",
    "ARCHITECTURES",
    "BATCH",
    "CORE_RETRIES",
    "EVENT",
    "HYBRID",
    "Architecture",
    "parse_names",
    "unknown",
]

# The built-in core keeps retrying for up to a day (cXML guidance: >= 6 h of retries).
CORE_RETRIES = RetryPolicy(first_s=1.0, cap_s=600.0, max_attempts=200, deadline_s=86400.0)


def _core_retries(_: ArchitecturesSpec) -> RetryPolicy:
    return CORE_RETRIES


def _no_mechanism(_: ArchitecturesSpec) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Architecture:
    """One design: how the core learns of a change and what it does when a call fails.

    ``pull`` (the schedule, ``(every_s, first_s)``, of pulling every system) replaces the
    subscription to the systems' events; ``reconcile`` (seconds between two
    reconciliations) adds a comparison of the systems that repairs drift; ``mechanism``
    is what the analysis's worst-case staleness reads in the run's header.
    """

    name: str
    summary: str
    point_to_point: bool = False
    pull: Callable[[ArchitecturesSpec], tuple[float, float]] | None = None
    reconcile: Callable[[ArchitecturesSpec], float] | None = None
    mechanism: Callable[[ArchitecturesSpec], dict[str, Any]] = _no_mechanism
    retries: Callable[[ArchitecturesSpec], RetryPolicy] = _core_retries

    @property
    def subscribes(self) -> bool:
        """The core is told of changes (webhooks), rather than pulling on a schedule."""
        return self.pull is None


def _naive_retries(options: ArchitecturesSpec) -> RetryPolicy:
    """A few quick tries, then give up: a long Retry-After (an outage) ends them at once."""
    api = options.api
    delay = max(api.retry_delay_s, 0.001)
    deadline = delay * (api.retries + 1)
    return RetryPolicy(
        first_s=delay, cap_s=delay, max_attempts=api.retries + 1, deadline_s=deadline
    )


BATCH = Architecture(
    "batch",
    "scheduled pulls (nightly by default)",
    pull=lambda o: (o.batch.interval_hours * 3600, o.batch.at_hour * 3600),
    mechanism=lambda o: {"batch": {"interval_hours": o.batch.interval_hours}},
)
API = Architecture(
    "api",
    "synchronous point-to-point calls with naive retries",
    point_to_point=True,
    retries=_naive_retries,
)
EVENT = Architecture("event", "event-driven sync core")
HYBRID = Architecture(
    "hybrid",
    "event-driven plus reconciliation",
    reconcile=lambda o: o.hybrid.reconcile_minutes * 60,
    mechanism=lambda o: {"reconcile": {"interval_minutes": o.hybrid.reconcile_minutes}},
)
ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (BATCH, API, EVENT, HYBRID)}


def unknown(name: str) -> str:
    """The reason a name is refused, the same wherever one is given."""
    return f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})"


def parse_names(text: str) -> list[str]:
    """A comma-separated list of architecture names, repeats dropped; ValueError naming
    the first unknown one (or the text, when it names none)."""
    names = list(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    bad = [a for a in names if a not in ARCHITECTURES]
    if bad or not names:
        raise ValueError(unknown(bad[0] if bad else text))
    return names
