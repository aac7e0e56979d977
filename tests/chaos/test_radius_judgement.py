"""The blast radius's three answers per SLI, on a timeline written here (pure logic, no stack):
degraded (the interval wholly beyond the tolerance), within (the one-sided bound inside it), and
unknown — a straddle is never counted as "not degraded"."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.mark.parametrize(("per_s", "failing_per_s", "expected", "says"), [
    # Plenty of clean events: the one-sided bound is inside the 5-point tolerance.
    (20, 0, False, "within:"),
    # 4 % failing against 5 points, on ~80 and ~160 events: the interval straddles the tolerance.
    (4, 0.16, None, "one-sided bound"),
    # 0 failures in 1 a second: no worsening seen, yet too few events to rule out 5 points.
    (1, 0, None, "unknown:"),
    (10, 5, True, "all of it beyond"),
], ids=["within", "straddle-is-unknown", "too-few-to-vouch", "degraded"])
def test_each_sli_is_degraded_within_or_unknown(tmp_path: Path, per_s: int, failing_per_s: float,
                                                expected: bool | None, says: str) -> None:
    degraded, how = _judge(_timeline(tmp_path, per_s, failing_per_s))
    assert degraded is expected and says in how, how
