"""Pure logic of SLIs and degradation: selectors, counter deltas with resets, quantiles."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chaos.measure.blast import is_degraded
from chaos.measure.metrics.timeline import Sample, Timeline
from chaos.measure.sli import counter_delta, evaluate, quantile
from chaos.spec.surfaces import GaugeSLI, QuantileSLI, RatioSLI, Selector, SLIRef


def test_selector_parsing_and_matching() -> None:
    sel = Selector.parse('runs_total{status="failed", reason!=""}')
    assert sel.name == "runs_total" and sel.equal == {"status": "failed"} and sel.not_equal == {"reason": ""}
    assert sel.matches({"status": "failed", "reason": "x"}) and not sel.matches({"status": "failed"})
    for bad in ["", "1abc", 'x{a=b}', 'x{a="b"']:
        with pytest.raises(ValueError):
            Selector.parse(bad)


def _timeline(tmp_path: Path, points: list[tuple[float, dict, float]], name: str = "c_total") -> Timeline:
    tl = Timeline(tmp_path)
    tl.add(Sample(t=t, source="s", name=name, labels=labels, value=v) for t, labels, v in points)
    return tl


def test_counter_delta_handles_resets_and_series_born_mid_window(tmp_path: Path) -> None:
    tl = _timeline(tmp_path, [(0, {"k": "a"}, 5), (1, {"k": "a"}, 8), (2, {"k": "a"}, 2), (3, {"k": "a"}, 4),
                              (2, {"k": "b"}, 3)])
    assert counter_delta(tl, "s", Selector.parse("c"), 0, 3) == 3 + 2 + 2 + 3
    assert counter_delta(tl, "s", Selector.parse('c{k="b"}'), 0, 3) == 3
    assert counter_delta(tl, "other", Selector.parse("c"), 0, 3) is None


def test_a_counter_already_there_at_the_first_read_counts_from_its_value_not_zero(tmp_path: Path) -> None:
    # A reused stack: the first read sees every earlier run's 500 events. Counting them from 0
    # would draw the whole past as a spike in the first window; a series born later still starts at 0.
    tl = _timeline(tmp_path, [(10, {"k": "a"}, 500), (11, {"k": "a"}, 505), (11, {"k": "b"}, 3)])
    assert counter_delta(tl, "s", Selector.parse('c{k="a"}'), 9, 11) == 5
    assert counter_delta(tl, "s", Selector.parse('c{k="b"}'), 9, 11) == 3


def test_histogram_bounds_match_by_value_whatever_their_text(tmp_path: Path) -> None:
    tl = Timeline(tmp_path)
    for t, counts in ((0, (0, 0, 0)), (1, (10, 20, 20))):
        tl.add(Sample(t=t, source="s", name="h_bucket", labels={"le": le}, value=c)
               for le, c in zip(("0.5", "1", "+Inf"), counts))  # "1", as Go and Java clients write it
    v = evaluate(tl, QuantileSLI(kind="quantile", histogram="h", q=0.75), "s", 0, 1)
    assert v.value == pytest.approx(0.5 + 0.5 * (15 - 10) / 10) and v.n == 20


def test_ratio_without_events_is_missing_not_zero(tmp_path: Path) -> None:
    tl = _timeline(tmp_path, [(0, {"s": "ok"}, 1), (1, {"s": "ok"}, 1)])
    v = evaluate(tl, RatioSLI(kind="ratio", good='c_total{s="ok"}', total="c_total"), "s", 0.5, 1)
    assert v.value is None and v.missing == "no events in the window"


def test_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 10, 0.5: 60, 1.0: 100, float("inf"): 100}
    assert quantile(buckets, 0.5) == pytest.approx(0.1 + 0.4 * (50 - 10) / 50)
    assert quantile(buckets, 0.95) == pytest.approx(0.5 + 0.5 * (95 - 60) / 40)
    assert quantile({1.0: 0, float("inf"): 0}, 0.5) is None


def test_quantile_sli_from_bucket_deltas(tmp_path: Path) -> None:
    tl = Timeline(tmp_path)
    for t, counts in ((0, (0, 0, 0)), (1, (10, 20, 20))):
        tl.add(Sample(t=t, source="s", name="h_bucket", labels={"le": le}, value=c)
               for le, c in zip(("0.5", "1.0", "+Inf"), counts))
    v = evaluate(tl, QuantileSLI(kind="quantile", histogram="h", q=0.5), "s", 0, 1)
    assert v.value == pytest.approx(0.5) and v.n == 20


def test_gauge_extremes(tmp_path: Path) -> None:
    tl = _timeline(tmp_path, [(0, {}, 1), (1, {}, 7), (2, {}, 3)], name="g")
    assert evaluate(tl, GaugeSLI(kind="gauge", metric="g", agg="max"), "s", 0, 2).value == 7
    assert evaluate(tl, GaugeSLI(kind="gauge", metric="g", agg="mean"), "s", 0, 2).value == pytest.approx(11 / 3)


@pytest.mark.parametrize("better,baseline,value,tol,pct,expected", [
    ("higher", 1.0, 0.97, 0.02, 0, True), ("higher", 1.0, 0.99, 0.02, 0, False),
    ("lower", 0.4, 1.5, 1.0, 0, True), ("lower", 0.4, 1.3, 1.0, 0, False),
    ("lower", 10.0, 14.0, 0, 50, False), ("lower", 10.0, 16.0, 0, 50, True),
    ("higher", None, 1.0, 0, 0, None), ("higher", 1.0, None, 0, 0, None),
])
def test_degraded_against_own_baseline_and_tolerance(better, baseline, value, tol, pct, expected) -> None:
    sli = GaugeSLI(kind="gauge", metric="g", better=better, tolerance=tol, tolerance_pct=pct)
    assert is_degraded(sli, baseline, value)[0] is expected


def test_a_ratio_read_while_the_sampler_writes_sees_one_consistent_timeline(tmp_path: Path) -> None:
    # Every scrape has good == total; a ratio read between its good and its total query once saw
    # the next scrape in one and not the other (a steady baseline read as 91% in CI).
    import threading

    writer = Timeline(tmp_path)
    elsewhere = Timeline(tmp_path)  # another connection to the file (a gate's look, the live console)
    sli = RatioSLI(kind="ratio", good='runs_total{status="ok"}', total="runs_total")

    def scrape() -> None:
        for n in range(1, 1501):
            writer.add([Sample(t=float(n), source="s", name="runs_total", labels={"status": "ok"}, value=float(n)),
                        Sample(t=float(n), source="s", name="runs_total", labels={"status": "ok", "pool": "b"},
                               value=float(n))])
            time.sleep(0.001)

    thread = threading.Thread(target=scrape, daemon=True)
    thread.start()
    seen, reads = set(), 0
    while thread.is_alive() and reads < 5000:
        for tl in (writer, elsewhere):
            value = evaluate(tl, sli, "s", 0.0, 1e9).value
            if value is not None:
                seen.add(round(value, 9))
            reads += 1
    thread.join(10)
    assert reads > 100 and seen == {1.0}, (reads, seen)


def test_an_sli_reference_is_read_from_its_text_and_written_back_as_it() -> None:
    from chaos.gate.policy import Criterion
    from chaos.gate.verdict import CriterionVerdict
    from chaos.measure.result import CheckResult
    from chaos.spec.experiment import Check, StopCondition

    ref = SLIRef.parse("runs.failure_ratio")
    assert ref == SLIRef(surface="runs", sli="failure_ratio") and str(ref) == "runs.failure_ratio"
    assert SLIRef.parse("runs.p95.s") == SLIRef("runs", "p95.s"), "split at the first dot, as before"
    for bad in ["runs", ".failure_ratio", "runs.", ""]:
        with pytest.raises(ValueError, match="is not an SLI reference: write surface.sli"):
            SLIRef.parse(bad)
    # Each model that holds one reads the string, and writes it back unchanged (files keep their format).
    for model, data in ((Check, {"sli": "runs.failure_ratio", "max": 0.1}),
                        (StopCondition, {"sli": "runs.failure_ratio", "above": 0.5, "for": 3.0}),
                        (Criterion, {"name": "c", "sli": "runs.failure_ratio", "bound": {"max": 0.1}}),
                        (CheckResult, {"sli": "runs.failure_ratio", "value": 0.0, "passed": True}),
                        (CriterionVerdict, {"criterion": "c", "experiment": "e", "kind": "bound", "critical": False,
                                            "verdict": "PASS", "rule": "r", "reason": "x", "sli": "runs.failure_ratio"})):
        obj = model.model_validate(data)
        assert obj.sli == ref, model
        assert obj.model_dump()["sli"] == "runs.failure_ratio" and '"sli":"runs.failure_ratio"' in obj.model_dump_json()
        assert model.model_validate_json(obj.model_dump_json()) == obj
        assert model.model_json_schema()["properties"]["sli"].get("type", "string") == "string"
        assert model.model_validate({**data, "sli": ref}) == obj, "an SLIRef given in code is taken as is"
    with pytest.raises(ValueError, match=r"'runs' is not an SLI reference"):
        Check.model_validate({"sli": "runs"})


def test_a_bad_sli_reference_is_refused_at_its_field(tmp_path: Path) -> None:
    import yaml

    from chaos.errors import InputErrors
    from chaos.spec.experiment import load_experiment
    from tests.conftest import STACKS

    doc = yaml.safe_load((STACKS / "mini" / "experiment.yaml").read_text())
    doc["stack"] = str(STACKS / "mini" / "docker-compose.yml")
    path = tmp_path / "experiment.yaml"
    for refs, expected in (
            (["echo.processes", "broker.nope"],
             "stop_conditions.1.sli: unknown SLI 'broker.nope' (known: echo.processes, broker.connections)"),
            (["echo.processes", "broker"], "stop_conditions.1.sli: 'broker' is not an SLI reference")):
        doc["stop_conditions"] = [{"sli": r, "below": 1} for r in refs]
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        with pytest.raises(InputErrors) as exc:
            load_experiment(path)
        located = [str(e) for e in exc.value.errors if ".sli:" in str(e)]
        assert len(located) == 1 and located[0].startswith(f"{path}:") and expected in located[0], located
    doc["stop_conditions"] = [{"sli": "echo.processes", "below": 1}]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert load_experiment(path).spec.stop_conditions[0].sli == SLIRef("echo", "processes")


def test_many_windows_from_one_read_are_each_the_window_evaluate_gives(tmp_path: Path) -> None:
    """`evaluate_windows` (the report's charts, from one read per metric) and `evaluate` (the judge,
    one window at a time) are one evaluator: the same value, sample size and reason, to the last bit —
    through resets, series and bucket bounds born mid-run, failed reads, fractional counters, a
    selector matching nothing and a silence longer than the counter lookback."""
    import random

    from chaos.measure.sli import LOOKBACK_S, evaluate_windows
    from chaos.spec.surfaces import RateSLI

    rng = random.Random(7)
    tl = Timeline(tmp_path)
    ok = err = spent = 0.0
    buckets = {"0.1": 0.0, "1.0": 0.0, "2.5": 0.0, "+Inf": 0.0}
    times = [i * 0.5 + rng.random() * 0.01 for i in range(160)] + [80 + LOOKBACK_S + 500 + i for i in range(12)]
    for j, t in enumerate(times):
        if rng.random() < 0.1:
            tl.missing(t, "s", "connection refused")
            continue
        ok = 0.0 if rng.random() < 0.03 else ok  # a reset
        ok += rng.randint(0, 9)
        err += rng.randint(0, 2) if j > 40 else 0
        spent += rng.random()
        v = rng.random() * 3
        for le in buckets:
            if le == "+Inf" or v <= float(le):
                buckets[le] += 1
        samples = [Sample(t=t, source="s", name="req_total", labels={"code": "ok", "pod": str(j % 3)}, value=ok),
                   Sample(t=t, source="s", name="busy_seconds_total", labels={}, value=spent),
                   Sample(t=t, source="s", name="depth", labels={"q": "a"}, value=float(rng.randint(0, 9))),
                   Sample(t=t, source="s", name="depth", labels={"q": "b"}, value=rng.random())]
        if j > 40:  # a series born mid-run
            samples.append(Sample(t=t, source="s", name="req_total", labels={"code": "err"}, value=err))
        samples += [Sample(t=t, source="s", name="lat_bucket", labels={"le": le}, value=n)
                    for le, n in buckets.items() if le != "2.5" or j > 70]  # a bound added mid-run
        rng.shuffle(samples)
        tl.add(samples)
    slis = [RatioSLI(kind="ratio", good='req_total{code="ok"}', total="req_total"),
            RatioSLI(kind="ratio", good='req_total{code="err"}', total='req_total{pod!="1"}'),
            RateSLI(kind="rate", counter="req_total"), RateSLI(kind="rate", counter="busy_seconds"),
            RateSLI(kind="rate", counter='req_total{code="none"}'), RateSLI(kind="rate", counter="absent"),
            QuantileSLI(kind="quantile", histogram="lat", q=0.9), QuantileSLI(kind="quantile", histogram="lat", q=0.5),
            GaugeSLI(kind="gauge", metric="depth", agg="mean"), GaugeSLI(kind="gauge", metric='depth{q="b"}', agg="last")]
    ends = [i * 0.61 for i in range(-3, 136)] + [t + 0.2 for t in times[-12:]]
    for sli in slis:
        for window in (0.5, 30.0):
            windows = [(end - window, end) for end in ends]
            many = evaluate_windows(tl, sli, "s", windows)
            assert many == [evaluate(tl, sli, "s", t0, t1) for t0, t1 in windows], (sli, window)
            assert {v.value is None for v in many} == {True, False} or sli.kind == "rate", (sli, window)
    assert evaluate_windows(tl, slis[0], "s", []) == []


def test_a_degraded_surface_always_says_how_much_even_from_a_zero_baseline() -> None:
    from chaos.measure.result import SLIImpact, SurfaceImpact

    def impact(*slis: SLIImpact) -> SurfaceImpact:
        return SurfaceImpact(surface="email", classification="direct", degraded=True, slis=list(slis))

    from_zero = SLIImpact(sli="bounce_share", baseline=0.0, fault=0.12, recovery=0.0, degraded=True,
                          magnitude=float("inf"))
    relative = SLIImpact(sli="p95_s", baseline=0.2, fault=0.5, recovery=0.2, degraded=True, magnitude=1.5)
    assert impact(from_zero).change() == "bounce_share 0 -> 0.12"
    assert impact(from_zero, relative).change() == "150% worse (p95_s)"
    assert impact(SLIImpact(sli="x", baseline=1, fault=1, recovery=1, degraded=False)).change() == ""


def test_the_sampler_says_up_to_when_every_read_is_in_the_timeline(tmp_path: Path) -> None:
    import threading

    from chaos.measure.metrics.sampler import Sampler
    from chaos.measure.metrics.sources import Source
    from tests.runstack.helpers import wait_until

    release = threading.Event()

    def slow(t: float) -> list[Sample]:
        release.wait(5)  # a paused service's /metrics: the read is still running
        return [Sample(t=t, source="slow", name="g", labels={}, value=1.0)]

    fast = Source("fast", lambda t: [Sample(t=t, source="fast", name="g", labels={}, value=1.0)])
    sampler = Sampler([fast, Source("slow", slow)], Timeline(tmp_path))
    try:
        sampler.sample_once(wait=False)
        tick = sampler.timeline.scrape_times("fast", 0, float("inf")) or [None]
        # The slow read's time bounds what is settled: a look must not judge past it.
        assert sampler.settled_until() < (tick[0] if tick[0] is not None else float("inf"))
        release.set()
        sampler.sample_once(wait=True)  # the slow source is still busy with the first read, or done
        assert wait_until(lambda: sampler.settled_until() >= max(
            sampler.timeline.scrape_times("slow", 0, float("inf")), default=0), 5, 0.01), "every read ended, yet not settled"
    finally:
        release.set()
        sampler.close()
