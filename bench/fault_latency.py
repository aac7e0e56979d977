"""Injection and rollback latency per fault type, on the mini stack (real toxiproxy, RabbitMQ,
processes or containers), each backend in turn in one run. Prints p50, p99 and n per fault type
and backend; figures, not pass/fail.

    .venv/bin/python bench/fault_latency.py [--repeats 30] [--backends local,docker]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos import backends  # noqa: E402
from chaos.backends.state import StackState  # noqa: E402
from chaos.faults import FaultContext  # noqa: E402
from chaos.run.journal import Journal  # noqa: E402
from chaos.run.reconcile import rollback_journal  # noqa: E402
from chaos.spec.experiment import FaultSpec  # noqa: E402
from chaos.stack import load_stack  # noqa: E402

FAULTS = [
    {"type": "network.latency", "link": "front->echo", "latency_ms": 100},
    {"type": "network.timeout", "link": "front->echo", "timeout_ms": 0},
    {"type": "network.bandwidth", "link": "front->echo", "rate_kbps": 10},
    {"type": "network.slow_close", "link": "front->echo", "delay_ms": 10},
    {"type": "network.reset_peer", "link": "front->echo"},
    {"type": "network.slicer", "link": "front->echo", "average_size": 10},
    {"type": "network.limit_data", "link": "front->echo", "bytes": 10},
    {"type": "network.down", "link": "front->echo"},
    {"type": "broker.connection_limit", "limit": 10},
    {"type": "broker.hold_connections", "count": 5},
    {"type": "process.pause", "service": "echo"},
    {"type": "process.kill", "service": "echo"},
    {"type": "process.restart", "service": "echo", "grace": 5},
    {"type": "config.swap", "services": ["echo"], "set": {"X": "1"}},
    {"type": "resource.cpu", "service": "echo", "cpus": 0.1},
]
SLOW = {"process.kill": 10, "process.restart": 10, "config.swap": 10}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="samples per fault type (restarts: at most 10)")
    parser.add_argument("--backends", default="local,docker", help="comma-separated (default: %(default)s)")
    args = parser.parse_args()
    print(f"{'backend':8} {'fault':26} {'inject p50':>11} {'p99':>8} {'rollback p50':>13} {'p99':>8} {'n':>4}"
          "   (milliseconds)")
    for name in args.backends.split(","):
        measure(name, args.repeats)


def measure(backend_name: str, repeats: int) -> None:
    """Print one row per fault type for one backend."""
    parse = TypeAdapter(FaultSpec).validate_python
    stack = load_stack(ROOT / "tests/stacks/mini/docker-compose.yml", use_environ=False)
    backend = backends.get(backend_name)
    run_dir = Path(tempfile.mkdtemp(prefix="chaosgate-bench-"))
    state = backend.up(stack, run_dir)
    try:
        for spec in FAULTS:
            fault = parse(spec)
            if why := fault.unsupported(backend_name):
                print(f"{backend_name:8} {fault.type:26} skipped: {why}")
                continue
            inject_ms, rollback_ms = [], []
            for i in range(min(repeats, SLOW.get(fault.type, repeats))):
                journal = Journal(run_dir / "bench" / f"{fault.type}-{i}")
                ctx = FaultContext("bench", stack, StackState.load(run_dir), journal)
                t0 = time.perf_counter()
                fault.inject(ctx)
                t1 = time.perf_counter()
                failures = rollback_journal(journal)
                t2 = time.perf_counter()
                journal.close()
                assert not failures, failures
                inject_ms.append((t1 - t0) * 1000)
                rollback_ms.append((t2 - t1) * 1000)
            print(f"{backend_name:8} {fault.type:26} {statistics.median(inject_ms):11.1f} {pct(inject_ms, .99):8.1f} "
                  f"{statistics.median(rollback_ms):13.1f} {pct(rollback_ms, .99):8.1f} {len(inject_ms):4}")
    finally:
        backend.down(state)


if __name__ == "__main__":
    main()
