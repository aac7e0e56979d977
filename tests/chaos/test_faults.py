"""Each fault type takes effect on real components, and is gone after rollback — on both backends:
the mini stack as local processes and as containers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest
import requests
from pydantic import TypeAdapter

from chaos import backends
from chaos.backends.state import StackState
from chaos.components.rabbitmq import ManagementClient
from chaos.components.toxiproxy import ToxiproxyClient
from chaos.faults import FaultContext
from chaos.faults.landing import Landing, Probe
from chaos.run.journal import Journal
from chaos.run.reconcile import rollback_journal, verify_gone
from chaos.spec.experiment import FaultSpec
from chaos.stack import load_stack
from tests.conftest import STACKS, containers_of, group_pids, live, require_docker
from tests.runstack.helpers import wait_until

pytestmark = pytest.mark.integration  # starts a stack, a server or a browser

MINI = STACKS / "mini" / "docker-compose.yml"
parse_fault = TypeAdapter(FaultSpec).validate_python


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def mini(request, tmp_path_factory) -> Iterator[tuple]:
    client = require_docker() if request.param == "docker" else None
    stack = load_stack(MINI, use_environ=False)
    backend = backends.get(request.param)
    state = backend.up(stack, tmp_path_factory.mktemp(f"mini-faults-{request.param}"))
    try:
        yield stack, state
    finally:
        # Services restarted by process.kill and config.swap must be stopped too, not only the
        # originals this copy of the state knows: take their pids from the file before `down`.
        final = StackState.load(state.run_dir)
        backend.down(state)
    if client is not None:
        assert containers_of(client, final.run_dir) == []
        assert client.networks.list(names=[final.network]) == []
        return
    pids = [s.process.pid for s in final.services.values()] + [final.toxiproxy.pid]
    assert live(pids) == [] and group_pids(pids) == []


def instance(mini, service: str) -> str:
    """What identifies one start of a service: its pid, or its container's start time."""
    _, state = mini
    svc = StackState.load(state.run_dir).services[service]
    if svc.container_id:
        return require_docker().containers.get(svc.container_id).attrs["State"]["StartedAt"]
    return str(svc.process.pid)


def container_env(mini, service: str) -> dict[str, str] | None:
    """The environment a service's container really runs with (None on the local backend)."""
    _, state = mini
    svc = StackState.load(state.run_dir).services[service]
    if not svc.container_id:
        return None
    env = require_docker().containers.get(svc.container_id).attrs["Config"]["Env"]
    return dict(item.split("=", 1) for item in env)


#: Journals of the faults injected by the running test (see _no_fault_outlives_its_test).
_INJECTED: list[Journal] = []


@pytest.fixture(autouse=True)
def _no_fault_outlives_its_test():
    """A test that fails before its own rollback must not leave its fault to the next test on the
    shared stack (a latency toxic left behind made every later toxic count wrong)."""
    yield
    while _INJECTED:
        rollback_journal(_INJECTED.pop())


def inject(mini, tmp_path: Path, spec: dict) -> tuple[Journal, list[int]]:
    stack, state = mini
    journal = Journal(tmp_path)
    _INJECTED.append(journal)
    fresh = StackState.load(state.run_dir)
    ctx = FaultContext("test", stack, fresh, journal)
    return journal, parse_fault(spec).inject(ctx)


def watched(mini, tmp_path: Path, spec: dict) -> tuple[Journal, list[int], Probe]:
    """Inject as the engine does: the fault's landing probe made first, told what was injected."""
    stack, state = mini
    journal = Journal(tmp_path)
    _INJECTED.append(journal)
    ctx = FaultContext("test", stack, StackState.load(state.run_dir), journal)
    fault = parse_fault(spec)
    probe = fault.probe(ctx)
    ids = fault.inject(ctx)
    probe.injected([e.undo for e in journal.entries() if e.id in ids])
    return journal, ids, probe


def landing(probe: Probe, seconds: float = 0.0) -> Landing:
    """Sample as the engine's tick does for `seconds`, then the probe's verdict."""
    end = time.time() + seconds
    while (now := time.time()) < end:
        probe.sample(now)
        time.sleep(0.25)
    return Landing.of(probe.finish(time.time()))


