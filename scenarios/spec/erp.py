"""The scenario's ``erp`` section: how the ERP itself behaves during a run.

``erp.phi`` makes a share of the POs *case POs*: raised for one patient's surgical case
(a case cart, a bill-only implant), they name the patient's medical record number and
the procedure date, as hospital ERPs do.  Left out, no PO names a patient and a run is
what it was without the section.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ErpSpec", "PhiSpec"]


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


class ErpSpec(_Spec):
    phi: PhiSpec | None = Field(
        None, description="case POs naming a patient (none: no PO names a patient)"
    )
