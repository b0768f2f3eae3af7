"""The schema of a scenario file: the models :func:`scenarios.spec.load.load_scenario` validates.

Every model forbids unknown fields and is frozen.  Shorthands expand during
validation: a ``faults.<system>`` shorthand (one outage window, an error rate
as a number, a rate limit in requests per second) becomes part of the
emulators' :class:`~emulators.faults.Faults`, and ``faults.core`` moves to
``core_faults`` (:meth:`ScenarioSpec.model_json_schema` documents it where a
file writes it).  Cross-field checks raise ``ValueError("<field>: <reason>")``,
which the loader turns into a dotted field path.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from emulators.faults import ErrorRate, Faults, Outage, RateLimit
from emulators.supplier import SupplierProfile
from scenarios.spec.erp import ErpSpec
from scenarios.spec.partners import validate_partners

__all__ = [
    "FAULT_SYSTEMS",
    "SLO_FLOWS",
    "ApiSpec",
    "ArchitecturesSpec",
    "BatchSpec",
    "ContractPriceChange",
    "CoreFaults",
    "Crash",
    "DelaySpec",
    "DemandSpec",
    "EventSpec",
    "HybridSpec",
    "LatencySpec",
    "LatencySpike",
    "NetworkSpec",
    "Rate",
    "ScenarioSpec",
    "SloSpec",
    "SupplierBehaviour",
    "SystemFaults",
]

Rate = Annotated[float, Field(ge=0.0, le=1.0)]

FAULT_SYSTEMS = ("erp", "supplier", "wms", "ap")
SLO_FLOWS = (
    "po_dispatch",
    "po_acknowledgment",
    "ship_notice",
    "receipt",
    "invoice",
    "match_status",
    "price",
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- network and demand ---------------------------------------------------------


class NetworkSpec(_Spec):
    hospitals: int = Field(8, ge=1, le=200, description="hospitals that raise demand")
    distribution_centers: int = Field(
        2, ge=0, le=50, description="distribution centers receiving non-critical orders"
    )
    suppliers: int = Field(6, ge=1, le=200, description="suppliers on the EDI network")
    items: int = Field(300, ge=1, le=100_000, description="catalog items across all suppliers")
    critical_share: Rate = Field(0.15, description="share of items flagged clinical-critical")
    drugs: int = Field(
        0, ge=0, le=10_000, description="drug and IV-fluid items by NDC, beside `items`"
    )


class DemandSpec(_Spec):
    pos_per_day: float = Field(250, gt=0, description="POs per working day, whole network")
    lines_per_po: tuple[int, int] = Field((4, 10), description="min and max lines per PO")
    quantity: tuple[int, int] = Field((2, 40), description="min and max ordered quantity")
    working_hours: tuple[int, int] = Field((7, 19), description="buyers' hours, local time")
    weekday_factor: tuple[float, ...] = Field(
        (1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.1), description="Monday..Sunday demand multipliers"
    )
    change_share: Rate = Field(0.0, description="share of POs changed once (sim/changes.py)")
    change_after_minutes: float = Field(120, gt=0, description="median minutes to the change")

    @model_validator(mode="after")
    def _ranges(self) -> DemandSpec:
        for name in ("lines_per_po", "quantity"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                raise ValueError(f"{name}: needs 1 <= min <= max, got [{low}, {high}]")
        start, end = self.working_hours
        if not 0 <= start < end <= 24:
            raise ValueError(f"working_hours: needs 0 <= start < end <= 24, got [{start}, {end}]")
        if len(self.weekday_factor) != 7 or any(f < 0 for f in self.weekday_factor):
            raise ValueError("weekday_factor: needs 7 non-negative numbers, Monday first")
        return self


# -- suppliers ------------------------------------------------------------------


class DelaySpec(_Spec):
    median_minutes: float = Field(gt=0, description="median delay in minutes")
    sigma: float = Field(0.7, ge=0, le=3, description="lognormal shape")


class SupplierBehaviour(_Spec):
    """How every supplier acknowledges, ships and bills (rates per line or document)."""

    partial_rate: Rate = Field(0.05, description="share of lines confirmed in part (IA + IB)")
    backorder_rate: Rate = Field(0.03, description="share of lines backordered whole (IB)")
    critical_partial_rate: Rate = Field(0.05, description="partial_rate for critical lines")
    critical_backorder_rate: Rate = Field(0.03, description="backorder_rate for critical lines")
    partial_fill: tuple[Rate, Rate] = Field(
        (0.4, 0.6), description="min and max share of a partial line confirmed now"
    )
    backorder_days: tuple[int, int] = Field(
        (7, 21), description="min and max days until backordered quantities are expected"
    )
    ack_delay: DelaySpec = Field(
        DelaySpec(median_minutes=45, sigma=0.7), description="from the 850 to the 855"
    )
    reject_rate: Rate = Field(0.0, description="share of lines rejected whole (IR)")
    substitution_rate: Rate = Field(
        0.0, description="share of lines substituted whole by another vendor part (IS)"
    )
    price_change_rate: Rate = Field(
        0.0, description="share of lines confirmed at a new price (IP): the price mismatch"
    )
    price_change: tuple[float, float] = Field(
        (0.95, 1.10), description="min and max new price / ordered price of an IP line"
    )
    missing_ack_rate: Rate = Field(0.0, description="share of POs whose 855 never comes")
    duplicate_ack_rate: Rate = Field(
        0.0, description="share of 855s the network delivers twice (new ISA control number)"
    )
    duplicate_ack_delay_minutes: float = Field(
        10, ge=0, description="minutes between an 855 and its duplicate"
    )
    ship_notices: bool = Field(True, description="send an 856 for the confirmed quantities")
    ship_delay: DelaySpec = Field(
        DelaySpec(median_minutes=1440, sigma=0.5), description="from the 855 to the 856"
    )
    shelf_life_days: tuple[int, int] = Field(
        (180, 1095), description="min and max days from shipping to the lot's expiry"
    )
    invoices: bool = Field(True, description="send an 810 for each shipment")
    invoice_delay: DelaySpec = Field(
        DelaySpec(median_minutes=1440, sigma=0.5), description="from the 856 to the 810"
    )
    duplicate_invoice_rate: Rate = Field(
        0.0, description="share of invoices billed again under the same number"
    )
    duplicate_invoice_delay_days: float = Field(
        14, ge=0, description="days between an invoice and its duplicate"
    )
    functional_acks: bool = Field(
        True,
        description="answer each 850 group with a 997 (ASC X12 004010); false: a partner "
        "that never sends one",
    )
    fa_delay: DelaySpec = Field(
        DelaySpec(median_minutes=2, sigma=0.5),
        description="from the 850 to its 997 (a late partner: hours)",
    )
    fa_reject_rate: Rate = Field(
        0.0,
        description="share of 850s the partner's translator rejects (997 AK5 R, AK3/AK4 "
        "naming PO103): never entered, dead-lettered by the core",
    )
    ta1_requested: bool = Field(
        False, description="ISA14 of the partner's interchanges: 1 asks for a TA1"
    )
    partners: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per EDI id (SUPP1001...): the fields above this partner does otherwise "
        "(scenarios/spec/partners.py), e.g. {SUPP1003: {functional_acks: false}}",
    )
    invoice_uom_mismatch_rate: Rate = Field(
        0.0, description="share of invoices billing pack-ordered lines by the each (810 IT103 EA)"
    )
    change_orders: Literal["replacement_850", "860"] = Field(
        "replacement_850", description="a PO change as a replacement 850 or an 860 (X12 4010)"
    )
    change_ack: Literal["855", "865"] = Field("855", description="a change answered by 855/865")

    @field_validator("change_orders", "change_ack", mode="before")
    @classmethod
    def _document(cls, value: Any) -> Any:  # YAML reads 860 as a number
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _rates(self) -> SupplierBehaviour:
        if self.partial_rate + self.backorder_rate > 1:
            raise ValueError("partial_rate + backorder_rate must not exceed 1")
        if self.critical_partial_rate + self.critical_backorder_rate > 1:
            raise ValueError("critical_partial_rate + critical_backorder_rate must not exceed 1")
        if self.reject_rate + self.substitution_rate + self.price_change_rate > 1:
            raise ValueError(
                "reject_rate + substitution_rate + price_change_rate must not exceed 1"
            )
        for name in ("partial_fill", "backorder_days", "price_change", "shelf_life_days"):
            low, high = getattr(self, name)
            if low > high or (name != "partial_fill" and low <= 0):
                raise ValueError(f"{name}: needs 0 < min <= max, got [{low}, {high}]")
        self.profile()  # the emulator agrees (raises ValueError otherwise)
        return self

    def profile(self) -> SupplierProfile:
        """The emulator's profile for these behaviours (delays in seconds)."""
        delays: dict[str, Any] = {}
        for name in _DELAYS:
            spec: DelaySpec = getattr(self, name)
            delays[f"{name}_median_s"] = spec.median_minutes * 60
            delays[f"{name}_sigma"] = spec.sigma
        return SupplierProfile(
            **{name: getattr(self, name) for name in _AS_IS},
            **delays,
            duplicate_rate=self.duplicate_ack_rate,
            duplicate_delay_s=self.duplicate_ack_delay_minutes * 60,
            duplicate_invoice_delay_s=self.duplicate_invoice_delay_days * 86400,
        )


