"""The selftest's catalogue: named middleware defects, each with the checker it must trip.

This table is data.  A :class:`Defect` names one defect of the built-in core (a
:class:`~sync_core.defects.Defects` value: how it is injected lives in
``sync_core.defects`` and the SimPy driver), the checker that must report it, and
the :class:`Base` it runs on: a library scenario shortened by the same dotted-path
overrides users have (half a day of demand at 150 POs a day, 120 items, goods
shipped an hour after the acknowledgment), with the faults that give the defect a
chance to show.  The same base without the defect is the clean run, which must
show no violation of any kind.  Adding a defect is one entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from scenarios.spec.architectures import EVENT
from sync_core.defects import Defects

__all__ = ["BASES", "CATALOGUE", "CHECKERS", "Base", "Defect"]

#: What each checker is called in ``results.json``: (count in ``consistency``, list in
#: ``violations``).
CHECKERS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "lost_update": ("lost_updates", "lost"),
        "duplicate_effect": ("duplicate_effects", "duplicates"),
        "regression": ("regressions", "regressions"),
        "divergence": ("divergences", "divergences"),
        "match_error": ("match_errors", "match_errors"),
    }
)


def _frozen(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class Base:
    """A short seeded run: a library scenario, its overrides and the architecture."""

    name: str
    scenario: str
    architecture: str
    overrides: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    description: str = ""


@dataclass(frozen=True)
class Defect:
    name: str
    description: str
    checker: str  # the kind of violation it must produce (a key of CHECKERS)
    base: Base
    defects: Defects

    def __post_init__(self) -> None:
        if self.checker not in CHECKERS:
            raise ValueError(f"{self.name}: unknown checker {self.checker!r}")


_SHORT: dict[str, Any] = {
    "duration_days": 0.5,  # Monday 07:00-12:00 of demand
    "settle_days": 0.5,
    "demand.pos_per_day": 150,
    "network.items": 120,
    "suppliers.ship_delay.median_minutes": 60,  # goods arrive the same afternoon
    "suppliers.invoice_delay.median_minutes": 60,
    "faults.wms.webhooks.duplicate": 0.5,  # receipts announced twice: the inbox's work
}

FLOW = Base(
    "flow",
    "regional_network",
    EVENT.name,
    _frozen(_SHORT),
    "acknowledgments, receipts and invoices of a short morning, WMS events delivered twice",
)
OUTAGE = Base(
    "outage",
    "regional_network",
    EVENT.name,
    _frozen(
        {
            **_SHORT,
            # no invoices: one posted as AP comes back can beat its PO lines there (422,
            # dead-lettered): a race of the correct core, not what these defects are about
            "suppliers.invoices": False,
            "faults.erp.outage_at_hours": 9,  # ERP down 09:00-10:00
            "faults.erp.outage_minutes": 60,
            "faults.core.crashes": [{"at_hours": 9.5, "down_minutes": 5}],  # while it is down
            "faults.ap.outage_at_hours": 10,  # AP down 10:00-11:30
            "faults.ap.outage_minutes": 90,
            "contract_price_changes": [  # two new contracts while AP is away
                {"at_hours": 10.2, "item_share": 0.5, "factor": [0.9, 1.1]},
                {"at_hours": 10.7, "item_share": 0.5, "factor": [0.9, 1.1]},
            ],
        }
    ),
    "the flow base without invoices, with an ERP outage, a core crash inside it, then an "
    "AP outage during two contract-price changes",
)
CRASH = Base(
    "crash",
    "regional_network",
    EVENT.name,
    _frozen(
        {
            **_SHORT,
            # most lines confirmed in part: a receipt counted twice still fits the ERP's
            # over-receipt tolerance, so a write applied again really moves a quantity
            "suppliers.partial_rate": 0.6,
            "suppliers.partial_fill": [0.3, 0.5],
            **{
                f"faults.{system}.latency_spikes": [
                    {"at_hours": 8, "minutes": 780, "extra_ms": 20000}
                ]
                for system in ("erp", "wms", "ap")
            },
            # killed every ten minutes while replies take 20 s: writes applied, unanswered
            "faults.core.crashes": [
                {"at_hours": 8.5 + i / 6, "down_minutes": 1} for i in range(72)
            ],
        }
    ),
    "the flow base with most lines confirmed in part, slow links (20 s a way) and a core "
    "crash every ten minutes",
)
BASES = (FLOW, OUTAGE, CRASH)

CATALOGUE: tuple[Defect, ...] = (
    Defect(
        "drop_every_nth_ack",
        "every 5th supplier acknowledgment (855) is consumed and forwarded to nobody",
        "lost_update",
        FLOW,
        Defects(drop_every_nth_ack=5),
    ),
    Defect(
        "no_idempotency_keys",
        "writes go out without an Idempotency-Key, so a write re-sent after a crash "
        "is applied again",
        "duplicate_effect",
        CRASH,
        Defects(no_idempotency_keys=True),
    ),
    Defect(
        "no_inbox_dedupe",
        "no inbox: a receipt announced twice is handled twice, each time keyed by the "
        "delivery that brought it",
        "duplicate_effect",
        FLOW,
        Defects(no_inbox_dedupe=True),
    ),
    Defect(
        "apply_out_of_order",
        "source versions ignored: an older contract price retried after an outage "
        "lands after the newer one",
        "regression",
        OUTAGE,
        Defects(apply_out_of_order=True),
    ),
    Defect(
        "wrong_ap_price",
        "PO lines reach AP with a unit price 25 % above the ERP's",
        "lost_update",
        FLOW,
        Defects(ap_price_factor=1.25),
    ),
    Defect(
        "receipt_posted_twice",
        "each goods receipt is posted to the ERP and to AP twice, under two keys",
        "duplicate_effect",
        FLOW,
        Defects(receipt_posted_twice=True),
    ),
    Defect(
        "stop_retrying_after_outage",
        "a write refused during an outage is dead-lettered at once, never retried",
        "lost_update",
        OUTAGE,
        Defects(stop_retrying=True),
    ),
    Defect(
        "lose_outbox_on_crash",
        "the outbox is in memory: writes pending at a crash are never delivered",
        "lost_update",
        OUTAGE,
        Defects(lose_outbox_on_crash=True),
    ),
    Defect(
        "skip_wms_expected_receipt",
        "acknowledgments reach the ERP but never become WMS expected receipts",
        "lost_update",
        FLOW,
        Defects(skip_wms_expected_receipt=True),
    ),
)
