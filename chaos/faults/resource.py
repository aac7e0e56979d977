"""Resource faults on the docker backend: squeeze a container's CPU to a share of a core.

The limit is a CFS quota changed on the running container (`update`), which is why the docker
backend never creates containers with nano_cpus: Docker cannot change the quota of those.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from chaos.components import containers
from chaos.faults import register, register_check, register_undo
from chaos.faults.base import Fault, FaultContext, FaultError, service_named
from chaos.stack import Stack

#: The CFS period chaosgate sets (Docker's default): the quota is a share of it.
CPU_PERIOD_US = 100_000


@register("resource.cpu")
class CpuLimit(Fault):
    """Limit a service's container to `cpus` cores (e.g. 0.1) while the fault lasts."""

    type: Literal["resource.cpu"]
    service: str
    cpus: float = Field(gt=0.0, le=64.0, description="cores the container may use, e.g. 0.1")
    backends: ClassVar[frozenset[str]] = frozenset({"docker"})

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        return [service_named(stack, self.service)]

    def inject(self, ctx: FaultContext) -> list[int]:
        container_id = ctx.state.services[self.service].container_id
        if not container_id:
            raise FaultError(f"service {self.service!r} has no container", "service")
        container = containers.lookup(container_id)
        if container is None:
            raise FaultError(f"the container of {self.service!r} no longer exists", "service")
        host = container.attrs["HostConfig"]
        undo = {"kind": "resource.cpu_restore", "container": container_id, "service": self.service,
                "cpu_quota": host.get("CpuQuota") or -1, "cpu_period": host.get("CpuPeriod") or CPU_PERIOD_US}
        quota = max(int(self.cpus * CPU_PERIOD_US), 1000)  # the kernel's smallest quota is 1 ms
        return [ctx.apply(self, self.service, undo,
                          lambda: container.update(cpu_period=CPU_PERIOD_US, cpu_quota=quota))]


@register_undo("resource.cpu_restore")
def _restore(undo: dict) -> None:
    container = containers.lookup(undo["container"])
    if container is not None:
        # -1 is "no quota"; Docker reads 0 as "leave unchanged", which would keep the squeeze.
        container.update(cpu_period=undo["cpu_period"], cpu_quota=undo["cpu_quota"])


@register_check("resource.cpu_restore")
def _restored(undo: dict) -> str | None:
    container = containers.lookup(undo["container"])
    if container is None:
        return None
    quota = container.attrs["HostConfig"].get("CpuQuota") or -1
    if quota != undo["cpu_quota"]:
        return f"{undo['service']} is still limited to a CPU quota of {quota} µs per {CPU_PERIOD_US} µs"
    return None
