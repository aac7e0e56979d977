"""The docker backend: every service a container on a private network, links through a toxiproxy
container, every port published for chaosgate to probe, measure and fault.

Services reach each other only through toxiproxy (`toxiproxy:<port>` on the stack's network), so
every link can be faulted exactly as on the local backend. chaosgate itself reaches containers
through their published ports: on 127.0.0.1 with a local engine; with an engine on another
machine (DOCKER_HOST=tcp://…), on that machine's address. The engine picks each port when the
container is first created; a container created again (a restart, a swap) asks for the same one.
The engine is recorded in the state, so every later command acts on the engine the stack is on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chaos.backends import envstore
from chaos.backends.base import (
    BROKER_START_S,
    BROKER_STOP_GRACE_S,
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
from chaos.backends.status import GONE, NOT_STARTED, ServiceStatus
from chaos.components import builtin_ports, containers, toxiproxy
from chaos.errors import InfraError, InputErrors, StackStartError
from chaos.stack import Stack
from chaos.stack.model import Build
from chaos.util.health import Gone, wait_healthy

TOXIPROXY_IMAGE = "chaosgate/toxiproxy:2.12.0"
BUILTIN_IMAGES = {"rabbitmq": "chaosgate/rabbitmq:3.10"}
TOXIPROXY_API_PORT = 8474
#: Proxies listen from this port up inside the toxiproxy container.
FIRST_PROXY_PORT = 20000


class DockerBackend(Backend):
    """Starts, inspects and stops a stack as containers, through the Docker SDK."""

    name = "docker"

    # --- up -------------------------------------------------------------------------------------
    def check(self, stack: Stack) -> None:
        """Refuse, before anything starts, a stack this backend cannot run."""
        problems = []
        for name, svc in stack.services.items():
            if not svc.image and not svc.build and not svc.x_chaosgate.builtin:
                problems.append(stack.doc.error(["services", name], "the docker backend needs an 'image' "
                                                "or a 'build' section"))
            elif not svc.container_ports() and not svc.x_chaosgate.builtin:
                problems.append(stack.doc.error(["services", name, "ports"],
                                                "a service needs a port chaosgate can probe and measure"))
        if problems:
            raise InputErrors(problems)

    def _preflight(self, stack: Stack) -> None:
        """Every image present before anything is created, as `docker compose up` would have it:
        a service with a `build:` section is built, another image is pulled (bounded); chaosgate's
        own images come from its build script. One message lists each image still missing."""
        engine = containers.current_engine()
        client = containers.connect(engine=engine)
        own = {TOXIPROXY_IMAGE, *BUILTIN_IMAGES.values()}
        wanted = {name: _image(svc, stack.name, name) for name, svc in stack.services.items()}
        missing = set(containers.missing_images(client, [TOXIPROXY_IMAGE, *wanted.values()]))
        problems = [f"{image} (chaosgate's own): {containers.BUILD_HINT}" for image in sorted(missing & own)]
        for name, image in wanted.items():
            svc = stack.services[name]
            if image not in missing or image in own:
                continue
            if svc.build is not None:
                build = Build(context=svc.build) if isinstance(svc.build, str) else svc.build
                context = stack.path.parent / build.context
                self.say(f"building {image} for {name} from {context} (at most {containers.BUILD_TIMEOUT_S:.0f}s)")
                why = containers.build(str(context), build.dockerfile, build.args, image, engine)
                if why:
                    problems.append(f"{name}: building {image} from {context} failed: {why}")
            else:
                self.say(f"pulling {image} for {name} (at most {containers.PULL_TIMEOUT_S:.0f}s)")
                why = containers.pull(image, engine)
                if why:
                    problems.append(f"{name}: image {image} is not here and pulling it failed: {why}; give the "
                                    "service a `build:` section, or load the image (`docker load`)")
            missing.discard(image)
        if problems:
            raise StackStartError("missing image(s): " + "; ".join(problems))

    def _start(self, stack: Stack, state: StackState, run_dir: Path) -> None:
        state.engine = containers.current_engine()
        state.published_on = containers.publish_ip(state.engine)
        client = containers.connect(engine=state.engine)
        (run_dir / "logs").mkdir(exist_ok=True)
        state.network = f"chaosgate-{_short_id(state.run_dir)}"
        state.save()
        client.networks.create(state.network, driver="bridge", labels=_labels(state))
        if containers.remote_host(state.engine):
            self.say(f"engine at {state.engine}: ports published on {state.published_on} there, "
                     f"reached at {containers.reach_address(state.engine)}")
        self._plan(stack, state)
        self._start_toxiproxy(client, state)
        for name in stack.start_order():
            self._start_service(client, stack, name, state)

    def _plan(self, stack: Stack, state: StackState) -> None:
        """Each service's image, command and ports (0 until the engine picks the published one)."""
        host = containers.reach_address(state.engine or "")
        for name in stack.start_order():
            svc = stack.services[name]
            planned = plan_service(stack, name, "container")
            planned.ports, planned.host, planned.engine = dict.fromkeys(planned.ports, 0), host, state.engine
            planned.image, planned.command = _image(svc, stack.name, name), _command(svc.command)
            state.services[name] = planned
        for i, (service, link) in enumerate(stack.links()):
            to_port = link.port or (stack.services[link.to].container_ports()
                                    or builtin_ports(stack.services[link.to].x_chaosgate.builtin))[0]
            inner = FIRST_PROXY_PORT + i
            state.links.append(LinkState(name=stack.link_name(service, link), service=service, to=link.to,
                                         listen_port=0, listen_host=host, upstream=f"{link.to}:{to_port}",
                                         inner_port=inner, address=f"toxiproxy:{inner}"))
        state.save()

    def _start_toxiproxy(self, client: Any, state: StackState) -> None:
        inner = [TOXIPROXY_API_PORT, *(link.inner_port for link in state.links)]
        ports = {f"{port}/tcp": (state.published_on, None) for port in inner}  # the engine picks each
        # Appended to the image's entrypoint; per-proxy byte counters are a link fault's landing evidence.
        container = _run(client, state, "toxiproxy", TOXIPROXY_IMAGE, ["-proxy-metrics"], {"LOG_LEVEL": "warn"}, ports)
        container.reload()
        for link in state.links:
            link.listen_port = containers.host_port(container, link.inner_port or 0) or 0
        host = containers.reach_address(state.engine or "")
        state.toxiproxy_container = container.id
        state.toxiproxy_url = f"http://{host}:{containers.host_port(container, TOXIPROXY_API_PORT)}"
        state.save()
        proxy = toxiproxy.ToxiproxyClient(state.toxiproxy_url)

        def answers() -> bool:
            try:
                proxy.version()
                return True
            except InfraError:
                return False

        try:
            wait_healthy(answers, 30.0, 0.2, lambda: _running(container))
        except (TimeoutError, Gone):
            raise StackStartError(f"toxiproxy container did not start:\n{containers.logs_tail(container)}") from None
        for link in state.links:
            proxy.create_proxy(link.name, f"0.0.0.0:{link.inner_port}", link.upstream)
        self.say(f"toxiproxy container up ({state.toxiproxy_url}); {len(state.links)} links proxied")

    def _start_service(self, client: Any, stack: Stack, name: str, state: StackState) -> None:
        svc, svc_state = stack.services[name], state.services[name]
        self.say(f"starting {name} ({svc_state.image})")
        env = svc.env()
        if svc_state.kind != "rabbitmq":
            env.update({"PYTHONUNBUFFERED": "1", "CHAOSGATE_SERVICE": name,
                        svc.x_chaosgate.port_env: str(next(iter(svc_state.ports)))})
            for service, link in stack.links():
                if service == name:
                    address = next(ls.address for ls in state.links if ls.name == stack.link_name(service, link))
                    assert address is not None, "_plan gives every link of a docker stack its address"
                    env[link.env] = address
        # A container inherits nothing from this command; its environment (secret values
        # included) is kept for restarts, only redacted in stack.json.
        whole = envstore.Environment(own=env)
        envstore.keep(state, name, whole)
        svc_state.limits = _limits(svc)
        state.save()
        container = _create(client, state, name, whole.full)
        svc_state.container_id, svc_state.container_name = container.id, container.name
        state.save()
        deadline = health_deadline(svc, BROKER_START_S if svc_state.kind == "rabbitmq" else 30.0)
        svc_state.health_url = health_url(svc, svc_state)
        svc_state.healthy_after_s = _wait(container, health_probe(svc_state), deadline, probe_interval(svc), name)
        state.save()
        self.say(f"{name} healthy after {svc_state.healthy_after_s:.1f} s (port {svc_state.port})")

    # --- status and down ------------------------------------------------------------------------
    def status(self, state: StackState) -> dict[str, ServiceStatus]:
        """Per service: container, ports, the engine's word for it (running, paused, ...) and healthy right now."""
        client = containers.connect(engine=state.engine)
        rows = {}
        for name, svc in state.services.items():
            container = containers.find(client, svc.container_id) if svc.container_id else None
            now = container.status if container is not None else GONE if svc.container_id else NOT_STARTED
            rows[name] = service_status(svc, running=now == "running", state=now,
                                        container_name=container.name if container is not None else None)
        return rows

    def down(self, state: StackState) -> list[str]:
        """Save each container's log, remove the run's containers and network; names of those killed."""
        if (Path(state.run_dir) / STATE_FILE).exists():
            state = StackState.load(state.run_dir)  # a fault's restart records the new container there
        state.status = "stopping"
        state.save()
        client = containers.connect(engine=state.engine)
        killed = []
        # By label, not by the ids in the state: a crash between create and save leaves an id unrecorded.
        found = {c.labels.get(containers.LABEL_SERVICE, c.name): c for c in containers.labelled(client, state.run_dir)}
        order = [n for n in reversed(list(state.services)) if n in found] + [n for n in found if n not in state.services]
        for name in order:
            container = found[name]
            self.say(f"stopping {name}")
            _save_log(container, Path(state.run_dir) / "logs" / f"{name}.log")
            svc = state.services.get(name)
            grace = BROKER_STOP_GRACE_S if svc is not None and svc.kind == "rabbitmq" else STOP_GRACE_S
            if containers.stop_and_remove(client, container, grace):
                killed.append(name)
        if state.network:
            containers.remove_network(client, state.network)
        state.status = "down"
        state.save()
        envstore.discard(state)
        return killed

    # --- what faults need -----------------------------------------------------------------------
    def running(self, state: StackState, name: str) -> bool:
        """True when the service's container runs (a paused one does not)."""
        container = containers.lookup(state.services[name].container_id, state.engine)
        return container is not None and container.status == "running"

    def restart(self, run_dir: Path, name: str, deadline_s: float = 60.0) -> None:
        """Run a killed service again as it was (the undo of process.kill): a new container from the
        same image, environment and ports — a stopped one started again would get new ports from
        the engine, where nothing measuring it looks."""
        state = StackState.load(run_dir)
        svc = state.services[name]
        if state.status in ("down", "failed") or not svc.container_id:
            return
        client = containers.connect(engine=state.engine)
        old = containers.find(client, svc.container_id)
        if old is not None and old.status == "running":
            return
        whole = envstore.resolve(state, name, inherit=False)
        if old is not None:
            _save_log(old, Path(run_dir) / "logs" / f"{name}.log")
            containers.stop_and_remove(client, old, STOP_GRACE_S)
        container = _create(client, state, name, whole.full)
        svc.container_id = container.id
        state.save()
        _wait(container, health_probe(svc), deadline_s, 0.25, name)

    def respawn(self, run_dir: Path, name: str, env: dict[str, str], deadline_s: float = 60.0,
                basis: str | None = None) -> None:
        """Replace a service's container with one started with `env` (a configuration swap or its
        undo; see Backend.respawn)."""
        state = StackState.load(run_dir)
        svc = state.services[name]
        whole = envstore.resolve(state, name, env, basis, inherit=False)
        client = containers.connect(engine=state.engine)
        old = containers.find(client, svc.container_id) if svc.container_id else None
        if old is not None:
            _save_log(old, Path(run_dir) / "logs" / f"{name}.log")
            containers.stop_and_remove(client, old, STOP_GRACE_S)
        envstore.keep(state, name, whole)
        container = _create(client, state, name, whole.full)
        svc.container_id = container.id
        state.save()
        _wait(container, health_probe(svc), deadline_s, 0.25, name)


