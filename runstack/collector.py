"""The telemetry collector: receives post-run payloads."""

from __future__ import annotations

import os

from prometheus_client import Counter

from runstack.web import App, Request

app = App("telemetry-collector")
PAYLOADS = Counter("runstack_telemetry_payloads", "Telemetry payloads received", ["release"])


@app.route("POST", "/ingest")
def ingest(req: Request):
    PAYLOADS.labels(str(req.body.get("release", "unknown"))).inc()
    return 202, {"ok": True}


if __name__ == "__main__":
    app.serve(int(os.environ["PORT"]))
