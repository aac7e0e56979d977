"""The local backend with real RabbitMQ, real toxiproxy and real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from chaos.util.ports import is_listening
from tests.conftest import ROOT, STACKS, chaosgate, group_pids, live, recorded_pids, stack_state

pytestmark = pytest.mark.integration  # starts a stack, a server or a browser

MINI = STACKS / "mini" / "docker-compose.yml"


def all_ports(state: dict) -> list[int]:
    ports = [p for s in state["services"].values() for p in s["ports"].values()]
    ports += [link["listen_port"] for link in state["links"]]
    ports.append(int(state["toxiproxy_url"].rsplit(":", 1)[1]))
    return ports


def test_up_traffic_through_proxy_then_down_leaves_nothing(out: Path) -> None:
    up = chaosgate("stack", "up", "-f", str(MINI), "--out", str(out))
    assert up.code == 0, up.err
    state = stack_state(out)
    pids = recorded_pids(state)
    pgids = list(pids)
    try:
        assert state["status"] == "up"
        assert all(live([pid]) for pid in pids), "every recorded process runs"
        # The broker is a real RabbitMQ node with its management API.
        broker = state["services"]["broker"]
        overview = requests.get(f"http://127.0.0.1:{broker['ports']['15672']}/api/overview",
                                auth=("guest", "guest"), timeout=5).json()
        assert overview["node"].startswith("chaosgate-")
        # Links are real toxiproxy proxies pointing at the dependencies' real ports.
        proxies = requests.get(state["toxiproxy_url"] + "/proxies", timeout=5).json()
        assert set(proxies) == {"front->echo", "front->broker"}
        assert proxies["front->echo"]["upstream"] == f"127.0.0.1:{state['services']['echo']['ports']['8000']}"
        # Traffic flows: through the proxy directly, and from front to echo via its link.
        echo_link = next(link for link in state["links"] if link["name"] == "front->echo")
        assert requests.get(f"http://127.0.0.1:{echo_link['listen_port']}/hello", timeout=5).text == "hello from echo\n"
        front = state["services"]["front"]["ports"]["8000"]
        assert requests.get(f"http://127.0.0.1:{front}/via-echo", timeout=5).text == "hello from echo\n"
        assert len(requests.get(f"http://127.0.0.1:{front}/broker", timeout=5).content) == 4
        # Disabling the proxy cuts front off from echo: the traffic really goes through toxiproxy.
        requests.post(state["toxiproxy_url"] + "/proxies/front->echo", json={"enabled": False}, timeout=5)
        assert requests.get(f"http://127.0.0.1:{front}/via-echo", timeout=10).status_code >= 500
        status = chaosgate("stack", "status", "-f", str(MINI), "--out", str(out))
        assert status.code == 0 and "front" in status.out
        assert "broker management: http://" in status.out, status.out  # the builtin RabbitMQ's API
        members = group_pids(pgids)
        assert len(members) > len(pids), "RabbitMQ's Erlang VM runs inside the broker's group"
    finally:
        down = chaosgate("stack", "down", "-f", str(MINI), "--out", str(out))
    assert down.code == 0, down.err
    assert live(pids) == []
    assert group_pids(pgids) == [], "no child of any service survives"
    assert [p for p in all_ports(state) if is_listening(p)] == []
    assert stack_state(out)["status"] == "down"
    again = chaosgate("stack", "status", "-f", str(MINI), "--out", str(out))
    assert again.code == 3 and "no stack 'mini' is up" in again.err


def test_service_never_healthy_fails_by_its_deadline_and_leaves_nothing(out: Path) -> None:
    up = chaosgate("stack", "up", "-f", str(MINI), "--out", str(out), "--set", "ECHO_NEVER_HEALTHY=1")
    assert up.code == 3
    assert "service 'echo' was not healthy within" in up.err
    assert "Traceback" not in up.err
    state = stack_state(out)
    assert state["status"] == "failed"
    pids = recorded_pids(state)
    assert pids, "the broker and echo had been started"
    assert live(pids) == [] and group_pids(pids) == []
    assert [p for p in all_ports(state) if is_listening(p)] == []


def test_service_that_exits_at_start_is_named_with_its_log(out: Path, tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(MINI.read_text().replace("NEVER_HEALTHY: ${ECHO_NEVER_HEALTHY:-}", "CRASH_AT_START: '1'")
                       .replace("[python, app.py]", f"[python, {STACKS / 'mini' / 'app.py'}]"))
    up = chaosgate("stack", "up", "-f", str(compose), "--out", str(out))
    assert up.code == 3
    assert "service 'echo' exited before becoming healthy" in up.err
    assert "crashing as asked" in up.err
    assert live(recorded_pids(stack_state(out))) == []


def test_sigterm_during_up_stops_everything_started(out: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "chaos", "stack", "up", "-f", str(MINI), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until the broker is being started, then interrupt mid-way.
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        states = list(out.glob("stacks/*/stack.json"))
        if states:
            state = json.loads(states[0].read_text())
            if state["services"].get("broker", {}).get("process"):
                break
        time.sleep(0.1)
    assert state and state["services"]["broker"]["process"], "the broker was started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in err
    final = stack_state(out)
    pids = recorded_pids(final)
    assert live(pids) == [] and group_pids(pids) == []


def test_cpu_limit_throttles_the_process_group_until_rolled_back(tmp_path: Path) -> None:
    from pydantic import TypeAdapter

    from chaos.backends.local import LocalBackend
    from chaos.backends.state import StackState
    from chaos.components import cgroups
    from chaos.faults import FaultContext
    from chaos.run.journal import Journal
    from chaos.run.reconcile import rollback_journal, verify_gone
    from chaos.spec.experiment import FaultSpec
    from chaos.stack import load_stack

    assert cgroups.unavailable() is None, cgroups.unavailable()
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("name: cpu\nservices:\n  echo:\n    ports: ['8000']\n    x-chaosgate:\n"
                       f"      local: [python, {STACKS / 'mini' / 'app.py'}]\n      health: {{http: /healthz}}\n")
    stack = load_stack(compose, use_environ=False)
    backend = LocalBackend()
    state = backend.up(stack, tmp_path / "run")
    pid = state.services["echo"].process.pid
    origin = cgroups.cpu_cgroup_of(pid)
    burn = f"http://127.0.0.1:{state.services['echo'].ports[8000]}/burn?ms=2000"

    def share() -> float:
        """Cores a 2 s busy loop in the service got."""
        t0 = time.monotonic()
        cpu = float(requests.get(burn, timeout=30).text)
        return cpu / (time.monotonic() - t0)

    try:
        journal = Journal(tmp_path)
        spec = TypeAdapter(FaultSpec).validate_python({"type": "resource.cpu", "service": "echo", "cpus": 0.1})
        spec.inject(FaultContext("t", stack, state, journal))
        group = cgroups.cpu_cgroup_of(pid)
        assert group.parent == origin and group.name == "chaosgate-t-echo", group
        assert (group / "cpu.cfs_quota_us").read_text().strip() == "10000"
        throttled0 = cgroups.throttled_periods(group)
        limited = share()
        assert cgroups.throttled_periods(group) > throttled0, "the kernel throttled the service"
        assert limited < 0.3, f"a busy loop got {limited:.2f} cores under a 0.1-core limit"
        assert verify_gone(journal) != []
        assert rollback_journal(journal) == [] and verify_gone(journal) == []
        assert not group.exists() and cgroups.cpu_cgroup_of(pid) == origin, "back where it was"
        assert share() > 0.3, "unlimited again"
    finally:
        backend.down(StackState.load(state.run_dir))
