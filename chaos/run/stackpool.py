"""Started stacks kept between runs (a gate's many runs of one compose file).

A fresh RabbitMQ node alone takes seconds, and a gate runs experiments x repeats x 2. Before a
run reuses a stack, services whose definition the new variables change are restarted (only
those; anything else that differs starts a fresh stack), and a reset is verified: toxiproxy has
no toxic and every proxy is enabled, no broker connection chaosgate opened is left, queues are
drained, no capacity hold of chaosgate's is left, and every service is healthy. Any check that
fails means a fresh stack. What was done is recorded in the run's result (`stack`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaos import backends
from chaos.backends.base import health_probe
from chaos.backends.state import StackState
from chaos.components import rabbitmq
from chaos.components.toxiproxy import ToxiproxyClient
from chaos.errors import InfraError
from chaos.measure.result import StackReuse
from chaos.run.reconcile import claim
from chaos.stack import Stack
from chaos.util.rundirs import RUNS, new_dir

#: Seconds to wait for the broker's queues to drain before a stack counts as not reset.
DRAIN_S = 20.0
#: Prefix of everything chaosgate's faults name (held connections, capacity holds).
OURS = "chaosgate-"


@dataclass
class Lease:
    """A started stack lent to one run, and how it was prepared."""

    state: StackState
    reuse: StackReuse


class StackPool:
    """Keeps at most one started stack (the last one used) for the next run to reuse."""

    def __init__(self, out_dir: Path, tag: str, say: Callable[[str], None] = lambda m: None):
        self.out_dir, self.tag, self.say = out_dir, tag, say
        self._stack: Stack | None = None
        self._state: StackState | None = None
        self._count = 0

    def acquire(self, stack: Stack, backend: str) -> Lease:
        """A healthy, reset stack for `stack` on `backend`: the kept one if it can be, else a fresh one."""
        checks: dict[str, str] = {}
        if self._state is not None:
            kept = self._stack
            assert kept is not None, "a kept stack state comes with its stack (both are set and cleared together)"
            state = StackState.load(self._state.run_dir)  # faults record restarts in the file
            changed = _changed_services(kept, stack) if state.backend == backend else None
            if changed is not None:
                for name in changed:
                    self.say(f"restarting {name} for the new variables (stack reused)")
                    env = _new_env(state.services[name].env or {}, kept.services[name].env(),
                                   stack.services[name].env())
                    backends.get(backend).respawn(Path(state.run_dir), name, env)
                state = StackState.load(state.run_dir)
                state.variables = stack.variables
                state.save()
                checks = verify_reset(stack, state)
                if all(v == "ok" for v in checks.values()):
                    self._stack, self._state = stack, state
                    return Lease(state, StackReuse(stack_dir=state.run_dir, reused=True, restarted=changed,
                                                   checks=checks))
                self.say("the kept stack did not reset cleanly; starting a fresh one: "
                         + "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"))
            self.release()
        self._count += 1
        run_dir = new_dir(self.out_dir, RUNS, stack.name, "stack", self.tag, str(self._count))
        run_dir.mkdir(parents=True, exist_ok=True)
        claim(run_dir)  # a live owner: no other command reconciles it away while the gate runs
        self.say(f"starting stack {stack.name!r} ({len(stack.services)} services) for reuse in {run_dir}")
        self._state = backends.get(backend, say=self.say).up(stack, run_dir)
        self._stack = stack
        return Lease(self._state, StackReuse(stack_dir=str(run_dir.resolve()), reused=False, checks=checks))

    def release(self) -> None:
        """Stop the kept stack, if any."""
        if self._state is not None:
            state = StackState.load(self._state.run_dir)
            backends.get(state.backend, say=self.say).down(state)
        self._stack = self._state = None


def _changed_services(old: Stack, new: Stack) -> list[str] | None:
    """Services whose environment differs; None when anything else differs (a fresh stack then)."""
    if old.path.resolve() != new.path.resolve() or list(old.services) != list(new.services):
        return None
    changed = []
    for name, svc in new.services.items():
        before, after = old.services[name].model_dump(), svc.model_dump()
        if before == after:
            continue
        before.pop("environment", None)
        after.pop("environment", None)
        if before != after or svc.x_chaosgate.builtin:
            return None
        changed.append(name)
    return changed


def _new_env(running: dict[str, str], declared_before: dict[str, str], declared_now: dict[str, str]) -> dict[str, str]:
    """The running environment with the declared part replaced (ports, links and the rest kept)."""
    env = {k: v for k, v in running.items() if k not in declared_before}
    env.update(declared_now)
    return env


def verify_reset(stack: Stack, state: StackState) -> dict[str, str]:
    """Each reset check -> 'ok' or what was found; every call bounded."""
    checks: dict[str, str] = {}
    try:
        proxy = ToxiproxyClient(state.toxiproxy_url or "")
        proxy.reset()  # enables every proxy and removes every toxic, ours or anyone's
        dirty = [p.name for p in proxy.proxies().values() if p.toxics or not p.enabled]
        checks["toxics"] = "ok" if not dirty else f"still toxic or disabled: {', '.join(dirty)}"
    except InfraError as exc:
        checks["toxics"] = f"cannot tell: {exc}"
    for name, svc in state.services.items():
        if svc.kind == "rabbitmq":
            checks[f"{name} connections and queues"] = _broker_reset(svc.url(port=rabbitmq.MANAGEMENT_PORT))
        hook = stack.services[name].x_chaosgate.capacity
        if hook is not None:
            checks[f"{name} holds"] = _no_holds(svc.url(hook.path))
    sick = [name for name, svc in state.services.items() if not health_probe(svc)()]
    checks["health"] = "ok" if not sick else f"not healthy: {', '.join(sick)}"
    return checks


def _broker_reset(management: str) -> str:
    client = rabbitmq.ManagementClient(management)
    deadline = time.monotonic() + DRAIN_S
    try:
        while True:
            ours = [c for c in client.connections()
                    if c.get("client_properties", {}).get("connection_name", "").startswith(OURS)]
            queued = {q: n for q, n in client.queue_depths().items() if n}
            if not ours and not queued:
                return "ok"
            if time.monotonic() > deadline:
                return (f"{len(ours)} connections of chaosgate's still open; " if ours else "") + \
                       (f"queues not drained: {queued}" if queued else "")
            time.sleep(1.0)
    except InfraError as exc:
        return f"cannot tell: {exc}"


def _no_holds(url: str) -> str:
    import requests

    try:
        holds = requests.get(url, timeout=5).json().get("holds", [])
    except (requests.RequestException, ValueError, AttributeError) as exc:
        return f"cannot tell: {exc.__class__.__name__}"
    ours = [h for h in holds if str(h.get("owner", "")).startswith(OURS)]
    return "ok" if not ours else f"{len(ours)} holds of chaosgate's left"