def undo_and_verify(journal: Journal) -> None:
    assert rollback_journal(journal) == []
    assert journal.outstanding() == []
    assert verify_gone(journal) == []


def echo_via_proxy(mini, timeout: float = 5.0) -> requests.Response:
    _, state = mini
    link = next(link for link in state.links if link.name == "front->echo")
    return requests.get(f"http://127.0.0.1:{link.listen_port}/hello", timeout=timeout)


def recovered(mini, within_s: float = 10.0) -> int:
    """Status of the first request through the link that gets an answer, retrying for a while."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return echo_via_proxy(mini).status_code
        except requests.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def front(mini, path: str, timeout: float = 5.0) -> requests.Response:
    _, state = mini
    return requests.get(f"http://127.0.0.1:{StackState.load(state.run_dir).services['front'].port}{path}",
                        timeout=timeout)


def toxics(mini) -> dict[str, list]:
    _, state = mini
    return {n: p.toxics for n, p in ToxiproxyClient(state.toxiproxy_url).proxies().items()}


def test_latency_is_measured_through_the_proxy(mini, tmp_path: Path) -> None:
    journal, ids, probe = watched(mini, tmp_path, {"type": "network.latency", "link": "front -> echo",
                                                   "latency_ms": 400})
    assert len(ids) == 1 and journal.entries()[0].state == "injected"
    start = time.monotonic()
    assert echo_via_proxy(mini).text == "hello from echo\n"
    assert time.monotonic() - start >= 0.4
    landed = landing(probe)
    assert landed.landed and landed.share == 1.0 and "traffic crossed during the fault" in landed.summary()
    undo_and_verify(journal)
    assert toxics(mini)["front->echo"] == []


def test_a_link_fault_no_traffic_crosses_did_not_land(mini, tmp_path: Path) -> None:
    journal, _, probe = watched(mini, tmp_path, {"type": "network.latency", "link": "front->broker", "latency_ms": 50})
    landed = landing(probe, 1.0)
    assert landed.landed is False and landed.summary() == ("front->broker: no traffic crossed front->broker during "
                                                           "the fault")
    undo_and_verify(journal)


def _waiting(mini, timeout: float) -> tuple[threading.Thread, list[BaseException]]:
    """A caller waiting on echo through the link, in the background; what it met."""
    met: list[BaseException] = []

    def call() -> None:
        try:
            echo_via_proxy(mini, timeout=timeout)
        except requests.exceptions.RequestException as exc:
            met.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    return caller, met


def test_timeout_zero_hangs_a_client_until_removed(mini, tmp_path: Path) -> None:
    journal, ids, probe = watched(mini, tmp_path, {"type": "network.timeout", "link": "front->echo", "timeout_ms": 0})
    assert len(ids) == 2, "both streams by default"
    caller, met = _waiting(mini, timeout=3.0)
    landed = landing(probe, 2.0)
    caller.join(5)
    assert isinstance(met[0], requests.exceptions.ReadTimeout)
    assert landed.landed, landed.summary()
    assert "1 calls held open" in landed.summary() and "0 closed by the proxy" in landed.summary()
    undo_and_verify(journal)
    assert recovered(mini) == 200


def _closes_after_answering(mini) -> bool:
    _, state = mini
    link = next(link for link in state.links if link.name == "front->echo")
    with socket.create_connection(("127.0.0.1", link.listen_port), timeout=3) as s:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: echo\r\n\r\n")
        try:
            while s.recv(4096):
                pass
        except TimeoutError:
            return False  # still open after the answer: keep-alive
    return True


def test_a_hang_holds_a_dependency_that_closes_after_answering(mini, tmp_path: Path) -> None:
    """The documented hang holds the call whatever the server does; one stream alone does not."""
    swap, _ = inject(mini, tmp_path / "swap", {"type": "config.swap", "services": ["echo"],
                                               "set": {"CLOSE_AFTER_ANSWER": "1"}})
    try:
        assert _closes_after_answering(mini), "echo now closes the connection after answering"
        one, _, probe = watched(mini, tmp_path / "one", {"type": "network.timeout", "link": "front->echo",
                                                         "timeout_ms": 0, "stream": "downstream"})
        with pytest.raises(requests.exceptions.ConnectionError) as ended:
            echo_via_proxy(mini, timeout=3.0)
        # Closed, not timed out: the close passed through and the caller was never held.
        assert not isinstance(ended.value, requests.exceptions.Timeout), ended.value
        landed = landing(probe, 0.5)
        assert landed.landed is False and "calls were closed, not held" in landed.summary(), landed.summary()
        undo_and_verify(one)

        both, _, probe = watched(mini, tmp_path / "both", {"type": "network.timeout", "link": "front->echo",
                                                           "timeout_ms": 0})
        caller, met = _waiting(mini, timeout=3.0)
        landed = landing(probe, 2.0)
        caller.join(5)
        assert isinstance(met[0], requests.exceptions.ReadTimeout), "the caller waited"
        assert landed.landed and "calls held open" in landed.summary(), landed.summary()
        undo_and_verify(both)
    finally:
        undo_and_verify(swap)
    assert recovered(mini) == 200


def test_down_refuses_then_recovers(mini, tmp_path: Path) -> None:
    assert echo_via_proxy(mini).status_code == 200, "the link is in use before it goes down"
    journal, _, probe = watched(mini, tmp_path, {"type": "network.down", "link": "front->echo"})
    with pytest.raises(requests.exceptions.ConnectionError):
        echo_via_proxy(mini, timeout=2.0)
    assert front(mini, "/via-echo").status_code == 502, "the service behind the link sees its dependency gone"
    landed = landing(probe, 0.5)
    assert landed.landed and "refusing connections (read back disabled)" in landed.summary(), landed.summary()
    undo_and_verify(journal)
    assert front(mini, "/via-echo").status_code == 200


def test_reset_peer_resets_connections(mini, tmp_path: Path) -> None:
    journal, _, probe = watched(mini, tmp_path, {"type": "network.reset_peer", "link": "front->echo",
                                                 "timeout_ms": 0})
    with pytest.raises(requests.exceptions.ConnectionError):
        echo_via_proxy(mini, timeout=2.0)
    assert landing(probe).landed
    undo_and_verify(journal)


def test_limit_data_truncates_the_answer(mini, tmp_path: Path) -> None:
    journal, _, probe = watched(mini, tmp_path, {"type": "network.limit_data", "link": "front->echo", "bytes": 20})
    _, state = mini
    link = next(link for link in state.links if link.name == "front->echo")
    with socket.create_connection(("127.0.0.1", link.listen_port), timeout=5) as s:
        s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert 0 < len(data) <= 20
    assert landing(probe).landed
    undo_and_verify(journal)


@pytest.mark.parametrize("spec,attribute", [
    ({"type": "network.bandwidth", "link": "front->echo", "rate_kbps": 1}, ("rate", 1)),
    ({"type": "network.slow_close", "link": "front->echo", "delay_ms": 300}, ("delay", 300)),
    ({"type": "network.slicer", "link": "front->echo", "average_size": 2, "delay_us": 1000}, ("delay", 1000)),
    ({"type": "network.latency", "link": "front->*", "latency_ms": 5, "stream": "upstream", "toxicity": 0.5},
     ("latency", 5)),
])
def test_toxic_is_installed_as_declared_and_removed(mini, tmp_path: Path, spec: dict, attribute: tuple) -> None:
    journal, ids, probe = watched(mini, tmp_path, spec)
    installed = [t for proxy in toxics(mini).values() for t in proxy]
    assert len(installed) == len(ids) >= 1
    assert all(t.attributes[attribute[0]] == attribute[1] for t in installed)
    assert all(t.stream == spec.get("stream", "downstream") and t.toxicity == spec.get("toxicity", 1.0) for t in installed)
    assert echo_via_proxy(mini, timeout=30).status_code == 200, "traffic still flows, shaped"
    landed = landing(probe)
    assert landed.landed and [u.target for u in landed.units if u.landed] == ["front->echo"], landed.summary()
    undo_and_verify(journal)
    assert all(t == [] for t in toxics(mini).values())


def _amqp(state: StackState) -> pika.BlockingConnection:
    params = pika.ConnectionParameters(host="127.0.0.1", port=state.services["broker"].ports[5672],
                                       socket_timeout=3, stack_timeout=6, connection_attempts=1)
    return pika.BlockingConnection(params)


def test_broker_limit_and_saturation_refuse_new_connections(mini, tmp_path: Path) -> None:
    _, state = mini
    mgmt = ManagementClient(f"http://127.0.0.1:{state.services['broker'].ports[15672]}")
    before = mgmt.connection_limit()

    def held() -> int:
        return sum(c["client_properties"].get("connection_name", "").startswith("chaosgate-hold")
                   for c in mgmt.connections())

    journal, _, limit = watched(mini, tmp_path, {"type": "broker.connection_limit", "limit": 3})
    assert mgmt.connection_limit() == 3
    _, _, hold = watched(mini, tmp_path, {"type": "broker.hold_connections", "count": 10})
    # The management API lists connections a statistics interval late.
    assert wait_until(lambda: held() == 3, 15), "held until the broker refused more"
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError):
        _amqp(state)
    assert landing(hold).summary() == "broker: 3 of 10 connections held open; the broker refused the rest after 3"
    limited = landing(limit)
    assert limited.landed and "the limit of '/' reads back 3" in limited.summary(), limited.summary()
    undo_and_verify(journal)
    assert mgmt.connection_limit() == before
    assert wait_until(lambda: held() == 0, 15)
    _amqp(state).close()


def test_pause_stops_answers_until_resumed(mini, tmp_path: Path) -> None:
    journal, _, probe = watched(mini, tmp_path, {"type": "process.pause", "service": "echo"})
    with pytest.raises(requests.exceptions.ReadTimeout):
        echo_via_proxy(mini, timeout=2.0)
    assert landing(probe).summary() == "echo: read back paused"
    undo_and_verify(journal)
    assert recovered(mini) == 200


def test_kill_then_rollback_restarts_the_service(mini, tmp_path: Path) -> None:
    before = instance(mini, "echo")
    journal, _, probe = watched(mini, tmp_path, {"type": "process.kill", "service": "echo"})
    assert wait_until(lambda: _refused(mini), 10), "a killed service stops answering"
    killed = landing(probe)
    assert killed.landed, killed.summary()
    assert verify_gone(journal) != [], "while killed, the fault is reported as still in place"
    undo_and_verify(journal)
    assert instance(mini, "echo") != before
    assert recovered(mini) == 200


def test_restart_bounces_the_service_and_it_answers_again(mini, tmp_path: Path) -> None:
    before = instance(mini, "echo")
    journal, _, probe = watched(mini, tmp_path, {"type": "process.restart", "service": "echo", "grace": "2s"})
    assert instance(mini, "echo") != before, "a new process (or a new start of the container)"
    bounced = landing(probe)
    assert bounced.landed and "a new process runs" in bounced.summary(), bounced.summary()
    assert echo_via_proxy(mini).status_code == 200, "injection returns once the service is healthy again"
    undo_and_verify(journal)


def _refused(mini) -> bool:
    try:
        echo_via_proxy(mini, timeout=2.0)
        return False
    except requests.exceptions.ConnectionError:
        return True


def test_config_swap_restarts_with_new_environment_and_back(mini, tmp_path: Path) -> None:
    _, state = mini
    journal, _, probe = watched(mini, tmp_path, {"type": "config.swap", "services": ["echo"],
                                                 "set": {"GREETING": "swapped"}})
    assert landing(probe).summary() == "echo: the new process runs with GREETING=swapped"
    assert StackState.load(state.run_dir).services["echo"].env["GREETING"] == "swapped"
    assert (container_env(mini, "echo") or {"GREETING": "swapped"})["GREETING"] == "swapped"
    assert echo_via_proxy(mini).status_code == 200
    undo_and_verify(journal)
    assert "GREETING" not in StackState.load(state.run_dir).services["echo"].env
    assert "GREETING" not in (container_env(mini, "echo") or {})
