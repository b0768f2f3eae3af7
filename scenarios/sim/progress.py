"""Progress of a long simulation on a terminal, and silence everywhere else.

Theory of operation: the driver calls :meth:`Progress.update` with the
simulated time reached and the number of business messages handled so far, as
often as it likes; the reporter redraws one status line (``\\r``, no newline)
at most ``max_per_s`` times per second of wall time, and only when its stream
is a terminal — piped or redirected output, CI logs and test captures stay
clean.  :meth:`close` ends the line.  The wall clock is an input (``clock``),
so tests drive it by hand.

:func:`run_with_progress` runs a SimPy-like environment (anything with
``now`` and ``run(until=...)``) in slices of simulated time, reporting after
each.  Slicing does not change the order of the simulation's events, so a
seeded run gives the same results with or without it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, TextIO

__all__ = ["Progress", "run_with_progress"]


class Progress:
    """One status line: simulated days reached, share done, messages and messages/s."""

    def __init__(
        self,
        total_s: float,
        stream: TextIO | None = None,
        *,
        label: str = "",
        max_per_s: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total_s = total_s
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.enabled = _is_tty(self.stream)
        self._min_gap = 1.0 / max_per_s
        self._clock = clock
        self._started = clock()
        self._last_draw: float | None = None
        self._last: tuple[float, int] = (0.0, 0)
        self._width = 0

    def update(self, sim_s: float, messages: int) -> None:
        """Record progress; redraw if the last redraw is old enough."""
        self._last = (sim_s, messages)
        if not self.enabled:
            return
        now = self._clock()
        if self._last_draw is not None and now - self._last_draw < self._min_gap:
            return
        self._last_draw = now
        self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line (nothing at all off a terminal)."""
        if not self.enabled:
            return
        self._draw(self._clock())
        self.stream.write("\n")
        self.stream.flush()
        self.enabled = False

    def line(self, now: float) -> str:
        sim_s, messages = self._last
        wall = now - self._started
        rate = messages / wall if wall > 0 else 0.0
        share = min(1.0, sim_s / self.total_s) if self.total_s > 0 else 1.0
        prefix = f"{self.label}: " if self.label else ""
        return (
            f"{prefix}day {sim_s / 86400:.1f} of {self.total_s / 86400:.1f} ({share:.0%}), "
            f"{messages:,} messages, {rate:,.0f} msg/s, {wall:.1f} s"
        )

    def _draw(self, now: float) -> None:
        text = self.line(now)
        pad = " " * max(0, self._width - len(text))  # wipe a longer previous line
        self._width = len(text)
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # a closed or detached stream
        return False


class _Env(Protocol):
    @property
    def now(self) -> float: ...

    def run(self, until: float) -> Any: ...


def run_with_progress(
    env: _Env,
    until: float,
    progress: Progress,
    messages: Callable[[], int],
    *,
    step_s: float = 3600.0,
) -> None:
    """``env.run(until=until)`` in slices of ``step_s`` simulated seconds, reporting after each.

    Off a terminal this is a single ``env.run``: no slicing cost at all.  The
    caller closes ``progress`` (or uses it as a context manager).
    """
    if not progress.enabled:
        env.run(until=until)
        progress.update(until, messages())
        return
    t = float(env.now)
    while t < until:
        t = min(until, t + step_s)
        env.run(until=t)
        progress.update(t, messages())
