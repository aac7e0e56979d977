"""The blast radius's three answers per SLI, on a timeline written here (pure logic, no stack):
degraded (the interval wholly beyond the tolerance), within (the one-sided bound inside it), and
unknown — a straddle is never counted as "not degraded"."""

from __future__ import annotations

from pathlib import Path

from chaos.measure.blast import ALPHA, judge
from chaos.measure.metrics.timeline import Sample, Timeline
from chaos.spec.surfaces import RatioSLI

SLI = RatioSLI(kind="ratio", good='req_total{ok="1"}', total="req_total", tolerance=0.05)
BASELINE, FAULT = (0.0, 20.0), (20.0, 60.0)


def _timeline(tmp_path: Path, per_s: int, fault_failures_per_s: float) -> Timeline:
    """`per_s` requests a second, all good in the baseline; in the fault phase a share fails."""
    tl = Timeline(tmp_path)
    good = bad = 0.0
    for t in range(0, 61):
        failing = fault_failures_per_s if t > FAULT[0] else 0.0
        good, bad = good + per_s - failing, bad + failing
        tl.add([Sample(t=float(t), source="s", name="req_total", labels={"ok": "1"}, value=good),
                Sample(t=float(t), source="s", name="req_total", labels={"ok": "0"}, value=bad)])
    return tl


def _judge(tl: Timeline) -> tuple[bool | None, str]:
    return judge(tl, SLI, "s", BASELINE, FAULT, 1.0, ALPHA / 10)


def test_plenty_of_clean_events_is_within_the_tolerance(tmp_path: Path) -> None:
    degraded, how = _judge(_timeline(tmp_path, per_s=20, fault_failures_per_s=0))
    assert degraded is False and how.startswith("within:"), how


def test_a_worsening_that_may_or_may_not_pass_the_tolerance_is_unknown_not_within(tmp_path: Path) -> None:
    # 4 % failing against a 5-point tolerance, on ~400 and ~160 events: the interval straddles it.
    degraded, how = _judge(_timeline(tmp_path, per_s=4, fault_failures_per_s=0.16))
    assert degraded is None and how.startswith("unknown:") and "one-sided bound" in how, how


def test_few_clean_events_cannot_vouch_for_the_tolerance(tmp_path: Path) -> None:
    # 0 failures in 2 a second: no worsening seen, yet too few events to rule out 5 points.
    degraded, how = _judge(_timeline(tmp_path, per_s=1, fault_failures_per_s=0))
    assert degraded is None and how.startswith("unknown:"), how


def test_a_large_worsening_is_degraded(tmp_path: Path) -> None:
    degraded, how = _judge(_timeline(tmp_path, per_s=10, fault_failures_per_s=5))
    assert degraded is True and how.startswith("degraded:") and "all of it beyond" in how, how