# The behaviours the emulator's profile holds under the same name, in the same unit.
_AS_IS = (
    "partial_rate", "backorder_rate", "critical_partial_rate", "critical_backorder_rate",
    "partial_fill", "backorder_days", "reject_rate", "substitution_rate", "price_change_rate",
    "price_change", "missing_ack_rate", "ship_notices", "shelf_life_days", "invoices",
    "duplicate_invoice_rate", "functional_acks", "fa_reject_rate", "ta1_requested",
    "invoice_uom_mismatch_rate", "change_orders", "change_ack",
)  # fmt: skip
# The delays: a DelaySpec here (minutes), ``<name>_median_s`` and ``<name>_sigma`` there.
_DELAYS = ("ack_delay", "ship_delay", "invoice_delay", "fa_delay")


# -- links and faults -----------------------------------------------------------


class LatencySpec(_Spec):
    median_ms: float = Field(40, gt=0, description="median one-way latency of every link")
    sigma: float = Field(0.5, ge=0, le=3, description="lognormal shape")


class _Window(_Spec):
    """A window of the run: from ``at_hours``, ``length_minutes`` long (each kind of
    window names its length in the file as it speaks of it)."""

    at_hours: float = Field(ge=0, description="hours since the start of the run")

    @property
    def length_minutes(self) -> float:
        raise NotImplementedError

    @property
    def start_s(self) -> float:
        return self.at_hours * 3600

    @property
    def end_s(self) -> float:
        return self.at_hours * 3600 + self.length_minutes * 60


