"""The scheduler: the platform's API. Queues runs, dispatches them to the run pool first and
the shared pool on overflow, cancels runs that waited too long, and runs housekeeping —
which needs a shared-pool slot, so it is late when that pool is full."""

from __future__ import annotations

import collections
import itertools
import os
import threading
import time

import requests
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel

from runstack.catalogue import catalogue
from runstack.config import config
from runstack.web import RECONNECT_FOR_S, App, Request

cfg = config()
app = App("scheduler")
#: Seconds one call to a pool or to Studio may take (Studio's own launch timeout comes on top).
CALL_TIMEOUT_S = 3.0
TICK_S = 0.05
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 12, 20, 30, 60, 120, 300, 600)

SUBMITTED = Counter("runstack_runs_submitted", "Runs submitted")
FINISHED = Counter("runstack_runs", "Runs by final status and reason", ["status", "reason"])
QUEUE_WAIT = Histogram("runstack_run_queue_wait_seconds", "Time in the queue until dispatched or canceled",
                       buckets=DELAY_BUCKETS)
START_DELAY = Histogram("runstack_run_start_delay_seconds", "Submission to start of execution",
                        buckets=DELAY_BUCKETS)
LATENESS = Histogram("runstack_housekeeping_lateness_seconds", "How late housekeeping ran after it was due",
                     buckets=DELAY_BUCKETS)
PENDING_LATENESS = Gauge("runstack_housekeeping_pending_lateness_seconds",
                         "How late the housekeeping now due already is (0 when on time)")
QUEUED = Gauge("runstack_runs_queued", "Runs waiting in the queue")
RUNNING = Gauge("runstack_runs_running", "Runs executing, by pool", ["pool"])
STUDIO = Counter("runstack_studio_launch_requests", "Studio launches through the scheduler", ["outcome"])


class Run(BaseModel):
    """A run as the API shows it."""

    id: int
    tenant: str
    project: str
    job: str
    status: str = "queued"
    reason: str | None = None
    pool: str | None = None
    timeout_min: float | None = None
    submitted_at: float
    started_at: float | None = None
    finished_at: float | None = None


lock = threading.Lock()
runs: dict[int, Run] = {}
queue: collections.deque[int] = collections.deque()
ids = itertools.count(1)
custom_cancels: set[int] = set()
pools = {"run": os.environ["RUN_POOL_ADDR"], "shared": os.environ["SHARED_POOL_ADDR"]}
http = requests.Session()
housekeeping_due = time.time() + cfg.seconds(cfg.housekeeping_interval_min)


def _finish(run: Run, status: str, reason: str | None) -> None:
    run.status, run.reason, run.finished_at = status, reason, time.time()
    FINISHED.labels(status, reason or "").inc()


# --- API ---------------------------------------------------------------------------------------
@app.route("POST", "/runs")
def submit(req: Request):
    tenant, project = str(req.body["tenant"]), str(req.body["project"])
    if catalogue(cfg.catalogue_seed).get(tenant, project) is None:
        return 404, {"error": f"unknown project {tenant}/{project}"}
    timeout = req.body.get("timeout_min")
    with lock:
        run = Run(id=next(ids), tenant=tenant, project=project, job=str(req.body.get("job", "default")),
                  timeout_min=float(timeout) if timeout else None, submitted_at=time.time())
        runs[run.id] = run
        queue.append(run.id)
        QUEUED.set(len(queue))
    SUBMITTED.inc()
    return 201, run.model_dump()


@app.route("GET", r"/runs/(?P<id>\d+)")
def get_run(req: Request):
    run = runs.get(int(req.params["id"]))
    return (200, run.model_dump()) if run else (404, {"error": "no such run"})


@app.route("GET", "/runs")
def list_runs(req: Request):
    status, limit = req.arg("status"), int(req.arg("limit", "100"))
    with lock:
        found = [r.model_dump() for r in runs.values() if status is None or r.status == status]
    return 200, {"runs": found[-limit:], "total": len(found)}


@app.route("GET", "/stats")
def stats(req: Request):
    """Counts of runs by status and reason: the ground truth chaosgate's SLIs are checked against."""
    since = float(req.arg("since", "0"))
    until = float(req.arg("until", "inf"))
    counts: collections.Counter[str] = collections.Counter()
    with lock:
        for r in runs.values():
            if r.finished_at is not None and since <= r.finished_at < until:
                counts[f"{r.status}:{r.reason or ''}"] += 1
            elif r.finished_at is None:
                counts[r.status] += 1
    return 200, {"counts": dict(counts)}


@app.route("POST", r"/runs/(?P<id>\d+)/cancel")
def cancel(req: Request):
    with lock:
        run = runs.get(int(req.params["id"]))
        if run is None:
            return 404, {"error": "no such run"}
        if run.status == "queued":
            queue.remove(run.id)
            QUEUED.set(len(queue))
            _finish(run, "canceled", "user")
            return 200, run.model_dump()
    if run.status == "running":
        _cancel_on_pool(run)
        return 202, run.model_dump()
    return 409, {"error": f"run is {run.status}"}


@app.route("POST", "/studio/sessions")
def launch_studio(req: Request):
    wait = cfg.seconds(cfg.studio_launch_timeout_min)
    try:
        resp = http.post(f"http://{os.environ['STUDIO_ADDR']}/sessions", json=req.body,
                         timeout=wait + RECONNECT_FOR_S + CALL_TIMEOUT_S)
        STUDIO.labels("launched" if resp.status_code == 201 else "failed").inc()
        return resp.status_code, resp.json()
    except (requests.RequestException, ValueError) as exc:
        STUDIO.labels("failed").inc()
        return 503, {"error": f"studio unreachable: {exc}"}


