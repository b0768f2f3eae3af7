"""Scenario files: the validated YAML that describes one run.

A scenario names a network (sized by counts, generated from the seed), the
demand on it, how suppliers acknowledge, ship and bill, how the links and
systems misbehave, the architectures it can be run under, and the SLOs that
turn measurements into a verdict.  Unknown fields are errors, so a typo never
passes silently.

Theory of operation of :func:`load_scenario`:

1. read the file (or the library scenario of that name) as a YAML mapping;
2. resolve ``extends``: the base is loaded the same way (recursively), then
   the extending file is merged over it — mappings merge key by key, anything
   else (lists included) is replaced.  A relative base path resolves against
   the extending file's folder; a name without ``.yaml`` is a library name;
3. apply ``overrides`` (dotted path -> value, a string read as a YAML scalar)
   and the ``seed``;
4. validate with pydantic.  Shorthands expand here: ``faults.<system>``
   shorthands (one outage window, an error rate as a number) become the
   emulators' :class:`~emulators.faults.Faults`, and ``faults.core`` (sync-core
   crashes) moves to ``core_faults``.

Any failure raises :class:`ScenarioError` naming the file, the dotted field
path and the reason.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from emulators.faults import ErrorRate, Faults, Outage, RateLimit
from emulators.supplier import SupplierProfile

__all__ = [
    "ARCHITECTURES",
    "FAULT_SYSTEMS",
    "SLO_FLOWS",
    "Architecture",
    "ContractPriceChange",
    "CoreFaults",
    "Crash",
    "LatencySpike",
    "ScenarioError",
    "ScenarioSpec",
    "SupplierBehaviour",
    "SystemFaults",
    "apply_overrides",
    "library_names",
    "load_scenario",
    "parse_param",
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


class ScenarioError(Exception):
    """A scenario that cannot be used; ``str()`` names the file, field and reason."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source, self.field, self.reason = source, field, reason
        super().__init__(f"{source}: {field}: {reason}" if field else f"{source}: {reason}")


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


class DemandSpec(_Spec):
    pos_per_day: float = Field(250, gt=0, description="POs per working day, whole network")
    lines_per_po: tuple[int, int] = Field((4, 10), description="min and max lines per PO")
    quantity: tuple[int, int] = Field((2, 40), description="min and max ordered quantity")
    working_hours: tuple[int, int] = Field((7, 19), description="buyers' hours, local time")
    weekday_factor: tuple[float, ...] = Field(
        (1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.1), description="Monday..Sunday demand multipliers"
    )

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
        return SupplierProfile(
            partial_rate=self.partial_rate,
            backorder_rate=self.backorder_rate,
            critical_partial_rate=self.critical_partial_rate,
            critical_backorder_rate=self.critical_backorder_rate,
            partial_fill=self.partial_fill,
            backorder_days=self.backorder_days,
            ack_delay_median_s=self.ack_delay.median_minutes * 60,
            ack_delay_sigma=self.ack_delay.sigma,
            reject_rate=self.reject_rate,
            substitution_rate=self.substitution_rate,
            price_change_rate=self.price_change_rate,
            price_change=self.price_change,
            missing_ack_rate=self.missing_ack_rate,
            duplicate_rate=self.duplicate_ack_rate,
            duplicate_delay_s=self.duplicate_ack_delay_minutes * 60,
            ship_notices=self.ship_notices,
            ship_delay_median_s=self.ship_delay.median_minutes * 60,
            ship_delay_sigma=self.ship_delay.sigma,
            shelf_life_days=self.shelf_life_days,
            invoices=self.invoices,
            invoice_delay_median_s=self.invoice_delay.median_minutes * 60,
            invoice_delay_sigma=self.invoice_delay.sigma,
            duplicate_invoice_rate=self.duplicate_invoice_rate,
            duplicate_invoice_delay_s=self.duplicate_invoice_delay_days * 86400,
        )


# -- links and faults -----------------------------------------------------------


class LatencySpec(_Spec):
    median_ms: float = Field(40, gt=0, description="median one-way latency of every link")
    sigma: float = Field(0.5, ge=0, le=3, description="lognormal shape")


class LatencySpike(_Spec):
    """A window in which the link to one system is slower."""

    at_hours: float = Field(ge=0, description="hours since the start of the run")
    minutes: float = Field(gt=0, description="how long the spike lasts")
    extra_ms: float = Field(gt=0, description="added to each one-way traversal of the link")

    @property
    def start_s(self) -> float:
        return self.at_hours * 3600

    @property
    def end_s(self) -> float:
        return self.at_hours * 3600 + self.minutes * 60


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
        return Faults(
            outages=self.outages,
            latency=self.latency,
            error_rate=self.error_rate,
            rate_limit_storms=self.rate_limit_storms,
            rate_limit=self.rate_limit,
            webhooks=self.webhooks,
        )

    @property
    def last_fault_end_s(self) -> float:
        windows = [w.end_s for w in (*self.outages, *self.rate_limit_storms)]
        return max([*windows, *(s.end_s for s in self.latency_spikes)], default=0.0)


class Crash(_Spec):
    """The sync core is killed, loses what it held in memory, and restarts."""

    at_hours: float = Field(ge=0, description="hours since the start of the run")
    down_minutes: float = Field(
        0, ge=0, description="minutes before it is back (0 = restarts at once)"
    )

    @property
    def start_s(self) -> float:
        return self.at_hours * 3600

    @property
    def end_s(self) -> float:
        return self.at_hours * 3600 + self.down_minutes * 60


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


