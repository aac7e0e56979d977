"""The resilience matrix: cells from the stack file alone, checked before anything starts, and a
hang cell that tells a caller with a timeout from one without, from the held connections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.components.sockets import ESTABLISHED, Socket
from chaos.faults.landing import HeldCalls, Landing, UnitLanding
from chaos.faults.link_landing import _Watch
from chaos.matrix.cells import all_cells, select
from chaos.matrix.judge import call_bound
from chaos.matrix.model import Entry, Settings
from chaos.stack import load_stack
from tests.browser import Page
from tests.conftest import STACKS, chaosgate

MINI = STACKS / "mini"
COMPOSE = MINI / "docker-compose.yml"
LOAD = ["--surfaces", "mini-matrix", "--load", str(MINI / "matrix_load.py"), "--target", "front"]


def test_the_cells_come_from_the_stack_file_alone() -> None:
    ids = [c.id for c in all_cells(load_stack(COMPOSE, {}))]
    assert ids == ["hang:front->echo", "slow:front->echo", "down:front->echo",
                   "hang:front->broker", "slow:front->broker", "down:front->broker",
                   "kill:broker", "pause:broker", "kill:echo", "pause:echo", "kill:front", "pause:front"]


def test_cells_are_chosen_by_kind_and_pattern() -> None:
    stack = load_stack(COMPOSE, {})
    cells, skipped = select(stack, ["hang", "kill"], ["*:front->*", "kill:e*"], "local", 5000)
    assert [c.id for c in cells] == ["hang:front->echo", "hang:front->broker", "kill:echo"] and not skipped
    assert cells[0].fault(5000) == {"type": "network.timeout", "link": "front->echo", "timeout_ms": 0, "stream": "both"}
    assert (cells[0].caller, cells[0].dependency) == ("front", "echo")


def test_dry_run_lists_cells_time_and_error_control_and_starts_nothing(out: Path) -> None:
    r = chaosgate("matrix", "-f", str(COMPOSE), *LOAD, "--faults", "down,pause", "--window", "12s",
                  "--dry-run", "--out", str(out))
    assert r.code == 0, r.err
    assert "5 cell(s)" in r.out and "down:front->echo" in r.out and "pause:front" in r.out
    assert "hang:" not in r.out
    # 2 links and 3 services; 5 cells x (3 warmup + 10 baseline + 12 fault + 15 recovery) s
    assert "3.3 min of phases" in r.out and "alpha 0.01 per cell" in r.out
    assert not out.exists()


def test_a_bad_surface_set_is_located_and_nothing_starts(tmp_path: Path, out: Path) -> None:
    bad = tmp_path / "surfaces.yaml"
    bad.write_text("relay:\n  services: [front, nowhere]\n  slis:\n"
                   "    failures: {kind: ratio, good: a, total: b, toleranc: 1}\n")
    r = chaosgate("matrix", "-f", str(COMPOSE), "--surfaces", str(bad), "--out", str(out))
    assert r.code == 3
    lines = r.err.strip().splitlines()
    assert any(f"{bad}:2: relay.services.1: no service 'nowhere'" in line for line in lines), r.err
    assert any(f"{bad}:4:" in line and "toleranc" in line for line in lines), r.err
    assert "Traceback" not in r.err and not out.exists()


@pytest.mark.parametrize("args, flag", [(["--faults", "hang,melt"], "--faults"), (["--cells", "nope:*"], "--cells"),
                                        (["--window", "soon"], "--window"), (["--users", "0"], "--users")])
def test_bad_options_are_named(args: list[str], flag: str, out: Path) -> None:
    r = chaosgate("matrix", "-f", str(COMPOSE), *LOAD, *args, "--dry-run", "--out", str(out))
    assert r.code == 3 and f"chaosgate: error: {flag}" in r.err and "Traceback" not in r.err


def _rows(port: int, *remotes: str) -> list[Socket]:
    return [Socket(f"0100007F:{port:04X}", r, ESTABLISHED) for r in remotes]


def test_held_calls_split_into_given_up_and_held_to_the_end() -> None:
    w = _Watch(8000)
    w.see(_rows(8000, "A"), 0.0, before=True)  # open before the fault: never counted
    w.see(_rows(8000, "A", "B", "C"), 1.0)
    w.see(_rows(8000, "A", "B", "C"), 3.0)
    w.see(_rows(8000, "A", "C", "D", "E"), 5.0)  # B given up after 2 s
    w.see(_rows(8000, "A", "C", "E", "F") + _rows(9000, "G"), 11.0)  # D given up; G another proxy
    calls = w.calls()
    assert calls.window_s == 10.0
    assert (calls.gave_up, calls.gave_up_after_s, calls.gave_up_max_s) == (2, 1.0, 2.0)
    assert (calls.held_to_end, calls.longest_s) == (3, 10.0)


SETTINGS = Settings(stack="/s.yml", surfaces="/x.yaml", kinds=["hang"], unbounded_after_s=20.0)
HANG = select(load_stack(COMPOSE, {}), ["hang"], ["hang:front->echo"], "local", 5000)[0][0]


def _landing(calls: HeldCalls) -> Landing:
    return Landing.of([UnitLanding(target="front->echo", landed=True, evidence="held", calls=calls)])


def test_a_caller_that_keeps_its_calls_open_through_the_hang_is_unbounded_with_its_spread() -> None:
    found = [Entry(surface="relay", status="UNAVAILABLE", classification="direct"),
             Entry(surface="echo", status="DEGRADED", classification="target"),
             Entry(surface="greeting", status="OK", classification="direct")]
    b = call_bound(HANG, _landing(HeldCalls(window_s=30, gave_up=0, held_to_end=12, longest_s=29.6)), found, SETTINGS)
    assert b is not None and b.bounded is False and b.held == 12 and b.spread == ["relay"]
    assert b.finding.startswith("no timeout: 12 call(s) still held") and "spread to relay" in b.finding


def test_a_caller_that_gives_up_is_bounded_and_a_young_open_call_does_not_count() -> None:
    calls = HeldCalls(window_s=30, gave_up=40, gave_up_after_s=2.0, gave_up_max_s=2.3, held_to_end=3, longest_s=1.9)
    b = call_bound(HANG, _landing(calls), [], SETTINGS)
    assert b is not None and b.bounded is True and b.gave_up_after_s == 2.0
    assert b.finding.startswith("gives up after 2.0 s")
    # Neither given up nor held long: not known, never "bounded".
    unknown = call_bound(HANG, _landing(HeldCalls(window_s=30, gave_up=0, held_to_end=2, longest_s=5.0)), [], SETTINGS)
    assert unknown is not None and unknown.bounded is None
    unseen = call_bound(HANG, Landing.of([UnitLanding(target="front->echo", landed=None, evidence="no socket table")]),
                        [], SETTINGS)
    assert unseen is not None and unseen.bounded is None and "no socket table" in unseen.finding


def _one_cell_matrix(entries: dict[str, str], bounded: bool | None = True, stopped: str | None = None):
    import time

    from chaos.matrix.model import CallBound, CellResult, Matrix

    cell = CellResult(cell=HANG, experiment="/e.yaml", run_status="completed", landed=True,
                      entries=[Entry(surface=k, status=v, classification="target" if k == "echo" else "direct")
                               for k, v in entries.items()],
                      calls=CallBound(edge="front->echo", caller="front", dependency="echo", bounded=bounded,
                                      finding="f"))
    return Matrix(matrix_id="x", stack_name="mini", settings=SETTINGS, surfaces=list(entries), family_alpha=0.05,
                  started_at=time.time(), cells=[] if stopped else [cell], stopped=stopped)


def test_the_matrix_gate_fails_on_a_regression_beyond_the_target_and_on_a_new_unbounded_call() -> None:
    from chaos.matrix.compare import compare

    base = _one_cell_matrix({"relay": "OK", "greeting": "OK", "echo": "OK"})
    worse = _one_cell_matrix({"relay": "UNAVAILABLE", "greeting": "OK", "echo": "UNAVAILABLE"})
    c = compare(base, worse, "/b", {"V": "2"})
    assert c.verdict == "FAIL" and c.reasons() == ["hang:front->echo, relay: OK -> UNAVAILABLE"]  # the target is not compared
    c = compare(base, _one_cell_matrix({"relay": "OK", "greeting": "OK", "echo": "OK"}, bounded=False), "/b", {})
    assert c.verdict == "FAIL" and c.changes[0].surface == "calls"
    same_unbounded = compare(_one_cell_matrix({"relay": "DEGRADED"}, bounded=False),
                             _one_cell_matrix({"relay": "DEGRADED"}, bounded=False), "/b", {})
    assert same_unbounded.verdict == "PASS", "not new: the baseline has it too"


def test_the_matrix_gate_is_inconclusive_where_it_cannot_tell_and_passes_otherwise() -> None:
    from chaos.matrix.compare import compare

    base = _one_cell_matrix({"relay": "OK", "greeting": "DEGRADED"})
    assert compare(base, _one_cell_matrix({"relay": "OK", "greeting": "OK"}), "/b", {}).verdict == "PASS"
    assert compare(base, _one_cell_matrix({"relay": "OK", "greeting": "UNKNOWN"}), "/b", {}).verdict == "PASS"
    unknown = compare(base, _one_cell_matrix({"relay": "UNKNOWN", "greeting": "DEGRADED"}), "/b", {})
    assert unknown.verdict == "INCONCLUSIVE" and not unknown.changes[0].fails
    cut = compare(base, _one_cell_matrix({}, stopped="the stack did not start"), "/b", {})
    assert cut.verdict == "INCONCLUSIVE" and cut.changes[0].candidate == "not run"


def _cell_run(folder: Path, failing_per_s: float, entries: dict[str, str]):
    """A cell whose run is written here: 20 requests a second to relay, a share of them failing in
    its fault phase (20 s to 50 s), with its result.json and timeline."""
    from chaos.matrix.model import CellResult
    from chaos.measure.metrics.timeline import Sample, Timeline
    from chaos.measure.result import RunPlan, RunResult

    folder.mkdir()
    RunPlan(experiment="e", file="/e.yaml", sha256="0", backend="local", chaosgate_version="test", sample_interval=1.0,
            surfaces={}, services=["front", "echo"], links=[("front", "echo")], target_services=["echo"],
            expected_radius=[]).save(folder)
    tl = Timeline(folder)
    good = bad = 0.0
    for t in range(0, 61):
        failing = failing_per_s if 20 < t <= 50 else 0.0
        good, bad = good + 20 - failing, bad + failing
        tl.add([Sample(t=float(t), source="front", name="relay_total", labels={"ok": "1"}, value=good),
                Sample(t=float(t), source="front", name="relay_total", labels={"ok": "0"}, value=bad)])
    RunResult(experiment="e", file="/e.yaml", run_id="r", run_dir=str(folder), status="completed",
              phases={"baseline": (0.0, 20.0), "fault": (20.0, 50.0)}).save()
    return CellResult(cell=HANG, experiment="/e.yaml", run_dir=str(folder), run_status="completed", landed=True,
                      entries=[Entry(surface=k, status=v, classification="target" if k == "echo" else "direct")
                               for k, v in entries.items()])


def test_the_matrix_gate_compares_each_fault_window_across_the_sides(tmp_path: Path) -> None:
    """A candidate broken before any fault reads OK (or UNKNOWN) against its own baseline phase; its
    fault window against the baseline's, under the same cell, is what shows it worse."""
    import time

    from chaos.matrix.compare import compare
    from chaos.matrix.model import Matrix
    from chaos.spec.surfaces import RatioSLI, Surface

    sli = RatioSLI(kind="ratio", good='relay_total{ok="1"}', total="relay_total", tolerance=0.05)
    surfaces = {"relay": Surface(services=["front"], slis={"ok": sli}),
                "echo": Surface(services=["echo"], slis={"ok": sli})}

    def matrix(name: str, failing: float, status: str) -> Matrix:
        cell = _cell_run(tmp_path / name, failing, {"relay": status, "echo": "DEGRADED"})
        return Matrix(matrix_id=name, stack_name="mini", settings=SETTINGS, surfaces=["relay", "echo"],
                      family_alpha=0.05, started_at=time.time(), cells=[cell])

    base = matrix("base", 0.0, "OK")
    # The candidate's relay entry is OK (as if its own baseline phase were as bad), yet 10 of 20 fail.
    broken = compare(base, matrix("broken", 10.0, "OK"), "/b", {}, surfaces=surfaces, alpha=0.025)
    assert broken.verdict == "FAIL", broken
    (change,) = broken.changes  # echo is the cell's target: not compared
    assert (change.surface, change.baseline, change.candidate, change.fails) == (
        "relay", "OK", "worse under the same fault", True)
    assert "degraded:" in change.detail and "Newcomb" in change.detail
    # Equally good: within its tolerance on both sides, nothing to say.
    same = compare(base, matrix("same", 0.0, "OK"), "/b", {}, surfaces=surfaces, alpha=0.025)
    assert same.verdict == "PASS" and same.changes == []
    # Worse by about the tolerance (1 in 20 failing against 5 points): cannot be told, never a PASS.
    edge = compare(base, matrix("edge", 1.0, "OK"), "/b", {}, surfaces=surfaces, alpha=0.025)
    assert edge.verdict == "INCONCLUSIVE" and [(c.candidate, c.fails) for c in edge.changes] == [
        ("not told within it", False)], edge
    # A side with no measured run cannot be compared: said so, never a PASS.
    gone = matrix("gone", 0.0, "OK")
    gone.cells[0].run_dir = None
    missing = compare(base, gone, "/b", {}, surfaces=surfaces, alpha=0.025)
    assert missing.verdict == "INCONCLUSIVE" and "cannot compare the fault windows" in missing.changes[0].detail