class LatencySpike(_Window):
    """A window in which the link to one system is slower."""

    minutes: float = Field(gt=0, description="how long the spike lasts")
    extra_ms: float = Field(gt=0, description="added to each one-way traversal of the link")

    @property
    def length_minutes(self) -> float:
        return self.minutes


def _number_too(schema: dict[str, Any]) -> None:
    schema.setdefault("anyOf", []).insert(0, {"type": "number", "minimum": 0, "maximum": 1})


class SystemFaults(Faults):
    """One system's faults: the emulator's :class:`Faults` plus shorthands a sweep can vary.

    After validation ``outages`` holds the shorthand window too, so the value
    is used wherever a ``Faults`` is (``.faults()`` gives a plain one).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    outage_minutes: float = Field(
        0, ge=0, description="shorthand: one outage of this length (0 = none)"
    )
    outage_at_hours: float = Field(
        0, ge=0, description="shorthand: when that outage starts, hours since the run's start"
    )
    outage_mode: Literal["unavailable", "refuse"] = Field(
        "unavailable", description="shorthand outage: answer 503, or refuse the connection"
    )
    rate_limit_rps: float | None = Field(
        None,
        gt=0,
        description="requests per second the system accepts (token bucket); above it, 429",
    )
    rate_limit_burst: int = Field(10, ge=1, description="bucket size of rate_limit_rps")
    rate_limit_retry_after_s: int = Field(
        1, ge=1, le=3600, description="Retry-After of a rate-limited answer"
    )
    latency_spikes: tuple[LatencySpike, ...] = Field(
        (), description="windows in which the link to this system is slower"
    )
    error_rate: ErrorRate | None = Field(
        None,
        description="random server errors: {rate, status}, or just the rate (status 500)",
        json_schema_extra=_number_too,
    )

    @field_validator("error_rate", mode="before")
    @classmethod
    def _error_rate_number(cls, value: Any) -> Any:
        """``error_rate: 0.05`` is ``error_rate: {rate: 0.05}`` (status 500)."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"rate": value}
        return value

    @property
    def shorthand_outage(self) -> Outage | None:
        if self.outage_minutes <= 0:
            return None
        start = self.outage_at_hours * 3600
        return Outage(start_s=start, end_s=start + self.outage_minutes * 60, mode=self.outage_mode)

    @model_validator(mode="after")
    def _expand(self) -> SystemFaults:
        extra = self.shorthand_outage
        if extra is not None and extra not in self.outages:  # idempotent on re-validation
            object.__setattr__(self, "outages", (*self.outages, extra))
        if self.rate_limit_rps is not None and self.rate_limit is None:
            limit = RateLimit(
                rps=self.rate_limit_rps,
                burst=self.rate_limit_burst,
                retry_after_s=self.rate_limit_retry_after_s,
            )
            object.__setattr__(self, "rate_limit", limit)
        return self

    def faults(self) -> Faults:
        """The plain emulator value (shorthand outage included)."""
        return Faults(**{name: getattr(self, name) for name in Faults.model_fields})

    @property
    def last_fault_end_s(self) -> float:
        windows = [w.end_s for w in (*self.outages, *self.rate_limit_storms)]
        return max([*windows, *(s.end_s for s in self.latency_spikes)], default=0.0)


