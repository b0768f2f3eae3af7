"""Scenario files: the validated YAML that describes one run.

A scenario names a network (sized by counts, generated from the seed), the
demand on it, how suppliers acknowledge, how the links behave, the
architectures it can be run under, and the SLOs that turn measurements into a
verdict.  Unknown fields are errors, so a typo never passes silently.
``load_scenario`` accepts a path or a library name and raises
:class:`ScenarioError` naming the file, the field path and the reason.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from emulators.faults import Faults

__all__ = [
    "Architecture",
    "ScenarioError",
    "ScenarioSpec",
    "library_names",
    "load_scenario",
]

Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class ScenarioError(Exception):
    """A scenario that cannot be used; ``str()`` names the file, field and reason."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source, self.field, self.reason = source, field, reason
        super().__init__(f"{source}: {field}: {reason}" if field else f"{source}: {reason}")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkSpec(_Spec):
    hospitals: int = Field(8, ge=1, le=200)
    distribution_centers: int = Field(2, ge=0, le=50)
    suppliers: int = Field(6, ge=1, le=200)
    items: int = Field(300, ge=1, le=100_000)
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


class DelaySpec(_Spec):
    median_minutes: float = Field(gt=0)
    sigma: float = Field(0.7, ge=0, le=3, description="lognormal shape")


class SupplierBehaviour(_Spec):
    partial_rate: Rate = 0.05
    backorder_rate: Rate = 0.03
    critical_partial_rate: Rate = 0.05
    critical_backorder_rate: Rate = 0.03
    partial_fill: tuple[Rate, Rate] = (0.4, 0.6)
    backorder_days: tuple[int, int] = (7, 21)
    ack_delay: DelaySpec = DelaySpec(median_minutes=45, sigma=0.7)

    @model_validator(mode="after")
    def _rates(self) -> SupplierBehaviour:
        if self.partial_rate + self.backorder_rate > 1:
            raise ValueError("partial_rate + backorder_rate must not exceed 1")
        if self.critical_partial_rate + self.critical_backorder_rate > 1:
            raise ValueError("critical_partial_rate + critical_backorder_rate must not exceed 1")
        return self


class LatencySpec(_Spec):
    median_ms: float = Field(40, gt=0)
    sigma: float = Field(0.5, ge=0, le=3)


class BatchSpec(_Spec):
    interval_hours: float = Field(24, gt=0)
    at_hour: float = Field(2, ge=0, lt=24, description="time of day of the first run")


class ArchitecturesSpec(_Spec):
    batch: BatchSpec = BatchSpec()
    event: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _event_has_no_options(self) -> ArchitecturesSpec:
        if self.event:
            raise ValueError(f"event: takes no options yet, got {sorted(self.event)}")
        return self


Architecture = str  # one of ArchitecturesSpec's fields
ARCHITECTURES = ("batch", "event")


class SloSpec(_Spec):
    lag_p99_s: dict[str, float] = Field(
        default_factory=dict, description="per flow: the p99 sync lag must not exceed this"
    )
    max_lost_updates: int = Field(0, ge=0)
    max_duplicate_effects: int = Field(0, ge=0)
    converged: bool = True


class ScenarioSpec(_Spec):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str
    seed: int = Field(ge=0)
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
    faults: dict[Literal["erp", "supplier", "wms", "ap"], Faults] = Field(
        default_factory=dict, description="per system: outages, latency, errors, webhook faults"
    )

    @model_validator(mode="after")
    def _faults_within_run(self) -> ScenarioSpec:
        for system, faults in self.faults.items():
            for kind, windows in (
                ("outages", faults.outages),
                ("rate_limit_storms", faults.rate_limit_storms),
            ):
                for i, w in enumerate(windows):
                    if w.end_s > self.end_s:
                        raise ValueError(
                            f"faults.{system}.{kind}[{i}].end_s: {w.end_s:g} is past the end "
                            f"of the run ({self.end_s:g} s)"
                        )
        return self

    @model_validator(mode="after")
    def _slo_flows(self) -> ScenarioSpec:
        unknown = sorted(set(self.slos.lag_p99_s) - {"po_dispatch", "po_acknowledgment"})
        if unknown:
            raise ValueError(
                f"slos.lag_p99_s: unknown flow {unknown[0]!r} "
                "(known: po_dispatch, po_acknowledgment)"
            )
        return self

    @property
    def end_s(self) -> float:
        return (self.duration_days + self.settle_days) * 86400.0


def library_names() -> list[str]:
    folder = resources.files("scenarios.library")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read(scenario: str) -> tuple[str, str]:
    path = Path(scenario)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            return str(path), path.read_text(encoding="utf-8")
        except OSError as e:
            raise ScenarioError(str(path), "", f"cannot read the file ({e.strerror})") from None
    if scenario in library_names():
        text = resources.files("scenarios.library").joinpath(f"{scenario}.yaml").read_text()
        return f"library:{scenario}", text
    raise ScenarioError(
        scenario,
        "",
        f"no such file and no library scenario of that name "
        f"(library: {', '.join(library_names())})",
    )


def load_scenario(scenario: str, *, seed: int | None = None) -> ScenarioSpec:
    """Load and validate a scenario file or library name; ``seed`` overrides the file's."""
    source, text = _read(scenario)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(source, where, f"invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(source, "", "a scenario must be a YAML mapping")
    if seed is not None:
        data["seed"] = seed
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = "unknown field"
        raise ScenarioError(source, field, reason) from None
