"""The recovery phase's early end (`phases.until_recovered`), on a timeline written here (pure
logic, no stack): back only after RECOVERED_AFTER consecutive healthy windows wholly after the
heal, never on windows without data, and never while a surface is still worse than its tolerance."""

from __future__ import annotations

from pathlib import Path

from chaos.measure.blast import RECOVERED_AFTER, STEP_S, WINDOW_S
from chaos.measure.metrics.timeline import Sample, Timeline
from chaos.measure.recovery import RecoveryWatch
from chaos.spec.surfaces import GaugeSLI, Surface

SLI = GaugeSLI(kind="gauge", metric="held", agg="max", tolerance=1.0)
SURFACES = {"pool": Surface(services=["pool"], slis={"held": SLI})}
BASELINE, HEALED = (0.0, 10.0), 20.0


def timeline(tmp_path: Path, value_at) -> Timeline:
    """One read a second of `held`, valued `value_at(t)` (None: no read that second)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    tl = Timeline(tmp_path)
    for t in range(0, 61):
        if (v := value_at(t)) is not None:
            tl.add([Sample(t=float(t), source="pool", name="held", labels={}, value=float(v))])
    return tl


def test_back_after_consecutive_healthy_windows_wholly_after_the_heal(tmp_path: Path) -> None:
    watch = RecoveryWatch(timeline(tmp_path, lambda t: 9 if 11 <= t < HEALED else 0), SURFACES, BASELINE, HEALED)
    # Nothing is judged beyond the settled data: the same windows give the same answer later.
    assert not watch.back(HEALED + WINDOW_S + (RECOVERED_AFTER - 2) * STEP_S)
    assert watch.back(HEALED + WINDOW_S + (RECOVERED_AFTER - 1) * STEP_S)
    assert watch.back_at == HEALED + WINDOW_S + (RECOVERED_AFTER - 1) * STEP_S


def test_still_worse_than_its_tolerance_is_not_back(tmp_path: Path) -> None:
    # Held slots stay 3 above the baseline after the heal, past the tolerance of 1: never back.
    watch = RecoveryWatch(timeline(tmp_path, lambda t: 3 if t >= 11 else 0), SURFACES, BASELINE, HEALED)
    assert not watch.back(60.0) and watch.back_at is None
    # Back within 1 of the baseline from 40 s on: back once three windows lie wholly from there.
    watch = RecoveryWatch(timeline(tmp_path / "later", lambda t: 3 if 11 <= t < 40 else 1), SURFACES, BASELINE,
                          HEALED)
    assert watch.back(60.0) and watch.back_at == 40 + WINDOW_S + (RECOVERED_AFTER - 1) * STEP_S


def test_a_window_without_data_is_not_evidence_of_health(tmp_path: Path) -> None:
    # No read at all after the heal: the radius could not say it recovered, so the wait goes on.
    watch = RecoveryWatch(timeline(tmp_path, lambda t: 0 if t < HEALED else None), SURFACES, BASELINE, HEALED)
    assert not watch.back(60.0)