# --- helpers ------------------------------------------------------------------------------------
def _short_id(run_dir: str) -> str:
    return hashlib.sha1(run_dir.encode()).hexdigest()[:10]


def _image(svc: Any, project: str, name: str) -> str:
    # A builtin component is chaosgate's own build (plugins and config it relies on), whatever
    # image compose names for users of plain `docker compose`; a service with only `build:` gets
    # compose's own name for what it builds.
    if svc.x_chaosgate.builtin:
        return BUILTIN_IMAGES[svc.x_chaosgate.builtin]
    return svc.image or f"{project}-{name}"


def _command(command: list[str] | str | None) -> list[str] | None:
    if isinstance(command, str):
        import shlex

        return shlex.split(command)
    return command


def _limits(svc: Any) -> dict[str, Any]:
    """Compose's deploy.resources.limits as Docker arguments.

    CPU is a CFS quota, not nano_cpus: Docker cannot change the quota later on a container
    created with nano_cpus, and a CPU fault needs to.
    """
    limits = svc.deploy.resources.limits
    out: dict[str, Any] = {}
    if limits.cpus:
        out.update(cpu_period=100_000, cpu_quota=int(limits.cpus * 100_000))
    if limits.memory:
        out["mem_limit"] = limits.memory
    return out


def _run(client: Any, state: StackState, name: str, image: str, command: list[str] | None,
         env: dict[str, str], ports: Mapping[str, tuple[str, int | None]], **extra: Any) -> Any:
    """Run one labelled container on the stack's network, reachable there as `name`; `ports` maps
    "PORT/tcp" to (host address, host port), None letting the engine pick the port."""
    return client.containers.run(
        image, command=command, name=f"chaosgate-{_short_id(state.run_dir)}-{name}", detach=True,
        environment=env, labels={**_labels(state), containers.LABEL_SERVICE: name},
        network=state.network, ports=ports, init=True, hostname=name,
        networking_config={state.network: client.api.create_endpoint_config(aliases=[name])}, **extra)


