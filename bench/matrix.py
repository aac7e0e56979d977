"""A matrix's cost: how its cells grow with the stack, and its wall time against the sum of its
declared windows. Prints figures; asserts nothing.

- `--part plan`: generated chains of 5, 10, 20 and 40 services (bench/growth.py's stacks: n - 1
  links): cells, declared minutes, and the time to choose, write and check every cell's experiment.
- `--part growth`: the same chains, really run: three cells each (hang and down of the first link,
  kill of the last service) under a load that relays down the whole chain, so what grows with the
  stack (its start, the reset check between cells, the sampler) shows in the wall time per cell.
- `--part run`: a matrix of the mini stack (tests/stacks/mini) under load, `--cells` as given:
  wall time, declared phases, and the overhead per cell (stack start, reset checks, load start).
- `--part engines`: the same mini-stack matrix on the docker backend, on one engine and then
  sharded over two (this machine's, and a second dockerd from scripts/second-engine, started if
  need be): wall time side by side, and whether they agree cell for cell.
- `--part runstack`: the run stack's hang cells (14 links) under the incident experiments' load:
  wall time and the matrix's findings. About 17 minutes.

    .venv/bin/python bench/matrix.py [--part plan|growth|run|engines|runstack|all] [--cells PATTERN ...] [--keep DIR]
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
sys.path.insert(0, str(ROOT / "bench"))

from growth import write_stack  # noqa: E402 - bench/ is not a package

from chaos.matrix.cells import KINDS  # noqa: E402
from chaos.matrix.runner import prepare, write_cells  # noqa: E402

MINI = ROOT / "tests" / "stacks" / "mini"
#: Bound on one matrix of the bench.
MATRIX_S = 3600


def chain(folder: Path, n: int, surfaces: str) -> Path:
    """bench/growth.py's chain of n services in `folder`, with `surfaces` as its surface set 'chain'."""
    write_stack(folder, n)
    (folder / "surfaces").mkdir()
    (folder / "surfaces" / "chain.yaml").write_text(surfaces)
    return folder / "docker-compose.yml"


def plan(sizes: list[int]) -> None:
    print(f"{'services':>8} {'links':>6} {'cells':>6} {'declared min':>13} {'prepare+check s':>16}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            compose = chain(folder, n, "s0:\n  services: [s0]\n  slis:\n    calls: {kind: ratio, good: "
                            "'app_calls_total{outcome=\"ok\"}', total: app_calls_total}\n")
            t0 = time.perf_counter()
            p = prepare(compose, "chain", kinds=list(KINDS), patterns=[])
            write_cells(p, folder / "cells")
            spent = time.perf_counter() - t0
            print(f"{n:8} {n - 1:6} {len(p.cells):6} {len(p.cells) * p.settings.cell_s() / 60:13.1f} {spent:16.2f}")


def growth(sizes: list[int], keep: str | None) -> None:
    """Each chain's three cells run for real: wall time against the declared phases, per size."""
    print(f"{'services':>8} {'links':>6} {'cells':>6} {'declared s':>11} {'wall s':>7} {'beyond, a cell s':>17}  entries")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            compose = chain(Path(tmp), n, "".join(
                f"s{i}:\n  services: [s{i}]\n  slis:\n    processes: {{kind: gauge, source: 's{i}:process', "
                "metric: process_count, agg: min, better: higher}\n" for i in range(n))
                + "calls:\n  services: [s0]\n  slis:\n    failures: {kind: ratio, source: load, "
                "good: 'locust_failures_total{name=\"call\"}', total: 'locust_requests_total{name=\"call\"}', "
                "better: lower, "
                "tolerance: 0.05}\n")
            cells = ["hang:s0->s1", "down:s0->s1", f"kill:s{n - 1}"]
            wall, m = matrix(["-f", str(compose), "--surfaces", "chain", "--load",
                              str(ROOT / "bench" / "growth_load.py"), "--target", "s0", "--users", "4",
                              "--window", "6s", "--baseline", "4s", "--recovery", "6s",
                              *[a for c in cells for a in ("--cells", c)]], keep and f"{keep}/growth{n}")
            s = m["settings"]
            declared = (s["warmup_s"] + s["baseline_s"] + s["window_s"] + s["recovery_s"]) * len(m["cells"])
            calls = {c["cell"]["id"]: next((e["status"] for e in c["entries"] if e["surface"] == "calls"), "?")
                     for c in m["cells"]}
            print(f"{n:8} {n - 1:6} {len(m['cells']):6} {declared:11.0f} {wall:7.0f} "
                  f"{(wall - declared) / max(1, len(m['cells'])):17.1f}  "
                  + ", ".join(f"{k} calls {v}" for k, v in calls.items()), flush=True)


def matrix(args: list[str], keep: str | None) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = keep or scratch
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "chaos", "matrix", *args, "--out", tmp], cwd=ROOT,
                           capture_output=True, text=True, timeout=MATRIX_S, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        found = sorted(Path(tmp).glob("matrices/*/matrix.json"))
        if not found:
            raise SystemExit(f"no matrix was written (exit {r.returncode}): {r.stderr[-2000:]}")
        return wall, json.loads(found[-1].read_text())


