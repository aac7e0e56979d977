"""Gate policies: which experiments, baseline and candidate variable sets, repeats, criteria.

A policy is YAML a user writes; it is checked completely — its experiments loaded with both
variable sets, every criterion's SLI looked up in every experiment it applies to — before
anything starts, and every problem is reported with file, line and field.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from chaos.errors import InputError, InputErrors
from chaos.matrix.cells import KINDS, Kind
from chaos.matrix.runner import Prepared, prepare
from chaos.spec.experiment import LoadedExperiment, load_experiment
from chaos.spec.surfaces import RatioSLI, SLIRef
from chaos.util.durations import DURATION_PART_TEXT, NUMBER_TEXT, Duration, parse_duration
from chaos.util.yamlsource import YamlDocument, in_file_order, load_yaml, validate_all

_SHARE = re.compile(rf" *({NUMBER_TEXT}) *% *")
_NUMBER = re.compile(rf" *{NUMBER_TEXT} *")
#: A share as a string ('20%', '0.5 %'), and an amount as a string: a number ('0.01') or a duration
#: ('1s', '250ms'); JSON Schema patterns, and the grammars _share and _amount accept.
SHARE_PATTERN = rf"^ *{NUMBER_TEXT} *% *$"
AMOUNT_PATTERN = rf"^(?:{_NUMBER.pattern}| *(?:{DURATION_PART_TEXT})+)$"


def _share(value: object) -> float:
    """'20%' -> 0.2; a plain number is already a share (0.2)."""
    if isinstance(value, str) and (match := _SHARE.fullmatch(value)):
        return float(match.group(1)) / 100.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{value!r} is not a share (examples: 20%, 0.2)")


def _amount(value: object) -> float:
    """An absolute amount in the SLI's unit: a number, or a duration for time SLIs ('1s', '250ms')."""
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{value!r} is not an amount (a number in the SLI's unit, or a duration: 0.01, 1s, 250ms)")


@dataclass(frozen=True)
class _OrString:
    """JSON Schema: the number (with its bounds) or a string matching `pattern`, as the validator reads it."""

    pattern: str

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"anyOf": [handler(schema), {"type": "string", "pattern": self.pattern}]}


# The bound comes before the validator: it then applies to the float the validator returns, and
# the schema says `minimum` (after it, pydantic would write its own `ge`, no JSON Schema keyword).
Share = Annotated[float, Field(ge=0), BeforeValidator(_share), _OrString(SHARE_PATTERN)]
Amount = Annotated[float, Field(ge=0), BeforeValidator(_amount), _OrString(AMOUNT_PATTERN)]
#: A warn band: a share of the allowed change or bound ('10%'), or an amount in the SLI's unit
#: (0.05, '1s'); Criterion checks it.
WarnBand = Annotated[str | float, WithJsonSchema({"anyOf": [{"type": "number"},
                                                            {"type": "string", "pattern": SHARE_PATTERN},
                                                            {"type": "string", "pattern": AMOUNT_PATTERN}]})]
Phase = Literal["baseline", "fault", "recovery"]
RULES = ("vs_baseline", "trend", "bound", "blast_radius", "matrix")
#: What `--only` and verdicts call a policy's matrix criteria (they belong to no experiment).
MATRIX_NAME = "matrix"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VsBaseline(_Model):
    """Candidate against baseline: the worsening allowed, as a share of the baseline with a floor."""

    allowed: Share = Field(0.0, description="share of the baseline value: 20% (or 0.2)")
    floor: Amount = Field(0.0, description="an absolute worsening always allowed, in the SLI's unit: 0.01, or a "
                                           "duration for a time SLI (1s)")