Architecture = str  # one of ARCHITECTURES
ARCHITECTURES = ("batch", "api", "event", "hybrid")


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


# -- loading --------------------------------------------------------------------


def library_names() -> list[str]:
    folder = resources.files("scenarios.library")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _library_text(name: str) -> str:
    return resources.files("scenarios.library").joinpath(f"{name}.yaml").read_text("utf-8")


def _read(scenario: str) -> tuple[str, str]:
    path = Path(scenario)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            return str(path), path.read_text(encoding="utf-8")
        except OSError as e:
            raise ScenarioError(str(path), "", f"cannot read the file ({e.strerror})") from None
    if scenario in library_names():
        return f"library:{scenario}", _library_text(scenario)
    raise ScenarioError(
        scenario,
        "",
        f"no such file and no library scenario of that name "
        f"(library: {', '.join(library_names())})",
    )


def _parse(source: str, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(source, where, f"invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(source, "", "a scenario must be a YAML mapping")
    return data


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _base_of(source: str, ref: Any) -> str:
    """Where ``extends: ref`` in ``source`` points: a path, or ``library:<name>``."""
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError(source, "extends", "must be a file path or a library name")
    if Path(ref).suffix in (".yaml", ".yml"):
        if source.startswith("library:"):
            return f"library:{Path(ref).stem}"
        path = Path(ref)
        return str(path if path.is_absolute() else Path(source).parent / path)
    return f"library:{ref}"


def _resolve(source: str, text: str, chain: tuple[str, ...]) -> dict[str, Any]:
    data = _parse(source, text)
    ref = data.pop("extends", None)
    if ref is None:
        return data
    base = _base_of(source, ref)
    key = base if base.startswith("library:") else str(Path(base).resolve())
    if key in chain:
        names = [c.rsplit("/", 1)[-1] for c in (*chain, key)]
        raise ScenarioError(source, "extends", f"cycle: {' -> '.join(names)}")
    if base.startswith("library:"):
        name = base.removeprefix("library:")
        if name not in library_names():
            raise ScenarioError(
                source,
                "extends",
                f"no library scenario {name!r} (library: {', '.join(library_names())})",
            )
        base_text = _library_text(name)
    else:
        try:
            base_text = Path(base).read_text(encoding="utf-8")
        except OSError as e:
            raise ScenarioError(
                source, "extends", f"cannot read the base {base} ({e.strerror})"
            ) from None
    return _merge(_resolve(base, base_text, (*chain, key)), data)


def _key(source: str) -> str:
    return source if source.startswith("library:") else str(Path(source).resolve())


def _scalar(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _set(data: dict[str, Any], path: str, value: Any, source: str) -> None:
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ScenarioError(source, path, "not a dotted field path")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(source, where, f"no item {part} in a list of {len(node)}")
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ScenarioError(source, where, "is not a mapping")
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ScenarioError(source, path, f"no item {last} in a list of {len(node)}")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(source, ".".join(parts[:-1]), "is not a mapping")


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, Any], *, source: str = "override"
) -> dict[str, Any]:
    """A copy of ``data`` with each dotted path set; a string value is read as YAML.

    Missing mappings on the way are created, so an unknown path reaches
    validation, which names it.  ``data`` itself is not changed.
    """
    out = copy.deepcopy(data)
    for path, value in overrides.items():
        _set(out, path, _scalar(value), source)
    return out


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets and braces."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_param(text: str) -> tuple[str, list[Any]]:
    """``"faults.erp.outage_minutes=0,60,240"`` -> ``("faults.erp.outage_minutes", [0, 60, 240])``.

    Values are comma-separated YAML scalars (commas inside ``[...]`` or
    ``{...}`` belong to the value).
    """
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", path):
        raise ScenarioError("--param", text, "expected PATH=VALUE[,VALUE...], e.g. seed=1,2")
    raw = _split_values(values)
    if any(not v for v in raw):
        raise ScenarioError("--param", path, f"empty value in {values!r}")
    parsed = []
    for v in raw:
        try:
            parsed.append(yaml.safe_load(v))
        except yaml.YAMLError:
            raise ScenarioError("--param", path, f"{v!r} is not a YAML value") from None
    return path, parsed


_PATH_REASON = re.compile(r"^([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*): (.*)$", re.S)


def _error(source: str, e: ValidationError) -> ScenarioError:
    first = e.errors()[0]
    loc = [str(p) for p in first["loc"] if p != "[key]"]
    if loc[:1] == ["core_faults"]:
        loc = ["faults", "core", *loc[1:]]
    reason = first["msg"]
    if first["type"] == "extra_forbidden":
        reason = "unknown field"
    elif first["type"] == "value_error":
        reason = reason.removeprefix("Value error, ")
        match = _PATH_REASON.match(reason)
        if match:  # "field: reason" from a model validator
            loc, reason = [*loc, match.group(1)], match.group(2)
    elif first["type"] == "literal_error" and "[key]" in [str(p) for p in first["loc"]]:
        reason = f"unknown key ({reason})"
    return ScenarioError(source, ".".join(loc), reason)


def load_scenario(
    scenario: str,
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ScenarioSpec:
    """Load and validate a scenario file or library name.

    ``extends`` is resolved first, then ``overrides`` (dotted path -> value) are
    applied, then ``seed`` replaces the file's.
    """
    source, text = _read(scenario)
    data = _resolve(source, text, (_key(source),))
    if overrides:
        data = apply_overrides(data, overrides, source=source)
    if seed is not None:
        data["seed"] = seed
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as e:
        raise _error(source, e) from None
