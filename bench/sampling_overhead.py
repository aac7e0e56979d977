"""chaosgate's own CPU while sampling every source at 1 Hz on the run stack under load, as a
share of one core, side by side with the stack's and locust's — twice in one run: storing every
metric the endpoints expose, then only what the run stack's surfaces' SLIs read (what a run
does). --profile prints where a read's time goes. Figures, not pass/fail.

    .venv/bin/python bench/sampling_overhead.py [--seconds 30] [--users 10] [--interval 1] [--backend docker] [--profile]

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
from chaos.measure.metrics.sampler import Sampler  # noqa: E402
from chaos.measure.metrics.sources import sources_for  # noqa: E402
from chaos.measure.metrics.timeline import Timeline  # noqa: E402
from chaos.spec.surfaces import Surface, wanted_metrics  # noqa: E402
from chaos.stack import load_stack  # noqa: E402
from chaos.util.yamlsource import load_yaml  # noqa: E402

SURFACES = ROOT / "experiments" / "surfaces" / "runstack-default.yaml"


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


def profile(label: str, sources, timeline: Timeline, reads: int = 20) -> None:
    """Where the time of `reads` reads of every source (and storing them) goes, top functions."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(reads):
        for src in sources:
            try:
                timeline.add(src.read(time.time()))
            except Exception:  # noqa: BLE001 - a bench: a failed read is just not profiled
                pass
    prof.disable()
    print(f"--- profile, {label}: {reads} reads of {len(sources)} sources ---")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(14)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--backend", choices=["local", "docker"], default="local")
    parser.add_argument("--profile", action="store_true", help="profile 20 reads of every source, each way")
    args = parser.parse_args()
    surfaces = {k: Surface.model_validate(v) for k, v in load_yaml(SURFACES).data.items()}
    modes = [("every metric", None), ("SLIs' metrics only", wanted_metrics(surfaces))]
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
        load_pgids = [p.pid for p in load.processes]
        rows = []
        for label, wanted in modes:
            sources = sources_for(state.services, wanted) + [load.source()]
            (run_dir / label.split()[0]).mkdir(exist_ok=True)
            timeline = Timeline(run_dir / label.split()[0])
            if args.profile:
                profile(label, sources, timeline)
            sampler = Sampler(sources, timeline, args.interval)
            own0, stack0, load0, wall0 = time.process_time(), stack_cpu(), group_cpu(load_pgids), time.monotonic()
            sampler.start()
            time.sleep(args.seconds)
            sampler.close()
            wall = time.monotonic() - wall0
            own, stk, ld = time.process_time() - own0, stack_cpu() - stack0, group_cpu(load_pgids) - load0
            missing = sum(timeline.missing_count(src.name, 0, time.time() + 1) for src in sources)
            rows.append((label, len(sources), sampler.ticks, missing, wall, own, stk, ld, timeline.count()))
        load.stop()
        print(f"{args.backend} backend, sampled every {args.interval:g}s, {args.users} locust users, "
              f"{args.seconds:g}s each way, one after the other in one run")
        print(f"{'stored':20} {'sources':>7} {'ticks':>5} {'missing':>7} {'rows/tick':>9} "
              f"{'sampler %core':>13} {'stack %core':>11} {'locust %core':>12}")
        for label, n, ticks, missing, wall, own, stk, ld, count in rows:
            print(f"{label:20} {n:7d} {ticks:5d} {missing:7d} {count / max(ticks, 1):9.0f} "
                  f"{100 * own / wall:12.1f}% {100 * stk / wall:10.1f}% {100 * ld / wall:11.1f}%")
        if args.backend == "docker":
            n, tick_s = blocking_stats_s(state)
            print(f"the naive alternative: one blocking stats(stream=False) per container = {tick_s:.1f} s "
                  f"per tick for {n} containers ({tick_s / n:.2f} s each), against a {args.interval:g} s tick")
    finally:
        backend.down(state)


if __name__ == "__main__":
    main()