@pytest.fixture(scope="module")
def matrices(tmp_path_factory) -> dict:
    """The gate on a matrix of front -> echo's hang: the baseline with front's timeout on echo 1 s,
    the candidate with none. Each side's exit code, matrix and directory; the whole output."""
    out = tmp_path_factory.mktemp("matrix")
    r = chaosgate("matrix", "-f", str(COMPOSE), *LOAD, "--users", "5", "--cells", "hang:front->echo",
                  "--window", "8s", "--baseline", "5s", "--recovery", "4s", "--set", "FRONT_ECHO_TIMEOUT_S=1",
                  "--candidate", "FRONT_ECHO_TIMEOUT_S=none", "--out", str(out), timeout=600)
    found = sorted(out.glob("matrices/*/matrix.json"))
    assert len(found) == 2, (r.out, r.err[-3000:])
    sides = {}
    for side, path in zip(("bounded", "unbounded"), found):
        sides[side] = (json.loads(path.read_text()), path.parent)
    return {"code": r.code, "log": r.out + r.err, "out": r.out, **sides}


@pytest.mark.integration
def test_a_caller_with_a_timeout_is_found_bounded(matrices) -> None:
    (m, _), log = matrices["bounded"], matrices["log"]
    (cell,) = m["cells"]
    assert cell["landed"] is True, log
    calls = cell["calls"]
    assert calls["bounded"] is True, calls
    assert 0.5 <= calls["gave_up_after_s"] <= 3.0, calls
    entries = {e["surface"]: e for e in cell["entries"]}
    assert entries["relay"]["status"] in ("DEGRADED", "UNAVAILABLE"), entries["relay"]
    assert entries["greeting"]["status"] != "DEGRADED", entries["greeting"]
    run = json.loads((Path(cell["run_dir"]) / "result.json").read_text())
    assert run["rollback"]["outstanding"] == [] and run["rollback"]["failures"] == []
    assert run["faults"][0]["landing"]["units"][0]["calls"]["gave_up"] >= 1


