"""What `status` says of one service, the same fields whichever backend started it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: `ServiceStatus.state` when nothing was ever started for the service (a failed `up`).
NOT_STARTED = "not started"
#: `ServiceStatus.state` when the recorded container no longer exists.
GONE = "gone"


class ServiceStatus(BaseModel):
    """One service of a started stack as its backend sees it now (each probe bounded)."""

    model_config = ConfigDict(defer_build=True)  # built on first use: `--help` and `validate` never need it

    name: str
    kind: Literal["process", "rabbitmq", "container"] = Field(
        description="as in the stack state: a local process, a container, or a builtin RabbitMQ node (either)")
    running: bool = Field(description="its process or container runs now; a paused process counts on the local "
                                      "backend (it still holds its ports), a paused container does not on docker")
    state: str = Field(description="what runs now, in a word: running, paused, exited (local); the engine's own "
                                   f"container status (running, paused, exited, ...) on docker; {GONE!r} when the "
                                   f"container no longer exists; {NOT_STARTED!r} when nothing was ever started")
    healthy: bool = Field(description="it answered its health probe just now (never probed when not running)")
    pool: str | None = Field(None, description="x-chaosgate.pool: the blast-radius pool it belongs to")
    host: str = Field("127.0.0.1", description="the address its published ports are reached on from this machine")
    port: int | None = Field(None, description="its main (first) published port")
    ports: dict[int, int] = Field(default_factory=dict, description="container port -> port published on `host`")
    health_url: str | None = Field(None, description="where its health is read over HTTP, if it is")
    management_url: str | None = Field(None, description="a RabbitMQ node's management UI, its API under /api/ "
                                                       "(user guest, password guest)")
    pid: int | None = Field(None, description="local backend: the pid of its process group's leader")
    container_id: str | None = Field(None, description="docker backend: its container's id")
    container_name: str | None = Field(None, description="docker backend: its container's name")

