"""The docker backend with real containers, a real toxiproxy container and real RabbitMQ."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import requests

from chaos.backends.docker import DockerBackend
from chaos.backends.state import StackState
from chaos.metrics.sources import SourceError, sources_for
from chaos.stack import load_stack
from tests.conftest import STACKS, chaosgate, containers_of, require_docker, stack_state
from tests.runstack.helpers import wait_until

pytestmark = pytest.mark.docker
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

    from chaos.experiment import FaultSpec
    from chaos.faults import FaultContext
    from chaos.journal import Journal
    from chaos.reconcile import rollback_journal, verify_gone

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


def test_a_docker_engine_on_another_machine_is_refused_with_the_reason(out: Path) -> None:
    require_docker()
    up = chaosgate("stack", "up", "--backend", "docker", "-f", str(MINI), "--out", str(out),
                   env={"DOCKER_HOST": "tcp://203.0.113.5:2375"})
    assert up.code == 3, up.err
    assert "DOCKER_HOST=tcp://203.0.113.5:2375 is an engine on another machine" in up.err and "127.0.0.1" in up.err
    assert not list(out.glob("stacks/*/stack.json")) or stack_state(out)["status"] != "up"
