"""A recorded game-day session on a running stack: optional load, the stack's metrics, and the
faults injected and healed by hand meanwhile — turned at its end into a run like any other
(result.json, report), and into an experiment file that replays the game day unattended.

Phases come from the hand events: baseline until the first inject, fault until the last heal,
recovery after it (no inject: all baseline). A session is bounded by its duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from chaos.backends.state import StackState
from chaos.gameday import hand_events, outstanding
from chaos.load.runner import FLOW_TIMEOUT_S, LoadRunner
from chaos.measure.measurement import measure
from chaos.measure.metrics.sampler import Sampler
from chaos.measure.metrics.sources import sources_for
from chaos.measure.metrics.timeline import Timeline
from chaos.measure.result import FaultRecord, RunResult
from chaos.run.engine import write_plan
from chaos.run.journal import HandHeal, HandInject
from chaos.run.reconcile import claim
from chaos.spec.experiment import LoadedExperiment, load_experiment
from chaos.spec.surfaces import wanted_metrics
from chaos.util.rundirs import RUNS, new_dir, new_id
from chaos.util.yamlsource import load_yaml

#: Seconds between checks of the session's end.
TICK_S = 0.25
DRAFT = "session-draft.yaml"


class SessionOptions(BaseModel):
    """What `chaosgate load` was asked to do."""

    surfaces: Path = Field(description="a surface set file (surface -> services, SLIs)")
    expect: list[str] = Field(default_factory=list, description="surfaces allowed to degrade")
    profile: Path | None = Field(None, description="locust profile; none: the load comes from elsewhere")
    target: str | None = None
    users: int = 10
    spawn_rate: float = 10.0
    environment: dict[str, str] = Field(default_factory=dict)
    duration: float = Field(gt=0, description="seconds; the session's hard limit")
    sample_interval: float = 1.0


class Session:
    """One recorded session."""

    def __init__(self, state: StackState, out_dir: Path, opts: SessionOptions,
                 say: Callable[[str], None] = lambda m: None):
        self.state, self.opts, self.say = state, opts, say
        self.run_id = new_id()
        self.name = f"gameday-{state.name}"
        self.run_dir = new_dir(out_dir, RUNS, self.name, self.run_id)
        self.result = RunResult(experiment=self.name, file="", run_id=self.run_id, run_dir=str(self.run_dir),
                                variables=state.variables)
        self.exp: LoadedExperiment | None = None
        self.t0 = 0.0

    # --- before anything starts -------------------------------------------------------------
    def check(self) -> LoadedExperiment:
        """Validate surfaces, load and expectations against the stack (nothing started)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.exp = self._experiment(phases={"baseline": 1.0, "fault": 1.0}, faults=[], path=self.run_dir / DRAFT)
        return self.exp

    def _experiment(self, phases: dict[str, float], faults: list[dict], path: Path) -> LoadedExperiment:
        doc = load_yaml(self.opts.surfaces)
        spec: dict = {
            "name": self.name,
            "description": f"Reconstructed from a game day on stack {self.state.name!r}: replay it with "
                           "`chaosgate run` (faults at the offsets they had).",
            "stack": str(Path(self.state.compose).resolve()),
            "variables": dict(self.state.variables),
            "backend": self.state.backend,
            "phases": {k: f"{v:.1f}s" for k, v in phases.items()},
            "deadline": f"{sum(phases.values()) + 120:.0f}s",
            "sample_interval": f"{self.opts.sample_interval:g}s",
            "faults": faults,
            "surfaces": doc.data,
            "expected_radius": list(self.opts.expect),
        }
        if self.opts.profile is not None:
            spec["load"] = {"profile": str(self.opts.profile.resolve()), "target": self.opts.target,
                            "users": self.opts.users, "spawn_rate": self.opts.spawn_rate,
                            "environment": dict(self.opts.environment)}
        path.write_text(f"# {spec['description']}\n" + yaml.safe_dump(spec, sort_keys=False))
        return load_experiment(path)

    # --- the session ------------------------------------------------------------------------
    def run(self, stop: Callable[[], bool] = lambda: False) -> RunResult:
        """Record until the duration ends, `stop()` says so, or Ctrl-C/SIGTERM; always writes the result."""
        exp = self.exp or self.check()
        claim(self.run_dir)
        timeline = Timeline(self.run_dir)
        sources = sources_for(self.state.services, wanted_metrics(exp.surfaces))
        load = None
        if self.opts.profile is not None:
            # check() made an experiment of it: its load has a target.
            assert self.opts.target is not None, "a load profile comes with its target"
            target = self.state.services[self.opts.target]
            load = LoadRunner(self.opts.profile, target.url(), self.opts.users,
                              self.opts.spawn_rate, self.opts.duration + FLOW_TIMEOUT_S + 5, self.run_dir / "load",
                              environment=self.opts.environment)
            load.start()
            sources.append(load.source())
            self.say(f"load: {self.opts.users} users against {self.opts.target}, "
                     f"flowing after {load.wait_flowing():.1f}s")
        sampler = Sampler(sources, timeline, self.opts.sample_interval).start()
        self.t0 = time.time()
        self.result.phases = {"baseline": (self.t0, self.t0)}
        timeline.mark(self.t0, "phase", name="baseline")
        already = outstanding(self.state)
        if already:
            self.say(f"{len(already)} fault(s) already active on the stack: this session has no clean baseline")
        self.say(f"recording session {self.run_id} for up to {self.opts.duration:g}s; Ctrl-C ends it")
        self.result.status = "completed"
        try:
            end = self.t0 + self.opts.duration
            while time.time() < end and not stop():
                if load is not None and not load.alive():
                    raise RuntimeError(f"locust exited early ({load.why_it_ended()})")
                self.result.phases = self.phases(time.time())
                time.sleep(TICK_S)
            self.result.reason = "duration reached" if time.time() >= end else "stopped"
        except Exception as exc:  # noqa: BLE001 - recorded, and the session still ends cleanly
            self.result.status, self.result.reason = "failed", str(exc)
        except BaseException as exc:  # noqa: BLE001 - Ctrl-C and SIGTERM are how a facilitator ends a session
            self.result.reason = f"ended by {exc}" if str(exc) else "ended by Ctrl-C"
        finally:
            sampler.stop()
            sampler.sample_once()
            sampler.close()
            if load is not None:
                load.stop()
            self._finish(exp, timeline)
        return self.result

    def phases(self, now: float) -> dict[str, tuple[float, float]]:
        """The session's phases so far, from the hand events."""
        events = hand_events(self.state.run_dir, self.t0, now)
        injects = [e.at for e in events if isinstance(e, HandInject)]
        if not injects:
            return {"baseline": (self.t0, now)}
        first = min(injects)
        healed_all = not outstanding(self.state)
        heals = [e.at for e in events if isinstance(e, HandHeal)]
        if healed_all and heals and max(heals) > first:
            last = max(heals)
            return {"baseline": (self.t0, first), "fault": (first, last), "recovery": (last, now)}
        return {"baseline": (self.t0, first), "fault": (first, now)}

    def _finish(self, draft: LoadedExperiment, timeline: Timeline) -> None:
        t1 = time.time()
        self.result.phases = self.phases(t1)
        self.result.ended_at = t1
        records, faults = self._faults(t1)
        self.result.faults = records
        lengths = {k: max(b - a, 0.1) for k, (a, b) in self.result.phases.items()}
        lengths.setdefault("fault", 0.1)
        try:
            exp = self._experiment(lengths, faults, self.run_dir / "experiment.yaml")
        except Exception as exc:  # noqa: BLE001 - the recording stands even if the replay file cannot be made
            self.say(f"the session's experiment file could not be written: {exc}")
            exp = draft
        (self.run_dir / DRAFT).unlink(missing_ok=True)
        self.result.file = str(exp.path)
        write_plan(exp, self.run_dir)
        measure(exp, self.result, timeline)
        self.result.save()

    def _faults(self, t1: float) -> tuple[list[FaultRecord], list[dict]]:
        """The hand faults of the session: records for the result, specs (with offsets) for replay."""
        events = hand_events(self.state.run_dir, self.t0, t1)
        healed_at: dict[int, float] = {}
        for heal in events:
            if isinstance(heal, HandHeal):
                for i in heal.ids:
                    healed_at.setdefault(i, heal.at)
        injects = [e for e in events if isinstance(e, HandInject)]
        first = injects[0].at if injects else t1
        records, specs = [], []
        for inject in injects:
            removed = max((healed_at[i] for i in inject.ids if i in healed_at), default=None)
            records.append(FaultRecord(type=inject.spec["type"], targets=inject.targets, injected_at=inject.at,
                                       removed_at=removed, journal_ids=inject.ids))
            spec = {**inject.spec, "start": f"{inject.at - first:.1f}s"}
            if removed is not None:
                spec["duration"] = f"{max(removed - inject.at, 0.1):.1f}s"
            specs.append(spec)
        return records, specs
