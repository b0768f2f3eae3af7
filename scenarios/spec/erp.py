"""The scenario's ``erp`` section: how the ERP itself behaves during a run.

``erp.phi`` makes a share of the POs *case POs*: raised for one patient's surgical case
(a case cart, a bill-only implant), they name the patient's medical record number and
the procedure date, as hospital ERPs do.  Left out, no PO names a patient and a run is
what it was without the section.

``erp.releases`` are the ERP's API releases during the run::

    erp:
      base_version: "2026.4"            # what the ERP speaks from the start
      core_follows_releases: true       # false: the core ignores them (a baseline)
      releases:
        - at_hours: 36
          version: "2027.1"
          changes:
            - {kind: rename_field, document: purchase_order, field: NeedByDate,
               to: RequestedDeliveryDate}
            - {kind: event_shape, envelope: data}
            - {kind: required_header, header: REST-Framework-Version, value: "9"}

Each release's changes add to those before it (:meth:`ErpSpec.cumulative`): the ERP
emulator switches at ``at_hours`` (:mod:`emulators.erp.releases`), and the core, unless
it ignores releases, registers each version's dialect ahead of time and follows the
version the ERP announces (:mod:`sync_core.mappers.erp_versions`).  The point-to-point
``api`` baseline never follows releases.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emulators.erp.releases import DOCUMENTS

__all__ = ["Change", "Cumulative", "ErpRelease", "ErpSpec", "PhiSpec"]

_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
_VERSION = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhiSpec(_Spec):
    """Case POs, with a synthetic patient MRN and procedure date each."""

    case_share: float = Field(
        gt=0,
        le=1,
        description="share of POs raised for a surgical case (a case cart or a bill-only "
        "implant), shipped to the hospital, naming a synthetic patient MRN and the "
        "procedure date",
    )
    procedure_days_before: tuple[int, int] = Field(
        (0, 3),
        description="min and max days from the procedure to the PO (a bill-only implant "
        "is ordered after the case that used it)",
    )

    @model_validator(mode="after")
    def _days(self) -> PhiSpec:
        low, high = self.procedure_days_before
        if not 0 <= low <= high:
            raise ValueError(f"procedure_days_before: needs 0 <= min <= max, got [{low}, {high}]")
        return self


class RenameField(_Spec):
    """A field of a document the ERP sends or takes gets a new name."""

    kind: Literal["rename_field"]
    document: Literal[DOCUMENTS] = Field(  # type: ignore[valid-type]
        description="the ERP document whose field is renamed"
    )
    field: str = Field(pattern=_NAME, description="its name until this release")
    to: str = Field(pattern=_NAME, description="its name from this release on")

    @model_validator(mode="after")
    def _differs(self) -> RenameField:
        if self.field == self.to:
            raise ValueError(f"to: the same name as field ({self.field!r})")
        return self


class EventShape(_Spec):
    """The ERP's business events carry their keys in an envelope member."""

    kind: Literal["event_shape"]
    envelope: str = Field(pattern=_NAME, description="the member the event's keys move into")


class RequiredHeader(_Spec):
    """Every API call must carry a header; without it the ERP answers 400."""

    kind: Literal["required_header"]
    header: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$", description="the header's name")
    value: str = Field(min_length=1, max_length=64, description="the value it must have")


Change = Annotated[RenameField | EventShape | RequiredHeader, Field(discriminator="kind")]


class ErpRelease(_Spec):
    at_hours: float = Field(ge=0, description="hours since the start when the ERP switches")
    version: str = Field(pattern=_VERSION, description="the API version it announces")
    changes: tuple[Change, ...] = Field(min_length=1, description="what the release changes")


class Cumulative(_Spec):
    """One version with every change since the base: what each side is built from."""

    version: str
    at_s: float
    renames: dict[str, dict[str, str]]  # document -> {base name: this version's name}
    envelope: str | None
    headers: dict[str, str]


class ErpSpec(_Spec):
    phi: PhiSpec | None = Field(
        None, description="case POs naming a patient (none: no PO names a patient)"
    )
    base_version: str = Field("2026.4", pattern=_VERSION, description="the version at start")
    core_follows_releases: bool = Field(
        True, description="false: the core ignores the ERP's releases (the baseline)"
    )
    releases: tuple[ErpRelease, ...] = Field((), description="API releases during the run")

    @model_validator(mode="after")
    def _ordered(self) -> ErpSpec:
        seen = {self.base_version}
        for i, r in enumerate(self.releases):
            if r.version in seen:
                raise ValueError(f"releases.{i}.version: {r.version!r} is already in use")
            seen.add(r.version)
            if i and r.at_hours <= self.releases[i - 1].at_hours:
                raise ValueError(f"releases.{i}.at_hours: must come after the release before")
        self.cumulative()  # a rename of a field an earlier release renamed is checked there
        return self

    def cumulative(self) -> tuple[Cumulative, ...]:
        """Each release with every change since the base (renames composed)."""
        out: list[Cumulative] = []
        renames: dict[str, dict[str, str]] = {}
        envelope: str | None = None
        headers: dict[str, str] = {}
        for i, r in enumerate(self.releases):
            for j, c in enumerate(r.changes):
                if isinstance(c, RenameField):
                    names = renames.setdefault(c.document, {})
                    base = next((b for b, now in names.items() if now == c.field), None)
                    if base is None and c.field in names:
                        raise ValueError(
                            f"releases.{i}.changes.{j}.field: {c.field!r} was renamed "
                            f"{names[c.field]!r} by an earlier release"
                        )
                    names[base or c.field] = c.to
                elif isinstance(c, EventShape):
                    envelope = c.envelope
                else:
                    headers[c.header] = c.value
            out.append(
                Cumulative(
                    version=r.version,
                    at_s=r.at_hours * 3600,
                    renames={d: dict(n) for d, n in renames.items()},
                    envelope=envelope,
                    headers=dict(headers),
                )
            )
        return tuple(out)
