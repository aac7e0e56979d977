"""Experiments: the YAML a user writes, as typed models, loaded with located errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chaos import faults
from chaos.errors import InputError, InputErrors
from chaos.faults.base import Fault, FaultError, check_host
from chaos.spec.sources import PromQLSourceSpec
from chaos.spec.surfaces import SLIRef, Surface
from chaos.stack import Stack, load_stack
from chaos.util.durations import Duration
from chaos.util.yamlsource import YamlDocument, load_yaml, pydantic_errors, validated

#: Every registered fault type, discriminated by `type`. The union is built at run time from the registry,
#: so the type checker sees the base class every fault spec derives from.
if TYPE_CHECKING:
    FaultSpec = Fault
else:
    FaultSpec = faults.union()
#: Where named surface sets are looked for, relative to the experiment file and its parents.
SURFACES_DIR = "surfaces"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WorkerHost(_Model):
    """A host that runs one locust worker: how to run a command there."""

    host: str = Field(min_length=1, description="its name, for logs")
    exec: list[str] = Field(min_length=1, description="command prefix that runs a command on it, e.g. "
                            "[ssh, load1] or [ip, netns, exec, load1]; the profile must be at the same path there")


class Load(_Model):
    """A locust profile run in its own process against one service of the stack."""

    profile: str = Field(description="locustfile path, relative to the experiment file")
    target: str = Field(description="service the load is sent to (its main port)")
    users: int = Field(10, ge=1, le=10000)
    spawn_rate: float = Field(10.0, gt=0)
    workers: int | list[WorkerHost] = Field(0, description="locust workers (master/worker mode): a number on this "
                                            "machine, or one per host listed")
    reach: str | None = Field(None, description="this machine's address as the worker hosts see it: the locust "
                              "master and an entry to the target listen there (needed with worker hosts)")
    environment: dict[str, str] = Field(default_factory=dict, description="variables for the profile")

    @model_validator(mode="after")
    def _workers(self) -> Load:
        import ipaddress

        hosts = self.workers if isinstance(self.workers, list) else []
        if isinstance(self.workers, int) and not 0 <= self.workers <= 64:
            raise ValueError("workers: between 0 and 64 on this machine")
        if len(hosts) > 64:
            raise ValueError("workers: at most 64 hosts")
        if hosts and self.reach is None:
            raise ValueError("reach: worker hosts need this machine's address as they see it")
        if self.reach is not None:
            try:
                ipaddress.ip_address(self.reach)
            except ValueError:
                raise ValueError(f"reach: {self.reach!r} is not an IP address") from None
        return self


class Phases(_Model):
    """Durations of the four phases, in order."""

    warmup: Duration = 0.0
    baseline: Duration
    fault: Duration
    recovery: Duration = 0.0

    def total(self) -> float:
        return self.warmup + self.baseline + self.fault + self.recovery


class Check(_Model):
    """A steady-state hypothesis: an SLI (`surface.sli`) within bounds over the baseline."""

    sli: SLIRef
    min: float | None = None
    max: float | None = None


class StopCondition(_Model):
    """Abort at once when an SLI over the last `for` seconds crosses a bound."""

    sli: SLIRef
    below: float | None = None
    above: float | None = None
    for_: Duration = Field(5.0, alias="for")

    @model_validator(mode="after")
    def _one_bound(self) -> StopCondition:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of 'below' or 'above'")
        return self


class Experiment(_Model):
    """One experiment file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    stack: str = Field(description="compose file, relative to the experiment file")
    variables: dict[str, str] = Field(default_factory=dict, description="stack variables; --set overrides")
    backend: Literal["local", "docker"] = Field("local", description="local processes, or containers")
    load: Load | None = None
    phases: Phases
    deadline: Duration = Field(600.0, gt=0, description="hard limit on the whole run, stack start included")
    sample_interval: Duration = Field(1.0, gt=0)
    steady_state: list[Check] = Field(default_factory=list)
    faults: list[FaultSpec] = Field(default_factory=list)
    stop_conditions: list[StopCondition] = Field(default_factory=list)
    surfaces: str | dict[str, Surface] = Field(description="a named surface set, or inline surfaces")
    expected_radius: list[str] = Field(default_factory=list, description="surfaces allowed to degrade")
    allow_hosts: list[str] = Field(default_factory=list, description="non-loopback hosts faults and sources may touch")
    metric_sources: list[PromQLSourceSpec] = Field(default_factory=list,
                                                   description="extra sources, e.g. a Prometheus server (promql)")


