"""The local backend: every service a process on loopback, links through a private toxiproxy."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from chaos.backends.state import STATE_FILE, LinkState, ServiceState, StackState
from chaos.components import builtin_ports, rabbitmq, toxiproxy
from chaos.errors import InfraError, InputErrors, StackStartError
from chaos.health import Gone, http_ok, tcp_ok, wait_healthy
from chaos.ports import free_port
from chaos.procs import ProcessRecord, is_alive, spawn, stop_group, tail
from chaos.stack import Stack
from chaos.stack.model import Service

#: Seconds a service gets to stop after SIGTERM before its group is killed.
STOP_GRACE_S = 10.0
#: RabbitMQ flushes to disk on shutdown; give it longer.
BROKER_STOP_GRACE_S = 30.0
#: Seconds toxiproxy-server gets to answer its API after start.
TOXIPROXY_START_S = 15.0
#: A broker node's health deadline when the compose file sets none (the API took ~11 s here).
BROKER_START_S = 90.0

Say = Callable[[str], None]


class LocalBackend:
    """Starts, inspects and stops a stack as local processes."""

    name = "local"

    def __init__(self, say: Say = lambda msg: None):
        self.say = say

    # --- up -------------------------------------------------------------------------------------
    def check(self, stack: Stack) -> None:
        """Refuse, before anything starts, a stack this backend cannot run."""
        problems = []
        for name, svc in stack.services.items():
            ext = svc.x_chaosgate
            if not ext.local and not ext.builtin:
                problems.append(stack.doc.error(["services", name],
                                                "the local backend needs x-chaosgate.local (a command) "
                                                "or x-chaosgate.builtin for this service"))
            elif ext.local and not svc.container_ports():
                problems.append(stack.doc.error(["services", name, "ports"],
                                                "a local service needs a port to listen on"))
        if problems:
            raise InputErrors(problems)

    def up(self, stack: Stack, run_dir: Path) -> StackState:
        """Start every service in dependency order and wait for health; on any failure stop all."""
        self.check(stack)
        run_dir.mkdir(parents=True, exist_ok=True)
        state = StackState(name=stack.name, backend=self.name, compose=str(stack.path.resolve()),
                           run_dir=str(run_dir.resolve()), variables=stack.variables)
        state.save()
        try:
            self._start_toxiproxy(state, run_dir)
            self._plan(stack, state)
            self._create_links(state)
            for name in stack.start_order():
                self._start_service(stack, name, state, run_dir)
            state.status = "up"
            state.save()
            return state
        except BaseException:
            # Ctrl-C, SIGTERM or a failed service: nothing started may outlive this call.
            state.status = "failed"
            state.save()
            self.down(state)
            state.status = "failed"
            state.save()
            raise

    def _start_toxiproxy(self, state: StackState, run_dir: Path) -> None:
        record, url = toxiproxy.start_server(run_dir)
        state.toxiproxy, state.toxiproxy_url = record, url
        state.save()
        client = toxiproxy.ToxiproxyClient(url)

        def answers() -> bool:
            try:
                client.version()
                return True
            except InfraError:
                return False

        try:
            wait_healthy(answers, TOXIPROXY_START_S, 0.1, lambda: is_alive(record))
        except (TimeoutError, Gone):
            raise StackStartError(f"toxiproxy-server did not start:\n{tail(record.log)}") from None
        self.say(f"toxiproxy listening on {url}")

    def _plan(self, stack: Stack, state: StackState) -> None:
        """Choose each service's loopback ports before anything needs them (in start order)."""
        for name in stack.start_order():
            svc = stack.services[name]
            # A builtin component always gets all its ports, whatever subset compose publishes.
            ports = list(dict.fromkeys([*svc.container_ports(), *builtin_ports(svc.x_chaosgate.builtin)]))
            kind = "rabbitmq" if svc.x_chaosgate.builtin == "rabbitmq" else "process"
            state.services[name] = ServiceState(name=name, kind=kind, pool=svc.x_chaosgate.pool,
                                                ports={p: free_port() for p in ports})
        for service, link in stack.links():
            target = state.services[link.to]
            port = target.ports[link.port] if link.port else target.port
            state.links.append(LinkState(name=stack.link_name(service, link), service=service, to=link.to,
                                         listen_port=free_port(), upstream=f"127.0.0.1:{port}"))
        state.save()

    def _create_links(self, state: StackState) -> None:
        client = toxiproxy.ToxiproxyClient(state.toxiproxy_url or "")
        for link in state.links:
            client.create_proxy(link.name, f"127.0.0.1:{link.listen_port}", link.upstream)
        if state.links:
            self.say(f"{len(state.links)} links proxied: " + ", ".join(link.name for link in state.links))

    def _start_service(self, stack: Stack, name: str, state: StackState, run_dir: Path) -> None:
        svc = stack.services[name]
        svc_state = state.services[name]
        self.say(f"starting {name}")
        if svc_state.kind == "rabbitmq":
            amqp, mgmt = svc_state.ports[rabbitmq.AMQP_PORT], svc_state.ports[rabbitmq.MANAGEMENT_PORT]
            svc_state.process = rabbitmq.start_node(run_dir, amqp, mgmt, svc_state.ports[rabbitmq.PROMETHEUS_PORT])
            svc_state.health_url = f"http://127.0.0.1:{mgmt}/api/overview"
            probe = lambda: http_ok(svc_state.health_url, auth=("guest", "guest")) and tcp_ok(amqp)  # noqa: E731
            deadline = _deadline(svc, BROKER_START_S)
        else:
            argv = [sys.executable if part == "python" else part for part in svc.x_chaosgate.local or []]
            cwd = stack.path.resolve().parent
            if svc.working_dir:
                cwd = cwd / svc.working_dir
            svc_state.env, svc_state.cwd = self._environment(stack, name, svc, state), str(cwd)
            svc_state.process = spawn(name, argv, svc_state.env, run_dir / "logs" / f"{name}.log", cwd=cwd)
            probe, svc_state.health_url = self._probe(svc, svc_state)
            deadline = _deadline(svc, 30.0)
        state.save()
        record = svc_state.process
        interval = svc.healthcheck.start_interval or 0.25 if svc.healthcheck else 0.25
        try:
            svc_state.healthy_after_s = wait_healthy(probe, deadline, min(interval, 1.0), lambda: is_alive(record))
        except Gone:
            raise StackStartError(f"service {name!r} exited before becoming healthy "
                                  f"(log: {record.log}):\n{tail(record.log)}") from None
        except TimeoutError:
            raise StackStartError(f"service {name!r} was not healthy within {deadline:.0f} s "
                                  f"(log: {record.log}):\n{tail(record.log)}") from None
        state.save()
        self.say(f"{name} healthy after {svc_state.healthy_after_s:.1f} s (port {svc_state.port})")

    @staticmethod
    def _environment(stack: Stack, name: str, svc: Service, state: StackState) -> dict[str, str]:
        env = {**os.environ, **svc.env(), "PYTHONUNBUFFERED": "1", "CHAOSGATE_SERVICE": name}
        env[svc.x_chaosgate.port_env] = str(state.services[name].port)
        for service, link in stack.links():
            if service == name:
                proxy = next(ls for ls in state.links if ls.name == stack.link_name(service, link))
                env[link.env] = f"127.0.0.1:{proxy.listen_port}"
        return env

    @staticmethod
    def _probe(svc: Service, svc_state: ServiceState) -> tuple[Callable[[], bool], str | None]:
        port = svc_state.port
        health = svc.x_chaosgate.health
        if health and health.http:
            url = f"http://127.0.0.1:{port}/{health.http.lstrip('/')}"
            return (lambda: http_ok(url)), url
        return (lambda: tcp_ok(port)), None

    # --- status and down ------------------------------------------------------------------------
    def status(self, state: StackState) -> dict[str, dict]:
        """Per service: pid, port, alive and healthy right now (each probe bounded)."""
        rows = {}
        for name, svc in state.services.items():
            alive = svc.process is not None and is_alive(svc.process)
            if not alive:
                healthy = False
            elif svc.kind == "rabbitmq":
                healthy = http_ok(svc.health_url or "", auth=("guest", "guest"))
            elif svc.health_url:
                healthy = http_ok(svc.health_url)
            else:
                healthy = svc.port is not None and tcp_ok(svc.port)
            rows[name] = {"pid": svc.process.pid if svc.process else None, "port": svc.port,
                          "alive": alive, "healthy": healthy, "pool": svc.pool}
        return rows

    def down(self, state: StackState) -> list[str]:
        """Stop services in reverse start order, then toxiproxy; names of those that needed SIGKILL."""
        if (Path(state.run_dir) / STATE_FILE).exists():
            # The file is the truth: a fault's restart (process.kill, config.swap) records the new
            # process there, not in whatever copy the caller holds.
            state = StackState.load(state.run_dir)
        state.status = "stopping"
        state.save()
        killed = []
        for name in reversed(list(state.services)):
            svc = state.services[name]
            if svc.process is None:
                continue
            grace = BROKER_STOP_GRACE_S if svc.kind == "rabbitmq" else STOP_GRACE_S
            self.say(f"stopping {name}")
            if stop_group(svc.process, grace):
                killed.append(name)
            if svc.kind == "rabbitmq":
                rabbitmq.remove_node_data(Path(state.run_dir))
        if state.toxiproxy is not None and stop_group(state.toxiproxy, STOP_GRACE_S):
            killed.append("toxiproxy")
        state.status = "down"
        state.save()
        return killed

    # --- what faults need -----------------------------------------------------------------------
    def restart(self, run_dir: Path, name: str, deadline_s: float = 30.0) -> None:
        """Start a killed service again with its original command (the undo of process.kill)."""
        restart_service(run_dir, name, deadline_s)

    def respawn(self, run_dir: Path, name: str, env: dict[str, str], deadline_s: float = 30.0) -> None:
        """Stop a service and start it again with `env` (a configuration swap or its undo)."""
        respawn(run_dir, name, env, deadline_s)


