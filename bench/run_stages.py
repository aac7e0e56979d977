"""Where a `chaosgate run` spends its time outside the declared phases, stage by stage (wall clock,
no profiler, so the figures are what a user waits for). The same experiment as bench/ctk_compare.py:
100 ms on front->echo of the mini stack, 1 s baseline and 5 s fault, `--attach`ed to a running stack.

Each run is a fresh process that wraps the engine's stage functions with timers before calling the
CLI; Python's own start is measured apart (`python -c pass`). Prints medians; asserts nothing.

    .venv/bin/python bench/run_stages.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ctk_compare import COMMAND_S, MINI, chaosgate, chaosgate_experiment, mini_stack_up  # noqa: E402

#: (module, class or None, function): the boundaries of a run's stages.
WRAPPED = [("chaos.spec.experiment", None, "load_experiment"), ("chaos.cli.main", None, "_attach"),
           ("chaos.run.engine", "Engine", "run"), ("chaos.run.engine", None, "reconcile_all"),
           ("chaos.run.engine", "Engine", "_execute"), ("chaos.report", None, "render_run"),
           ("chaos.report", None, "render_index")]
#: Stage name: (from mark, to mark).
STAGES = {
    "imports (the run's modules)": ("start", "imported"),
    "load and check the experiment": ("> load_experiment", "< load_experiment"),
    "attach: the stack checked clean": ("> _attach", "< _attach"),
    "engine set-up": ("< _attach", "> Engine.run"),
    "reconcile earlier runs, sweep orphans": ("> reconcile_all", "< reconcile_all"),
    "run directory, plan, journal, timeline": ("< reconcile_all", "> Engine._execute"),
    "phases beyond their declared 6 s": ("> Engine._execute", "< Engine._execute"),
    "rollback check, result": ("< Engine._execute", "< Engine.run"),
    "run report": ("> render_run", "< render_run"),
    "reports index": ("> render_index", "< render_index"),
    "summary, exit": ("< render_index", "end"),
}
CHILD = """
import functools, importlib, json, sys, time
t0 = time.perf_counter()
marks = {"start": 0.0}
def mark(name):
    marks[name] = time.perf_counter() - t0
from chaos import cli
for modname, owner, attr in %r:
    target = importlib.import_module(modname)
    target = getattr(target, owner) if owner else target
    fn = getattr(target, attr)
    label = (owner + "." if owner else "") + attr
    def wrapper(*a, __fn=fn, __label=label, **k):
        mark("> " + __label)
        try:
            return __fn(*a, **k)
        finally:
            mark("< " + __label)
    setattr(target, attr, functools.wraps(fn)(wrapper))
import chaos.cli.live, chaos.cli.summary, chaos.components.containers
mark("imported")
sys.argv = ["chaosgate", *sys.argv[1:]]
try:
    cli.main()
except SystemExit:
    pass
mark("end")
print("STAGES " + json.dumps(marks))
"""


def one_run(exp: Path, out: Path) -> dict[str, float]:
    """Stage durations (seconds) of one `run --attach` in a fresh process."""
    res = subprocess.run([sys.executable, "-c", CHILD % (WRAPPED,), "run", str(exp), "--attach", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=COMMAND_S)
    line = next((x for x in res.stdout.splitlines() if x.startswith("STAGES ")), None)
    if line is None:
        raise SystemExit(f"the run printed no stages:\n{res.stderr[-2000:]}")
    marks = json.loads(line[7:])
    stages = {name: marks[b] - marks[a] for name, (a, b) in STAGES.items()}
    stages["phases beyond their declared 6 s"] -= 6.0
    stages["total: first import to exit, beyond the phases"] = marks["end"] - 6.0
    return stages


def python_start(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder, out = mini_stack_up("chaosgate-stages-")
    try:
        exp = chaosgate_experiment(folder)
        runs = [one_run(exp, out) for _ in range(args.repeats)]
    finally:
        chaosgate("stack", "down", "-f", str(MINI), "--out", str(out))
    print(f"`chaosgate run --attach` on the mini stack, median of {args.repeats} (ms, wall clock):")
    print(f"  {'python start (python -c pass)':42} {python_start(args.repeats) * 1000:7.0f}")
    for name in runs[0]:
        print(f"  {name:42} {statistics.median(r[name] for r in runs) * 1000:7.0f}")


if __name__ == "__main__":
    main()
