"""The typed backend interface and `stack status`'s rows, without a stack: one sleeping process,
one listening socket, and rows made by hand."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from chaos.backends import get, names
from chaos.backends.base import Backend, service_status
from chaos.backends.state import ServiceState, StackState
from chaos.backends.status import GONE, NOT_STARTED, ServiceStatus
from chaos.cli.main import _print_status, _status_cells
from chaos.components import rabbitmq
from chaos.util.ports import free_port
from chaos.util.procs import signal_group, spawn, stop_group


def test_every_registered_backend_is_the_typed_interface_and_the_base_cannot_run() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Backend()  # type: ignore[abstract]
    for name in names():
        backend = get(name)
        assert isinstance(backend, Backend) and backend.name == name


def test_a_row_carries_what_the_state_records_and_a_stopped_service_is_never_probed() -> None:
    svc = ServiceState(name="broker", kind="rabbitmq", pool="infra",
                       ports={rabbitmq.AMQP_PORT: free_port(), rabbitmq.MANAGEMENT_PORT: free_port()},
                       health_url="http://127.0.0.1:1/api/overview", container_id="abc123def4567890",
                       container_name="chaosgate-0123456789-broker")
    row = service_status(svc, running=False, state="exited")
    assert (row.name, row.kind, row.running, row.state, row.healthy) == ("broker", "rabbitmq", False, "exited", False)
    assert row.port == svc.ports[rabbitmq.AMQP_PORT] and row.ports == svc.ports and row.pool == "infra"
    assert row.management_url == f"http://127.0.0.1:{svc.ports[rabbitmq.MANAGEMENT_PORT]}/"
    assert (row.container_id, row.container_name, row.pid) == (svc.container_id, svc.container_name, None)
    # A service without a management API has none; JSON is the model's own dump.
    plain = service_status(ServiceState(name="echo", kind="process", ports={8000: free_port()}),
                           running=False, state=NOT_STARTED)
    assert plain.management_url is None and plain.model_dump(mode="json")["ports"] == {"8000": plain.port}


def test_a_running_service_is_healthy_when_its_port_answers() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        svc = ServiceState(name="echo", kind="process", ports={8000: listener.getsockname()[1]})
        assert service_status(svc, running=True, state="running", pid=42).healthy
    assert not service_status(svc, running=True, state="running", pid=42).healthy


def test_local_status_says_running_paused_exited_and_not_started(tmp_path: Path) -> None:
    record = spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / "logs" / "s.log")
    state = StackState(name="t", backend="local", compose="c.yml", run_dir=str(tmp_path), services={
        "sleeper": ServiceState(name="sleeper", kind="process", process=record, ports={8000: free_port()}),
        "never": ServiceState(name="never", kind="process", ports={8000: free_port()}),
    })
    backend = get("local")
    try:
        rows = backend.status(state)
        assert list(rows) == ["sleeper", "never"]
        assert (rows["sleeper"].running, rows["sleeper"].state, rows["sleeper"].pid) == (True, "running", record.pid)
        assert not rows["sleeper"].healthy, "nothing listens on its port"
        assert (rows["never"].running, rows["never"].state, rows["never"].pid) == (False, NOT_STARTED, None)
        signal_group(record, signal.SIGSTOP)
        deadline = time.monotonic() + 10  # the kernel stops it a moment after the signal is sent
        while backend.status(state)["sleeper"].state != "paused" and time.monotonic() < deadline:
            time.sleep(0.05)
        paused = backend.status(state)["sleeper"]
        assert (paused.running, paused.state) == (True, "paused"), "a paused process still runs on the local backend"
        assert backend.running(state, "sleeper")
    finally:
        stop_group(record, 1.0)
    assert backend.status(state)["sleeper"].model_dump(include={"running", "state"}) == {"running": False,
                                                                                          "state": "exited"}


def _row(**fields: object) -> ServiceStatus:
    base: dict[str, object] = {"name": "svc", "kind": "process", "running": True, "state": "running",
                               "healthy": True, "port": 40123}
    return ServiceStatus.model_validate({**base, **fields})


def test_status_cells_name_the_process_or_container_and_say_an_unusual_state() -> None:
    assert _status_cells(_row(pid=4242, pool="api")) == ["svc", "4242", "40123", "api", "yes", "yes"]
    assert _status_cells(_row(state="paused", healthy=False, pid=7)) == ["svc", "7", "40123", "-", "yes (paused)", "NO"]
    docker = _row(kind="container", container_id="f" * 64, container_name="chaosgate-0123456789-svc")
    assert _status_cells(docker)[1] == "chaosgate-0123456789-svc"
    gone = _row(kind="container", running=False, state=GONE, healthy=False, container_id="f" * 64)
    assert _status_cells(gone) == ["svc", "f" * 12, "40123", "-", f"NO ({GONE})", "NO"]
    never = _row(running=False, state=NOT_STARTED, healthy=False, port=None)
    assert _status_cells(never) == ["svc", "-", "-", "-", f"NO ({NOT_STARTED})", "NO"]


def test_print_status_is_a_table_with_the_broker_management_url_under_it(capsys: pytest.CaptureFixture[str]) -> None:
    rows = {"front": _row(name="front", pid=101, pool="api"),
            "broker": _row(name="broker", kind="rabbitmq", container_name="chaosgate-0123456789-broker",
                           state="paused", running=False, healthy=False,
                           management_url="http://127.0.0.1:41000/")}
    _print_status(rows)
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "service" in line)
    assert all(word in header for word in ("pid / container", "port", "pool", "running", "healthy"))
    front = next(line for line in out.splitlines() if " front " in line)
    assert "101" in front and "api" in front and "yes" in front
    broker = next(line for line in out.splitlines() if "chaosgate-0123456789-broker" in line)
    assert "NO (paused)" in broker
    assert "broker management: http://127.0.0.1:41000/" in out
