"""The stack: the part of docker-compose.yml chaosgate understands, plus its `x-chaosgate` keys."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.util.durations import Duration


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Healthcheck(_Model):
    """Compose's healthcheck; its timings bound chaosgate's own health wait."""

    test: list[str] | str | None = None
    interval: Duration = 1.0
    timeout: Duration = 2.0
    retries: int = Field(default=3, ge=0)
    start_period: Duration = 30.0
    start_interval: Duration | None = None
    disable: bool = False


class Build(_Model):
    """Compose's build section (the docker backend builds images locally: no registry)."""

    context: str = "."
    dockerfile: str | None = None
    args: dict[str, str] = Field(default_factory=dict)


class Limits(_Model):
    """Resource limits; the docker backend applies them."""

    cpus: float | None = None
    memory: str | None = None

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpus(cls, v: object) -> object:
        return float(v) if isinstance(v, str) else v


class Resources(_Model):
    limits: Limits = Field(default_factory=Limits)
    reservations: Limits = Field(default_factory=Limits)


class Deploy(_Model):
    resources: Resources = Field(default_factory=Resources)


class DependsOnCondition(_Model):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = (
        "service_healthy"
    )


class Link(_Model):
    """A service → dependency edge routed through toxiproxy so it can be faulted."""

    to: str = Field(description="the dependency service")
    port: int | None = Field(default=None, description="dependency port; default its first port")
    env: str = Field(description="variable that receives the proxied host:port")
    name: str | None = Field(default=None, description="proxy name; default 'service->to'")

    @field_validator("env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(f"{v!r} is not an environment variable name")
        return v


class HealthProbe(_Model):
    """How chaosgate checks a service from outside: an HTTP path, or a TCP connect."""

    http: str | None = Field(default=None, description="path answered with 2xx when healthy")
    tcp: bool = False


class CapacityHook(_Model):
    """A pool service's fill hook (the contract of the `capacity.fill` fault).

    `POST {path}` with {slots, ttl_s, owner} answers 201 {id, held, …} and holds up to `slots`
    slots (more as they free up) until `DELETE {path}/{id}` or the TTL; `GET {path}` lists holds.
    """

    path: str = Field(pattern=r"^/", description="HTTP path of the hook on the service's main port")


class Extension(_Model):
    """`x-chaosgate`: what chaosgate needs beyond compose to run and fault a service."""

    local: list[str] | None = Field(
        default=None, description="command running the service as a local process ('python' = this interpreter)"
    )
    builtin: Literal["rabbitmq"] | None = Field(
        default=None, description="a real component chaosgate starts itself (own node, ports, data)"
    )
    pool: str | None = Field(default=None, description="the capacity pool the service lives in")
    capacity: CapacityHook | None = Field(default=None, description="how capacity.fill fills this pool")
    port_env: str = Field(default="PORT", description="variable that receives the service's listen port")
    health: HealthProbe | None = None
    links: list[Link] = Field(default_factory=list)


class Service(_Model):
    """One compose service."""

    image: str | None = None
    build: Build | str | None = None
    command: list[str] | str | None = None
    environment: dict[str, str | int | float | bool | None] | list[str] = Field(default_factory=dict)
    ports: list[str | int] = Field(default_factory=list)
    depends_on: list[str] | dict[str, DependsOnCondition] = Field(default_factory=list)
    healthcheck: Healthcheck | None = None
    deploy: Deploy = Field(default_factory=Deploy)
    init: bool | None = None
    working_dir: str | None = None
    x_chaosgate: Extension = Field(default_factory=Extension, alias="x-chaosgate")

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[str | int]) -> list[str | int]:
        for p in v:
            container_port(p)
        return v

    def env(self) -> dict[str, str]:
        """The environment as a str→str dict, whichever compose spelling was used."""
        if isinstance(self.environment, list):
            out = {}
            for item in self.environment:
                key, _, value = item.partition("=")
                out[key] = value
            return out
        return {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in self.environment.items()}

    def dependencies(self) -> list[str]:
        """Services this one waits for: depends_on only.

        Links do not order start-up: their proxies exist before either end starts, and real
        stacks have two-way edges (a service hosted in a pool that also calls it).
        """
        return list(self.depends_on)

    def container_ports(self) -> list[int]:
        """The container-side port numbers, first one being the main port."""
        return [container_port(p) for p in self.ports]


def container_port(spec: str | int) -> int:
    """The container port of a compose port spec ('8000', '127.0.0.1:80:8000', '8000/tcp')."""
    text = str(spec).split("/")[0]
    last = text.rsplit(":", 1)[-1]
    if not last.isdigit() or not 0 < int(last) < 65536:
        raise ValueError(f"{spec!r} is not a port (examples: 8000, '127.0.0.1:8080:8000')")
    return int(last)


class Compose(_Model):
    """A compose file: services, and compose keys chaosgate accepts but does not use."""

    name: str | None = None
    version: str | None = None
    services: dict[str, Service]
    networks: dict | None = None
    volumes: dict | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_extension_fields(cls, data: object) -> object:
        # Compose allows top-level `x-*` keys for anchors and tools; they are not ours to judge.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith("x-")}
        return data
