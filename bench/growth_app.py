"""A service of the generated stacks of bench/growth.py: the mini test stack's app (health,
hello), plus a Prometheus text page the size of a small real service's (a counter, a gauge, a
10-bucket histogram, and process metrics chaosgate does not read) and /call, which relays to the
next service when it has one."""

import http.server
import os
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "stacks" / "mini"))
from app import Handler as MiniHandler

STARTED = time.time()
COUNT = {"calls": 0}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Handler(MiniHandler):
    def do_GET(self):
        if self.path == "/metrics":
            return self._send(200, metrics().encode())
        if self.path == "/call":
            COUNT["calls"] += 1
            nxt = os.environ.get("NEXT_ADDR")
            if nxt:
                try:
                    with urllib.request.urlopen(f"http://{nxt}/call", timeout=2) as r:
                        r.read()
                except OSError:
                    return self._send(502, b"next unreachable\n")
            return self._send(200, b"ok\n")
        return super().do_GET()


def metrics() -> str:
    n = COUNT["calls"]
    lines = ["# TYPE app_calls_total counter", f'app_calls_total{{outcome="ok"}} {n}',
             "# TYPE app_uptime_seconds gauge", f"app_uptime_seconds {time.time() - STARTED:.1f}",
             "# TYPE app_latency_seconds histogram"]
    lines += [f'app_latency_seconds_bucket{{le="{b}"}} {n}' for b in BUCKETS]
    lines += [f'app_latency_seconds_bucket{{le="+Inf"}} {n}', f"app_latency_seconds_count {n}",
              f"app_latency_seconds_sum {n * 0.003:.3f}"]
    # What a Python client library adds by default, and chaosgate's SLIs never read.
    for gen in range(3):
        lines += [f'python_gc_objects_collected_total{{generation="{gen}"}} {1000 * gen}',
                  f'python_gc_collections_total{{generation="{gen}"}} {10 * gen}']
    lines += ["process_virtual_memory_bytes 1.0e+08", "process_resident_memory_bytes 2.0e+07",
              f"process_start_time_seconds {STARTED:.2f}", "process_cpu_seconds_total 0.5",
              "process_open_fds 7", "process_max_fds 1024"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    server.serve_forever()
