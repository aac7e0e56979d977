"""Cross-project artifacts. Hosted in the shared pool: each request needs a shared-pool slot."""

from __future__ import annotations

import os

import requests
from prometheus_client import Counter

from runstack.config import config
from runstack.web import App, Request, post_json

cfg = config()
app = App("publications")
REQUESTS = Counter("runstack_publications_requests", "Publication requests by outcome", ["outcome"])
http = requests.Session()


@app.route("GET", r"/publications/(?P<tenant>[^/]+)/(?P<project>[^/]+)")
def publications(req: Request):
    wait = cfg.seconds(cfg.publications_wait_min)
    try:
        resp = post_json(http, f"http://{os.environ['SHARED_POOL_ADDR']}/acquire", timeout=wait + 2,
                         body={"kind": "publications", "hold_s": cfg.seconds(0.02), "wait_s": wait})
        ok = resp.status_code == 200
    except requests.RequestException:
        ok = False
    REQUESTS.labels("served" if ok else "unavailable").inc()
    if not ok:
        return 503, {"error": "no shared-pool capacity to serve publications"}
    return 200, {"project": f"{req.params['tenant']}/{req.params['project']}", "artifacts": ["manifest.json"]}


if __name__ == "__main__":
    app.serve(int(os.environ["PORT"]))
