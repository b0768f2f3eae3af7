"""Progress on a terminal, silence elsewhere, and no effect on the simulation."""

from __future__ import annotations

import io
import random

import simpy

from scenarios.sim.progress import Progress, run_with_progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_terminal_gets_one_redrawn_line_with_time_and_rate():
    stream, clock = Tty(), Clock()
    progress = Progress(10 * 86400, stream, label="erp_outage/event", clock=clock)
    clock.t += 2.0
    progress.update(2.5 * 86400, 5000)
    text = stream.getvalue()
    assert text.startswith("\rerp_outage/event: day 2.5 of 10.0 (25%)")
    assert "5,000 messages, 2,500 msg/s" in text and "\n" not in text
    clock.t += 2.0
    progress.close()
    lines = stream.getvalue().split("\r")
    assert lines[-1].startswith("erp_outage/event: day 2.5 of 10.0") and lines[-1].endswith("\n")
    assert "1,250 msg/s" in lines[-1]  # the average over the whole run so far


def test_redraws_are_rate_limited_in_wall_time():
    stream, clock = Tty(), Clock()
    progress = Progress(86400, stream, max_per_s=4, clock=clock)
    for i in range(100):  # 100 updates within 0.99 s of wall time
        progress.update(i * 600, i)
        clock.t += 0.01
    assert stream.getvalue().count("\r") == 4  # t = 0, 0.25, 0.50, 0.75


def test_a_shorter_line_wipes_the_longer_one_before_it():
    stream, clock = Tty(), Clock()
    progress = Progress(86400, stream, max_per_s=1, clock=clock)
    clock.t += 1
    progress.update(3600, 123_456_789)
    clock.t += 10_000
    progress.update(7200, 0)
    first, second = stream.getvalue().split("\r")[1:]
    assert len(second) >= len(first)


def test_not_a_terminal_stays_silent():
    stream, clock = io.StringIO(), Clock()
    with Progress(86400, stream, clock=clock) as progress:
        for i in range(10):
            clock.t += 1
            progress.update(i * 3600, i)
    assert stream.getvalue() == ""
    assert progress.enabled is False


def _workload(env: simpy.Environment, log: list[tuple[float, int]]) -> None:
    rng = random.Random(5)

    def worker(n: int):
        while True:
            yield env.timeout(rng.expovariate(1 / 900))
            log.append((env.now, n))

    for n in range(5):
        env.process(worker(n))


def test_running_in_slices_changes_nothing_in_the_simulation():
    plain: list[tuple[float, int]] = []
    env = simpy.Environment()
    _workload(env, plain)
    env.run(until=2 * 86400)

    sliced: list[tuple[float, int]] = []
    env = simpy.Environment()
    _workload(env, sliced)
    stream, clock = Tty(), Clock()

    def messages() -> int:
        clock.t += 1  # a second of wall time per simulated hour
        return len(sliced)

    with Progress(2 * 86400, stream, max_per_s=1, clock=clock) as progress:
        run_with_progress(env, 2 * 86400, progress, messages, step_s=3600)
    assert sliced == plain and len(plain) > 500
    assert env.now == 2 * 86400
    assert stream.getvalue().count("\r") == 48 + 1  # one per simulated hour, then close
    assert f"{len(plain):,} messages" in stream.getvalue().split("\r")[-1]


def test_off_a_terminal_the_run_is_not_sliced():
    runs: list[float] = []

    class Env:
        now = 0.0

        def run(self, until: float) -> None:
            runs.append(until)
            self.now = until

    progress = Progress(86400, io.StringIO())
    run_with_progress(Env(), 86400, progress, lambda: 0, step_s=60)
    assert runs == [86400]
