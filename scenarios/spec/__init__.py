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

Where each part lives: :mod:`scenarios.spec.load` (:func:`load_scenario`,
:class:`ScenarioError`, library lookup, reading, ``extends``, dotted overrides and
``--param`` values, and the translation of a validation error), :mod:`scenarios.spec.models`
(the pydantic schema of a scenario, shorthand expansion included),
:mod:`scenarios.spec.architectures` (the four designs a scenario can be run under) and
:mod:`scenarios.spec.masterdata` (the seeded network a spec's counts expand to).  Nothing
is re-exported here: each name is imported from the module that defines it.
"""