class Crash(_Window):
    """The sync core is killed, loses what it held in memory, and restarts."""

    down_minutes: float = Field(
        0, ge=0, description="minutes before it is back (0 = restarts at once)"
    )

    @property
    def length_minutes(self) -> float:
        return self.down_minutes


class CoreFaults(_Spec):
    """Faults of the sync core itself (``faults.core`` in a file)."""

    crashes: tuple[Crash, ...] = Field((), description="crash and restart times, in order")
    latency_spikes: tuple[LatencySpike, ...] = Field(
        (), description="windows in which the link into the core is slower"
    )

    @model_validator(mode="after")
    def _ordered(self) -> CoreFaults:
        for i in range(1, len(self.crashes)):
            if self.crashes[i].start_s < self.crashes[i - 1].end_s:
                raise ValueError(
                    f"crashes.{i}.at_hours: starts before crash {i - 1} has restarted "
                    f"({self.crashes[i - 1].end_s / 3600:g} h)"
                )
        return self

    @property
    def last_fault_end_s(self) -> float:
        ends = [c.end_s for c in self.crashes] + [s.end_s for s in self.latency_spikes]
        return max(ends, default=0.0)


class ContractPriceChange(_Spec):
    """The ERP's contract prices change for a share of the catalog (a new contract)."""

    at_hours: float = Field(ge=0, description="hours since the start of the run")
    item_share: Rate = Field(description="share of catalog items whose contract price changes")
    factor: tuple[float, float] = Field(
        (0.95, 1.10), description="min and max new price / old price"
    )

    @model_validator(mode="after")
    def _factor(self) -> ContractPriceChange:
        low, high = self.factor
        if not 0 < low <= high:
            raise ValueError(f"factor: needs 0 < min <= max, got [{low}, {high}]")
        return self


