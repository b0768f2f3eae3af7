"""Digests of every library scenario x architecture x seed: proof that a change kept results.

A refactor or a speed-up must not change what a run produces.  This runs each library scenario
under each architecture for each seed and hashes the run's ``results.json`` and
``history.jsonl`` exactly as ``supplysync run`` writes them.  Same bytes, same digest.

    python -m loadtests.digests --write digests.json           # before the change
    python -m loadtests.digests --check digests.json           # after: exit 1 on any change
    python -m loadtests.digests --full --check full.json       # the library at its own size

By default each scenario is *scaled down* (``SCALE``: about 150 POs over the scenario's own
duration, 60 catalog items) so the whole library runs in a CI test
(``tests/scenarios/test_digests.py``, against ``tests/scenarios/digests.json``); every fault,
crash and outage window is kept.  ``--full`` runs the library as written (about 20 minutes on
2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from analysis.results import dumps
from scenarios.sim.runner import run_architecture
from scenarios.spec.architectures import ARCHITECTURES
from scenarios.spec.load import library_names, load_scenario
from scenarios.spec.models import ScenarioSpec

SEEDS = (1, 2)
POS_PER_RUN = 150  # POs over a scaled-down scenario's whole demand period
ITEMS = 60


def scaled(name: str, seed: int, *, full: bool = False) -> ScenarioSpec:
    """The library scenario ``name`` with ``seed``, scaled down unless ``full``."""
    if full:
        return load_scenario(name, seed=seed)
    days = load_scenario(name).duration_days
    overrides = {"demand.pos_per_day": round(POS_PER_RUN / days, 1), "network.items": ITEMS}
    return load_scenario(name, seed=seed, overrides=overrides)


def cells(names: list[str] | None = None) -> Iterator[tuple[str, str, int]]:
    for name in names or library_names():
        for architecture in ARCHITECTURES:
            for seed in SEEDS:
                yield name, architecture, seed


def digest(spec: ScenarioSpec, architecture: str) -> dict[str, str]:
    """sha256 of the run's results.json and history.jsonl, as ``supplysync run`` writes them."""
    outcome = run_architecture(spec, architecture)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        outcome.history.write(path)
        history = hashlib.sha256(path.read_bytes()).hexdigest()
    results = hashlib.sha256(dumps(outcome.judged.results).encode()).hexdigest()
    return {"results": results, "history": history}


def key(name: str, architecture: str, seed: int) -> str:
    return f"{name}/{architecture}/seed{seed}"


def compute(names: list[str] | None = None, *, full: bool = False) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, architecture, seed in cells(names):
        started = time.perf_counter()
        out[key(name, architecture, seed)] = digest(scaled(name, seed, full=full), architecture)
        print(
            f"{key(name, architecture, seed)}: {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return out


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """One line per cell whose digests differ, or that only one side has."""
    lines = []
    for cell in sorted(set(expected) | set(got)):
        if cell not in got:
            lines.append(f"{cell}: not run")
        elif cell not in expected:
            lines.append(f"{cell}: no recorded digest (new scenario? --write again)")
        else:
            changed = [
                part for part in ("results", "history") if expected[cell][part] != got[cell][part]
            ]
            if changed:
                lines.append(f"{cell}: {' and '.join(changed)} changed")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", type=Path, metavar="FILE", help="record the digests in FILE")
    what.add_argument(
        "--check", type=Path, metavar="FILE", help="compare with FILE; exit 1 on a change"
    )
    parser.add_argument("--full", action="store_true", help="the library at its own size")
    parser.add_argument(
        "--scenario", action="append", help="only this library scenario (repeatable)"
    )
    args = parser.parse_args(argv)
    got = compute(args.scenario, full=args.full)
    if args.write:
        args.write.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {len(got)} digests to {args.write}")
        return 0
    expected = json.loads(args.check.read_text(encoding="utf-8"))
    if args.scenario:
        expected = {k: v for k, v in expected.items() if k.split("/")[0] in args.scenario}
    diff = differences(expected, got)
    for line in diff:
        print(line)
    print(f"{len(got) - len(diff)} of {len(got)} cells unchanged")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
