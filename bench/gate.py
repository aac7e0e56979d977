"""A gate's cost: wall time against the sum of its declared phase windows, with and without stack
reuse, and how fast fail-fast blocks the bad release (seconds from the candidate's fault phase
start to the FAIL). Prints figures; asserts nothing.

How fast is measured against the data: the first 1-s window of the candidate's fault phase in
which the critical SLI is worse than the baseline phase's value by more than the allowed change
is where "the degradation is there in the data"; the FAIL's delay is given from it. What looking
costs is measured by replaying the looks on the stored runs: the CPU time of one look, and its
share of a core at one look a second.

    .venv/bin/python bench/gate.py [--candidate TELEMETRY_RELEASE=1.5.0-rc2] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from chaos.gate.runner import SETTLED_S  # noqa: E402 - after the path is set

POLICY = ROOT / "gates" / "pre-promotion.yaml"


def gate(out: Path, *args: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "chaos", "gate", str(POLICY), "--out", str(out), *args], cwd=ROOT,
                   capture_output=True, timeout=1800, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    verdict = json.loads(next((out / "gates").glob("*/verdict.json")).read_text())
    return wall, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidate", default="TELEMETRY_RELEASE=1.5.0-rc2",
                        help="candidate for the reuse comparison (a good one runs every run)")
    parser.add_argument("--only", default="*", help="experiments of the policy to run (glob)")
    parser.add_argument("--part", choices=["all", "reuse", "failfast"], default="all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("all", "reuse"):
            print(f"{'gate':44} {'wall s':>7} {'declared s':>10} {'overhead s':>10} {'verdict':>8}")
        for label, extra in (("reuse on", []), ("reuse off (a fresh stack per run)", ["--no-reuse-stack"])):
            if args.part == "failfast":
                break
            out = Path(tmp) / label.split()[1]
            wall, v = gate(out, "--only", args.only, "--candidate", args.candidate, *extra)
            print(f"{args.candidate + ', ' + label:44} {wall:7.1f} {v['declared_s']:10.1f} "
                  f"{wall - v['declared_s']:10.1f} {v['verdict']:>8}")
        if args.part == "reuse":
            return
        out = Path(tmp) / "bad"
        wall, v = gate(out, "--only", "telemetry-release-hang", "--candidate", "TELEMETRY_RELEASE=1.5.0-rc1")
        cand = next(r for r in v["runs"] if r["side"] == "candidate")
        result = json.loads((Path(cand["run_dir"]) / "result.json").read_text())
        fault_t0 = result["phases"]["fault"][0]
        injected = result["faults"][0]["injected_at"]
        record = json.loads(next((out / "gates").glob("*/gate.json")).read_text())
        looks = record["looks"]
        print(f"\nrc1 (telemetry-release-hang): verdict {v['verdict']} in {wall:.1f} s of wall time; the candidate's "
              f"run: {cand['status']} ({cand['reason']})")
        if looks:
            # Older records have no decided_at: their window ended SETTLED_S before the look.
            decided = looks[0].get("decided_at") or looks[0]["at"] + SETTLED_S
            print(f"  fail-fast look {looks[0]['look']} of {looks[0]['of']}: FAIL {decided - fault_t0:.1f} s after the "
                  f"fault phase started ({decided - injected:.1f} s after rc1 was deployed); "
                  f"the declared fault phase is {result['phases']['fault'][1] - fault_t0:.1f} s as run, 25 s declared")
        else:
            print("  no fail-fast look fired; the verdict came at the end")
        if looks:
            _against_the_data(next((out / "gates").glob("*")), looks[0])


def _against_the_data(gate_dir: Path, look: dict) -> None:
    """When the degradation appears in the candidate's windows, and what a look costs in CPU."""
    from chaos.gate.policy import load_policy
    from chaos.gate.verdict import GateRecord, StoredRun, _sli, compare_criterion, pool_runs
    from chaos.measure.sli import evaluate

    record = GateRecord.model_validate_json((gate_dir / "gate.json").read_text())
    policy = load_policy(POLICY, candidate=record.candidate, baseline=record.baseline, only=[look["experiment"]])
    p = policy.experiments[0]
    crit = next(c for c in policy.spec.criteria if c.name == look["criterion"])
    runs = [StoredRun(gr) for gr in record.runs if gr.experiment == p.name]
    base = [r for r in runs if r.gr.side == "baseline"]
    cand = [r for r in runs if r.gr.side == "candidate"]
    surface, sli = _sli(crit, p)
    source = sli.source or surface.services[0]
    res = cand[0].usable
    t0, t1 = res.phases["fault"]
    b0, b1 = base[0].usable.phases["baseline"]
    level = evaluate(base[0].timeline, sli, source, b0, b1).value
    assert crit.vs_baseline is not None and level is not None
    allowed = max(crit.vs_baseline.allowed * abs(level), crit.vs_baseline.floor)
    first = None
    for k in range(int(t1 - t0)):
        w = evaluate(cand[0].timeline, sli, source, t0 + k, t0 + k + 1).value
        worse = None if w is None else (level - w if sli.better == "higher" else w - level)
        if worse is not None and worse > allowed:
            first = t0 + k + 1  # the window's end: the first moment the data holds it
            break
    decided = look.get("decided_at") or look["at"] + SETTLED_S
    if first is None:
        print(f"  no 1-s window of the fault phase was worse than the allowed {allowed:g} on its own")
    else:
        print(f"  the degradation is in the data from {first - t0:.0f} s into the fault phase (the first 1-s window "
              f"worse than the baseline's {level:.3g} by more than the allowed {allowed:.3g}); FAIL "
              f"{decided - first:.1f} s after it, judged on the data up to {look['at'] - first:+.1f} s from it "
              "(a look judges the data every read of which is in)")
    from chaos.measure.stats import load_libraries

    c0 = time.process_time()
    load_libraries()  # as the gate does before a candidate run that fail-fast watches
    imports = time.process_time() - c0
    cpu = []
    pooled = pool_runs(base, crit, p, policy.spec.window)  # as the gate's watcher: once per candidate run
    for k in range(3, int(look["at"] - t0) + 1):
        c0 = time.process_time()
        compare_criterion(policy, crit, p, base, cand, look.get("alpha") or 0.001, 0, (cand[0].gr.run_dir, t0 + k),
                          pooled)
        cpu.append(time.process_time() - c0)
    if cpu:
        ordered = sorted(cpu)
        median = ordered[len(ordered) // 2]
        print(f"  one look at {crit.name!r} costs {1000 * median:.1f} ms of CPU (median of {len(cpu)} replayed looks, "
              f"max {1000 * ordered[-1]:.1f}): {100 * median / policy.spec.look_every:.1f} % of one core at a look "
              f"every {policy.spec.look_every:g} s, after {1000 * imports:.0f} ms once for the statistics libraries "
              "(loaded before the candidate's run starts)")


if __name__ == "__main__":
    main()
