"""The local backend: every service a process on loopback, links through a private toxiproxy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from chaos.backends import envstore
from chaos.backends.base import (
    BROKER_START_S,
    BROKER_STOP_GRACE_S,
    RESTART_DEADLINE_S,
    STOP_GRACE_S,
    Backend,
    health_deadline,
    health_probe,
    health_url,
    plan_service,
    probe_interval,
    service_status,
)
from chaos.backends.state import STATE_FILE, LinkState, StackState
from chaos.backends.status import NOT_STARTED, ServiceStatus
from chaos.components import rabbitmq, toxiproxy
from chaos.errors import InfraError, InputErrors, StackStartError
from chaos.stack import Stack
from chaos.stack.model import Service
from chaos.util.health import Gone, wait_healthy
from chaos.util.ports import free_port
from chaos.util.procs import ProcessRecord, is_alive, spawn, stop_group, tail

#: Seconds toxiproxy-server gets to answer its API after start.
TOXIPROXY_START_S = 15.0


class LocalBackend(Backend):
    """Starts, inspects and stops a stack as local processes."""

    name = "local"

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

    def _start(self, stack: Stack, state: StackState, run_dir: Path) -> None:
        self._start_toxiproxy(state, run_dir)
        self._plan(stack, state)
        self._create_links(state)
        for name in stack.start_order():
            self._start_service(stack, name, state, run_dir)

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
            state.services[name] = plan_service(stack, name, "process")
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
            deadline = health_deadline(svc, BROKER_START_S)
        else:
            argv = [sys.executable if part == "python" else part for part in svc.x_chaosgate.local or []]
            cwd = stack.path.resolve().parent
            if svc.working_dir:
                cwd = cwd / svc.working_dir
            # It inherits this command's environment, as a process started from this shell would;
            # only its own part is recorded in stack.json (redacted), the whole kept for restarts.
            env = envstore.Environment(inherited=dict(os.environ), own=self._environment(stack, name, svc, state))
            envstore.keep(state, name, env)
            svc_state.cwd = str(cwd)
            svc_state.process = spawn(name, argv, env.full, run_dir / "logs" / f"{name}.log", cwd=cwd)
            deadline = health_deadline(svc, 30.0)
        svc_state.health_url = health_url(svc, svc_state)
        state.save()
        record = svc_state.process
        try:
            svc_state.healthy_after_s = wait_healthy(health_probe(svc_state), deadline, probe_interval(svc),
                                                     lambda: is_alive(record))
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
        """A service's own environment: what the compose file declares and what chaosgate sets."""
        env = {**svc.env(), "PYTHONUNBUFFERED": "1", "CHAOSGATE_SERVICE": name}
        env[svc.x_chaosgate.port_env] = str(state.services[name].port)
        for service, link in stack.links():
            if service == name:
                proxy = next(ls for ls in state.links if ls.name == stack.link_name(service, link))
                env[link.env] = f"127.0.0.1:{proxy.listen_port}"
        return env

    # --- status and down ------------------------------------------------------------------------
    def status(self, state: StackState) -> dict[str, ServiceStatus]:
        """Per service: pid, ports, whether its process runs (or is paused) and is healthy right now."""
        rows = {}
        for name, svc in state.services.items():
            now = _process_state(svc.process)
            rows[name] = service_status(svc, running=now in ("running", "paused"), state=now,
                                        pid=svc.process.pid if svc.process else None)
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
        envstore.discard(state)
        return killed

    # --- what faults need -----------------------------------------------------------------------
    def running(self, state: StackState, name: str) -> bool:
        """True when the service's process runs (paused counts as running)."""
        svc = state.services[name]
        return svc.process is not None and is_alive(svc.process)

    def restart(self, run_dir: Path, name: str, deadline_s: float = RESTART_DEADLINE_S) -> None:
        """Start a killed service again with its original command (the undo of process.kill)."""
        state = StackState.load(run_dir)
        svc = state.services[name]
        if state.status in ("down", "failed") or svc.process is None or svc.env is None:
            return  # the stack is gone: nothing to bring back
        if is_alive(svc.process):
            return  # restarted already, or the kill never landed
        _spawn_and_wait(state, name, envstore.resolve(state, name), deadline_s)

    def respawn(self, run_dir: Path, name: str, env: dict[str, str], deadline_s: float = RESTART_DEADLINE_S,
                basis: str | None = None) -> None:
        """Stop a service and start it again with `env` (a configuration swap or its undo; see Backend.respawn)."""
        state = StackState.load(run_dir)
        svc = state.services[name]
        whole = envstore.resolve(state, name, env, basis)  # before the stop: nothing to wait for if it cannot be
        if svc.process is not None:
            stop_group(svc.process, STOP_GRACE_S)
        _spawn_and_wait(state, name, whole, deadline_s)


def _process_state(record: ProcessRecord | None) -> str:
    """running, paused (stopped by a signal: process.pause), exited, or not started."""
    if record is None:
        return NOT_STARTED
    if not is_alive(record):
        return "exited"
    import psutil  # here, not at import, as in chaos.util.procs

    try:
        stopped = psutil.Process(record.pid).status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:
        return "exited"
    return "paused" if stopped else "running"


def _spawn_and_wait(state: StackState, name: str, env: envstore.Environment, deadline_s: float) -> None:
    svc = state.services[name]
    assert svc.process is not None
    envstore.keep(state, name, env)
    svc.process = spawn(name, svc.process.argv, env.full, Path(svc.process.log), cwd=Path(svc.cwd or "."))
    state.save()
    record = svc.process
    try:
        wait_healthy(health_probe(svc), deadline_s, 0.25, lambda: is_alive(record))
    except (TimeoutError, Gone):
        raise InfraError(f"service {name!r} did not come back after its restart:\n{tail(record.log)}") from None
