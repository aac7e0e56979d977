"""How chaosgate's costs grow with the stack: generated stacks of 5, 10, 20 and 40 services (the
small app in bench/growth_app.py, each linked to the next through toxiproxy; local backend).

For each size: stack boot and teardown wall time; the sampler's CPU per tick, reading what the
surfaces' SLIs need (each service's metrics page and process group); chaosgate's memory while
sampling; and the wall time of an A/A gate (one experiment, 2 s baseline and 3 s of latency on
the first link, for both sides, stack reused) beyond its declared phases, with its peak memory.
Then the growth exponent of each figure: the slope of log(cost) on log(size) — 1 is linear.

    .venv/bin/python bench/growth.py [--sizes 5 10 20 40] [--sample-seconds 15]
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos import backends  # noqa: E402
from chaos.measure.metrics.sampler import Sampler  # noqa: E402
from chaos.measure.metrics.sources import sources_for  # noqa: E402
from chaos.measure.metrics.timeline import Timeline  # noqa: E402
from chaos.spec.experiment import load_experiment  # noqa: E402
from chaos.spec.surfaces import wanted_metrics  # noqa: E402

APP = ROOT / "bench" / "growth_app.py"
#: Bound on one gate of the bench.
GATE_S = 900


def write_stack(folder: Path, n: int) -> Path:
    """A compose file of n services in a chain, an experiment and an A/A policy on it."""
    lines = [f"name: growth{n}", "services:"]
    for i in range(n):
        lines += [f"  s{i}:", "    image: chaosgate/test-mini", '    ports: ["8000"]', "    x-chaosgate:",
                  f"      local: [{sys.executable}, {APP}]", "      health: {http: /healthz}"]
        if i + 1 < n:
            lines += ["      links:", f"        - {{to: s{i + 1}, env: NEXT_ADDR}}"]
    (folder / "docker-compose.yml").write_text("\n".join(lines) + "\n")
    surfaces = ["surfaces:"]
    for i in range(n):
        surfaces += [f"  s{i}:", f"    services: [s{i}]", "    slis:",
                     "      calls: {kind: ratio, good: 'app_calls_total{outcome=\"ok\"}', total: app_calls_total}",
                     "      latency_p95_s: {kind: quantile, histogram: app_latency_seconds, q: 0.95}",
                     f"      processes: {{kind: gauge, source: 's{i}:process', metric: process_count, agg: min, "
                     "better: higher}"]
    (folder / "experiment.yaml").write_text("\n".join([
        f"name: growth{n}", "stack: docker-compose.yml", "phases: {baseline: 2s, fault: 3s}", "deadline: 5m",
        "faults:", "  - {type: network.latency, link: s0 -> s1, latency_ms: 50}", *surfaces,
        "expected_radius: [s0]"]) + "\n")
    (folder / "policy.yaml").write_text("\n".join([
        f"name: growth{n}", "experiments: [experiment.yaml]", "criteria:",
        "  - {name: s0 alive, sli: s0.processes, bound: {min: 1}}"]) + "\n")
    return folder / "experiment.yaml"


def peak_rss_mb(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """Run a command; its wall time, its peak resident memory (MiB, polled) and exit code."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    ps = psutil.Process(proc.pid)
    deadline = time.monotonic() + GATE_S
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
    return time.monotonic() - t0, peak / 2**20, proc.wait(timeout=30)


def measure(n: int, sample_s: float) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"chaosgate-growth{n}-"))
    exp = load_experiment(write_stack(folder, n))
    backend = backends.get("local")
    t0 = time.monotonic()
    state = backend.up(exp.stack, folder / "stack")
    boot = time.monotonic() - t0
    try:
        sources = sources_for(state.services, wanted_metrics(exp.surfaces))
        sampler = Sampler(sources, Timeline(folder / "stack"), 1.0)
        cpu0 = time.process_time()
        sampler.start()
        time.sleep(sample_s)
        sampler.close()
        per_tick = (time.process_time() - cpu0) / max(sampler.ticks, 1)
        rss = psutil.Process().memory_info().rss / 2**20
    finally:
        t0 = time.monotonic()
        backend.down(state)
        teardown = time.monotonic() - t0
    wall, gate_rss, code = peak_rss_mb([sys.executable, "-m", "chaos", "gate", str(folder / "policy.yaml"),
                                        "--out", str(folder / "reports")], ROOT)
    return {"services": n, "boot_s": boot, "teardown_s": teardown, "sampler_ms_per_tick": per_tick * 1000,
            "sampler_rss_mib": rss, "gate_beyond_s": wall - 2 * 5.0, "gate_peak_mib": gate_rss, "gate_exit": code,
            "sources": len(sources)}


def exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) on log(x)."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--sample-seconds", type=float, default=15.0)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        print(f"[growth] {n} services …", flush=True)
        rows.append(measure(n, args.sample_seconds))
    cols = [("boot_s", "boot s", "{:.1f}"), ("teardown_s", "down s", "{:.1f}"),
            ("sampler_ms_per_tick", "sampler ms/tick", "{:.1f}"), ("sampler_rss_mib", "bench RSS MiB", "{:.0f}"),
            ("gate_beyond_s", "gate beyond phases s", "{:.1f}"), ("gate_peak_mib", "gate peak MiB", "{:.0f}")]
    print(f"\n{'services':>8} {'sources':>7} " + " ".join(f"{title:>20}" for _, title, _ in cols) + "  gate exit")
    for r in rows:
        print(f"{r['services']:8d} {r['sources']:7d} " + " ".join(f"{fmt.format(r[k]):>20}" for k, _, fmt in cols)
              + f"  {r['gate_exit']}")
    sizes = [r["services"] for r in rows]
    print(f"{'exponent':>8} {'':7} " + " ".join(f"{exponent(sizes, [r[k] for r in rows]):>20.2f}"
                                                for k, _, _ in cols))
    print(f"(peak RSS of this bench process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