def restart_service(run_dir: Path, name: str, deadline_s: float = 30.0) -> None:
    """Start a killed local service again with its original command (the undo of process.kill)."""
    state = StackState.load(run_dir)
    svc = state.services[name]
    if state.status in ("down", "failed") or svc.process is None or svc.env is None:
        return  # the stack is gone: nothing to bring back
    if is_alive(svc.process):
        return  # restarted already, or the kill never landed
    _spawn_and_wait(state, name, svc.env, deadline_s)


def respawn(run_dir: Path, name: str, env: dict[str, str], deadline_s: float = 30.0) -> None:
    """Stop a local service and start it again with `env` (a configuration swap or its undo)."""
    state = StackState.load(run_dir)
    svc = state.services[name]
    if svc.process is not None:
        stop_group(svc.process, STOP_GRACE_S)
    _spawn_and_wait(state, name, env, deadline_s)


def _spawn_and_wait(state: StackState, name: str, env: dict[str, str], deadline_s: float) -> None:
    svc = state.services[name]
    assert svc.process is not None
    svc.env = dict(env)
    svc.process = spawn(name, svc.process.argv, svc.env, Path(svc.process.log), cwd=Path(svc.cwd or "."))
    state.save()
    probe = (lambda: http_ok(svc.health_url)) if svc.health_url else (lambda: tcp_ok(svc.port or 0))
    record = svc.process
    try:
        wait_healthy(probe, deadline_s, 0.25, lambda: is_alive(record))
    except (TimeoutError, Gone):
        raise InfraError(f"service {name!r} did not come back after its restart:\n{tail(record.log)}") from None


def _deadline(svc: Service, default_s: float) -> float:
    """How long a service may take to become healthy: compose's healthcheck timings, else default."""
    hc = svc.healthcheck
    if hc is None:
        return default_s
    return hc.start_period + hc.interval * max(hc.retries, 1) + hc.timeout
