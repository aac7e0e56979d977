"""HTML reports in a real browser (headless Chromium driven by Playwright): they load with no error
and no request outside the file, show the verdict, draw every chart and the radius map, answer a
hover with a value; hostile names stay text; a run cut short by SIGTERM still has its report."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from tests.browser import Page
from tests.chaos.engine_helpers import mini_gate_policy, only_run_dir, start_run_until_injected
from tests.conftest import STACKS, chaosgate

MINI = STACKS / "mini"
EVIL_SERVICE = "<img src=x onerror=alert(1)>"
EVIL_SLI = "</script><script>alert(2)</script>"
EVIL_REASON = "known <b onmouseover=alert(3)>bug</b> </script>"


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-run")
    res = chaosgate("run", str(MINI / "experiment.yaml"), "--out", str(out))
    assert res.code == 0, res.err
    run_dir = only_run_dir(out)
    assert res.out.strip().splitlines()[-1] == f"report: {run_dir / 'report.html'}", "the path is printed last"
    return run_dir


@pytest.mark.integration
def test_a_run_report_loads_offline_and_shows_everything(browser, mini_run: Path, tmp_path: Path) -> None:
    report = mini_run / "report.html"
    page = Page(browser, report, tmp_path / "screenshots")
    page.assert_self_contained(report)
    assert "COMPLETED" in page.page.locator("#verdict").inner_text()
    page.assert_charts_drawn(expected=2)  # one per surface
    nodes = page.page.locator("#radius-map g.node")
    assert nodes.count() == 2 + 3, "two surfaces and three services"
    faulted = page.page.locator("#radius-map g.node.faulted")
    assert faulted.count() >= 1 and "FAULTED" in faulted.first.text_content(), "state in words, not colour alone"
    box = page.page.locator("#radius-map").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 50
    print("hover:", page.hover_shows_a_value())
    journal = page.page.locator("#journal").inner_text()
    assert "intent recorded" in journal and "rolled_back" in journal
    assert "mini-faults" in page.page.locator("#experiment-text").inner_text()
    index = mini_run.parent.parent / "index.html"
    assert index.exists() and "mini-faults" in index.read_text()


@pytest.mark.integration
def test_a_gate_report_shows_the_verdict_criteria_charts_and_links(browser, tmp_path: Path) -> None:
    policy = mini_gate_policy(tmp_path, "  - {name: radius, blast_radius: {contained: true}}\n")
    res = chaosgate("gate", str(policy), "--out", str(tmp_path / "reports"))
    assert res.code == 0, (res.out, res.err[-2000:])
    gate_dir = next((tmp_path / "reports" / "gates").glob("*"))
    report = gate_dir / "report.html"
    assert res.out.strip().splitlines()[-1] == f"report: {report}"
    assert json.loads((gate_dir / "verdict.json").read_text())["report"] == str(report)
    page = Page(browser, report, tmp_path / "screenshots")
    page.assert_self_contained(report)
    banner = page.page.locator("#verdict").inner_text()
    assert "PASS" in banner and "exit code 0" in banner and "may be promoted" in banner
    assert page.page.locator("#criteria tr").count() == 1 + 2
    page.assert_charts_drawn(expected=1)
    page.hover_shows_a_value()
    links = page.page.locator("#runs a")
    assert links.count() == 2
    for i in range(links.count()):
        assert (gate_dir / links.nth(i).get_attribute("href")).resolve().exists()


@pytest.mark.integration
def test_hostile_names_stay_text(browser, mini_run: Path, tmp_path: Path) -> None:
    # A stored run whose names carry markup (as a user's files may): the report renders them as text.
    run_dir = tmp_path / "runs" / "hostile"
    shutil.copytree(mini_run, run_dir, ignore=shutil.ignore_patterns("report.html"))
    plan = json.loads((run_dir / "plan.json").read_text())
    plan["services"] = [EVIL_SERVICE if s == "echo" else s for s in plan["services"]]
    plan["links"] = [[EVIL_SERVICE if a == "echo" else a, EVIL_SERVICE if b == "echo" else b] for a, b in plan["links"]]
    plan["target_services"] = [EVIL_SERVICE]
    plan["surfaces"]["broker"]["slis"] = {EVIL_SLI: plan["surfaces"]["broker"]["slis"]["connections"]}
    (run_dir / "plan.json").write_text(json.dumps(plan))
    result = json.loads((run_dir / "result.json").read_text())
    result["slis"]["broker"] = {EVIL_SLI: result["slis"]["broker"]["connections"]}
    result["reason"] = EVIL_REASON
    result["run_dir"] = str(run_dir)
    (run_dir / "result.json").write_text(json.dumps(result))
    res = chaosgate("report", str(run_dir))
    assert res.code == 0, res.err
    page = Page(browser, run_dir / "report.html", tmp_path / "screenshots")
    text = page.page.locator("body").inner_text()
    assert EVIL_SERVICE in text and EVIL_SLI in text and "known <b onmouseover=alert(3)>bug</b>" in text
    page.page.locator("#verdict").hover()
    assert page.dialogs == [] and page.errors == [], (page.dialogs, page.errors)
    assert page.page.locator("img").count() == 0, "the markup did not become an element"

    # A gate whose waiver reason and criterion name carry markup.
    gate_dir = tmp_path / "gates" / "hostile"
    gate_dir.mkdir(parents=True)
    verdict = {"policy": "p", "gate_id": "x", "gate_dir": str(gate_dir), "verdict": "WARN", "exit_code": 0,
               "reasons": [EVIL_REASON], "baseline": {}, "candidate": {"R": EVIL_SERVICE},
               "criteria": [{"criterion": EVIL_SLI, "experiment": "e", "kind": "vs_baseline", "critical": True,
                             "verdict": "WARN", "rule": "r", "reason": EVIL_REASON, "sli": "broker.x", "phase": "fault",
                             "waiver": {"criterion": EVIL_SLI, "experiment": "e", "owner": EVIL_SERVICE,
                                        "reason": EVIL_REASON, "expires": "2099-01-01", "was": "FAIL"}}],
               "runs": [], "correction": "c", "alpha": 0.05, "seed": 0, "fail_fast": True}
    (gate_dir / "verdict.json").write_text(json.dumps(verdict))
    res = chaosgate("report", str(gate_dir))
    assert res.code == 0, res.err
    page = Page(browser, gate_dir / "report.html", tmp_path / "screenshots")
    text = page.page.locator("body").inner_text()
    assert EVIL_SLI in text and EVIL_SERVICE in text and "known <b onmouseover=alert(3)>bug</b>" in text
    assert page.dialogs == [] and page.errors == [] and page.page.locator("img").count() == 0


@pytest.mark.integration
def test_a_run_cut_short_by_sigterm_still_has_a_report_that_says_so(browser, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = start_run_until_injected(MINI / "experiment.yaml", out, 3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(120)
    run_dir = only_run_dir(out)
    report = run_dir / "report.html"
    assert report.exists(), "the report was written on the way out"
    page = Page(browser, report, tmp_path / "screenshots")
    banner = page.page.locator("#verdict").inner_text()
    assert "ABORTED" in banner and "interrupted" in banner, banner
    assert "rolled_back" in page.page.locator("#journal").inner_text()


@pytest.mark.integration
def test_chart_series_are_the_slis_own_values(mini_run: Path) -> None:
    """The one-pass series a chart draws equals `evaluate` window by window (the SLI's definition)."""
    from chaos.measure.metrics.timeline import Timeline
    from chaos.measure.result import load_plan, load_result
    from chaos.measure.sli import evaluate
    from chaos.report.series import windowed

    plan, result = load_plan(mini_run), load_result(mini_run)
    tl = Timeline(mini_run)
    start = min(p[0] for p in result.phases.values())
    end = max(p[1] for p in result.phases.values())
    ends = [start + 0.5 * i for i in range(int((end - start) / 0.5) + 1)]
    checked = 0
    for surface in plan.surfaces.values():
        for sli in surface.slis.values():
            source = sli.source or surface.services[0]
            fast = windowed(tl, sli, source, ends, 2.0)
            slow = [evaluate(tl, sli, source, t - 2.0, t).value for t in ends]
            assert fast == pytest.approx(slow, nan_ok=True), (sli, fast, slow)
            checked += sum(v is not None for v in slow)
    assert checked > 10, "the comparison covered windows with data"


def test_chart_series_are_exactly_what_the_judge_evaluates(tmp_path: Path) -> None:
    """A chart draws `chaos.measure.sli.evaluate_windows`: for counters, histograms, resets and gaps,
    each point is the value `evaluate` gives the judge for that window, to the last bit."""
    import random

    from chaos.measure.metrics.timeline import Sample, Timeline
    from chaos.measure.sli import evaluate
    from chaos.report.series import windowed
    from chaos.spec.surfaces import GaugeSLI, QuantileSLI, RateSLI, RatioSLI

    rng = random.Random(3)
    tl = Timeline(tmp_path)
    ok = err = 0.0
    buckets = {"0.1": 0.0, "1.0": 0.0, "+Inf": 0.0}
    for i in range(120):
        if 50 <= i < 60:
            continue  # the source was unreadable: no samples at all
        if i == 80:
            ok = 0.0  # a counter reset (the service restarted)
        ok += rng.randint(0, 9)
        err += rng.randint(0, 2) if i > 30 else 0
        v = rng.random() * 2
        for le in buckets:
            if le == "+Inf" or v <= float(le):
                buckets[le] += 1
        samples = [Sample(t=i, source="s", name="req_total", labels={"code": "ok"}, value=ok),
                   Sample(t=i, source="s", name="depth", labels={}, value=float(rng.randint(0, 9)))]
        if i > 30:  # a series that appears mid-run starts at zero
            samples.append(Sample(t=i, source="s", name="req_total", labels={"code": "err"}, value=err))
        samples += [Sample(t=i, source="s", name="lat_bucket", labels={"le": le}, value=n) for le, n in buckets.items()]
        tl.add(samples)
    slis = [RatioSLI(kind="ratio", good='req_total{code="ok"}', total="req_total"),
            RateSLI(kind="rate", counter="req_total"),
            QuantileSLI(kind="quantile", histogram="lat", q=0.9),
            GaugeSLI(kind="gauge", metric="depth", agg="mean")]
    ends = [float(t) for t in range(0, 125, 1)] + [33.5, 61.25]
    for sli in slis:
        for window in (1.0, 5.0):
            fast = windowed(tl, sli, "s", sorted(ends), window)
            slow = [evaluate(tl, sli, "s", t - window, t).value for t in sorted(ends)]
            assert fast == slow, (sli.kind, window)
            assert any(v is None for v in slow) and any(v is not None for v in slow)



def test_slis_are_grouped_by_unit_each_group_with_its_axis_label() -> None:
    """SLIs share an axis only when they share a unit: all ratios; quantiles, gauges and rates per metric."""
    from chaos.report.units import RATIO_LABEL, axis_label, unit_groups
    from chaos.spec.surfaces import GaugeSLI, QuantileSLI, RateSLI, RatioSLI

    p95 = QuantileSLI(kind="quantile", histogram='lat_seconds{route="/"}', q=0.95)
    slis = {"success": RatioSLI(kind="ratio", good='req_total{code="ok"}', total="req_total"),
            "p50": p95.model_copy(update={"q": 0.5}),
            "errors": RatioSLI(kind="ratio", good='req_total{code="err"}', total="req_total"),
            "p99.9": p95.model_copy(update={"q": 0.999}),
            "depth": GaugeSLI(kind="gauge", metric="depth", agg="max"),
            "rps": RateSLI(kind="rate", counter='req_total{code="ok"}'),
            "size": QuantileSLI(kind="quantile", histogram="size", q=0.9)}
    assert [(g.label, [name for name, _ in g.slis]) for g in unit_groups(slis)] == [
        (RATIO_LABEL, ["success", "errors"]),
        ("lat_seconds quantiles (seconds)", ["p50", "p99.9"]),
        ("max of depth", ["depth"]),
        ("req_total per second", ["rps"]),
        ("p90 of size (in the histogram's unit)", ["size"])]
    assert axis_label([p95]) == "p95 of lat_seconds (seconds)"
    assert axis_label([GaugeSLI(kind="gauge", metric="q", agg="max"),
                       GaugeSLI(kind="gauge", metric="q", agg="mean")]) == "q (max, mean)"


def test_a_surface_with_a_ratio_and_a_p95_gets_two_charts_with_labelled_axes(tmp_path: Path) -> None:
    """The reported bug: a ratio and a p95 in seconds drawn on one unlabelled axis. From a stored run
    (plan, result, timeline; no stack), the view has a chart per unit, each axis saying its unit."""
    from chaos.measure.metrics.timeline import Sample, Timeline
    from chaos.measure.result import RunPlan, RunResult
    from chaos.report.units import RATIO_LABEL
    from chaos.report.views import run_view
    from chaos.spec.surfaces import GaugeSLI, QuantileSLI, RatioSLI, Surface

    tl = Timeline(tmp_path)
    for i in range(30):
        tl.add([Sample(t=100.0 + i, source="api", name="req_total", labels={"code": "ok"}, value=10.0 * i),
                Sample(t=100.0 + i, source="api", name="req_total", labels={"code": "err"}, value=float(i)),
                Sample(t=100.0 + i, source="api", name="depth", labels={}, value=float(i % 5))]
               + [Sample(t=100.0 + i, source="api", name="lat_seconds_bucket", labels={"le": le}, value=n * i)
                  for le, n in (("0.1", 5.0), ("1.0", 9.0), ("+Inf", 11.0))])
    surfaces = {
        "checkout": Surface(services=["api"], slis={
            "success": RatioSLI(kind="ratio", good='req_total{code="ok"}', total="req_total"),
            "p95": QuantileSLI(kind="quantile", histogram="lat_seconds", q=0.95)}),
        "queue": Surface(services=["api"], slis={"depth": GaugeSLI(kind="gauge", metric="depth")})}
    RunPlan(experiment="e", file="e.yaml", sha256="0", backend="local", chaosgate_version="0", sample_interval=1.0,
            surfaces=surfaces, services=["api"], links=[], target_services=["api"], expected_radius=[]).save(tmp_path)
    RunResult(experiment="e", file="e.yaml", run_id="r", run_dir=str(tmp_path), status="completed",
              started_at=100.0, ended_at=130.0,
              phases={"baseline": (100.0, 110.0), "fault": (110.0, 120.0), "recovery": (120.0, 129.0)}).save()

    charts = run_view(tmp_path).charts
    assert [(c.id, c.title, c.y_label, [s.label for s in c.series]) for c in charts] == [
        ("chart-0", f"checkout — {RATIO_LABEL}", RATIO_LABEL, ["success"]),
        ("chart-1", "checkout — p95 of lat_seconds (seconds)", "p95 of lat_seconds (seconds)", ["p95"]),
        ("chart-2", "queue", "max of depth", ["depth"])]
    assert all(any(v is not None for v in c.series[0].values) for c in charts), "each chart drew its data"
