"""`chaosgate validate`: tell a file's kind by its top-level keys, and check it as that kind.

Experiments, gate policies, waiver files, stacks (compose files) and surface sets are all YAML
mappings; each kind has keys the others lack. A file is checked with the loader its kind is run
with, so what `validate` accepts is what `run` and `gate` accept. Nothing is started.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel

from chaos.errors import InputError, InputErrors
from chaos.spec.experiment import Experiment, load_experiment
from chaos.spec.surfaces import Surface
from chaos.stack import load_stack
from chaos.stack.model import Compose
from chaos.util.yamlsource import in_file_order, load_yaml, validate_all

Kind = Literal["experiment", "policy", "waivers", "stack", "surfaces"]
KINDS: tuple[str, ...] = get_args(Kind)

#: Keys any kind may have, which tell nothing apart.
_SHARED = {"name", "description", "backend", "variables"}


def _keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()} - _SHARED


def _required(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items() if info.is_required()}


#: The top-level keys that say a file is of a kind (a surface set has names of its own choosing).
#: A policy's and a waiver file's are written out so that checking an experiment does not build
#: the gate's models (tests/chaos/test_validate.py checks they are the models' own fields).
KIND_KEYS: dict[str, set[str]] = {
    "experiment": _keys(Experiment), "stack": _keys(Compose), "waivers": {"waivers"},
    "policy": {"experiments", "baseline", "candidate", "repeats", "alpha", "window", "fail_fast", "look_every",
               "reuse_stack", "retries", "waivers", "criteria"}}
_REQUIRED: dict[str, set[str]] = {"experiment": _required(Experiment), "stack": _required(Compose), "waivers": set(),
                                  "policy": {"name", "experiments", "criteria"}}
KIND_NAMES = {"experiment": "an experiment", "policy": "a gate policy", "waivers": "a waiver file",
              "stack": "a stack (compose file)", "surfaces": "a surface set"}
#: Shown when a kind cannot be told: the keys a reader recognises each kind by.
_EXAMPLE_KEYS = {"experiment": "stack, phases, faults, surfaces", "policy": "experiments, criteria",
                 "waivers": "waivers", "stack": "services", "surfaces": "NAME: {services, slis} per surface"}


@dataclass
class Checked:
    """A file that passed: its kind, a one-line summary, and warnings (valid, likely not meant)."""

    path: str
    kind: str
    summary: str
    warnings: list[str] = field(default_factory=list)


def detect(data: object) -> str | None:
    """The kind a file's top-level keys say it is; None when they fit no kind, or two equally."""
    if not isinstance(data, dict) or not data:
        return None
    keys = {str(k) for k in data}
    scores = {kind: len(keys & wanted) for kind, wanted in KIND_KEYS.items()}
    scores["stack"] += sum(1 for k in keys if k.startswith("x-"))  # compose's extension keys
    best = max(scores.values())
    if best == 0:
        surfaces = all(isinstance(v, dict) and {"services", "slis"} & set(v) for v in data.values())
        return "surfaces" if surfaces else None
    top = [kind for kind, score in scores.items() if score == best]
    # A tie (`waivers:` alone is a waiver file, and also a policy's key) goes to the kind the file
    # lacks fewest required keys of.
    missing = {kind: len(_REQUIRED[kind] - keys) for kind in top}
    fewest = min(missing.values())
    top = [kind for kind in top if missing[kind] == fewest]
    return top[0] if len(top) == 1 else None


def check_file(path: Path | str, variables: dict[str, str] | None = None, kind: str | None = None) -> Checked:
    """Check one file as `kind` (default: the kind its keys say); InputErrors listing every problem."""
    path = Path(path)
    if kind is None:
        doc = load_yaml(path)
        kind = detect(doc.data)
        if kind is None:
            raise InputError(path, _unknown_kind(doc.data), 1)
    checks = {"experiment": _experiment, "policy": _policy, "waivers": _waivers, "stack": _stack,
              "surfaces": _surfaces}
    return checks[kind](path, variables or {})


def _unknown_kind(data: object) -> str:
    expected = "; ".join(f"{KIND_NAMES[k]}: {_EXAMPLE_KEYS[k]}" for k in KINDS)
    if not isinstance(data, dict) or not data:
        return f"cannot tell what kind of file this is: it is not a mapping of keys. Expected top-level keys — {expected}"
    keys = ", ".join(str(k) for k in list(data)[:8]) + (", …" if len(data) > 8 else "")
    return (f"cannot tell what kind of file this is from its top-level keys ({keys}). Expected — {expected}. "
            "Name the kind with --kind")


def _experiment(path: Path, variables: dict[str, str]) -> Checked:
    exp = load_experiment(path, variables)
    return Checked(path=str(path), kind="experiment", warnings=exp.warnings,
                   summary=f"experiment {exp.spec.name}: {len(exp.spec.faults)} fault(s), {len(exp.surfaces)} "
                           f"surface(s), {exp.spec.phases.total():g}s of phases")


