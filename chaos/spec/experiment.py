"""Experiments: the YAML a user writes, as typed models, loaded with located errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chaos import faults
from chaos.components.rabbitmq import MANAGEMENT_PORT
from chaos.errors import InputError, InputErrors
from chaos.faults.base import Fault, FaultError, check_host
from chaos.spec.sources import PromQLSourceSpec
from chaos.spec.surfaces import SLIRef, Surface
from chaos.stack import Stack, load_stack
from chaos.stack.model import Service
from chaos.util.durations import Duration
from chaos.util.modelerrors import unknown_name
from chaos.util.yamlsource import YamlDocument, in_file_order, load_yaml, validate_all

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
    until_recovered: bool = Field(False, description="end the recovery phase as soon as every surface is back within "
                                  "its tolerance of the baseline (a few consecutive healthy 5-s windows); "
                                  "`recovery` is then the longest wait")

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
    InputErrors naming file, line and field of every problem found, the references included."""
    path = Path(path)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(path, "an experiment is a mapping (name, stack, phases, faults, …)", 1)
    raw_vars = doc.data.get("variables")
    if not isinstance(raw_vars, dict):
        raw_vars = {}
    variables = {**os.environ, **{str(k): str(v) for k, v in raw_vars.items()}, **(overrides or {})}
    # The parts that do not fit the model are reported and cut out; the rest is still checked
    # against the stack, so one pass names every problem. Only a file without problems is returned.
    spec, doc, problems = validate_all(doc, Experiment, variables, keep=["variables"])
    if spec is None:
        raise InputErrors(problems)
    stack = _stack(doc, spec, overrides, problems)
    if backend:
        spec.backend = backend  # type: ignore[assignment]
    from chaos import backends

    try:
        backends.get(spec.backend).check(stack)
    except InputErrors as exc:
        problems += exc.errors
    surfaces, where = _surfaces(doc, spec, problems)
    targets = []
    warnings: list[str] = []
    for i, fault in enumerate(spec.faults):
        try:
            if why := fault.unsupported(spec.backend):
                raise FaultError(f"{fault.type} on the {spec.backend} backend {why}", "type")
            targets.append(fault.resolve(stack, spec.allow_hosts))
            problems += broker_problems(doc, ["faults", i], fault, stack)
        except FaultError as exc:
            problems.append(doc.error(["faults", i, *([exc.field] if exc.field else [])], str(exc)))
            targets.append([])
        warnings += [str(doc.error(["faults", i, field], message)) for field, message in fault.warnings()]
        for j, name in enumerate(fault.component or []):
            if name not in stack.services:
                problems.append(doc.error(["faults", i, "component", j], unknown_name("service", name, stack.services)))
        end = fault.start + (fault.duration or 0)
        if end > spec.phases.fault:
            problems.append(doc.error(["faults", i, "start" if fault.duration is None else "duration"],
                                      f"ends {end:g}s into a fault phase of {spec.phases.fault:g}s"))
    if spec.load and isinstance(spec.load.workers, list) and spec.backend != "local":
        problems.append(doc.error(["load", "workers"], "worker hosts need the local backend (the entry to the "
                                  "target is a proxy of the stack's own toxiproxy)"))
    _check_references(doc, spec, stack, surfaces, where, problems)
    if spec.deadline < spec.phases.total():
        problems.append(doc.error(["deadline"], f"{spec.deadline:g}s is shorter than the phases "
                                  f"({spec.phases.total():g}s)"))
    if problems:
        raise InputErrors(in_file_order(path, problems))
    return LoadedExperiment(path=path, spec=spec, stack=stack, surfaces=surfaces, targets=targets, warnings=warnings)


def _stack(doc: YamlDocument, spec: Experiment, overrides: dict[str, str] | None,
           problems: list[InputError]) -> Stack:
    """The experiment's stack; its own problems (located in the compose file) end the check."""
    stack_path = (doc.path.parent / spec.stack).resolve()
    try:
        return load_stack(stack_path, {**spec.variables, **(overrides or {})})
    except InputError as exc:
        found = exc.errors if isinstance(exc, InputErrors) else [exc]
    located = [e for e in found if e.line is not None]
    if located:
        # Each problem on its own line of the compose file, after one line here that says why they are listed.
        problems.append(doc.error(["stack"], f"the stack file {spec.stack!r} has {len(located)} problem(s), "
                                  "each reported at its line there"))
        problems += located
    problems += [doc.error(["stack"], f"the stack file is invalid: {e}") for e in found if e.line is None]
    raise InputErrors(problems)


def broker_problems(doc: YamlDocument, at: list[str | int], fault: Fault, stack: Stack) -> list[InputError]:
    """A broker fault's service must be a broker: the management API and AMQP it acts through.

    The fault families' own `resolve` only checks that the service exists; a broker is a service
    chaosgate starts as `builtin: rabbitmq`, or one that declares RabbitMQ's management port."""
    service = getattr(fault, "service", None)
    if not fault.type.startswith("broker.") or not isinstance(service, str) or service not in stack.services:
        return []
    brokers = [name for name, svc in stack.services.items() if _is_broker(svc)]
    if service in brokers:
        return []
    known = ", ".join(brokers) or "none"
    return [doc.error([*at, "service"],
                      f"service {service!r} is not a broker: {fault.type} acts on RabbitMQ (a service with "
                      f"x-chaosgate: {{builtin: rabbitmq}}, or one declaring port {MANAGEMENT_PORT}); "
                      f"brokers in this stack: {known}")]


