"""The Docker engine, through the Docker SDK: every call bounded, every object labelled with its run.

Labels are how chaosgate finds what it started after a crash: `io.chaosgate.run` holds the run
directory, so `chaosgate rollback` and the next run can remove exactly that run's containers and
network and nothing else on the machine.
"""

from __future__ import annotations

from typing import Any

from chaos.errors import InfraError

#: Seconds any one Docker API call may take (a container stop adds its own grace to this).
API_TIMEOUT_S = 15.0
LABEL_RUN = "io.chaosgate.run"
LABEL_SERVICE = "io.chaosgate.service"
BUILD_HINT = "build them with `bash scripts/build-images` (scripts/setup does it; there is no registry to pull from)"


def connect(timeout_s: float = API_TIMEOUT_S) -> Any:
    """A Docker client whose every request is bounded; InfraError when no engine answers."""
    import docker  # the SDK imports requests and urllib3: only commands that need it pay for it

    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise InfraError(f"no Docker engine answers ({exc.__class__.__name__}: {exc}); "
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


def labelled(client: Any, run_dir: str) -> list[Any]:
    """Every container (running or not) of the run whose directory is `run_dir`."""
    return client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_dir}"})


def find(client: Any, container_id: str) -> Any | None:
    """The container, or None when it no longer exists."""
    try:
        return client.containers.get(container_id)
    except errors().NotFound:
        return None


def lookup(container_id: str | None) -> Any | None:
    """The container with this id on this machine's engine, or None when it is gone (or no id)."""
    return find(connect(), container_id) if container_id else None


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
    """The 127.0.0.1 port a container port is published on."""
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None


def logs_tail(container: Any, lines: int = 15) -> str:
    """The last lines of a container's output, for error messages."""
    try:
        return container.logs(tail=lines).decode(errors="replace")
    except Exception as exc:  # noqa: BLE001 - a message helper must not raise
        return f"(no logs: {exc})"