class Bound(_Model):
    """The candidate's own value must stay within bounds."""

    min: float | None = Field(None, description="the lowest value that passes, in the SLI's unit")
    max: float | None = Field(None, description="the highest value that passes, in the SLI's unit")

    @model_validator(mode="after")
    def _one(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self


class RadiusRule(_Model):
    """The candidate run's blast radius: contained as its experiment declares, score, recovery."""

    contained: bool = Field(True, description="no surface beyond the experiment's expected_radius (and the ones "
                            "the fault targets) may degrade")
    max_score: float | None = Field(None, ge=0, le=100, description="the highest radius score that passes: the "
                                    "weighted share of the surfaces not targeted that degraded, 0 to 100")
    max_recover_s: Duration | None = Field(None, description="the longest a degraded surface (not targeted) may "
                                           "take, from the fault's end, to be healthy again")


class TrendRule(_Model):
    """The candidate's slope over the phase against the baseline's: for what accumulates (runs stuck,
    slots or connections held), where a leak shows as a climb long before users notice."""

    allowed: Amount = Field(0.0, description="how much faster the candidate may climb, in the SLI's unit per "
                            "`per` (0: no faster than the baseline)")
    per: Duration = Field(60.0, gt=0, description="the time `allowed` is per, and the unit slopes are reported in: "
                          "1m")
    window: Duration | None = Field(None, description="the window of one value for the fit, more than 0; default "
                                    "the policy's `window`. Short windows (the sample interval, 1s) fit better: "
                                    "more of them, and their dependence is read more surely")

    @model_validator(mode="after")
    def _positive_window(self) -> TrendRule:
        # Not Field(gt=0): on an optional field pydantic writes `gt` into the JSON Schema, no keyword there.
        if self.window is not None and self.window <= 0:
            raise ValueError("window must be more than 0 (e.g. 1s)")
        return self


class MatrixLoad(_Model):
    """The load a matrix's cells run under: a locustfile sent to a service's main port."""

    profile: str = Field(description="locustfile, relative to the policy")
    target: str = Field(description="the service the load is sent to")
    users: int = Field(10, ge=1, le=10000, description="locust users")
    environment: dict[str, str] = Field(default_factory=dict, description="variables for the profile")


class MatrixRule(_Model):
    """The resilience matrix of the policy's stack, run for the baseline and the candidate: a cell
    whose surfaces beyond its target do worse for the candidate, or a call that stops giving up, fails."""

    surfaces: str = Field(description="the surface set: a file relative to the policy, or a name looked up as "
                          "surfaces/NAME.yaml beside the stack and above")
    cells: list[str] = Field(default_factory=list, description="cell globs ('hang:*->telemetry-collector'); "
                             "default every cell of `faults`")
    faults: list[Kind] = Field(default_factory=lambda: list(KINDS), description="fault kinds of the cells")
    stack: str | None = Field(None, description="compose file, relative to the policy; default the stack of the "
                              "policy's experiments")
    load: MatrixLoad | None = Field(None, description="the load the cells run under")
    variables: dict[str, str] = Field(default_factory=dict, description="stack variables for both sides (the "
                                      "gate's baseline and candidate, and --set, come on top)")
    warmup: Duration = Field(3.0, ge=0, description="each cell's warmup")
    baseline: Duration = Field(10.0, gt=0, description="each cell's baseline phase, before its fault")
    window: Duration = Field(30.0, gt=0, description="each cell's fault window: long enough that any sane "
                             "timeout fires")
    recovery: Duration = Field(15.0, ge=0, description="each cell's recovery phase")

    def windows(self) -> dict[str, float]:
        """The phases as `chaos.matrix.runner.prepare` takes them."""
        return {"warmup_s": self.warmup, "baseline_s": self.baseline, "window_s": self.window,
                "recovery_s": self.recovery}


class Criterion(_Model):
    """One thing a candidate must satisfy, in each experiment it applies to."""

    name: str = Field(min_length=1, description="what reports and waivers call it; unique in the policy")
    sli: SLIRef | None = Field(None, description="surface.sli, for vs_baseline, trend and bound")
    phase: Phase = Field("fault", description="the phase whose values are judged")
    vs_baseline: VsBaseline | None = Field(None, description="rule: the candidate against the baseline")
    trend: TrendRule | None = Field(None, description="rule: the candidate's climb over the phase against the "
                                    "baseline's (a gauge, quantile or rate SLI)")
    bound: Bound | None = Field(None, description="rule: the candidate's own value within bounds")
    blast_radius: RadiusRule | None = Field(None, description="rule: the candidate run's blast radius")
    matrix: MatrixRule | None = Field(None, description="rule: the candidate's resilience matrix against the "
                                      "baseline's (run after the experiments)")
    critical: bool = Field(False, description="its FAIL fails the gate (and stops it early); else it warns")
    warn_band: WarnBand | None = Field(
        None, description="a PASS this close to the limit is a WARN: a share of the allowed change or bound "
                          "('10%'), or an amount in the SLI's unit")
    min_samples: int = Field(10, ge=1, description="fewer events (ratio, quantile) or windows (others) on a side: INCONCLUSIVE")
    on_missing: Literal["inconclusive", "fail", "warn"] = Field(
        "inconclusive", description="verdict when there is no data at all (never pass)")
    experiments: list[str] = Field(default_factory=list, description="experiment names (globs); default all")

    @model_validator(mode="after")
    def _one_rule(self) -> Criterion:
        rules = [r for r in RULES if getattr(self, r) is not None]
        if len(rules) != 1:
            raise ValueError(f"give exactly one of {', '.join(RULES)}")
        if (self.sli is None) != (self.blast_radius is not None or self.matrix is not None):
            raise ValueError("vs_baseline, trend and bound need 'sli' (surface.sli); blast_radius and matrix take none")
        if self.matrix is not None and self.experiments:
            raise ValueError("a matrix criterion runs cells of its own, in no experiment: leave out 'experiments'")
        if self.warn_band is not None:
            warn_amount(self.warn_band, 1.0)
        return self

    @property
    def kind(self) -> str:
        return next(r for r in RULES if getattr(self, r) is not None)

    @property
    def compared(self) -> bool:
        """A statistical comparison with the baseline (vs_baseline or trend): it takes a share of alpha."""
        return self.vs_baseline is not None or self.trend is not None

    def applies_to(self, experiment: str) -> bool:
        """Judged in this experiment's runs (a matrix criterion is judged in none: it has its own cells)."""
        if self.matrix is not None:
            return False
        return not self.experiments or any(fnmatch.fnmatchcase(experiment, p) for p in self.experiments)


def warn_amount(band: str | float, reference: float) -> float:
    """A warn band as an amount: a share of `reference` ('10%') or an absolute amount."""
    if isinstance(band, str) and band.strip().endswith("%"):
        return _share(band) * abs(reference)
    return _amount(band)



class ExperimentRef(_Model):
    """An experiment file (or glob), and how the gate's variables reach it."""

    file: str = Field(description="experiment file or glob, relative to the policy")
    rename: dict[str, str] = Field(default_factory=dict, description="gate variable -> the experiment's name "
                                   "for it, e.g. {TELEMETRY_RELEASE: CANDIDATE_RELEASE} to swap it in mid-run")


class GatePolicy(_Model):
    """One gate policy file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="the gate's name, in reports and "
                      "directory names")
    description: str = Field("", description="what the gate protects, for people")
    experiments: list[str | ExperimentRef] = Field(min_length=1, description="files or globs, relative to the policy")
    baseline: dict[str, str] = Field(default_factory=dict, description="the stable variable set")
    candidate: dict[str, str] = Field(default_factory=dict, description="the candidate's (--candidate adds)")
    repeats: int = Field(1, ge=1, le=20, description="runs per experiment and side, interleaved")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="error level over all comparisons (Bonferroni)")
    window: Duration = Field(2.0, gt=0, description="window of one value for latency/gauge SLIs")
    fail_fast: bool = Field(True, description="stop once a critical criterion has failed")
    look_every: Duration = Field(1.0, gt=0, description="seconds between fail-fast looks in a fault phase")
    reuse_stack: bool = Field(True, description="keep a started stack between runs (reset verified)")
    retries: int = Field(1, ge=0, le=5, description="times a run is run again when its baseline was not steady "
                                                    "(nothing injected yet: the environment, not a fault); "
                                                    "every attempt is kept")
    backend: Literal["local", "docker"] | None = Field(None, description="every experiment's backend; default "
                                                       "each experiment's own (--backend overrides)")
    waivers: str | None = Field(None, description="waivers file, relative to the policy")
    criteria: list[Criterion] = Field(min_length=1, description="what the candidate must satisfy")


class PlannedExperiment(BaseModel):
    """An experiment file with its variables for each side, both already validated."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    path: Path
    name: str
    baseline_vars: dict[str, str]
    candidate_vars: dict[str, str]
    baseline: LoadedExperiment
    candidate: LoadedExperiment


class PlannedMatrix(BaseModel):
    """A matrix criterion's two sides, each checked (every cell's experiment loads): nothing started."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    criterion: str
    baseline: Prepared
    candidate: Prepared

    def declared_s(self) -> float:
        """Seconds of declared phases over both sides' cells."""
        return 2 * self.baseline.settings.cell_s() * len(self.baseline.cells)


class LoadedPolicy(BaseModel):
    """A policy checked against its experiments: everything a gate needs, nothing started."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    path: Path
    spec: GatePolicy
    experiments: list[PlannedExperiment]
    baseline: dict[str, str]
    candidate: dict[str, str]
    matrices: list[PlannedMatrix] = Field(default_factory=list)


def experiment_files(path: Path, spec: GatePolicy, doc: YamlDocument,
                     problems: list[InputError]) -> list[tuple[int, ExperimentRef, list[Path]]]:
    """Each experiment reference of a policy at `path`, with the files its pattern matches; a
    pattern that matches nothing is a problem at its line."""
    found = []
    for i, entry in enumerate(spec.experiments):
        ref = ExperimentRef(file=entry) if isinstance(entry, str) else entry
        files = [Path(f) for f in sorted(glob.glob(str(path.parent / ref.file)))]
        if not files:
            problems.append(doc.error(["experiments", i], f"no experiment file matches {ref.file!r}"))
        found.append((i, ref, files))
    return found


def load_policy(path: Path | str, candidate: dict[str, str] | None = None, baseline: dict[str, str] | None = None,
                overrides: dict[str, str] | None = None, backend: str | None = None,
                only: list[str] | None = None) -> LoadedPolicy:
    """Parse and check a policy and every experiment it names (with both variable sets); `only`
    keeps the experiments whose names match one of these globs."""
    path = Path(path)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(path, "a gate policy is a mapping (name, experiments, criteria, …)", 1)
    # Every problem at once: a misspelt key in one criterion does not hide the references after it.
    checked, doc, problems = validate_all(doc, GatePolicy, dict(os.environ), keep=["baseline", "candidate"])
    if checked is None:
        raise InputErrors(in_file_order(path, problems))
    spec = checked
    base_vars = {**spec.baseline, **(baseline or {})}
    cand_vars = {**spec.candidate, **(candidate or {})}
    planned = []
    for i, ref, files in experiment_files(path, spec, doc, problems):
        for file in files:
            planned += _plan(doc, i, file, ref, base_vars, cand_vars, overrides or {}, backend or spec.backend,
                             problems)
    matrices = [] if only and not any(fnmatch.fnmatchcase(MATRIX_NAME, g) for g in only) else [
        m for i, crit in enumerate(spec.criteria) if crit.matrix
        for m in _plan_matrix(path, doc, i, crit, planned, base_vars, cand_vars, overrides or {},
                              backend or spec.backend, problems)]
    if only:
        planned = [p for p in planned if any(fnmatch.fnmatchcase(p.name, g) for g in only)]
        if not planned and not matrices:
            problems.append(InputError("--only", f"no experiment of the policy matches {', '.join(only)}"
                                       + (f" (its matrix criteria are selected by {MATRIX_NAME!r})"
                                          if any(c.matrix for c in spec.criteria) else "")))
    names = [p.name for p in planned]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.append(doc.error(["experiments"], f"experiment {dup!r} is named twice"))
    for i, crit in enumerate(spec.criteria):
        _check_criterion(doc, i, crit, planned, problems)
    crit_names = [c.name for c in spec.criteria]
    for dup in {n for n in crit_names if crit_names.count(n) > 1}:
        problems.append(doc.error(["criteria"], f"criterion {dup!r} is named twice (waivers and reports name them)"))
    if problems:
        raise InputErrors(in_file_order(path, problems))
    return LoadedPolicy(path=path, spec=spec, experiments=planned, baseline=base_vars, candidate=cand_vars,
                        matrices=matrices)


#: A matrix option's flag (as `prepare` names it) -> the matrix rule's field.
_MATRIX_FIELDS = {"--surfaces": "surfaces", "--cells": "cells", "--load": "load.profile", "--target": "load.target",
                  "--users": "load.users", "--window": "window", "--baseline": "baseline", "--recovery": "recovery",
                  "--warmup": "warmup"}


def _plan_matrix(path: Path, doc: YamlDocument, i: int, crit: Criterion, planned: list[PlannedExperiment],
                 base_vars: dict[str, str], cand_vars: dict[str, str], overrides: dict[str, str],
                 backend: str | None, problems: list[InputError]) -> list[PlannedMatrix]:
    """A matrix criterion's sides prepared with the gate's variables; [] with its problems added."""
    rule = crit.matrix
    assert rule is not None, "only a matrix criterion is planned here"
    at = ["criteria", i, "matrix"]
    if rule.stack is not None:
        stack = (path.parent / rule.stack).resolve()
    else:
        stacks = {p.baseline.stack.path for p in planned}
        if len(stacks) != 1:
            problems.append(doc.error(at, "give 'stack' (a compose file): the policy's experiments "
                                      + ("run on several stacks" if stacks else "did not load")))
            return []
        stack = Path(next(iter(stacks)))
    surfaces = str(path.parent / rule.surfaces) if rule.surfaces.endswith((".yaml", ".yml")) else rule.surfaces
    load = rule.load
    sides = []
    for variables in (base_vars, cand_vars):
        try:
            sides.append(prepare(stack, surfaces, kinds=list(rule.faults), patterns=rule.cells,
                                 backend=backend or "local", variables={**rule.variables, **overrides, **variables},
                                 load=str(path.parent / load.profile) if load else None,
                                 target=load.target if load else None, users=load.users if load else 10,
                                 load_environment=dict(load.environment) if load else {}, **rule.windows()))
        except InputErrors as exc:
            problems += [_at_rule(doc, at, e) for e in exc.errors]
            return []
        except InputError as exc:
            problems.append(_at_rule(doc, at, exc))
            return []
    return [PlannedMatrix(criterion=crit.name, baseline=sides[0], candidate=sides[1])]


def _at_rule(doc: YamlDocument, at: list, exc: InputError) -> InputError:
    """A matrix option's problem at the rule's field in the policy; a located one (a surface set's
    line, the stack file's) stays where it is."""
    if exc.file in _MATRIX_FIELDS:
        return doc.error([*at, *_MATRIX_FIELDS[exc.file].split(".")], exc.message)
    return exc


def _plan(doc: YamlDocument, i: int, file: Path, ref: ExperimentRef, base_vars: dict[str, str],
          cand_vars: dict[str, str], overrides: dict[str, str], backend: str | None,
          problems: list[InputError]) -> list[PlannedExperiment]:
    sides = {}
    for side, variables in (("baseline", base_vars), ("candidate", cand_vars)):
        exp_vars = {**overrides, **{ref.rename.get(k, k): v for k, v in variables.items()}}
        try:
            sides[side] = (exp_vars, load_experiment(file, exp_vars, backend=backend))
        except InputErrors as exc:
            problems += exc.errors
            return []
        except InputError as exc:
            problems.append(exc)
            return []
    (bv, b), (cv, c) = sides["baseline"], sides["candidate"]
    return [PlannedExperiment(path=file, name=b.spec.name, baseline_vars=bv, candidate_vars=cv, baseline=b,
                              candidate=c)]


def _check_criterion(doc: YamlDocument, i: int, crit: Criterion, planned: list[PlannedExperiment],
                     problems: list[InputError]) -> None:
    targets = [p for p in planned if crit.applies_to(p.name)]
    if planned and not targets and not crit.experiments and crit.matrix is None:
        problems.append(doc.error(["criteria", i, "experiments"], "matches none of the policy's experiments"))
    if crit.sli is None:
        return
    for p in targets:
        surfaces = p.candidate.surfaces
        found = crit.sli.find(surfaces)
        if found is None:
            known = ", ".join(f"{s}.{k}" for s, v in surfaces.items() for k in v.slis)
            problems.append(doc.error(["criteria", i, "sli"],
                                      f"experiment {p.name!r} has no SLI {str(crit.sli)!r} (known: {known})"))
        elif crit.trend and isinstance(found[1], RatioSLI):
            problems.append(doc.error(["criteria", i, "sli"],
                                      f"a trend is fitted to per-window values: {str(crit.sli)!r} is a ratio SLI "
                                      "(use a gauge, quantile or rate SLI, e.g. a gauge of what is held)"))
        elif crit.phase == "baseline" and crit.compared:
            problems.append(doc.error(["criteria", i, "phase"], "compare the fault or recovery phase; the baseline "
                                      "phase is before any fault"))
