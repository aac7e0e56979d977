"""A small threaded JSON-over-HTTP app with /healthz and Prometheus /metrics built in."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Reply = tuple[int, Any]
Handler = Callable[..., Reply]


class Request:
    """What a handler needs: path parameters, query and JSON body."""

    def __init__(self, params: dict[str, str], query: dict[str, list[str]], body: Any):
        self.params, self.query, self.body = params, query, body

    def arg(self, name: str, default: str | None = None) -> str | None:
        """One query parameter."""
        return self.query.get(name, [default])[0]


class App:
    """Routes (method, path regex) to handlers returning (status, JSON-able body)."""

    def __init__(self, name: str):
        self.name = name
        self.routes: list[tuple[str, re.Pattern, Handler]] = []
        self.healthy: Callable[[], bool] = lambda: True

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator: `@app.route("GET", r"/runs/(?P<id>\\d+)")`."""

        def add(fn: Handler) -> Handler:
            self.routes.append((method, re.compile(pattern + "$"), fn))
            return fn

        return add

    def serve(self, port: int) -> None:
        """Serve on BIND_HOST (default 127.0.0.1; images set 0.0.0.0):port until SIGTERM or SIGINT."""
        app = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _dispatch(self, method: str) -> None:
                url = urlsplit(self.path)
                if method == "GET" and url.path == "/healthz":
                    ok = app.healthy()
                    return self._reply(200 if ok else 503, {"service": app.name, "healthy": ok})
                if method == "GET" and url.path == "/metrics":
                    return self._raw(200, generate_latest(), CONTENT_TYPE_LATEST)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length)) if length else {}
                except ValueError:
                    return self._reply(400, {"error": "body is not JSON"})
                for m, rx, fn in app.routes:
                    match = rx.match(url.path)
                    if m == method and match:
                        try:
                            status, out = fn(Request(match.groupdict(), parse_qs(url.query), body))
                        except (KeyError, ValueError, TypeError) as exc:
                            status, out = 400, {"error": f"bad request: {exc}"}
                        return self._reply(status, out)
                return self._reply(404, {"error": f"no route {method} {url.path}"})

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_DELETE(self) -> None:
                self._dispatch("DELETE")

            def _reply(self, status: int, body: Any) -> None:
                self._raw(status, json.dumps(body).encode(), "application/json")

            def _raw(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        host = os.environ.get("BIND_HOST", "127.0.0.1")
        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        server.request_queue_size = 256

        def stop(signum: int, _frame: Any) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(f"{self.name} listening on {host}:{port}", flush=True)
        server.serve_forever(poll_interval=0.2)
        sys.exit(0)


#: Seconds a client keeps retrying a peer that refuses connections (a restart or a deploy).
RECONNECT_FOR_S = 3.0


def post_json(http, url: str, body: Any, timeout: float, reconnect_for_s: float = RECONNECT_FOR_S):
    """POST with a timeout; a refused connection is retried briefly (bounded), any answer is final."""
    import time

    import requests

    deadline = time.monotonic() + reconnect_for_s
    while True:
        try:
            return http.post(url, json=body, timeout=timeout)
        except requests.ConnectionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
