"""Webhooks out of an emulator: at-least-once delivery, with faults on purpose.

Theory of operation: an emulator publishes each business event to its
:class:`WebhookDispatcher`.  The dispatcher first applies the webhook faults
in force — drop the event, deliver it twice, delay it, or hold it back until
the next event has gone (reorder) — then hands each copy to ``deliver``, which
carries it to the subscriber and reports success or failure through a
callback.  A failed delivery is retried with capped exponential backoff until
``max_attempts``; after that it is counted as failed (an at-least-once sender
gives up eventually, as real ones do).  ``deliver`` and ``schedule`` are
inputs: a simulated link in SimPy, an HTTP client and the event loop live.

Each event published to the subscription is numbered first (``"sequence"``:
1, 2, 3... per dispatcher, as CloudEvents' sequence extension), so a
subscriber can tell a gap (an event it will never get) from a late one.

:meth:`WebhookDispatcher.reset` (an emulator's ``POST /__admin/reset``) returns the
dispatcher to how it was built: no faults, counters at zero, numbering from 1 again,
the random stream from its first draw, and nothing held back, delayed or waiting for a retry is
ever sent.  Each copy carries the generation it was sent in; a timer or a delivery
outcome from an older generation is ignored (a POST already on the wire may still
land, as with any sender, but it is neither counted nor retried).  The subscription
itself (who ``deliver`` posts to) is not the dispatcher's: it stays as it was.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.faults import WebhookFaults

__all__ = ["WebhookDispatcher", "WebhookStats"]

Event = dict[str, Any]
Deliver = Callable[[Event, Callable[[bool], None]], None]
Schedule = Callable[[float, Callable[[], None]], None]


@dataclass
class WebhookStats:
    published: int = 0
    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    failed: int = 0
    pending: int = 0  # copies sent or waiting to be retried, not yet delivered or failed
    failures: list[str] = field(default_factory=list)


class WebhookDispatcher:
    def __init__(
        self,
        deliver: Deliver,
        schedule: Schedule,
        rng: random.Random,
        *,
        max_attempts: int = 8,
        first_backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
    ) -> None:
        self._deliver = deliver
        self._schedule = schedule
        self._rng = rng
        self._rng_start = rng.getstate()
        self.faults = WebhookFaults()
        self.max_attempts = max_attempts
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.stats = WebhookStats()
        self._held: list[Event] = []
        self._sequence = 0
        self._generation = 0

    def reset(self) -> None:
        """Back to new: zero counters, numbering from 1, nothing queued is ever sent."""
        self._generation += 1
        self._rng.setstate(self._rng_start)
        self.faults = WebhookFaults()
        self.stats = WebhookStats()
        self._held = []
        self._sequence = 0

    def publish(self, event: Event) -> None:
        self.stats.published += 1
        self._sequence += 1
        event = {**event, "sequence": self._sequence}
        f = self.faults
        if f.drop > 0 and self._rng.random() < f.drop:
            self.stats.dropped += 1
            return
        copies = 1
        if f.duplicate > 0 and self._rng.random() < f.duplicate:
            self.stats.duplicated += 1
            copies = 2
        if f.reorder > 0 and self._rng.random() < f.reorder:
            self.stats.reordered += 1
            self._held.extend([event] * copies)
            return
        held, self._held = self._held, []
        for _ in range(copies):
            self._send(event)
        for late in held:  # released behind the event that overtook them
            self._send(late)

    def flush(self) -> None:
        """Send events still held back for reordering (e.g. at the end of a run)."""
        held, self._held = self._held, []
        for event in held:
            self._send(event)

    def _send(self, event: Event) -> None:
        self.stats.pending += 1
        delay = self._delay_s()
        generation = self._generation
        if delay > 0:
            self._schedule(delay, lambda: self._attempt(event, 1, generation))
        else:
            self._attempt(event, 1, generation)

    def _delay_s(self) -> float:
        d = self.faults.delay
        if d.median_ms <= 0:
            return 0.0
        return d.median_ms / 1000 * math.exp(self._rng.gauss(0.0, d.sigma))

    def _attempt(self, event: Event, attempt: int, generation: int) -> None:
        if generation != self._generation:
            return  # sent before a reset: forgotten
        self.stats.attempts += 1

        def done(ok: bool) -> None:
            if generation != self._generation:
                return  # the outcome of a delivery made before a reset
            if ok:
                self.stats.delivered += 1
                self.stats.pending -= 1
            elif attempt < self.max_attempts:
                self.stats.retried += 1
                backoff = min(self.max_backoff_s, self.first_backoff_s * 2 ** (attempt - 1))
                self._schedule(backoff, lambda: self._attempt(event, attempt + 1, generation))
            else:
                self.stats.failed += 1
                self.stats.pending -= 1
                name = event.get("eventId") or event.get("event_id") or event.get("seq")
                self.stats.failures.append(str(name))

        self._deliver(event, done)