def _policy(path: Path, variables: dict[str, str]) -> Checked:
    # The gate's models, the judge and its statistics: only a policy needs them.
    from chaos.gate.policy import load_policy
    from chaos.gate.verdict import comparisons
    from chaos.gate.waivers import load_waivers, split_expired

    problems: list[InputError] = []
    try:
        policy = load_policy(path, overrides=variables)
    except InputErrors as exc:
        problems += exc.errors
        policy = None
        if all(e.file == str(path) for e in exc.errors):
            problems += _experiments_behind(path, variables)
    warnings: list[str] = []
    waiver_note = ""
    if policy is not None:
        for p in policy.experiments:
            warnings += p.baseline.warnings + p.candidate.warnings
        if policy.spec.waivers:
            waiver_file = policy.path.parent / policy.spec.waivers
            try:
                waivers = load_waivers(waiver_file)
                warnings += split_expired(waivers, dt.date.today())[1]
                waiver_note = f", {len(waivers)} waiver(s)"
            except InputErrors as exc:
                problems += exc.errors
            except InputError as exc:
                problems.append(exc)
    if problems:
        raise InputErrors(in_file_order(path, problems))
    assert policy is not None
    spec = policy.spec
    return Checked(path=str(path), kind="policy", warnings=list(dict.fromkeys(warnings)),
                   summary=f"gate policy {spec.name}: {len(policy.experiments)} experiment(s), {len(spec.criteria)} "
                           f"criteria, {comparisons(policy)} comparison(s) at alpha {spec.alpha:g}, {spec.repeats} "
                           f"repeat(s){waiver_note}; plan it with `chaosgate gate {path} --dry-run`")


def _experiments_behind(path: Path, variables: dict[str, str]) -> list[InputError]:
    """The problems of a policy's experiments when the policy itself has problems of shape.

    load_policy stops at the policy's own problems (it cannot plan without a policy); the
    experiments it names are still checked here, with the baseline set, so that one pass reports
    theirs too. The criteria's references to them are checked once the policy fits."""
    from chaos.gate.policy import GatePolicy, experiment_files

    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        return []
    spec, view, _ = validate_all(doc, GatePolicy, dict(os.environ), keep=["baseline", "candidate"])
    if spec is None:
        return []
    found: list[InputError] = []
    for _, ref, files in experiment_files(path, spec, view, found):
        for file in files:
            exp_vars = {**variables, **{ref.rename.get(k, k): v for k, v in spec.baseline.items()}}
            try:
                load_experiment(file, exp_vars, backend=spec.backend)
            except InputErrors as exc:
                found += exc.errors
            except InputError as exc:
                found.append(exc)
    return found


def _waivers(path: Path, variables: dict[str, str]) -> Checked:
    from chaos.gate.waivers import load_waivers, split_expired

    waivers = load_waivers(path)
    _, expired = split_expired(waivers, dt.date.today())
    return Checked(path=str(path), kind="waivers", warnings=expired,
                   summary=f"waiver file: {len(waivers)} waiver(s), {len(expired)} expired")


def _stack(path: Path, variables: dict[str, str]) -> Checked:
    from chaos import backends

    stack = load_stack(path, variables)
    runs_on: list[str] = []
    refused: dict[str, list[InputError]] = {}
    for name in ("local", "docker"):
        try:
            backends.get(name).check(stack)
            runs_on.append(name)
        except InputErrors as exc:
            refused[name] = exc.errors
    if not runs_on:  # a stack no backend can run is wrong; one backend's refusal is a note
        raise InputErrors([InputError(e.file, f"{e.message} ({name} backend)", e.line, e.field)
                           for name, errors in refused.items() for e in errors])
    notes = [f"{e} (only the {' and '.join(runs_on)} backend can run this stack)" for errors in refused.values()
             for e in errors]
    return Checked(path=str(path), kind="stack", warnings=notes,
                   summary=f"stack {stack.name}: {len(stack.services)} service(s), {len(stack.links())} link(s); "
                           f"runs on the {' and '.join(runs_on)} backend{'s' if len(runs_on) > 1 else ''}")


def _surfaces(path: Path, variables: dict[str, str]) -> Checked:
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(path, "a surface set is a mapping of surface names to surfaces (services, slis)", 1)
    # As experiments read them: not interpolated (see chaos.spec.experiment).
    surfaces, _, problems = validate_all(doc, dict[str, Surface], {}, keep=list(doc.data))
    if problems or surfaces is None:
        raise InputErrors(problems)
    slis = sum(len(s.slis) for s in surfaces.values())
    return Checked(path=str(path), kind="surfaces",
                   summary=f"surface set: {len(surfaces)} surface(s), {slis} SLI(s); their services are checked "
                           "against the stack of each experiment that uses it")
