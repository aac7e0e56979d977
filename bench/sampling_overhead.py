"""chaosgate's own CPU while sampling every source at 1 Hz on the run stack under load, as a
share of one core, side by side with the stack's and locust's. Figures, not pass/fail.

    .venv/bin/python bench/sampling_overhead.py [--seconds 30] [--users 10] [--interval 1] [--backend docker]

With --backend docker the stack runs in containers and its CPU is read from the engine; the
container sources are streamed, and the script also times what the naive alternative costs:
one blocking `stats(stream=False)` call per container per tick.
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

from chaos import backends  # noqa: E402
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


def container_cpu(state) -> float:
    """CPU seconds of every container of the stack (one-shot readings: no 2 s wait)."""
    from chaos.components import containers

    client = containers.connect()
    total = 0.0
    for c in containers.labelled(client, state.run_dir):
        stats = client.api.stats(c.id, stream=False, one_shot=True)
        total += stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage", 0) / 1e9
    return total


def blocking_stats_s(state, rounds: int = 3) -> tuple[int, float]:
    """(containers, seconds one tick would take) reading each with a blocking stats(stream=False)."""
    from chaos.components import containers

    client = containers.connect()
    found = containers.labelled(client, state.run_dir)
    start = time.monotonic()
    for _ in range(rounds):
        for c in found:
            c.stats(stream=False)
    return len(found), (time.monotonic() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--backend", choices=["local", "docker"], default="local")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="chaosgate-bench-"))
    stack = load_stack(ROOT / "docker-compose.yml", {"RUNSTACK_TIME_SCALE": "0.25"}, use_environ=False)
    backend = backends.get(args.backend)
    state = backend.up(stack, run_dir)
    try:
        if args.backend == "docker":
            stack_cpu = lambda: container_cpu(state)  # noqa: E731
        else:
            pgids = [s.process.pid for s in state.services.values() if s.process] + [state.toxiproxy.pid]
            stack_cpu = lambda: group_cpu(pgids)  # noqa: E731
        load = LoadRunner(ROOT / "experiments/load/runstack_tenants.py",
                          f"http://127.0.0.1:{state.services['scheduler'].port}", args.users, 10,
                          args.seconds + 30, run_dir / "load")
        load.start()
        time.sleep(5)  # let users spawn
        sources = sources_for(state.services) + [load.source()]
        sampler = Sampler(sources, Timeline(run_dir), args.interval)
        load_pgids = [p.pid for p in load.processes]
        own0, stack0, load0, wall0 = time.process_time(), stack_cpu(), group_cpu(load_pgids), time.monotonic()
        sampler.start()
        time.sleep(args.seconds)
        sampler.close()
        wall = time.monotonic() - wall0
        own, stk, ld = time.process_time() - own0, stack_cpu() - stack0, group_cpu(load_pgids) - load0
        load.stop()
        missing = sum(sampler.timeline.missing_count(src.name, 0, time.time() + 1) for src in sources)
        print(f"{args.backend} backend: {len(sources)} sources sampled every {args.interval:g}s for {wall:.1f}s "
              f"({sampler.ticks} ticks, {missing} missing reads), {args.users} locust users")
        print(f"{'process':28} {'CPU s':>8} {'share of one core':>18}")
        for name, cpu in (("chaosgate sampler", own), ("run stack (all services)", stk), ("locust", ld)):
            print(f"{name:28} {cpu:8.2f} {100 * cpu / wall:17.1f}%")
        if args.backend == "docker":
            n, tick_s = blocking_stats_s(state)
            print(f"the naive alternative: one blocking stats(stream=False) per container = {tick_s:.1f} s "
                  f"per tick for {n} containers ({tick_s / n:.2f} s each), against a {args.interval:g} s tick")
    finally:
        backend.down(state)


if __name__ == "__main__":
    main()
