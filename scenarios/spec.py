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

Where each part lives (this module is the facade: :func:`load_scenario`, and
every name the rest of the project imports from ``scenarios.spec``):
``_spec_models`` (the pydantic schema of a scenario, shorthand expansion
included) and ``_spec_load`` (:class:`ScenarioError`, library lookup, reading,
``extends``, dotted overrides and ``--param`` values, and the translation of a
validation error into a :class:`ScenarioError`).  Every name this module
defined before it was split is re-exported here as ``x as x`` (an explicit
re-export, for mypy too); the public ones are in ``__all__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from scenarios._spec_load import _PATH_REASON as _PATH_REASON
from scenarios._spec_load import ScenarioError as ScenarioError
from scenarios._spec_load import _base_of as _base_of
from scenarios._spec_load import _error as _error
from scenarios._spec_load import _key as _key
from scenarios._spec_load import _library_text as _library_text
from scenarios._spec_load import _merge as _merge
from scenarios._spec_load import _parse as _parse
from scenarios._spec_load import _read as _read
from scenarios._spec_load import _resolve as _resolve
from scenarios._spec_load import _scalar as _scalar
from scenarios._spec_load import _set as _set
from scenarios._spec_load import _split_values as _split_values
from scenarios._spec_load import apply_overrides as apply_overrides
from scenarios._spec_load import library_names as library_names
from scenarios._spec_load import parse_param as parse_param
from scenarios._spec_models import ARCHITECTURES as ARCHITECTURES
from scenarios._spec_models import FAULT_SYSTEMS as FAULT_SYSTEMS
from scenarios._spec_models import SLO_FLOWS as SLO_FLOWS
from scenarios._spec_models import ApiSpec as ApiSpec
from scenarios._spec_models import Architecture as Architecture
from scenarios._spec_models import ArchitecturesSpec as ArchitecturesSpec
from scenarios._spec_models import BatchSpec as BatchSpec
from scenarios._spec_models import ContractPriceChange as ContractPriceChange
from scenarios._spec_models import CoreFaults as CoreFaults
from scenarios._spec_models import Crash as Crash
from scenarios._spec_models import DelaySpec as DelaySpec
from scenarios._spec_models import DemandSpec as DemandSpec
from scenarios._spec_models import EventSpec as EventSpec
from scenarios._spec_models import HybridSpec as HybridSpec
from scenarios._spec_models import LatencySpec as LatencySpec
from scenarios._spec_models import LatencySpike as LatencySpike
from scenarios._spec_models import NetworkSpec as NetworkSpec
from scenarios._spec_models import Rate as Rate
from scenarios._spec_models import ScenarioSpec as ScenarioSpec
from scenarios._spec_models import SloSpec as SloSpec
from scenarios._spec_models import SupplierBehaviour as SupplierBehaviour
from scenarios._spec_models import SystemFaults as SystemFaults
from scenarios._spec_models import _number_too as _number_too
from scenarios._spec_models import _Spec as _Spec

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

# Defined in _spec_load, named as this module's in tracebacks and reprs as before the
# split: an uncaught one still reads ``scenarios.spec.ScenarioError: <file>: ...``.  The
# pydantic models keep their own module, which neither their JSON Schema ($defs names,
# titles) nor their validation errors mention.
ScenarioError.__module__ = __name__


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
