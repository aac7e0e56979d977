"""The Docker engine, through the Docker SDK: every call bounded, every object labelled with its run.

Labels are how chaosgate finds what it started after a crash: `io.chaosgate.run` holds the run
directory, so `chaosgate rollback` and the next run can remove exactly that run's containers and
network and nothing else on the machine.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from chaos.errors import InfraError

#: Seconds any one Docker API call may take (a container stop adds its own grace to this).
API_TIMEOUT_S = 15.0
LABEL_RUN = "io.chaosgate.run"
LABEL_SERVICE = "io.chaosgate.service"
LABEL_HOST = "io.chaosgate.host"
#: chaosgate's own images (toxiproxy, its RabbitMQ) come from its build script, never a registry.
BUILD_HINT = "build them with `bash scripts/build-images` (scripts/setup does it)"
#: Seconds a pull, and a build, may take: they move images, so the API bound above is too short.
PULL_TIMEOUT_S = 300.0
BUILD_TIMEOUT_S = 900.0


def current_engine() -> str:
    """The engine this process would use: DOCKER_HOST, or "" for the local default socket."""
    return os.environ.get("DOCKER_HOST", "")


def remote_host(engine: str) -> str | None:
    """The machine an engine address names when it is another one (tcp://H:P, ssh://U@H), else None."""
    from urllib.parse import urlsplit

    if not engine or engine.startswith(("unix://", "npipe://", "fd://")):
        return None
    host = urlsplit(engine if "://" in engine else f"tcp://{engine}").hostname or ""
    return None if host in ("localhost", "127.0.0.1", "::1") else host


def reach_address(engine: str) -> str:
    """Where this machine reaches the ports `engine` publishes: CHAOSGATE_DOCKER_ADDRESS if set,
    else the remote engine's host, else 127.0.0.1."""
    return os.environ.get("CHAOSGATE_DOCKER_ADDRESS") or remote_host(engine) or "127.0.0.1"


def publish_ip(engine: str) -> str:
    """The engine-side address ports are published on: loopback for a local engine (nothing of a
    test stack is exposed); for a remote one CHAOSGATE_DOCKER_PUBLISH, else every interface."""
    if remote_host(engine) is None and not os.environ.get("CHAOSGATE_DOCKER_ADDRESS"):
        return "127.0.0.1"
    return os.environ.get("CHAOSGATE_DOCKER_PUBLISH") or "0.0.0.0"


def machine_id() -> str:
    """This machine, as the label on what it creates: an orphan sweep only touches its own."""
    try:
        return Path("/etc/machine-id").read_text().strip() or socket.gethostname()
    except OSError:
        return socket.gethostname()


def connect(timeout_s: float = API_TIMEOUT_S, engine: str | None = None) -> Any:
    """A Docker client whose every request is bounded, for `engine` (a DOCKER_HOST value, "" for the
    local socket; None: this process's environment); InfraError when no engine answers."""
    import docker  # the SDK imports requests and urllib3: only commands that need it pay for it

    environment = dict(os.environ)
    if engine is not None:
        environment.pop("DOCKER_HOST", None)
        if engine:
            environment["DOCKER_HOST"] = engine
    where = f"at {engine or environment.get('DOCKER_HOST')}" if engine or environment.get("DOCKER_HOST") else "here"
    try:
        client = docker.from_env(timeout=int(timeout_s), environment=environment)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise InfraError(f"no Docker engine answers {where} ({exc.__class__.__name__}: {exc}); "
                         "start one with `bash scripts/setup` or use --backend local") from None


def errors() -> Any:
    """The SDK's exception module (imported lazily like the SDK)."""
    import docker.errors

    return docker.errors


def missing_images(client: Any, images: list[str]) -> list[str]:
    """The images not present locally (a missing image would trigger a pull, which fails here)."""
    missing = []
    for image in dict.fromkeys(images):
        try:
            client.images.get(image)
        except errors().ImageNotFound:
            missing.append(image)
    return missing


def pull(image: str, engine: str | None = None) -> str | None:
    """Pull `image` within PULL_TIMEOUT_S; None when it came, else why it did not."""
    import docker

    repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    try:
        connect(PULL_TIMEOUT_S, engine).images.pull(repo, tag=tag)
        return None
    except (docker.errors.DockerException, InfraError) as exc:
        return getattr(exc, "explanation", None) or str(exc)
    except Exception as exc:  # noqa: BLE001 - a timed-out stream (requests' ReadTimeout) is a reason too
        return f"{exc.__class__.__name__}: {exc}"


def build(context: str, dockerfile: str | None, args: dict[str, str], tag: str,
          engine: str | None = None) -> str | None:
    """Build `tag` from a compose `build:` section within BUILD_TIMEOUT_S; None, or why it failed."""
    import docker

    try:
        connect(BUILD_TIMEOUT_S, engine).images.build(path=context, dockerfile=dockerfile, buildargs=args or None, tag=tag,
                                              rm=True, forcerm=True, labels={"io.chaosgate.built": "true"})
        return None
    except docker.errors.BuildError as exc:
        last = [line.get("stream", line.get("error", "")).strip() for line in exc.build_log][-3:]
        return f"{exc.msg} ({' | '.join(x for x in last if x)})"
    except (docker.errors.DockerException, InfraError, TypeError) as exc:
        return getattr(exc, "explanation", None) or str(exc)
    except Exception as exc:  # noqa: BLE001 - as in pull
        return f"{exc.__class__.__name__}: {exc}"


def labelled(client: Any, run_dir: str) -> list[Any]:
    """Every container (running or not) of the run whose directory is `run_dir`."""
    return client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_dir}"}, ignore_removed=True)


def find(client: Any, container_id: str) -> Any | None:
    """The container, or None when it no longer exists."""
    try:
        return client.containers.get(container_id)
    except errors().NotFound:
        return None


def lookup(container_id: str | None, engine: str | None = None) -> Any | None:
    """The container with this id on `engine`, or None when it is gone (or no id)."""
    return find(connect(engine=engine), container_id) if container_id else None


def stop_and_remove(client: Any, container: Any, grace_s: float) -> bool:
    """Stop (SIGTERM, then SIGKILL after grace) and remove; True when it had to be killed."""
    killed = False
    try:
        container.reload()
        if container.status in ("running", "paused", "restarting"):
            if container.status == "paused":
                container.unpause()  # a frozen process cannot see SIGTERM
            container.stop(timeout=int(grace_s))
            container.reload()
            killed = container.attrs.get("State", {}).get("ExitCode") == 137
        container.remove(force=True)
    except errors().NotFound:
        pass
    except errors().APIError as exc:
        if "removal of container" not in str(exc) and "is already in progress" not in str(exc):
            raise InfraError(f"could not remove container {container.name}: {exc}") from None
    return killed


def remove_network(client: Any, name: str) -> None:
    """Remove a network if it exists (after its containers are gone)."""
    try:
        client.networks.get(name).remove()
    except errors().NotFound:
        pass
    except errors().APIError as exc:
        raise InfraError(f"could not remove network {name}: {exc}") from None


def host_port(container: Any, port: int) -> int | None:
    """The host port a container port is published on (reload the container first)."""
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None


def logs_tail(container: Any, lines: int = 15) -> str:
    """The last lines of a container's output, for error messages."""
    try:
        return container.logs(tail=lines).decode(errors="replace")
    except Exception as exc:  # noqa: BLE001 - a message helper must not raise
        return f"(no logs: {exc})"
