"""`chaosgate import chaostoolkit` on Chaos Toolkit's own public examples (tests/data/chaostoolkit,
origins and licences in its NOTICE.md), and on the experiment bench/ctk_compare.py runs with
Chaos Toolkit — which, imported, runs with chaosgate on the real mini stack."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.chaos.engine_helpers import journal_states, only_run_dir, result
from tests.conftest import ROOT, STACKS, chaosgate

DATA = Path(__file__).resolve().parent.parent / "data" / "chaostoolkit"
MINI = STACKS / "mini" / "docker-compose.yml"


def imported(tmp_path: Path, source: Path, *args: str):
    out = tmp_path / (source.stem + ".yaml")
    res = chaosgate("import", "chaostoolkit", str(source), "--stack", str(MINI), "-o", str(out), *args)
    return res, out


def test_the_documentation_walkthrough_keeps_its_http_probe_and_lists_the_rest(tmp_path: Path) -> None:
    res, out = imported(tmp_path, DATA / "walkthrough.json", "--target", "front")
    assert res.code == 0, res.err
    exp = yaml.safe_load(out.read_text())
    assert exp["name"].startswith("what-is-the-impact-of-an-expired-certificate")
    assert exp["faults"] == [], "cp and pkill have no chaosgate equivalent"
    assert exp["steady_state"] == [{"sli": "probes.failure_ratio", "max": 0.0}]
    profile = (tmp_path / "walkthrough_probes.py").read_text()
    assert "'/city/Paris'" in profile and "(200,)" in profile
    compile(profile, "profile", "exec")
    for path in ("steady-state-hypothesis.probes[0]", "steady-state-hypothesis.probes[1]", "method[0]",
                 "method[1]", "method[2]", "method[3]", "rollbacks[0]", "rollbacks[1]", "rollbacks[2]"):
        assert f"not translated: {path}:" in res.err, (path, res.err)
        assert f"# not translated: {path}:" in out.read_text()
    assert "a probe during the method" in res.err
    assert chaosgate("validate", str(out)).code == 0


def test_the_toxiproxy_readme_examples_name_proxies_the_stack_does_not_have(tmp_path: Path) -> None:
    res, out = imported(tmp_path, DATA / "toxiproxy-readme.json")
    assert res.code == 0, res.err
    assert "method[0]" in res.err and "'myproxy' is not a link of the stack" in res.err
    assert "method[1]" in res.err and "'edsproxy' is not a link" in res.err
    assert "steady-state-hypothesis" in res.err, "no surfaces: said, not invented"
    # The same examples on a proxy the stack has: the toxic translates, with its timing.
    adapted = json.loads((DATA / "toxiproxy-readme.json").read_text())
    adapted["method"][1]["provider"].update(module="chaostoxi.toxic.actions", func="create_latency_toxic")
    adapted["method"][1]["provider"]["arguments"]["for_proxy"] = "front->echo"
    src = tmp_path / "adapted.json"
    src.write_text(json.dumps(adapted))
    res, out = imported(tmp_path, src)
    assert res.code == 0, res.err
    assert yaml.safe_load(out.read_text())["faults"] == [
        {"type": "network.latency", "link": "front->echo", "latency_ms": 5000, "jitter_ms": 200, "start": "1s"}]


@pytest.mark.integration
def test_the_benchs_chaos_toolkit_experiment_imports_and_runs(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import ctk_compare
    finally:
        sys.path.pop(0)
    src = ctk_compare.ctk_experiment(tmp_path, "http://127.0.0.1:8474", 8000)
    res, out = imported(tmp_path, src, "--target", "front")
    assert res.code == 0, res.err
    assert "implicit: rollbacks[0] (delete_toxic)" in res.err
    exp = yaml.safe_load(out.read_text())
    assert exp["faults"] == [{"type": "network.latency", "link": "front->echo", "latency_ms": 100, "jitter_ms": 0}]
    assert exp["phases"]["fault"] == "10s", "the 5 s pause, at least the 10 s chaosgate gives a fault phase"
    exp["phases"] = {"warmup": "5s", "baseline": "5s", "fault": "5s"}  # shorter, same experiment
    out.write_text(yaml.safe_dump(exp, sort_keys=False))
    run = chaosgate("run", str(out), "--out", str(tmp_path / "reports"))
    assert run.code == 0, run.err[-3000:]
    run_dir = only_run_dir(tmp_path / "reports")
    res_json = result(run_dir)
    assert res_json["steady_state"][0]["passed"] is True, "the probe's traffic answered 200 in the baseline"
    assert res_json["load"]["requests"] > 5
    assert journal_states(run_dir) == ["rolled_back"]


def test_broken_sources_get_one_located_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x",\n "method": [}\n')
    res, _ = imported(tmp_path, bad)
    assert res.code == 3 and f"{bad}:2: invalid JSON" in res.err and "Traceback" not in res.err, res.err
    odd = tmp_path / "odd.yaml"
    odd.write_text("title: not an experiment\n")
    res, _ = imported(tmp_path, odd)
    assert res.code == 3 and "not a Chaos Toolkit experiment" in res.err, res.err
    res, _ = imported(tmp_path, DATA / "walkthrough.json", "--target", "nowhere")
    assert res.code == 3 and "no service 'nowhere'" in res.err, res.err
    # Values of the wrong shape where Chaos Toolkit expects names and mappings: listed, never a traceback.
    shapes = tmp_path / "shapes.json"
    shapes.write_text(json.dumps({"title": "odd shapes", "method": [
        {"type": "action", "name": "a", "provider": {"type": "python", "module": "chaostoxi.toxic.actions",
                                                     "func": ["create_toxic"], "arguments": ["front -> echo"]}},
        {"type": "action", "name": "b", "provider": "nonsense"},
        {"type": "action", "name": "c", "provider": {"type": "python", "module": "chaostoxi.toxic.actions",
                                                     "func": "create_toxic",
                                                     "arguments": {"for_proxy": "front -> echo", "toxic_type": {}}}}]}))
    res, _ = imported(tmp_path, shapes)
    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert all(f"not translated: method[{i}]" in res.err for i in range(3)), res.err
