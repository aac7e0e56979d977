"""A/A gates of the shipped policy on the run stack, and the subtle release's detection rate.

Part `aa`: N gates of gates/pre-promotion.yaml whose candidate is the baseline itself
(TELEMETRY_RELEASE=1.4.2 on both sides): every FAIL is a false block. Prints, per criterion, the
FAILs, INCONCLUSIVEs and PASSes out of N, and the time each gate took. A whole-policy gate is about
nine minutes: use --only for long batteries.

Part `subtle`: gates of 1.5.0-rc3 (a hang for a share of projects only) at each share given, and
how many of them blocked (FAIL), could not tell (INCONCLUSIVE) or passed — a PASS is a miss — with
the stuck runs' climb the trend criterion saw. Prints figures; asserts nothing.

    .venv/bin/python bench/aa.py [--part aa|subtle|all] [--gates N] [--only NAME] [--shares 0.02,0.05]
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "gates" / "pre-promotion.yaml"
STUCK = "held slots do not accumulate"


def gate(out: Path, *args: str) -> tuple[float, dict | None, str]:
    """One gate in its own output directory: its wall time, verdict.json, and stderr's tail."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "chaos", "gate", str(POLICY), "--out", str(out), *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL)
    found = sorted((out / "gates").glob("*/verdict.json"))
    verdict = json.loads(found[-1].read_text()) if found else None
    return time.perf_counter() - t0, verdict, res.stderr[-500:]


def aa(args: argparse.Namespace, tmp: Path) -> None:
    """N A/A gates: per criterion, verdicts out of N."""
    tally: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    walls = []
    for i in range(args.gates):
        wall, v, err = gate(tmp / f"aa{i}", "--only", args.only, "--candidate", "TELEMETRY_RELEASE=1.4.2",
                            "--seed", str(i))
        walls.append(wall)
        if v is None:
            print(f"gate {i + 1}: no verdict ({err.strip()})", flush=True)
            continue
        for c in v["criteria"]:
            tally[f"{c['criterion']} [{c['experiment']}]"][c["verdict"]] += 1
        trends = "; ".join(f"{c['criterion']}: {c['effect']:.2f} [{c['low']:.2f}, {c['high']:.2f}] against "
                           f"{c['allowed']:g}" for c in v["criteria"] if c["kind"] == "trend" and c["effect"] is not None)
        print(f"gate {i + 1} of {args.gates}: {v['verdict']} in {wall:.0f} s" + (f" ({trends})" if trends else ""),
              flush=True)
        for reason in v["reasons"] if v["verdict"] != "PASS" else []:
            print(f"    {reason[:300]}", flush=True)
    print(f"\n{'criterion [experiment]':70} {'FAIL':>5} {'INCONCL':>8} {'WARN':>5} {'PASS':>5} {'of':>4}")
    for name, counts in sorted(tally.items()):
        print(f"{name:70} {counts['FAIL']:>5} {counts['INCONCLUSIVE']:>8} {counts['WARN']:>5} {counts['PASS']:>5} "
              f"{sum(counts.values()):>4}")
    if walls:
        print(f"\ntime per gate: {sum(walls) / len(walls):.0f} s (min {min(walls):.0f}, max {max(walls):.0f})")


def subtle(args: argparse.Namespace, tmp: Path) -> None:
    """1.5.0-rc3 at each share of affected projects: blocked, unknown or passed."""
    print(f"{'share':>6} {'gate':>5} {'verdict':>13} {'stuck climb /min [interval]':>32} {'runs worse by':>14} {'s':>5}")
    for share in [float(s) for s in args.shares.split(",")]:
        outcomes: collections.Counter[str] = collections.Counter()
        for i in range(args.gates):
            wall, v, err = gate(tmp / f"rc3-{share}-{i}", "--only", "telemetry-release-hang", "--candidate",
                                "TELEMETRY_RELEASE=1.5.0-rc3", "--set", f"TELEMETRY_RC3_SHARE={share}", "--seed", str(i))
            if v is None:
                print(f"{share:>6g} {i + 1:>5} no verdict: {err.strip()}", flush=True)
                continue
            outcomes[v["verdict"]] += 1
            crit = {c["criterion"]: c for c in v["criteria"]}
            st, runs = crit.get(STUCK, {}), crit.get("runs stay healthy", {})
            climb = (f"{st['effect']:.2f} [{st['low']:.2f}, {st['high']:.2f}]" if st.get("effect") is not None
                     else st.get("verdict", "-"))
            worse = f"{runs['effect']:.3f}" if runs.get("effect") is not None else runs.get("verdict", "-")
            print(f"{share:>6g} {i + 1:>5} {v['verdict']:>13} {climb:>32} {worse:>14} {wall:>5.0f}", flush=True)
        print(f"{share:>6g}   all: " + ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items()))
              + f" of {sum(outcomes.values())} (a PASS is a miss)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["aa", "subtle", "all"], default="all")
    ap.add_argument("--gates", type=int, default=3, help="gates per battery (default 3)")
    ap.add_argument("--only", default="*", help="the A/A battery's experiments (a glob; default: the whole policy)")
    ap.add_argument("--shares", default="0.02,0.05", help="rc3's shares of affected projects, comma-separated")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("aa", "all"):
            aa(args, Path(tmp))
        if args.part in ("subtle", "all"):
            subtle(args, Path(tmp))


if __name__ == "__main__":
    main()
