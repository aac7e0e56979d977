"""chaosgate's own CPU while sampling every source at 1 Hz on the run stack under load, as a
share of one core, side by side with the stack's and locust's. Figures, not pass/fail.

    .venv/bin/python bench/sampling_overhead.py [--seconds 30] [--users 10] [--interval 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos.backends.local import LocalBackend  # noqa: E402
from chaos.load.runner import LoadRunner  # noqa: E402
from chaos.metrics.sampler import Sampler  # noqa: E402
from chaos.metrics.sources import sources_for  # noqa: E402
from chaos.metrics.timeline import Timeline  # noqa: E402
from chaos.stack import load_stack  # noqa: E402


def group_cpu(pgids: list[int]) -> float:
    """User+system CPU seconds of every live process in these process groups."""
    total = 0.0
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(p.pid) in pgids:
                t = p.cpu_times()
                total += t.user + t.system
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="chaosgate-bench-"))
    stack = load_stack(ROOT / "docker-compose.yml", {"RUNSTACK_TIME_SCALE": "0.25"}, use_environ=False)
    backend = LocalBackend()
    state = backend.up(stack, run_dir)
    try:
        stack_pgids = [s.process.pid for s in state.services.values() if s.process] + [state.toxiproxy.pid]
        load = LoadRunner(ROOT / "experiments/load/runstack_tenants.py",
                          f"http://127.0.0.1:{state.services['scheduler'].port}", args.users, 10,
                          args.seconds + 30, run_dir / "load")
        load.start()
        time.sleep(5)  # let users spawn
        sources = sources_for(state.services) + [load.source()]
        sampler = Sampler(sources, Timeline(run_dir), args.interval)
        load_pgids = [p.pid for p in load.processes]
        own0, stack0, load0, wall0 = time.process_time(), group_cpu(stack_pgids), group_cpu(load_pgids), time.monotonic()
        sampler.start()
        time.sleep(args.seconds)
        sampler.close()
        wall = time.monotonic() - wall0
        own, stk, ld = time.process_time() - own0, group_cpu(stack_pgids) - stack0, group_cpu(load_pgids) - load0
        load.stop()
        print(f"{len(sources)} sources sampled every {args.interval:g}s for {wall:.1f}s ({sampler.ticks} ticks), "
              f"{args.users} locust users")
        print(f"{'process':28} {'CPU s':>8} {'share of one core':>18}")
        for name, cpu in (("chaosgate sampler", own), ("run stack (all services)", stk), ("locust", ld)):
            print(f"{name:28} {cpu:8.2f} {100 * cpu / wall:17.1f}%")
    finally:
        backend.down(state)


if __name__ == "__main__":
    main()
