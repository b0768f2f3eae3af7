"""The options of a ``supplysync live`` run, their checks, and what the live modules share.

Theory of operation.  :class:`LiveOptions` is the CLI's options, typed; :func:`validate_options`
checks them against the scenario before anything starts (loopback URLs only, all four
emulator URLs or none, ``--sut external`` with a webhook target, a timeline that fits
in :data:`MAX_TIMELINE_S`, ``--no-reset`` only against running emulators) and returns
the speed-up the run uses.  :class:`LiveError` is a run that could not be carried out
(bad input is a :class:`ScenarioError`).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.spec.load import ScenarioError
from scenarios.spec.models import ScenarioSpec

__all__ = [
    "LOCUSTFILE",
    "MAX_TIMELINE_S",
    "ROOT",
    "SYSTEMS",
    "LiveError",
    "LiveOptions",
    "LiveOutcome",
    "parse_duration",
    "validate_options",
]

ROOT = Path(__file__).parents[2]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
SYSTEMS = ("erp", "supplier", "wms", "ap")
MAX_TIMELINE_S = 6 * 3600.0
_LOOPBACK = ("http://127.0.0.1", "http://localhost", "http://[::1]")


class LiveError(RuntimeError):
    """A live run that could not be carried out (a service did not start...)."""


@dataclass(frozen=True)
class LiveOptions:
    """Everything one live run needs (the CLI's options, typed)."""

    scenario: str
    users: int = 10
    spawn_rate: float = 5.0
    duration_s: float = 60.0
    out: Path = Path("out/live")
    seed: int | None = None
    speedup: float | None = None  # None: the demand days fit into duration_s
    workers: int = 0
    urls: dict[str, str] = field(default_factory=dict)  # running emulators
    core_url: str | None = None  # a running core (then no crashes can be injected)
    sut: str = "builtin"
    webhook_target: str | None = None
    carries: tuple[str, ...] | None = None  # --sut external: the flows it declares (None: all)
    reset: bool = True  # running emulators are reset at the start (False: --no-reset)
    quiet_s: float = 2.0  # no history change for this long = settled
    settle_max_s: float = 60.0
    per_user_rps: float = 1.0  # tasks a second per Locust user
    locustfile: Path = LOCUSTFILE
    locust_env: dict[str, str] = field(default_factory=dict)
    shaped: bool = False  # the locustfile has a load shape: no -u/-r/-t
    master_bind: tuple[str, int] | None = None  # Locust's master alone, workers started apart
    expect_workers: int = 1  # with master_bind: the load starts once this many connected
    core_workers: int = 0  # >0: the scale-out core (ingress + N workers) on bus and store
    bus: str | None = None  # nats:// URL of the scale-out core's bus
    store: str | None = None  # postgresql:// URL: the run makes a schema of its own there


@dataclass
class LiveOutcome:
    results: dict[str, Any]
    out: Path
    passed: bool


def parse_duration(text: str) -> float:
    """``60s``, ``2m``, ``1h30m``, ``90`` → seconds."""
    m = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text
    )
    if not text.strip() or m is None or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 60s, 2m, 1h30m)")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    total = h * 3600 + mi * 60 + s
    if total <= 0:
        raise argparse.ArgumentTypeError(f"duration must be > 0: {text!r}")
    return total


def validate_options(o: LiveOptions, spec: ScenarioSpec) -> float:
    """Check the options against the scenario; the speed-up to use."""
    if o.users < 2:
        raise ScenarioError("live", "--users", "needs at least 2 (one is the receiving dock)")
    if not o.spawn_rate > 0:
        raise ScenarioError("live", "--spawn-rate", "must be > 0")
    if not 0 <= o.workers <= 64:
        raise ScenarioError("live", "--workers", "must be within 0..64")
    if o.master_bind is not None and o.workers:
        raise ScenarioError("live", "--workers", "not with --master-bind (its workers start apart)")
    if not 1 <= o.expect_workers <= 1024:
        raise ScenarioError("live", "--expect-workers", "must be within 1..1024")
    for name, url in [*o.urls.items(), ("core", o.core_url), ("webhook-target", o.webhook_target)]:
        if url is not None and not url.startswith(_LOOPBACK):
            raise ScenarioError("live", f"--{name}", f"must be a loopback http:// URL, got {url}")
    if o.urls and set(o.urls) != set(SYSTEMS):
        missing = sorted(set(SYSTEMS) - set(o.urls))
        raise ScenarioError("live", f"--{missing[0]}", "give all four emulator URLs, or none")
    if o.sut == "external":
        if o.webhook_target is None:
            raise ScenarioError("live", "--webhook-target", "required with --sut external")
        if o.core_url is not None:
            raise ScenarioError("live", "--core", "not with --sut external (no core of ours)")
    elif o.webhook_target is not None:
        raise ScenarioError("live", "--webhook-target", "only with --sut external")
    if o.carries is not None:
        _check_carries(o)
    if not o.reset and not o.urls:
        raise ScenarioError(
            "live", "--no-reset", "only against running emulators (give their four URLs)"
        )
    if o.core_url is not None and not o.urls:
        raise ScenarioError("live", "--core", "a running core needs the running emulators' URLs")
    _check_scaleout(o)
    speedup = o.speedup or spec.duration_days * 86400 / o.duration_s
    if not speedup > 0:
        raise ScenarioError("live", "--speedup", "must be > 0")
    timeline = spec.end_s / speedup
    if timeline > MAX_TIMELINE_S:
        raise ScenarioError(
            "live",
            "--speedup",
            f"{spec.name} ({spec.end_s / 86400:g} days) would last {timeline / 3600:.1f} h "
            f"at x{speedup:g}; raise it (at most {MAX_TIMELINE_S / 3600:g} h)",
        )
    if o.out.exists() and not o.out.is_dir():
        raise ScenarioError("live", "--out", f"{o.out} is a file")
    return speedup


def _check_scaleout(o: LiveOptions) -> None:
    """``--core-workers N --bus nats://... --store postgresql://...``: all three, ours."""
    if not o.core_workers and (o.bus or o.store):
        flag = "--bus" if o.bus else "--store"
        raise ScenarioError("live", flag, "only with --core-workers N (the scale-out core)")
    if not o.core_workers:
        return
    if not 1 <= o.core_workers <= 64:
        raise ScenarioError("live", "--core-workers", "must be within 1..64")
    if o.sut == "external" or o.core_url is not None:
        raise ScenarioError("live", "--core-workers", "only for a core this run starts")
    if not (o.bus or "").startswith("nats://"):
        raise ScenarioError("live", "--bus", "give the bus: nats://HOST:PORT")
    if not (o.store or "").startswith(("postgresql://", "postgres://")):
        raise ScenarioError("live", "--store", "give the database: postgresql://...")


def _check_carries(o: LiveOptions) -> None:
    """``--carries``: only for an external SUT, at least one flow, every name known."""
    from analysis.facts import FLOWS

    if o.sut != "external":
        raise ScenarioError("live", "--carries", "only with --sut external (ours carries all)")
    assert o.carries is not None
    if not o.carries:
        raise ScenarioError("live", "--carries", f"name at least one flow ({', '.join(FLOWS)})")
    unknown = [f for f in o.carries if f not in FLOWS]
    if unknown:
        raise ScenarioError(
            "live", "--carries", f"unknown flow {unknown[0]!r} (known: {', '.join(FLOWS)})"
        )