# -- architectures and SLOs -----------------------------------------------------


class BatchSpec(_Spec):
    interval_hours: float = Field(24, gt=0, description="hours between two batch runs")
    at_hour: float = Field(2, ge=0, lt=24, description="time of day of the first run")


class ApiSpec(_Spec):
    """Synchronous point-to-point calls at the moment of change, with naive retries."""

    retries: int = Field(3, ge=0, le=100, description="retries after a failed call, then give up")
    retry_delay_s: float = Field(5, ge=0, description="fixed wait between two tries")


class EventSpec(_Spec):
    """Business events and pushes into the sync core (no options yet)."""


class HybridSpec(_Spec):
    """Events, plus a reconciliation that compares the systems and repairs drift."""

    reconcile_minutes: float = Field(15, gt=0, description="minutes between reconciliations")


class ArchitecturesSpec(_Spec):
    batch: BatchSpec = Field(BatchSpec(), description="scheduled pulls (nightly by default)")
    api: ApiSpec = Field(ApiSpec(), description="synchronous calls with naive retries")
    event: EventSpec = Field(EventSpec(), description="event-driven sync core")
    hybrid: HybridSpec = Field(HybridSpec(), description="event-driven plus reconciliation")


class SloSpec(_Spec):
    lag_p99_s: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description=f"per flow ({', '.join(SLO_FLOWS)}): the p99 sync lag must not exceed this",
    )
    max_lost_updates: int = Field(0, ge=0, description="updates that never reach a replica")
    max_duplicate_effects: int = Field(0, ge=0, description="effects applied twice")
    max_regressions: int | None = Field(
        None, ge=0, description="replica values moved back to an older one (none: not judged)"
    )
    max_match_errors: int | None = Field(
        None, ge=0, description="invoices approved outside tolerance or held inside it"
    )
    converged: bool = Field(True, description="every replica agrees with its owner at the end")
    converged_within_minutes: float | None = Field(
        None,
        gt=0,
        description="every replica agrees with its owner within this many minutes of the "
        "end of the last fault",
    )
    allow_unmeasured: bool = Field(
        False,
        description="let an SLO pass when the run gave it no sample (not measured); by "
        "default an SLO without evidence fails, saying why",
    )

    @field_validator("lag_p99_s")
    @classmethod
    def _known_flows(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SLO_FLOWS))
        if unknown:
            raise ValueError(f"unknown flow {unknown[0]!r} (known: {', '.join(SLO_FLOWS)})")
        return value


# -- the scenario ---------------------------------------------------------------


