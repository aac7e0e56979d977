"""Resource faults: squeeze a service's CPU to a share of a core.

The limit is a CFS quota. On the docker backend it is changed on the running container
(`update`), which is why that backend never creates containers with nano_cpus: Docker cannot
change the quota of those. On the local backend the service's process group is moved into a
cgroup of its own for the fault's length (`chaos/components/cgroups.py`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from chaos.components import cgroups, containers
from chaos.faults import register, register_undo
from chaos.faults.base import Fault, FaultContext, FaultError, Undo, service_named, service_target
from chaos.faults.landing import Probe, UnitLanding
from chaos.stack import Stack
from chaos.util.procs import group_members

#: The CFS period chaosgate sets (Docker's default): the quota is a share of it.
CPU_PERIOD_US = 100_000


@register("resource.cpu")
class CpuLimit(Fault):
    """Limit a service to `cpus` cores (e.g. 0.1) while the fault lasts."""

    type: Literal["resource.cpu"]
    service: str = Field(description="the service limited: its processes (moved into a cgroup of their own), or "
                                     "its container")
    cpus: float = Field(gt=0.0, le=64.0, description="cores the service may use, e.g. 0.1")

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        return [service_named(stack, self.service)]

    def unsupported(self, backend: str) -> str | None:
        return cgroups.unavailable() if backend == "local" else None

    def inject(self, ctx: FaultContext) -> list[int]:
        quota = max(int(self.cpus * CPU_PERIOD_US), 1000)  # the kernel's smallest quota is 1 ms
        target = service_target(ctx, self.service)
        if isinstance(target, str):
            return self._inject_container(ctx, target, quota, ctx.state.engine)
        pids = group_members(target.pid)
        if not pids:
            raise FaultError(f"service {self.service!r} has no running process", "service")
        origin = cgroups.cpu_cgroup_of(pids[0])
        group = origin / f"chaosgate-{ctx.run_id}-{self.service}"
        undo = ReleaseCgroup(cgroup=str(group), origin=str(origin), service=self.service)
        return [ctx.apply(self, self.service, undo, lambda: cgroups.limit(group, pids, quota, CPU_PERIOD_US))]

    def probe(self, ctx: FaultContext) -> Probe:
        return _Throttled(self.service, ctx.state.engine)

    def _inject_container(self, ctx: FaultContext, container_id: str, quota: int, engine: str | None) -> list[int]:
        container = containers.lookup(container_id, engine)
        if container is None:
            raise FaultError(f"the container of {self.service!r} no longer exists", "service")
        host = container.attrs["HostConfig"]
        undo = RestoreQuota(container=container_id, service=self.service, engine=engine,
                            cpu_quota=host.get("CpuQuota") or -1, cpu_period=host.get("CpuPeriod") or CPU_PERIOD_US)
        return [ctx.apply(self, self.service, undo,
                          lambda: container.update(cpu_period=CPU_PERIOD_US, cpu_quota=quota))]


class _Throttled(Probe):
    """The kernel throttled the service: CFS periods throttled during the fault (a service that never
    wanted more than its share is not throttled, and the squeeze changed nothing)."""

    def __init__(self, service: str, engine: str | None):
        self.service, self.engine = service, engine
        self.read: Callable[[], int] | None = None
        self.before = 0
        self.problem = ""

    def injected(self, undos: list[Undo]) -> None:
        for undo in undos:
            if isinstance(undo, ReleaseCgroup):
                self.read = functools.partial(cgroups.throttled_periods, Path(undo.cgroup))  # new: starts at 0
            elif isinstance(undo, RestoreQuota):
                container = containers.lookup(undo.container, self.engine)
                if container is not None:
                    self.read = functools.partial(_container_throttled, container)
                    self.before = self._safe_read()

    def _safe_read(self) -> int:
        try:
            return self.read() if self.read else 0
        except (OSError, KeyError, ValueError, containers.errors().APIError) as exc:
            self.problem = f"throttling could not be read: {exc}"
            return 0

    def finish(self, now: float) -> list[UnitLanding]:
        throttled = self._safe_read() - self.before
        if self.problem or self.read is None:
            return [UnitLanding(target=self.service, landed=None, evidence=self.problem or "nothing to read")]
        if throttled > 0:
            return [UnitLanding(target=self.service, landed=True,
                                evidence=f"throttled in {throttled} CFS periods of {CPU_PERIOD_US // 1000} ms")]
        return [UnitLanding(target=self.service, landed=False,
                            evidence="never throttled: the service did not want more CPU than the limit")]


def _container_throttled(container: Any) -> int:
    stats = container.stats(stream=False, one_shot=True)
    return int(stats["cpu_stats"]["throttling_data"]["throttled_periods"])


@register_undo
class RestoreQuota(Undo):
    """Put a container's CFS quota back to what it was."""

    kind: Literal["resource.cpu_restore"] = "resource.cpu_restore"
    container: str
    service: str
    engine: str | None = None
    cpu_quota: int = Field(description="-1: no quota")
    cpu_period: int = CPU_PERIOD_US

    def rollback(self) -> None:
        container = containers.lookup(self.container, self.engine)
        if container is not None:
            # -1 is "no quota"; Docker reads 0 as "leave unchanged", which would keep the squeeze.
            container.update(cpu_period=self.cpu_period, cpu_quota=self.cpu_quota)

    def remaining(self) -> str | None:
        container = containers.lookup(self.container, self.engine)
        if container is None:
            return None
        quota = container.attrs["HostConfig"].get("CpuQuota") or -1
        if quota != self.cpu_quota:
            return f"{self.service} is still limited to a CPU quota of {quota} µs per {CPU_PERIOD_US} µs"
        return None


@register_undo
class ReleaseCgroup(Undo):
    """Move a local service's processes back to their cgroup and remove the one chaosgate made."""

    kind: Literal["resource.cpu_release"] = "resource.cpu_release"
    cgroup: str
    origin: str
    service: str

    def rollback(self) -> None:
        cgroups.release(Path(self.cgroup), Path(self.origin))

    def remaining(self) -> str | None:
        return f"{self.service} is still limited by the cgroup {self.cgroup}" if Path(self.cgroup).exists() else None