# --- background work ---------------------------------------------------------------------------
def _dispatch_once() -> bool:
    """Cancel runs past the queue timeout, then try to start the queue's head; True if started."""
    now = time.time()
    timeout = cfg.seconds(cfg.queue_timeout_min)
    with lock:
        for run_id in [i for i in queue if now - runs[i].submitted_at > timeout]:
            queue.remove(run_id)
            QUEUE_WAIT.observe(now - runs[run_id].submitted_at)
            _finish(runs[run_id], "canceled", "queue timeout")
        head = runs[queue[0]] if queue else None
        QUEUED.set(len(queue))
    if head is None:
        return False
    targets = ["run", "shared"] if cfg.overflow_to_shared else ["run"]
    for pool in targets:
        try:
            resp = http.post(f"http://{pools[pool]}/runs", timeout=CALL_TIMEOUT_S,
                             json={"id": head.id, "tenant": head.tenant, "project": head.project, "job": head.job})
        except requests.RequestException:
            continue
        if resp.status_code == 202:
            with lock:
                if queue and queue[0] == head.id:
                    queue.popleft()
                QUEUED.set(len(queue))
                head.status, head.pool, head.started_at = "running", pool, time.time()
            RUNNING.labels(pool).inc()
            QUEUE_WAIT.observe(head.started_at - head.submitted_at)
            START_DELAY.observe(head.started_at - head.submitted_at)
            return True
    return False


def _collect_finished(cursor: dict[str, int]) -> None:
    for pool, addr in pools.items():
        try:
            resp = http.get(f"http://{addr}/finished", params={"after": cursor[pool]}, timeout=CALL_TIMEOUT_S)
            data = resp.json()
        except (requests.RequestException, ValueError):
            continue
        with lock:
            for item in data["runs"]:
                run = runs.get(item["id"])
                if run is None or run.status != "running":
                    continue
                RUNNING.labels(run.pool).dec()
                reason = "custom timeout" if run.id in custom_cancels and item["status"] == "canceled" else item["reason"]
                _finish(run, item["status"], reason)
        cursor[pool] = data["seq"]


def _cancel_on_pool(run: Run) -> None:
    try:
        http.post(f"http://{pools[run.pool or 'run']}/runs/{run.id}/cancel", timeout=CALL_TIMEOUT_S)
    except requests.RequestException:
        pass


def _housekeeping_once() -> None:
    """Run the sweep if due and a shared-pool slot can be had now; otherwise it is late."""
    global housekeeping_due
    now = time.time()
    PENDING_LATENESS.set(max(0.0, now - housekeeping_due))
    if now < housekeeping_due:
        return
    try:
        resp = http.post(f"http://{pools['shared']}/acquire", timeout=CALL_TIMEOUT_S,
                         json={"kind": "housekeeping", "hold_s": cfg.seconds(0.05), "wait_s": 0})
    except requests.RequestException:
        return
    if resp.status_code != 200:
        return
    LATENESS.observe(now - housekeeping_due)
    housekeeping_due = now + cfg.seconds(cfg.housekeeping_interval_min)
    PENDING_LATENESS.set(0)
    _sweep(now)


def _sweep(now: float) -> None:
    """Over-queued duplicates are canceled; runs past their custom timeout are stopped."""
    with lock:
        by_job: dict[tuple, list[int]] = collections.defaultdict(list)
        for run_id in queue:
            r = runs[run_id]
            by_job[(r.tenant, r.project, r.job)].append(run_id)
        for waiting in by_job.values():
            for run_id in waiting[: max(0, len(waiting) - cfg.max_queued_per_job)]:
                queue.remove(run_id)
                QUEUE_WAIT.observe(now - runs[run_id].submitted_at)
                _finish(runs[run_id], "canceled", "over-queued")
        overdue = [r for r in runs.values() if r.status == "running" and r.timeout_min
                   and r.id not in custom_cancels and now - (r.started_at or now) > cfg.seconds(r.timeout_min)]
        custom_cancels.update(r.id for r in overdue)
    for run in overdue:
        _cancel_on_pool(run)


def _loop(name: str, body, pause_s: float) -> None:
    """Run `body` in a daemon thread, pausing `pause_s` unless it reports it did work."""

    def forever() -> None:
        while True:
            try:
                busy = body()
            except Exception as exc:  # noqa: BLE001 - a background loop logs and carries on
                print(f"{name}: {exc!r}", flush=True)
                busy = False
            if not busy:
                time.sleep(pause_s)

    threading.Thread(target=forever, name=name, daemon=True).start()


def _start_background() -> None:
    cursor = {pool: 0 for pool in pools}
    _loop("dispatcher", _dispatch_once, TICK_S)
    _loop("collector", lambda: _collect_finished(cursor), 0.1)
    _loop("housekeeping", _housekeeping_once, TICK_S)


def _set_broker_limit() -> None:
    """Set the vhost connection limit through the management API (bounded retries)."""
    url = f"http://{os.environ['BROKER_MGMT_ADDR']}/api/vhost-limits/%2F/max-connections"
    for _ in range(30):
        try:
            resp = http.put(url, json={"value": cfg.broker_max_connections}, auth=("guest", "guest"),
                            timeout=CALL_TIMEOUT_S)
            if resp.ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit("scheduler: could not set the broker's connection limit")


if __name__ == "__main__":
    _set_broker_limit()
    _start_background()
    app.serve(int(os.environ["PORT"]))