def show(label: str, wall: float, m: dict) -> None:
    s = m["settings"]
    cell_s = s["warmup_s"] + s["baseline_s"] + s["window_s"] + s["recovery_s"]
    # Sharded, the declared time is the longest share's: the shares run at the same time.
    longest = max((len(x["cells"]) for x in m.get("shards") or []), default=len(m["cells"]))
    declared = cell_s * longest
    print(f"{label}: {len(m['cells'])} cells, wall {wall:.0f} s for {declared:.0f} s of declared phases "
          f"({(wall - declared) / max(1, longest):.1f} s a cell beyond them"
          + (f", {longest} cells in the longest of {len(m['shards'])} shares)" if m.get("shards") else ")"))
    for c in m["cells"]:
        entries = ", ".join(f"{e['surface']} {e['status']}" for e in c["entries"])
        print(f"  {c['cell']['id']:40} landed {c['landed']!s:5} {entries}")
        if c.get("calls"):
            print(f"  {'':40} {c['calls']['finding']}")


def engines(cells: list[str], keep: str | None) -> None:
    """One engine against two, the same cells: the wall time sharding saves, and the agreement."""
    start = subprocess.run(["bash", str(ROOT / "scripts" / "second-engine"), "start"], capture_output=True, text=True,
                           timeout=900, stdin=subprocess.DEVNULL)
    if start.returncode != 0:
        raise SystemExit(f"no second engine: {start.stderr[-2000:]}")
    second = start.stdout.strip().splitlines()[-1]
    common = ["-f", str(MINI / "docker-compose.yml"), "--backend", "docker", "--surfaces", "mini-matrix", "--load",
              str(MINI / "matrix_load.py"), "--target", "front", "--users", "5", "--set", "FRONT_ECHO_TIMEOUT_S=1",
              "--window", "12s", "--baseline", "6s", "--recovery", "6s", *[a for c in cells for a in ("--cells", c)]]
    one_wall, one = matrix(common, keep and f"{keep}/one")
    two_wall, two = matrix([*common, "--engines", f"local,{second}"], keep and f"{keep}/two")
    show("one engine", one_wall, one)
    show(f"two engines (local, {second})", two_wall, two)
    print(f"sharding: {one_wall:.0f} s on one engine, {two_wall:.0f} s on two ({one_wall / two_wall:.2f}x)")
    for x, y in zip(one["cells"], two["cells"]):
        a = {e["surface"]: e["status"] for e in x["entries"]}
        b = {e["surface"]: e["status"] for e in y["entries"]}
        print(f"  {x['cell']['id']:40} {'same' if a == b else f'{a} vs {b}'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "plan", "growth", "run", "engines", "runstack"], default="plan")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--cells", action="append", help="cells of the mini matrix (default: front->echo's three "
                                                         "and pause:echo)")
    parser.add_argument("--keep", metavar="DIR", help="write the matrices and their runs here (default: a temporary "
                                                      "folder, removed); its report.html is the heat map")
    args = parser.parse_args()
    if args.part in ("all", "plan"):
        plan(args.sizes)
    if args.part in ("all", "growth"):
        growth(args.sizes, args.keep)
    if args.part in ("all", "run"):
        cells = args.cells or ["*:front->echo", "pause:echo"]
        wall, m = matrix(["-f", str(MINI / "docker-compose.yml"), "--surfaces", "mini-matrix", "--load",
                          str(MINI / "matrix_load.py"), "--target", "front", "--users", "5",
                          "--set", "FRONT_ECHO_TIMEOUT_S=none", "--window", "12s", "--baseline", "6s",
                          "--recovery", "6s", *[a for c in cells for a in ("--cells", c)]], args.keep)
        show("mini stack, front with no timeout on echo", wall, m)
    if args.part in ("all", "engines"):
        engines(args.cells or ["*:front->echo", "kill:echo"], args.keep)
    if args.part in ("all", "runstack"):
        wall, m = matrix(["--surfaces", "runstack-default", "--load", str(ROOT / "experiments/load/runstack_tenants.py"),
                          "--target", "scheduler", "--users", "14", "--load-env", "ENGINEERS=6",
                          "--set", "RUNSTACK_TIME_SCALE=0.25", "--set", "STUDIO_SESSION_MIN=0.1", "--cells", "hang:*"], args.keep)
        show("run stack, hang cells", wall, m)


if __name__ == "__main__":
    main()