def _is_broker(svc: Service) -> bool:
    return svc.x_chaosgate.builtin == "rabbitmq" or MANAGEMENT_PORT in svc.container_ports()


class _Where(NamedTuple):
    """Where surfaces were declared: the experiment (under `surfaces`) or a surface set file (at the top)."""

    doc: YamlDocument
    prefix: list[str | int]

    def error(self, loc: list[str | int], message: str) -> InputError:
        return self.doc.error([*self.prefix, *loc], message)

    def declared(self, loc: list[str | int]) -> bool:
        return self.doc.declared([*self.prefix, *loc])

    def names(self, loc: list[str | int]) -> list[str]:
        """The keys written at `loc`, valid or not: the names a reference may mean."""
        node = self.doc.data
        for part in [*self.prefix, *loc]:
            node = node.get(part) if isinstance(node, dict) else None
        return [str(k) for k in node] if isinstance(node, dict) else []


def _surfaces(doc: YamlDocument, spec: Experiment, problems: list[InputError]) -> tuple[dict[str, Surface], _Where]:
    if isinstance(spec.surfaces, dict):
        return spec.surfaces, _Where(doc, ["surfaces"])
    folders = [doc.path.parent, *doc.path.resolve().parents][:6]
    for folder in folders:
        candidate = folder / SURFACES_DIR / f"{spec.surfaces}.yaml"
        if candidate.is_file():
            sdoc = load_yaml(candidate)
            if not isinstance(sdoc.data, dict):
                problems.append(InputError(candidate, "a surface set is a mapping of surface names to surfaces "
                                           "(services, slis)", 1))
                return {}, _Where(sdoc, [])
            # Surface sets are not interpolated: their text is the same for every experiment using them.
            surfaces, sdoc, found = validate_all(sdoc, dict[str, Surface], {}, keep=list(sdoc.data))
            problems += found
            return surfaces or {}, _Where(sdoc, [])
    known = sorted({p.stem for folder in folders for p in (folder / SURFACES_DIR).glob("*.yaml")})
    problems.append(doc.error(["surfaces"], unknown_name("surface set", spec.surfaces, known) +
                              f"; looked for {SURFACES_DIR}/{spec.surfaces}.yaml beside the experiment and above"))
    return {}, _Where(doc, ["surfaces"])


def _source_names(spec: Experiment, stack: Stack) -> list[str]:
    """Every name a metric source of this experiment is stored under (chaos.measure.metrics.sources
    names them so): each service, its process group or container, a broker's management API, the
    load generator, and the experiment's own metric sources."""
    names = list(stack.services)
    names += [f"{s}:{kind}" for s in stack.services for kind in ("process", "container")]
    names += [f"{s}:rabbitmq" for s, svc in stack.services.items() if _is_broker(svc)]
    return names + (["load"] if spec.load else []) + [m.name for m in spec.metric_sources]


def _check_references(doc: YamlDocument, spec: Experiment, stack: Stack, surfaces: dict[str, Surface],
                      where: _Where, problems: list[InputError]) -> None:
    sources = _source_names(spec, stack)
    for name, surface in surfaces.items():
        for j, service in enumerate(surface.services):
            if service not in stack.services:
                problems.append(where.error([name, "services", j], unknown_name("service", service, stack.services)))
        for sli_name, sli in surface.slis.items():
            if sli.source is not None and sli.source not in sources:
                named = [n for n in sources if ":" not in n]
                problems.append(where.error([name, "slis", sli_name, "source"],
                                            unknown_name("source", sli.source, named) + "; a source is a service, "
                                            "SERVICE:process or SERVICE:container (its resource use), BROKER:rabbitmq, "
                                            "load (locust), or a metric_sources name"))

    known = [f"{s}.{k}" for s in where.names([]) for k in where.names([s, "slis"])]
    for section in ("steady_state", "stop_conditions"):
        for i, item in enumerate(getattr(spec, section)):
            ref = item.sli
            # A name declared but cut out for its own problem is reported where it is declared.
            if item.sli.find(surfaces) is None and not where.declared([ref.surface, "slis", ref.sli]) and (
                    surfaces or where.doc is doc and isinstance(spec.surfaces, dict)):
                problems.append(doc.error([section, i, "sli"], unknown_name("SLI", str(ref), known)))
    for i, name in enumerate(spec.expected_radius):
        if surfaces and name not in surfaces and not where.declared([name]):
            problems.append(doc.error(["expected_radius", i], unknown_name("surface", name, where.names([]))))
    for i, source in enumerate(spec.metric_sources):
        try:
            check_host(source.url, spec.allow_hosts, "url")
        except FaultError as exc:
            problems.append(doc.error(["metric_sources", i, "url"], str(exc)))
        if source.name in stack.services:
            problems.append(doc.error(["metric_sources", i, "name"], f"{source.name!r} is already a service's source"))
    if spec.load and spec.load.target not in stack.services:
        problems.append(doc.error(["load", "target"], unknown_name("service", spec.load.target, stack.services)))
    if spec.load and not (doc.path.parent / spec.load.profile).is_file():
        problems.append(doc.error(["load", "profile"], f"no locustfile at {spec.load.profile!r}"))
