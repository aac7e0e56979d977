"""Start the reference run stack with knobs set, drive it, and read its metrics and APIs."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from chaos.backends.local import LocalBackend
from chaos.backends.state import StackState
from chaos.components.rabbitmq import ManagementClient
from chaos.stack import load_stack
from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
#: Tests run the platform fast: one platform minute is a quarter second.
FAST = {"RUNSTACK_TIME_SCALE": "0.25"}


@contextmanager
def runstack(run_dir: Path, **knobs: str) -> Iterator[StackState]:
    """The run stack up for the block's duration, whatever happens inside it."""
    stack = load_stack(COMPOSE, {**FAST, **knobs}, use_environ=False)
    backend = LocalBackend()
    state = backend.up(stack, run_dir)
    try:
        yield state
    finally:
        backend.down(state)


def url(state: StackState, service: str) -> str:
    return f"http://127.0.0.1:{state.services[service].port}"


def metrics(state: StackState, service: str) -> dict[tuple, float]:
    """One service's samples as {(name, sorted label items): value}."""
    text = requests.get(url(state, service) + "/metrics", timeout=5).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[tuple, float], name: str, **labels: str) -> float:
    """A sample's value (0 when absent: counters with no event yet are not exported)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def runs_by_reason(state: StackState) -> collections.Counter:
    """The scheduler's own count of runs by `status:reason` (its API, not its metrics)."""
    return collections.Counter(requests.get(url(state, "scheduler") + "/stats", timeout=5).json()["counts"])


def broker(state: StackState) -> ManagementClient:
    return ManagementClient(f"http://127.0.0.1:{state.services['broker'].ports[15672]}")


def late_starts(samples: dict[tuple, float], after_s: float) -> float:
    """Runs whose start came more than `after_s` after submission."""
    total = value(samples, "runstack_run_start_delay_seconds_count")
    return total - value(samples, "runstack_run_start_delay_seconds_bucket", le=str(float(after_s)))


def wait_until(check, deadline_s: float, pause_s: float = 1.0) -> bool:
    """Poll `check()` until it is true or the deadline passes."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(pause_s)
    return bool(check())
