"""A worker pool: a fixed number of slots for runs, Studio sessions, publications and housekeeping."""

from __future__ import annotations

import collections
import os
import threading
import time

from prometheus_client import Counter, Gauge

from runstack.config import config
from runstack.holds import Holds
from runstack.web import App, Request
from runstack.worker import Execution, RunOrder, execute

POOL = os.environ.get("POOL_NAME", "run")
cfg = config()
CAPACITY = cfg.run_pool_slots if POOL == "run" else cfg.shared_pool_slots
#: Finished runs kept for the scheduler to collect; older ones are dropped (bounded memory).
FINISHED_KEPT = 20000

app = App(f"{POOL}-pool")
BUSY = Gauge("runstack_pool_slots_busy", "Slots in use", ["pool", "kind"])
TOTAL = Gauge("runstack_pool_slots", "Slots in the pool", ["pool"])
STUCK = Gauge("runstack_telemetry_stuck", "Telemetry invocations running longer than expected", ["pool"])
CONNECTIONS = Gauge("runstack_broker_connections_held", "Broker connections held by runs", ["pool"])
TELEMETRY = Counter("runstack_telemetry_invocations", "Post-run telemetry by outcome", ["pool", "release", "outcome"])
ACQUIRES = Counter("runstack_pool_acquires", "Slot requests by kind and outcome", ["pool", "kind", "outcome"])
# Counted when a run fails, in its slot: the scheduler learns a run's end only when its slot is
# released, which a hanging telemetry call may put off indefinitely.
FAILURES = Counter("runstack_pool_run_failures", "Runs that failed in a slot, when they failed", ["pool", "reason"])


class Slots:
    """Counted slots with a condition variable, so callers can wait for one with a deadline."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.busy: collections.Counter[str] = collections.Counter()
        self.cond = threading.Condition()

    def take(self, kind: str, wait_s: float = 0.0) -> bool:
        deadline = time.monotonic() + wait_s
        with self.cond:
            while sum(self.busy.values()) >= self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            self.busy[kind] += 1
            BUSY.labels(POOL, kind).inc()
            return True

    def release(self, kind: str) -> None:
        with self.cond:
            self.busy[kind] -= 1
            BUSY.labels(POOL, kind).dec()
            self.cond.notify()


slots = Slots(CAPACITY)
TOTAL.labels(POOL).set(CAPACITY)
running: dict[int, Execution] = {}
finished: collections.deque = collections.deque(maxlen=FINISHED_KEPT)
seq_lock = threading.Lock()
seq = 0


def _connections(delta: int) -> None:
    CONNECTIONS.labels(POOL).inc(delta)


def _stuck() -> int:
    limit = cfg.seconds(cfg.telemetry_stuck_after_min)
    now = time.time()
    return sum(1 for ex in list(running.values()) if ex.telemetry_since and now - ex.telemetry_since > limit)


STUCK.labels(POOL).set_function(_stuck)


def _run(ex: Execution) -> None:
    global seq
    try:
        outcome = execute(ex, POOL, _connections, lambda reason: FAILURES.labels(POOL, reason).inc())
    finally:
        running.pop(ex.order.id, None)
        slots.release("run")
    TELEMETRY.labels(POOL, cfg.telemetry_release, outcome.telemetry).inc()
    with seq_lock:
        seq += 1
        finished.append((seq, outcome.model_dump()))


@app.route("POST", "/runs")
def start_run(req: Request):
    order = RunOrder.model_validate(req.body)
    if not slots.take("run"):
        return 409, {"error": "pool full", "pool": POOL}
    ex = Execution(order)
    running[order.id] = ex
    threading.Thread(target=_run, args=(ex,), name=f"run-{order.id}", daemon=True).start()
    return 202, {"pool": POOL, "id": order.id}


@app.route("POST", r"/runs/(?P<id>\d+)/cancel")
def cancel_run(req: Request):
    ex = running.get(int(req.params["id"]))
    if ex is None:
        return 404, {"error": "not running here"}
    ex.cancel.set()
    return 202, {"canceled": ex.order.id}


@app.route("GET", "/finished")
def list_finished(req: Request):
    after = int(req.arg("after", "0"))
    items = [item for s, item in list(finished) if s > after]
    return 200, {"seq": seq, "runs": items}


@app.route("POST", "/acquire")
def acquire(req: Request):
    """Hold a slot for `hold_s` seconds, waiting up to `wait_s` for one (Studio, publications, housekeeping)."""
    kind = str(req.body["kind"])
    hold_s, wait_s = float(req.body.get("hold_s", 0)), min(float(req.body.get("wait_s", 0)), 120.0)
    start = time.monotonic()
    if not slots.take(kind, wait_s):
        ACQUIRES.labels(POOL, kind, "refused").inc()
        return 503, {"error": "no free slot", "pool": POOL}
    ACQUIRES.labels(POOL, kind, "granted").inc()
    timer = threading.Timer(max(hold_s, 0.0), slots.release, args=(kind,))
    timer.daemon = True
    timer.start()
    return 200, {"pool": POOL, "waited_s": time.monotonic() - start}


@app.route("GET", "/slots")
def show_slots(req: Request):
    return 200, {"pool": POOL, "capacity": CAPACITY, "busy": dict(slots.busy), "running": len(running)}


holds = Holds(slots)


@app.route("POST", "/chaos/holds")
def create_hold(req: Request):
    """Fill the pool: hold up to `slots` slots (free ones now, more as they free up) for at most `ttl_s`."""
    try:
        requested, ttl_s = int(req.body["slots"]), float(req.body.get("ttl_s", 600))
    except (KeyError, TypeError, ValueError):
        return 400, {"error": "body: {slots: int, ttl_s: seconds, owner: str}"}
    if requested < 1 or ttl_s <= 0:
        return 400, {"error": "slots must be >= 1 and ttl_s > 0"}
    hold = holds.create(requested, ttl_s, str(req.body.get("owner", "")))
    return 201, hold.view()


@app.route("GET", "/chaos/holds")
def list_holds(req: Request):
    return 200, {"pool": POOL, "holds": [h.view() for h in holds.live()]}


@app.route("DELETE", r"/chaos/holds/(?P<id>[A-Za-z0-9]+)")
def release_hold(req: Request):
    return (200, {"released": req.params["id"]}) if holds.release(req.params["id"]) else (404, {"error": "no such hold"})


if __name__ == "__main__":
    app.serve(int(os.environ["PORT"]))