@pytest.mark.integration
def test_a_caller_without_one_is_found_unbounded_and_the_matrix_gate_fails_on_it(matrices) -> None:
    (m, folder), log = matrices["unbounded"], matrices["log"]
    (cell,) = m["cells"]
    calls = cell["calls"]
    assert calls["bounded"] is False, calls
    assert calls["held"] >= 1 and calls["longest_s"] >= m["settings"]["unbounded_after_s"], calls
    assert "relay" in calls["spread"], cell["entries"]
    # The gate: the relay degraded on both sides (not a regression); the new unbounded call is.
    assert matrices["code"] == 1, log
    assert "matrix gate: FAIL" in log and "hang:front->echo, calls: gives up -> never gives up" in log
    comparison = json.loads((folder / "comparison.json").read_text())
    assert comparison["verdict"] == "FAIL" and [c["surface"] for c in comparison["changes"] if c["fails"]] == ["calls"]
    text = (folder / "summary.md").read_text()
    assert "## Calls that never give up" in text and "**front->echo**: no timeout" in text
    assert "## Against the baseline" in text and "**FAIL**" in text
    assert matrices["out"].strip().splitlines()[-1] == f"report: {folder / 'report.html'}"
    run = json.loads((Path(cell["run_dir"]) / "result.json").read_text())
    assert run["rollback"]["outstanding"] == [] and run["rollback"]["failures"] == []


