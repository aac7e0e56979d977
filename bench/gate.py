"""A gate's cost: wall time against the sum of its declared phase windows, with and without stack
reuse, and how fast fail-fast blocks the bad release (seconds from the candidate's fault phase
start to the FAIL). Prints figures; asserts nothing.

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
            # The look's window ends SETTLED_S before the moment it was taken: add it back.
            decided = looks[0]["at"] + SETTLED_S
            print(f"  fail-fast look {looks[0]['look']} of {looks[0]['of']}: FAIL {decided - fault_t0:.1f} s after the "
                  f"fault phase started ({decided - injected:.1f} s after rc1 was deployed); "
                  f"the declared fault phase is {result['phases']['fault'][1] - fault_t0:.1f} s as run, 25 s declared")
        else:
            print("  no fail-fast look fired; the verdict came at the end")


if __name__ == "__main__":
    main()
