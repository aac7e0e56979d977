"""One run's life in a worker slot, as in the incident: the slot and the broker connections
are released only when post-run telemetry returns."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pika.exceptions
import requests
from pydantic import BaseModel

from runstack import amqp, telemetry
from runstack.catalogue import catalogue
from runstack.config import config

INTERNAL_ERROR = "Internal error"
PUBLICATIONS_ERROR = "Error retrieving publications"
AMQP_ERRORS = (pika.exceptions.AMQPError, OSError)


class RunOrder(BaseModel):
    """What the scheduler sends a pool."""

    id: int
    tenant: str
    project: str
    job: str = "default"


class RunOutcome(BaseModel):
    """What a pool reports back when a run's slot is released."""

    id: int
    pool: str
    status: str
    reason: str | None = None
    started_at: float
    finished_at: float
    telemetry: str


class Execution:
    """A run in progress: its cancel switch and where it is, for the pool's gauges."""

    def __init__(self, order: RunOrder):
        self.order = order
        self.cancel = threading.Event()
        self.telemetry_since: float | None = None


def execute(ex: Execution, pool: str, on_connections: Callable[[int], None],
            on_failed: Callable[[str], None] = lambda reason: None) -> RunOutcome:
    """Carry out a run; `on_connections(+1/-1)` tracks connections held for the pool's gauge,
    `on_failed(reason)` hears of a failure when it happens (before telemetry)."""
    cfg = config()
    order = ex.order
    project = catalogue(cfg.catalogue_seed).get(order.tenant, order.project)
    started = time.time()
    conns = []
    try:
        try:
            for i in range(cfg.connections_per_run):
                conns.append(amqp.connect(f"run-{order.id}-{'events' if i == 0 else 'logs'}"))
                on_connections(+1)
            amqp.publish(conns[0], "run.started", {"run": order.id, "project": order.project})
            status, reason = _steps(ex, conns[0], project.cross_project_refs if project else False)
        except AMQP_ERRORS:
            status, reason = "failed", INTERNAL_ERROR
        if status == "failed":
            on_failed(reason or "")
        # Telemetry reports every run, failed ones too; whatever it holds stays held until it returns.
        telemetry_outcome = _telemetry(ex, project)
        return _outcome(order, pool, status, reason, started, telemetry_outcome)
    finally:
        for conn in conns:
            amqp.close_quietly(conn)
            on_connections(-1)


def _steps(ex: Execution, conn, cross_project_refs: bool) -> tuple[str, str | None]:
    cfg = config()
    order = ex.order
    if cross_project_refs:
        try:
            url = f"http://{os.environ['PUBLICATIONS_ADDR']}/publications/{order.tenant}/{order.project}"
            requests.get(url, timeout=cfg.seconds(cfg.publications_wait_min) + 2).raise_for_status()
        except requests.RequestException:
            _publish_quietly(conn, "run.completed", {"run": order.id, "status": "failed"})
            return "failed", PUBLICATIONS_ERROR
    for step in range(cfg.run_steps):
        if ex.cancel.wait(cfg.seconds(cfg.step_min)):
            return "canceled", "custom timeout"
        try:
            amqp.publish(conn, "run.step", {"run": order.id, "step": step})
        except AMQP_ERRORS:
            return "failed", INTERNAL_ERROR
    if not _publish_quietly(conn, "run.completed", {"run": order.id, "status": "succeeded"}):
        return "failed", INTERNAL_ERROR
    return "succeeded", None


def _telemetry(ex: Execution, project) -> str:
    """Post-run telemetry; without a guardrail this waits as long as the client takes (maybe forever)."""
    cfg = config()
    if project is None:
        return "skipped"
    timeout = cfg.telemetry_timeout_s or None
    result: list[str] = []

    def call() -> None:
        try:
            telemetry.send(project, ex.order.id, cfg.telemetry_release, timeout, ex.cancel,
                           cfg.telemetry_rc3_share)
            result.append("sent")
        except telemetry.Cancelled:
            result.append("canceled")
        except requests.RequestException:
            result.append("error")

    ex.telemetry_since = time.time()
    thread = threading.Thread(target=call, name=f"telemetry-{ex.order.id}", daemon=True)
    thread.start()
    thread.join(timeout)  # None: no guardrail, the incident's setting
    ex.telemetry_since = None
    if thread.is_alive():
        ex.cancel.set()  # the guardrail kills the invocation
        return "timeout"
    return result[0] if result else "error"


def _publish_quietly(conn, key: str, payload: dict) -> bool:
    try:
        amqp.publish(conn, key, payload)
        return True
    except AMQP_ERRORS:
        return False


def _outcome(order: RunOrder, pool: str, status: str, reason: str | None, started: float, tel: str) -> RunOutcome:
    return RunOutcome(id=order.id, pool=pool, status=status, reason=reason, started_at=started,
                      finished_at=time.time(), telemetry=tel)
