"""chaosgate's start-up: wall time of quick commands (median and max of N), for comparison with
Chaos Toolkit's `chaos --version` (0.29 s measured on a machine of this kind, see ANCHORS.md).

    .venv/bin/python bench/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "chaosgate --version": ["--version"],
    "chaosgate --help": ["--help"],
    "chaosgate validate (1 file)": ["validate", "experiments/incident-2026-02/telemetry-release-hang.yaml"],
    "chaosgate run --dry-run": ["run", "--dry-run", "experiments/incident-2026-02/telemetry-release-hang.yaml"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    # As a wheel install leaves it (pip compiles to bytecode); see bench/ctk_compare.py.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "chaos")], check=True, timeout=120)
    print(f"{'command':32} {'median s':>9} {'max s':>7}   (n={args.repeats})")
    for name, argv in COMMANDS.items():
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "chaos", *argv], cwd=ROOT, capture_output=True, timeout=60, check=True)
            times.append(time.perf_counter() - t0)
        print(f"{name:32} {statistics.median(times):9.3f} {max(times):7.3f}")


if __name__ == "__main__":
    main()
