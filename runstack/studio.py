"""Studio (IDE) sessions: a launch needs a shared-pool slot within the launch timeout, and a
live session streams logs over its own broker connection."""

from __future__ import annotations

import os
import threading

import pika.exceptions
import requests
from prometheus_client import Counter, Gauge

from runstack import amqp
from runstack.config import config
from runstack.web import App, Request, post_json

cfg = config()
app = App("studio")
LAUNCHES = Counter("runstack_studio_launches", "Studio session launches by outcome", ["outcome"])
LIVE = Gauge("runstack_studio_sessions_live", "Studio sessions open")
http = requests.Session()


def _session(conn) -> None:
    LIVE.inc()
    try:
        threading.Event().wait(cfg.seconds(cfg.studio_session_min))
    finally:
        amqp.close_quietly(conn)
        LIVE.dec()


@app.route("POST", "/sessions")
def launch(req: Request):
    wait = cfg.seconds(cfg.studio_launch_timeout_min)
    hold = cfg.seconds(cfg.studio_session_min)
    try:
        resp = post_json(http, f"http://{os.environ['SHARED_POOL_ADDR']}/acquire", timeout=wait + 2,
                         body={"kind": "studio", "hold_s": hold, "wait_s": wait})
        granted = resp.status_code == 200
    except requests.RequestException:
        granted = False
    if not granted:
        LAUNCHES.labels("no_worker").inc()
        return 503, {"error": "no worker available to start the session"}
    try:
        conn = amqp.connect("studio-session")
    except (pika.exceptions.AMQPError, OSError):
        LAUNCHES.labels("broker").inc()
        return 503, {"error": "session could not connect to the broker"}
    threading.Thread(target=_session, args=(conn,), daemon=True).start()
    LAUNCHES.labels("launched").inc()
    return 201, {"tenant": req.body.get("tenant"), "session_min": cfg.studio_session_min}


if __name__ == "__main__":
    app.serve(int(os.environ["PORT"]))