def _labels(state: StackState) -> dict[str, str]:
    """What finds a stack's objects after a crash: its run directory, and the machine it belongs to."""
    return {containers.LABEL_RUN: state.run_dir, containers.LABEL_HOST: containers.machine_id()}


def _create(client: Any, state: StackState, name: str, env: dict[str, str]) -> Any:
    """Create and start a service's container with `env`; a port published before is asked for again."""
    svc = state.services[name]
    ports = {f"{inner}/tcp": (state.published_on, outer or None) for inner, outer in svc.ports.items()}
    try:
        container = _run(client, state, name, svc.image or "", svc.command, env, ports,
                         **(svc.limits or {}))
    except containers.errors().APIError as exc:
        raise StackStartError(f"could not start a container for {name!r}: {exc.explanation or exc}") from None
    if not all(svc.ports.values()):
        container.reload()
        svc.ports = {inner: containers.host_port(container, inner) or 0 for inner in svc.ports}
    return container


def _running(container: Any) -> bool:
    try:
        container.reload()
    except containers.errors().NotFound:
        return False
    return container.status in ("created", "running")


def _wait(container: Any, probe: Callable[[], bool], deadline_s: float, interval_s: float, name: str) -> float:
    try:
        return wait_healthy(probe, deadline_s, interval_s, lambda: _running(container))
    except Gone:
        raise StackStartError(f"service {name!r} exited before becoming healthy:\n"
                              f"{containers.logs_tail(container)}") from None
    except TimeoutError:
        raise StackStartError(f"service {name!r} was not healthy within {deadline_s:.0f} s:\n"
                              f"{containers.logs_tail(container)}") from None


def _save_log(container: Any, path: Path) -> None:
    """Append a container's whole output to the run's log for that service (kept after removal)."""
    try:
        data = container.logs(timestamps=False)
    except Exception:  # noqa: BLE001 - losing a log must not stop a teardown
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)