class LoadedExperiment(BaseModel):
    """An experiment checked against its stack: everything the engine needs, nothing started."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    path: Path
    spec: Experiment
    stack: Stack
    surfaces: dict[str, Surface]
    targets: list[list[str]]
    warnings: list[str] = Field(default_factory=list, description="valid, but likely not what was meant (located)")


def load_experiment(path: Path | str, overrides: dict[str, str] | None = None,
                    backend: str | None = None) -> LoadedExperiment:
    """Parse, validate and cross-check an experiment (against `backend` when given, else its own);
    InputError(s) naming file, line, field."""
    path = Path(path)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(path, "an experiment is a mapping (name, stack, phases, faults, …)", 1)
    raw_vars = doc.data.get("variables")
    if not isinstance(raw_vars, dict):
        raw_vars = {}
    variables = {**os.environ, **{str(k): str(v) for k, v in raw_vars.items()}, **(overrides or {})}
    spec = validated(doc, Experiment, variables, keep=["variables"])
    problems: list[InputError] = []
    stack_path = (path.parent / spec.stack).resolve()
    try:
        stack = load_stack(stack_path, {**spec.variables, **(overrides or {})})
    except InputError as exc:
        raise InputErrors([doc.error(["stack"], f"the stack file is invalid: {exc}")]) from None
    if backend:
        spec.backend = backend  # type: ignore[assignment]
    from chaos import backends

    try:
        backends.get(spec.backend).check(stack)
    except InputErrors as exc:
        problems += exc.errors
    surfaces = _surfaces(doc, spec, problems)
    targets = []
    warnings: list[str] = []
    for i, fault in enumerate(spec.faults):
        try:
            if why := fault.unsupported(spec.backend):
                raise FaultError(f"{fault.type} on the {spec.backend} backend {why}", "type")
            targets.append(fault.resolve(stack, spec.allow_hosts))
        except FaultError as exc:
            problems.append(doc.error(["faults", i, *([exc.field] if exc.field else [])], str(exc)))
            targets.append([])
        warnings += [str(doc.error(["faults", i, field], message)) for field, message in fault.warnings()]
        for j, name in enumerate(fault.component or []):
            if name not in stack.services:
                problems.append(doc.error(["faults", i, "component", j], f"no service {name!r} in the stack"))
        end = fault.start + (fault.duration or 0)
        if end > spec.phases.fault:
            problems.append(doc.error(["faults", i, "start" if fault.duration is None else "duration"],
                                      f"ends {end:g}s into a fault phase of {spec.phases.fault:g}s"))
    if spec.load and isinstance(spec.load.workers, list) and spec.backend != "local":
        problems.append(doc.error(["load", "workers"], "worker hosts need the local backend (the entry to the "
                                  "target is a proxy of the stack's own toxiproxy)"))
    _check_references(doc, spec, stack, surfaces, problems)
    if spec.deadline < spec.phases.total():
        problems.append(doc.error(["deadline"], f"{spec.deadline:g}s is shorter than the phases "
                                  f"({spec.phases.total():g}s)"))
    if problems:
        raise InputErrors(problems)
    return LoadedExperiment(path=path, spec=spec, stack=stack, surfaces=surfaces, targets=targets, warnings=warnings)


def _surfaces(doc: YamlDocument, spec: Experiment, problems: list[InputError]) -> dict[str, Surface]:
    if isinstance(spec.surfaces, dict):
        return spec.surfaces
    for folder in [doc.path.parent, *doc.path.resolve().parents][:6]:
        candidate = folder / SURFACES_DIR / f"{spec.surfaces}.yaml"
        if candidate.is_file():
            sdoc = load_yaml(candidate)
            try:
                return {name: Surface.model_validate(s) for name, s in (sdoc.data or {}).items()}
            except ValidationError as exc:
                raise pydantic_errors(sdoc, exc) from None
            except AttributeError:
                raise InputError(candidate, "a surface set is a mapping of surface names", 1) from None
    problems.append(doc.error(["surfaces"], f"no surface set {spec.surfaces!r} "
                              f"(looked for {SURFACES_DIR}/{spec.surfaces}.yaml beside the experiment and above)"))
    return {}


def _check_references(doc: YamlDocument, spec: Experiment, stack: Stack, surfaces: dict[str, Surface],
                      problems: list[InputError]) -> None:
    for name, surface in surfaces.items():
        for service in surface.services:
            if service not in stack.services:
                problems.append(doc.error(["surfaces"], f"surface {name!r} rests on unknown service {service!r}"))

    known = ", ".join(f"{s}.{k}" for s, surf in surfaces.items() for k in surf.slis) or "none"
    for section in ("steady_state", "stop_conditions"):
        for i, item in enumerate(getattr(spec, section)):
            if surfaces and item.sli.find(surfaces) is None:
                problems.append(doc.error([section, i, "sli"], f"unknown SLI {str(item.sli)!r} (known: {known})"))
    for i, name in enumerate(spec.expected_radius):
        if surfaces and name not in surfaces:
            problems.append(doc.error(["expected_radius", i], f"unknown surface {name!r}"))
    for i, source in enumerate(spec.metric_sources):
        try:
            check_host(source.url, spec.allow_hosts, "url")
        except FaultError as exc:
            problems.append(doc.error(["metric_sources", i, "url"], str(exc)))
        if source.name in stack.services:
            problems.append(doc.error(["metric_sources", i, "name"], f"{source.name!r} is already a service's source"))
    if spec.load and spec.load.target not in stack.services:
        problems.append(doc.error(["load", "target"], f"no service {spec.load.target!r} in the stack"))
    if spec.load and not (doc.path.parent / spec.load.profile).is_file():
        problems.append(doc.error(["load", "profile"], f"no locustfile at {spec.load.profile!r}"))