class ScenarioSpec(_Spec):
    name: str = Field(pattern=r"^[a-z0-9_]+$", description="short name, lower_snake_case")
    description: str = Field(description="the story, citing the figures it is based on")
    extends: str | None = Field(
        None,
        description="a base scenario (file path relative to this file, or a library name) "
        "this file overrides: mappings merge, other values (lists too) replace",
    )
    seed: int = Field(ge=0, description="seed of every random stream of the run")
    start: dt.datetime = Field(description="local time the run starts (a Monday 00:00 is usual)")
    duration_days: float = Field(gt=0, le=366, description="days of demand")
    settle_days: float = Field(
        1.5, ge=0, le=30, description="days the run goes on after demand stops"
    )
    network: NetworkSpec = NetworkSpec()
    demand: DemandSpec = DemandSpec()
    erp: ErpSpec = Field(ErpSpec(), description="the ERP's own behaviour: case POs, API releases")
    suppliers: SupplierBehaviour = SupplierBehaviour()
    latency: LatencySpec = LatencySpec()
    architectures: ArchitecturesSpec = ArchitecturesSpec()
    slos: SloSpec = SloSpec()
    faults: dict[Literal["erp", "supplier", "wms", "ap"], SystemFaults] = Field(
        default_factory=dict,
        description="per system: outages, latency, errors, rate limits, webhook faults; "
        "`core`: sync-core crashes",
    )
    core_faults: CoreFaults = Field(
        CoreFaults(), description="faults of the sync core (written as faults.core)"
    )
    contract_price_changes: tuple[ContractPriceChange, ...] = Field(
        (), description="ERP contract-price updates during the run (price master changes)"
    )

    @model_validator(mode="before")
    @classmethod
    def _core_faults(cls, data: Any) -> Any:
        faults = data.get("faults") if isinstance(data, dict) else None
        if isinstance(faults, dict) and "core" in faults:
            if "core_faults" in data:
                raise ValueError("faults.core: given twice (also as core_faults)")
            faults = dict(faults)
            data = {**data, "faults": faults, "core_faults": faults.pop("core")}
        return data

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, value: dt.datetime) -> dt.datetime:
        # local time without an offset (the simulation's clock is naive); a year the run,
        # settling included (at most 396 days), can end in
        if value.utcoffset() is not None:
            raise ValueError("local time without a UTC offset, e.g. 2026-03-02 00:00:00")
        if not 1970 <= value.year <= 2200:
            raise ValueError("the year must be within 1970..2200")
        return value

    @model_validator(mode="after")
    def _partners(self) -> ScenarioSpec:
        validate_partners(self.suppliers, self.suppliers.partners, self.network.suppliers)
        return self

    @model_validator(mode="after")
    def _resolved(self) -> ScenarioSpec:
        if self.extends is not None:
            raise ValueError("extends: is resolved when the file is loaded (use load_scenario)")
        return self

    @model_validator(mode="after")
    def _faults_within_run(self) -> ScenarioSpec:
        def past(path: str, end_s: float) -> None:
            if end_s > self.end_s:
                raise ValueError(
                    f"{path}: ends at {end_s / 3600:g} h, past the end of the run "
                    f"({self.end_s / 3600:g} h)"
                )

        for system, faults in self.faults.items():
            shorthand = faults.shorthand_outage
            for i, w in enumerate(faults.outages):
                if shorthand is not None and w == shorthand:
                    past(f"faults.{system}.outage_at_hours", w.end_s)
                past(f"faults.{system}.outages.{i}.end_s", w.end_s)
            for i, s in enumerate(faults.rate_limit_storms):
                past(f"faults.{system}.rate_limit_storms.{i}.end_s", s.end_s)
            for i, spike in enumerate(faults.latency_spikes):
                past(f"faults.{system}.latency_spikes.{i}.at_hours", spike.end_s)
        for i, crash in enumerate(self.core_faults.crashes):
            past(f"faults.core.crashes.{i}.at_hours", crash.end_s)
        for i, spike in enumerate(self.core_faults.latency_spikes):
            past(f"faults.core.latency_spikes.{i}.at_hours", spike.end_s)
        for i, change in enumerate(self.contract_price_changes):
            past(f"contract_price_changes.{i}.at_hours", change.at_hours * 3600)
        for i, release in enumerate(self.erp.releases):
            past(f"erp.releases.{i}.at_hours", release.at_hours * 3600)
        return self

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The schema, with ``faults.core`` documented (validation moves it to ``core_faults``)."""
        schema = super().model_json_schema(*args, **kwargs)
        faults = schema["properties"]["faults"]
        core = schema["properties"]["core_faults"]["$ref"]
        faults.setdefault("properties", {})["core"] = {"$ref": core}
        names = faults.get("propertyNames", {}).get("enum")
        if names is not None:
            faults["propertyNames"]["enum"] = [*names, "core"]
        return schema

    @property
    def end_s(self) -> float:
        return (self.duration_days + self.settle_days) * 86400.0

    @property
    def last_fault_end_s(self) -> float:
        """When the last fault window (outage, storm, spike, crash) ends; 0 without one."""
        ends = [f.last_fault_end_s for f in self.faults.values()]
        return max([*ends, self.core_faults.last_fault_end_s], default=0.0)