@pytest.mark.integration
def test_the_matrix_report_shows_the_unbounded_call_and_the_heat_map(matrices, browser, tmp_path: Path) -> None:
    m, folder = matrices["unbounded"]
    report = folder / "report.html"
    page = Page(browser, report, tmp_path / "screenshots")
    page.assert_self_contained(report)
    assert "front->echo" in page.page.locator("#unbounded").inner_text()
    squares = page.page.locator("#heat td.sq")
    assert squares.count() == 2 + 1, "two surfaces and the landing row, one cell"
    relay = page.page.locator("#heat tr", has_text="relay").locator("td.sq").first
    assert relay.inner_text().strip() in ("deg", "down") and "worse" in (relay.get_attribute("title") or "")
    link = page.page.locator("#heat th.cell a").first.get_attribute("href")
    assert link and (folder / link).resolve() == (Path(m["cells"][0]["run_dir"]) / "report.html").resolve()
    assert "FAIL" in page.page.locator("#comparison").inner_text()
    index = folder.parent.parent / "index.html"
    assert index.read_text().count("mini (1 cells)") == 2


@pytest.mark.integration
def test_each_kind_of_cell_lands_and_rolls_back_and_sigkill_mid_matrix_then_rollback_leaves_nothing(out: Path) -> None:
    """slow, down and kill cells run to the end (hang: the fixture above); the matrix is killed as
    its pause cell freezes echo, and `chaosgate rollback` undoes it and takes the kept stack down."""
    import signal
    import subprocess
    import sys
    import time

    from tests.chaos.engine_helpers import assert_nothing_left, journal_states
    from tests.conftest import ROOT

    cells = ["slow:front->echo", "down:front->echo", "kill:echo", "pause:echo"]  # the order cells run in
    proc = subprocess.Popen([sys.executable, "-m", "chaos", "matrix", "-f", str(COMPOSE), *LOAD, "--users", "3",
                             *[a for c in cells for a in ("--cells", c)], "--window", "3s", "--baseline", "3s",
                             "--recovery", "2s", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            found = list(out.glob("matrices/*/matrix.json"))
            m = json.loads(found[0].read_text()) if found else {"cells": []}
            last = m["cells"][-1] if m["cells"] else None
            if last and last["cell"]["id"] == "pause:echo" and last["run_dir"] and \
                    "injected" in journal_states(Path(last["run_dir"])):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the pause cell's fault was never injected")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = m["cells"][:3]
    assert [c["cell"]["id"] for c in done] == cells[:3]
    for c in done:
        assert c["landed"] is True, (c["cell"]["id"], c["landing"])
        run = json.loads((Path(c["run_dir"]) / "result.json").read_text())
        assert run["rollback"]["outstanding"] == [] and run["rollback"]["failures"] == [], run["rollback"]
        assert all(s == "rolled_back" for s in journal_states(Path(c["run_dir"])))
    r = chaosgate("rollback", "--out", str(out))
    assert r.code == 0, r.err
    killed = Path(m["cells"][3]["run_dir"])
    states = journal_states(killed)
    assert states and all(s == "rolled_back" for s in states), states
    (stack,) = [p for p in (out / "runs").glob("*") if "-stack-" in p.name]
    assert_nothing_left(stack)  # every process of the kept stack (toxiproxy too) is gone
    m = json.loads(next(out.glob("matrices/*/matrix.json")).read_text())
    assert m["ended_at"] is None, "killed: the matrix never wrote its end"


def test_a_secret_given_with_set_is_never_written_down(tmp_path: Path) -> None:
    from chaos.matrix.runner import cell_experiment, prepare, write_cells

    p = prepare(COMPOSE, "mini-matrix", kinds=["down"], patterns=["down:front->echo"],
                variables={"API_TOKEN": "s3cr3t-value", "FRONT_ECHO_TIMEOUT_S": "1"},
                load=str(MINI / "matrix_load.py"), target="front")
    assert p.settings.variables["API_TOKEN"] != "s3cr3t-value" and p.settings.variables["FRONT_ECHO_TIMEOUT_S"] == "1"
    assert "variables" not in cell_experiment(p, p.cells[0])
    ((_, exp),) = write_cells(p, tmp_path)
    assert exp.stack.variables["FRONT_ECHO_TIMEOUT_S"] == "1", "given when the cell is loaded"
    assert "s3cr3t-value" not in "".join(f.read_text() for f in tmp_path.glob("*.yaml"))
