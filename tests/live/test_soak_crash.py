"""The crash soak's smoke version: 2 SIGKILLs of the live core in 15 s under steady load.

``python -m loadtests.soak_crash`` runs the real soak (10 kills in 2 minutes; not in
CI, too long).  This runs the same code, small: about 25 s on two cores.
"""

from __future__ import annotations

from pathlib import Path

from loadtests.soak_crash import kill_times, run_soak


def test_kill_moments_are_seeded_one_per_slot_with_room_to_restart() -> None:
    moments = kill_times(1, 10, 120.0)
    assert moments == kill_times(1, 10, 120.0) != kill_times(2, 10, 120.0)
    assert all(k * 12 + 1.5 <= t <= (k + 1) * 12 - 1.5 for k, t in enumerate(moments))


def test_two_kills_in_fifteen_seconds_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    result = run_soak(kills=2, duration_s=15.0, rate_per_s=2.0, seed=1, settle_max_s=60.0,
                      out=tmp_path)  # fmt: skip
    report = "\n".join(result.lines())
    assert len(result.kills) == 2 and result.pos >= 25, report
    assert result.ok, report
    assert result.replica_updates > 0 and result.lost == 0 and result.duplicate_effects == 0
