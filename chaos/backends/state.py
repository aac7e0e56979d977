"""What a started stack is, written to its run directory so any later command can find it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from chaos.backends.envstore import redact
from chaos.util.procs import ProcessRecord

STATE_FILE = "stack.json"
ACTIVE_DIR = ".active"


class ServiceState(BaseModel):
    """One started service: its process (or container) and where it listens."""

    model_config = ConfigDict(defer_build=True)  # built on first use: validating files never needs it

    name: str
    kind: Literal["process", "rabbitmq", "container"]
    process: ProcessRecord | None = None
    container_id: str | None = None
    container_name: str | None = Field(None, description="docker backend: kept across restarts")
    ports: dict[int, int] = Field(default_factory=dict, description="container port -> port published on `host`")
    host: str = Field("127.0.0.1", description="the address this machine reaches the published ports on "
                                               "(a remote Docker engine's host)")
    engine: str | None = Field(None, description="docker backend: the engine its container runs on")
    health_url: str | None = None
    pool: str | None = None
    env: dict[str, str] | None = Field(None, description="its own environment: what the compose file declares and "
                                                      "chaosgate sets, secret-looking values masked (never what "
                                                      "it inherits; see chaos.backends.envstore)")
    env_id: str | None = Field(None, description="the name of its whole environment in the stack's env_store")
    cwd: str | None = None
    image: str | None = Field(None, description="docker backend: what a restart runs again")
    command: list[str] | None = None
    limits: dict[str, int | str] | None = Field(None, description="docker backend: resource arguments")
    healthy_after_s: float | None = None

    @field_serializer("env")
    def _redacted_env(self, env: dict[str, str] | None) -> dict[str, str] | None:
        return None if env is None else redact(env)  # whoever set it: nothing secret is written down

    @property
    def port(self) -> int | None:
        """The main (first) published port."""
        return next(iter(self.ports.values()), None)

    def url(self, path: str = "", port: int | None = None) -> str:
        """http://HOST:PORT/path of the main port, or of container port `port`."""
        return f"http://{self.host}:{self.port if port is None else self.ports[port]}{path}"


class LinkState(BaseModel):
    """A proxied service → dependency edge."""

    model_config = ConfigDict(defer_build=True)

    name: str
    service: str
    to: str
    listen_port: int = Field(description="port the proxy is reachable on from this machine, at `listen_host`")
    listen_host: str = "127.0.0.1"
    upstream: str
    inner_port: int | None = Field(None, description="docker backend: the port inside the toxiproxy container")
    address: str | None = Field(None, description="host:port the service is given (default 127.0.0.1:listen_port)")


class StackState(BaseModel):
    """A stack started by a backend: enough for `status`, `down` and reconciliation."""

    model_config = ConfigDict(defer_build=True)

    name: str
    backend: str
    compose: str
    run_dir: str
    status: Literal["starting", "up", "stopping", "down", "failed"] = "starting"
    started_at: float = Field(default_factory=time.time)
    variables: dict[str, str] = Field(default_factory=dict, description="the variables the compose file used, "
                                                                         "secret-looking values masked")
    env_store: str | None = Field(None, description="the private directory, outside the run directory, that keeps "
                                                    "each service's whole environment for restarts (removed by down)")
    toxiproxy: ProcessRecord | None = None
    toxiproxy_container: str | None = None
    toxiproxy_url: str | None = None
    network: str | None = Field(None, description="docker backend: the stack's private network")
    engine: str | None = Field(None, description="docker backend: the engine (DOCKER_HOST when started, '' for "
                                                 "the local socket); later commands act on it, whatever theirs")
    published_on: str = Field("127.0.0.1", description="docker backend: the engine-side address of published ports")
    services: dict[str, ServiceState] = Field(default_factory=dict)
    links: list[LinkState] = Field(default_factory=list)

    @field_serializer("variables")
    def _redacted_variables(self, variables: dict[str, str]) -> dict[str, str]:
        return redact(variables)

    def save(self) -> None:
        """Write atomically: a reader never sees half a file, a crash never leaves one."""
        path = Path(self.run_dir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        tmp.replace(path)

    @classmethod
    def load(cls, run_dir: Path | str) -> StackState:
        """Read a run directory's stack state."""
        from chaos.util.stored import read_model

        return read_model(Path(run_dir) / STATE_FILE, cls, "no stack state here (was this stack started by chaosgate?)")


def active_pointer(out_dir: Path, stack_name: str) -> Path:
    """The file naming the run directory of the stack `stack_name` that is up."""
    return out_dir / ACTIVE_DIR / f"{stack_name}.json"


def mark_active(out_dir: Path, state: StackState) -> None:
    """Remember `state` as the stack that is up under this name."""
    pointer = active_pointer(out_dir, state.name)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(json.dumps({"run_dir": state.run_dir}))


def find_active(out_dir: Path, stack_name: str) -> StackState | None:
    """The state of the stack that is up under this name, if any."""
    pointer = active_pointer(out_dir, stack_name)
    try:
        run_dir = json.loads(pointer.read_text())["run_dir"]
    except (OSError, ValueError, KeyError):
        return None
    if not (Path(run_dir) / STATE_FILE).exists():
        return None
    return StackState.load(run_dir)


def clear_active(out_dir: Path, state: StackState) -> None:
    """Forget the pointer if it still points at `state`."""
    pointer = active_pointer(out_dir, state.name)
    try:
        if json.loads(pointer.read_text()).get("run_dir") == state.run_dir:
            pointer.unlink()
    except (OSError, ValueError):
        pass
