"""The docker backend with real containers, a real toxiproxy container and real RabbitMQ."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from chaos.backends.docker import DockerBackend
from chaos.backends.state import StackState
from chaos.measure.metrics.sources import SourceError, sources_for
from chaos.stack import load_stack
from tests.conftest import ROOT, STACKS, chaosgate, containers_of, require_docker, stack_state
from tests.netns import namespace_hosts
from tests.runstack.helpers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.docker]
MINI = STACKS / "mini" / "docker-compose.yml"


def test_up_traffic_through_proxy_then_down_leaves_nothing(out: Path) -> None:
    client = require_docker()
    up = chaosgate("stack", "up", "--backend", "docker", "-f", str(MINI), "--out", str(out))
    assert up.code == 0, up.err
    state = stack_state(out)
    try:
        assert state["backend"] == "docker" and state["status"] == "up"
        running = containers_of(client, state["run_dir"])
        assert sorted(c.labels["io.chaosgate.service"] for c in running) == ["broker", "echo", "front", "toxiproxy"]
        assert all(c.status == "running" for c in running)
        # Every published port is on loopback only: the stack is not reachable from the network.
        bindings = [b for c in running for bs in c.attrs["NetworkSettings"]["Ports"].values() if bs for b in bs]
        assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings)
        # Links are proxies in the toxiproxy container, pointing at the services by name.
        proxies = requests.get(state["toxiproxy_url"] + "/proxies", timeout=5).json()
        assert proxies["front->echo"]["upstream"] == "echo:8000"
        front = state["services"]["front"]["ports"]["8000"]
        assert requests.get(f"http://127.0.0.1:{front}/via-echo", timeout=5).text == "hello from echo\n"
        assert len(requests.get(f"http://127.0.0.1:{front}/broker", timeout=5).content) == 4
        # Disabling the proxy cuts front off from echo: container traffic really goes through toxiproxy.
        requests.post(state["toxiproxy_url"] + "/proxies/front->echo", json={"enabled": False}, timeout=5)
        assert requests.get(f"http://127.0.0.1:{front}/via-echo", timeout=10).status_code >= 500
        status = chaosgate("stack", "status", "-f", str(MINI), "--out", str(out))
        assert status.code == 0 and "chaosgate-" in status.out, status.out
        assert "broker management: http://" in status.out, status.out  # the builtin RabbitMQ's API
    finally:
        down = chaosgate("stack", "down", "-f", str(MINI), "--out", str(out))
    assert down.code == 0, down.err
    assert containers_of(client, state["run_dir"]) == []
    assert client.networks.list(names=[state["network"]]) == []
    assert "listening on ('0.0.0.0', 8000)" in (Path(state["run_dir"]) / "logs" / "echo.log").read_text()


def test_images_are_built_or_pulled_as_compose_does_and_a_missing_one_is_refused(out: Path, tmp_path: Path) -> None:
    client = require_docker()
    # A service with only a `build:` section: built through the SDK, named as compose names it.
    project = f"built{uuid.uuid4().hex[:8]}"
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM chaosgate/test-mini:latest\nLABEL io.chaosgate.test=built\n")
    built = tmp_path / "built.yml"
    built.write_text(f"name: {project}\nservices:\n  app:\n    build: ./app\n    command: [python, app.py]\n"
                     "    ports: ['8000']\n    x-chaosgate: {health: {http: /healthz}}\n")
    try:
        up = chaosgate("stack", "up", "--backend", "docker", "-f", str(built), "--out", str(out))
        assert up.code == 0, up.err
        assert f"building {project}-app for app" in up.err
        assert client.images.get(f"{project}-app").labels.get("io.chaosgate.test") == "built"
        assert chaosgate("stack", "down", "-f", str(built), "--out", str(out)).code == 0
    finally:
        client.images.remove(f"{project}-app", force=True)
    # An image that is not here and cannot be pulled (no registry here): said, with what was tried.
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("name: ghost\nservices:\n  app:\n    image: redis:7\n    ports: ['6379']\n")
    networks_before = {n.name for n in client.networks.list()}
    up = chaosgate("stack", "up", "--backend", "docker", "-f", str(compose), "--out", str(out))
    assert up.code != 0
    assert "app: image redis:7 is not here and pulling it failed" in up.err and "build:" in up.err, up.err
    assert "Traceback" not in up.err
    assert client.containers.list(all=True, filters={"label": "io.chaosgate.service=app"}) == []
    assert {n.name for n in client.networks.list()} == networks_before
    # A run that fails before its stack is up prints that error, not an empty table of SLIs.
    exp = tmp_path / "exp.yaml"
    exp.write_text("name: ghostrun\nstack: docker-compose.yml\nbackend: docker\nphases: {baseline: 1s, fault: 1s}\n"
                   "surfaces: {app: {services: [app], slis: {up: {kind: gauge, metric: up}}}}\n")
    run = chaosgate("run", str(exp), "--out", str(out))
    assert run.code == 3, run.err
    assert "ghostrun: failed before its stack was up — " in run.out and "pulling it failed" in run.out, run.out
    assert "┏" not in run.out, "no table of SLIs"


def test_a_service_without_image_is_a_located_input_error(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("name: noimage\nservices:\n  app:\n    ports: ['8000']\n    x-chaosgate: {local: [python, app.py]}\n")
    exp = tmp_path / "exp.yaml"
    exp.write_text("name: e\nstack: docker-compose.yml\nphases: {warmup: 1s, baseline: 1s, fault: 1s, recovery: 1s}\n"
                   "surfaces: {app: {services: [app], slis: {up: {kind: gauge, metric: up}}}}\n")
    local = chaosgate("run", str(exp), "--dry-run")
    assert local.code == 0, local.err
    docker = chaosgate("run", str(exp), "--dry-run", "--backend", "docker")
    assert docker.code == 3
    assert f"{compose}:4: services.app" in docker.err and "needs an 'image'" in docker.err, docker.err


def test_container_stats_are_streamed_and_follow_a_restarted_container(tmp_path: Path) -> None:
    client = require_docker()
    backend = DockerBackend()
    state = backend.up(load_stack(MINI, use_environ=False), tmp_path / "run")
    sources = {s.name: s for s in sources_for(state.services)}
    try:
        assert {"broker:container", "echo:container", "front:container"} <= set(sources)
        echo = sources["echo:container"]

        def reads() -> list:
            try:
                return echo.read(time.time())
            except SourceError:
                return []

        assert wait_until(lambda: bool(reads()), 30), "readings arrive from the stream"
        names = {s.name for s in reads()}
        assert {"container_cpu_usage_seconds_total", "container_memory_usage_bytes", "container_pids"} <= names
        client.containers.get(state.services["echo"].container_id).kill()
        # A stopped container's stream ends: its readings turn stale and the read says so (never zero).
        assert wait_until(lambda: not reads(), 30), "a stopped container's source reports missing data"
        with pytest.raises(SourceError):
            echo.read(time.time())
        backend.restart(Path(state.run_dir), "echo")
        assert wait_until(lambda: bool(reads()), 30), "the stream follows the restarted container"
    finally:
        for src in sources.values():
            src.close()
        backend.down(StackState.load(state.run_dir))
    assert containers_of(client, state.run_dir) == []


def test_containers_whose_run_directory_is_gone_are_swept_by_rollback(tmp_path: Path, out: Path) -> None:
    import shutil

    client = require_docker()
    run_dir = tmp_path / "doomed"
    state = DockerBackend().up(load_stack(MINI, use_environ=False), run_dir)
    assert len(containers_of(client, state.run_dir)) == 4
    shutil.rmtree(run_dir)  # e.g. a temporary folder cleaned up while its stack still ran
    swept = chaosgate("rollback", "--out", str(out))
    assert swept.code == 0, swept.err
    # Every chaosgate command sweeps orphans, so under `make test`'s two workers the other worker's
    # may get there first (and this one may sweep the other's): what must hold is that nothing of
    # the wiped run survives the command.
    assert containers_of(client, state.run_dir) == []
    assert client.networks.list(names=[state.network]) == []
    assert "Traceback" not in swept.err


def test_cpu_limit_throttles_the_container_until_rolled_back(tmp_path: Path) -> None:
    from pydantic import TypeAdapter

    from chaos.faults import FaultContext
    from chaos.run.journal import Journal
    from chaos.run.reconcile import rollback_journal, verify_gone
    from chaos.spec.experiment import FaultSpec

    client = require_docker()
    backend = DockerBackend()
    stack = load_stack(MINI, use_environ=False)
    state = backend.up(stack, tmp_path / "run")
    echo = client.containers.get(state.services["echo"].container_id)

    def burn() -> tuple[float, float]:
        """(CPU seconds, wall seconds) of a 2 s busy loop inside the container."""
        cpu0, t0 = _cpu(client, echo.id), time.monotonic()
        echo.exec_run(["python3", "-c", "import time\nend = time.time() + 2\nwhile time.time() < end: pass"])
        return _cpu(client, echo.id) - cpu0, time.monotonic() - t0

    try:
        journal = Journal(tmp_path)
        spec = TypeAdapter(FaultSpec).validate_python({"type": "resource.cpu", "service": "echo", "cpus": 0.1})
        spec.inject(FaultContext("t", stack, state, journal))
        echo.reload()
        assert echo.attrs["HostConfig"]["CpuQuota"] == 10_000 and echo.attrs["HostConfig"]["CpuPeriod"] == 100_000
        throttled0 = _throttled(client, echo.id)
        cpu, wall = burn()
        assert _throttled(client, echo.id) > throttled0, "the kernel throttled the container"
        assert cpu / wall < 0.3, f"a busy loop got {cpu / wall:.2f} cores under a 0.1-core limit"
        assert verify_gone(journal) != []
        assert rollback_journal(journal) == [] and verify_gone(journal) == []
        echo.reload()
        assert echo.attrs["HostConfig"]["CpuQuota"] in (0, -1), "no quota left"
    finally:
        backend.down(StackState.load(state.run_dir))


def _stats(client, container_id: str) -> dict:
    return client.api.stats(container_id, stream=False, one_shot=True)


def _cpu(client, container_id: str) -> float:
    return _stats(client, container_id)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9


def _throttled(client, container_id: str) -> int:
    return _stats(client, container_id)["cpu_stats"]["throttling_data"]["throttled_periods"]


class EngineRelay:
    """This machine's Docker engine offered over TCP on one address, as a remote engine is: a
    thread per connection pumping bytes to and from the engine's unix socket."""

    def __init__(self, host: str):
        self.server = socket.create_server((host, 0))
        self.url = f"tcp://{host}:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            engine = socket.socket(socket.AF_UNIX)
            engine.connect("/var/run/docker.sock")
            for a, b in ((conn, engine), (engine, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


REMOTE_EXPERIMENT = f"""name: remote-engine
stack: {MINI}
backend: docker
load: {{profile: {STACKS / 'mini' / 'load.py'}, target: front, users: 2, spawn_rate: 10}}
phases: {{warmup: 3s, baseline: 4s, fault: 5s, recovery: 2s}}  # 3 s: locust's p95 spans its last seconds
deadline: 3m
faults:
  - {{type: network.latency, link: front -> echo, latency_ms: 200}}
  - {{type: broker.hold_connections, count: 3}}
  - {{type: process.pause, service: echo, start: 3s}}
surfaces:
  visitors:
    services: [front]
    slis:
      slow: {{kind: gauge, source: load, metric: locust_response_p95_ms, agg: max, better: lower, tolerance: 50}}
  broker:
    services: [broker]
    slis:
      connections: {{kind: gauge, metric: rabbitmq_connections, agg: max, tolerance: 100}}
  echo:
    services: [echo]
    slis:
      memory: {{kind: gauge, source: "echo:container", metric: container_memory_usage_bytes, agg: max, tolerance: 1e9}}
expected_radius: [visitors]
"""


def test_a_docker_engine_on_another_machine_runs_the_stack_reached_at_its_address(out: Path, tmp_path: Path) -> None:
    """chaosgate in a network namespace (its 127.0.0.1 is its own), the engine reached over TCP at
    this machine's address on the veth pair: everything is published there and reached there."""
    client = require_docker()
    with namespace_hosts(1, 202) as (ns,):
        relay = EngineRelay("10.202.1.1")
        try:
            def here(*args: str, engine: str) -> subprocess.CompletedProcess:
                return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "chaos", *args], cwd=ROOT,
                                      capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                                      env={**os.environ, "DOCKER_HOST": engine})

            up = here("stack", "up", "--backend", "docker", "-f", str(MINI), "--out", str(out), engine=relay.url)
            assert up.returncode == 0, up.stderr[-3000:]
            state = stack_state(out)
            assert state["engine"] == relay.url and state["published_on"] == "0.0.0.0"
            assert {s["host"] for s in state["services"].values()} == {"10.202.1.1"}
            assert state["toxiproxy_url"].startswith("http://10.202.1.1:")
            running = containers_of(client, state["run_dir"])
            assert len(running) == 4 and all(c.labels["io.chaosgate.host"] for c in running)
            front = state["services"]["front"]["ports"]["8000"]
            reach = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c",
                                    f"import socket; socket.create_connection(('127.0.0.1', {front}), timeout=3)"],
                                   capture_output=True, timeout=30)
            assert reach.returncode != 0, "inside the namespace, 127.0.0.1 is not where the stack is"

            # Later commands act on the engine the stack is on, whatever their own DOCKER_HOST says
            # (here: nothing listens there).
            experiment = tmp_path / "experiment.yaml"
            experiment.write_text(REMOTE_EXPERIMENT)
            run = here("run", str(experiment), "--attach", "--out", str(out), engine="tcp://127.0.0.1:9")
            assert run.returncode == 0, run.stderr[-3000:]
            res = json.loads(next(out.glob("runs/*-remote-engine-*/result.json")).read_text())
            assert res["status"] == "completed", res["reason"]
            slis = res["slis"]
            for surface, sli in (("visitors", "slow"), ("broker", "connections"), ("echo", "memory")):
                assert all(slis[surface][sli][p]["value"] is not None for p in ("baseline", "fault", "recovery")), \
                    (surface, slis[surface][sli])
            assert slis["broker"]["connections"]["fault"]["value"] >= slis["broker"]["connections"]["baseline"]["value"] + 3
            assert slis["visitors"]["slow"]["fault"]["value"] > slis["visitors"]["slow"]["baseline"]["value"] + 150
            assert res["rollback"]["entries"] >= 3 and not res["rollback"]["failures"] and \
                not res["rollback"]["outstanding"] and not res["rollback"]["leftovers"], res["rollback"]
            assert all(c.status == "running" for c in containers_of(client, state["run_dir"])), "echo unpaused"
            proxies = requests.get(state["toxiproxy_url"] + "/proxies", timeout=5).json()
            assert all(p["toxics"] == [] and p["enabled"] for p in proxies.values()), proxies

            down = here("stack", "down", "-f", str(MINI), "--out", str(out), engine="tcp://127.0.0.1:9")
            assert down.returncode == 0, down.stderr[-3000:]
            assert containers_of(client, state["run_dir"]) == []
            assert client.networks.list(filters={"label": f"io.chaosgate.run={state['run_dir']}"}) == []
        finally:
            relay.close()
            for c in containers_of(client, str(next(out.glob("stacks/*"), ""))):
                c.remove(force=True)


def test_an_engine_that_does_not_answer_is_named_and_nothing_starts(out: Path) -> None:
    require_docker()
    up = chaosgate("stack", "up", "--backend", "docker", "-f", str(MINI), "--out", str(out),
                   env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert up.code == 3, up.err
    assert "no Docker engine answers at tcp://127.0.0.1:9" in up.err and "Traceback" not in up.err
    assert not list(out.glob("stacks/*/stack.json")) or stack_state(out)["status"] != "up"
