"""Load from locust in its own processes (master and workers, here or on other hosts): totals in
result.json, per-second statistics in the timeline, failures seen while a link is down."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.chaos.engine_helpers import assert_nothing_left, only_run_dir, result
from tests.conftest import ROOT, STACKS, chaosgate
from tests.netns import namespace_hosts
from tests.runstack.helpers import wait_until

EXPERIMENT = f"""
name: mini-load
stack: {STACKS / 'mini' / 'docker-compose.yml'}
load: {{profile: {STACKS / 'mini' / 'load.py'}, target: front, users: 4, spawn_rate: 4, workers: 2}}
phases: {{warmup: 3s, baseline: 7s, fault: 8s, recovery: 4s}}
deadline: 2m
faults:
  - {{type: network.down, link: front -> echo}}
surfaces:
  visitors:
    services: [front]
    slis:
      failure_ratio: {{kind: ratio, source: load, good: locust_failures_total, total: locust_requests_total,
                       better: lower, tolerance: 0.05}}
expected_radius: []
"""


def test_locust_master_and_workers_feed_the_timeline_and_the_result(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT)
    run = chaosgate("run", str(path), "--out", str(out))
    assert run.code == 0, run.err
    assert "load: 4 users against front, 2 workers" in run.err
    run_dir = only_run_dir(out)
    res = result(run_dir)
    assert res["load"]["requests"] > 20 and res["load"]["failures"] > 0, res["load"]
    assert (run_dir / "load" / "worker-1.log").exists()
    with sqlite3.connect(run_dir / "timeline.db") as db:
        times = db.execute("SELECT COUNT(DISTINCT t) FROM samples WHERE source = 'load' "
                           "AND name = 'locust_requests_total'").fetchone()[0]
        first_flowing = db.execute("SELECT MIN(t) FROM samples WHERE source = 'load' "
                                   "AND name = 'locust_requests_total' AND value > 0").fetchone()[0]
    assert times >= 16, "statistics reached the timeline at every sample"
    # Phases are timed from the load's first request, not from locust's launch (seconds earlier).
    assert "load: flowing after" in run.err
    assert first_flowing < res["phases"]["baseline"][0], (first_flowing, res["phases"])
    ratio = res["slis"]["visitors"]["failure_ratio"]
    assert ratio["baseline"]["value"] == 0 and ratio["fault"]["value"] > 0.1, ratio
    assert res["blast_radius"]["radius"] == ["visitors"] and res["blast_radius"]["contained"] is False
    assert_nothing_left(run_dir)


@pytest.fixture
def worker_hosts():
    """Two test hosts made as network namespaces on this machine, each reaching it over a veth pair
    (this machine is 10.201.N.1 to host N, and its route to the other host's subnet goes here too)."""
    with namespace_hosts(2, 201) as hosts:
        yield hosts


def _netns_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def test_locust_workers_on_other_hosts_send_the_load_through_an_entry_left_nowhere(
        tmp_path: Path, out: Path, worker_hosts: list[str]) -> None:
    hosts = ", ".join(f"{{host: {ns}, exec: [ip, netns, exec, {ns}]}}" for ns in worker_hosts)
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT.replace("workers: 2}", f"workers: [{hosts}], reach: 10.201.1.1}}"))
    proc = subprocess.Popen([sys.executable, "-m", "chaos", "run", str(path), "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # While it runs: the workers live in the test hosts' network namespaces, not this one's.
        def worker_namespaces() -> set[str]:
            found = set()
            for p in psutil.process_iter(["pid", "cmdline"]):
                try:
                    if "--worker" in (p.info["cmdline"] or []) and \
                            p.environ().get("CHAOSGATE_RUN_DIR", "").startswith(str(out.resolve())):
                        found.add(_netns_of(p.pid))
                except (OSError, psutil.Error):
                    pass
            return found

        assert wait_until(lambda: len(worker_namespaces()) == 2, 60), "two workers started"
        assert _netns_of(os.getpid()) not in worker_namespaces(), "the workers run on the other hosts"
        sout, serr = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 0, serr[-3000:]
    assert f"workers on {', '.join(worker_hosts)}" in serr
    run_dir = only_run_dir(out)
    res = result(run_dir)
    assert res["load"]["requests"] > 20, res["load"]
    ratio = res["slis"]["visitors"]["failure_ratio"]
    assert ratio["baseline"]["value"] == 0 and ratio["fault"]["value"] > 0.1, ratio
    assert_nothing_left(run_dir)  # the entry proxy too: its journal entry was rolled back


@pytest.fixture
def http_target():
    """A real HTTP server answering every GET, and a socket that accepts connections and never answers."""
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{server.server_port}", f"http://127.0.0.1:{silent.getsockname()[1]}"
    finally:
        server.shutdown()
        silent.close()


pytestmark = pytest.mark.integration  # starts a stack, a server or a browser

PROFILE = """
from locust import FastHttpUser, constant_throughput, task

class Visitor(FastHttpUser):
    wait_time = constant_throughput(10)
    network_timeout = 30.0

    @task
    def hello(self):
        self.client.get("/")
"""


def test_locust_statistics_reach_the_timeline_each_second_and_phases_wait_for_the_first_request(
        tmp_path: Path, http_target: tuple[str, str]) -> None:
    from chaos.errors import InfraError
    from chaos.load.runner import LoadRunner

    answering, silent = http_target
    profile = tmp_path / "profile.py"
    profile.write_text(PROFILE)
    load = LoadRunner(profile, answering, 2, 10, 60, tmp_path / "ok")
    load.start()
    try:
        load.wait_flowing()
        source = load.source()
        counts = []
        for _ in range(6):
            time.sleep(1.0)
            counts.append(sum(s.value for s in source.read(time.time()) if s.name == "locust_requests_total"))
    finally:
        load.stop()
    assert counts[0] > 0, "the load flows when wait_flowing returns"
    # locust alone flushes its files every 5 s: a count would then stand still for seconds.
    assert all(b > a for a, b in zip(counts, counts[1:])), counts

    # A target that accepts and never answers: no request completes, and the wait says so in time.
    stuck = LoadRunner(profile, silent, 2, 10, 60, tmp_path / "stuck")
    stuck.start()
    try:
        with pytest.raises(InfraError, match="locust completed no request against .* within 8s"):
            stuck.wait_flowing(timeout_s=8)
    finally:
        stuck.stop()
    assert not stuck.alive()
