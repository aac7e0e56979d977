"""A policy's calibration: the run-to-run noise of each (criterion, experiment) measured on the
user's own stack by A/A pairs (`chaosgate calibrate`), stored beside the policy and used by its
gates.

The file is meant to be committed. It is stamped with what the noise depends on — each
experiment file and stack file (hashes), each criterion's SLI, phase and window, chaosgate's
version and the machine's cores — and not with the floors or allowances, so that setting a floor
from the calibration does not make it stale. A calibration whose experiments, stacks or criteria
differ from the policy's is stale: the gate warns and does not use it. One measured with another
version or on another number of cores is used, with a warning.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from pydantic import BaseModel, Field

from chaos import __version__
from chaos.gate.policy import Criterion, LoadedPolicy, PlannedExperiment

#: Beside the policy: gates/pre-promotion.yaml -> gates/pre-promotion.calibration.json.
SUFFIX = ".calibration.json"


class Stamp(BaseModel):
    """What the measured noise depends on."""

    experiments: dict[str, str] = Field(description="experiment name -> sha256 of its file")
    stacks: dict[str, str] = Field(description="stack file (relative to the policy) -> sha256")
    criteria: dict[str, str] = Field(description="'criterion @ experiment' -> its SLI's definition, phase, window")
    chaosgate: str = __version__
    cores: int = Field(default_factory=lambda: os.cpu_count() or 1)


class Noise(BaseModel):
    """One (criterion, experiment): what A/A pairs showed."""

    criterion: str
    experiment: str
    level: float = Field(description="the SLI's mean over every run (all of them A/A)")
    estimates: list[float] = Field(description="each run's estimate of the SLI, in run order")
    aa_effects: list[float] = Field(description="each pair's worsening, candidate run against baseline run")
    within_variance: float = Field(description="mean sampling variance of one run's estimate")
    between_variance: float = Field(description="run-to-run variance beyond the sampling variance")
    false_blocks: int = Field(description="pairs whose single-pair comparison FAILed at the criterion's alpha")
    alpha: float = Field(description="the criterion's corrected alpha the pairs were judged at")
    detectable: float | None = Field(None, description="the worsening a gate of this policy (its repeats) "
                                                       "would FAIL with 80 % power, run-to-run noise included")


class Calibration(BaseModel):
    """<policy>.calibration.json."""

    policy: str
    pairs: int
    measured_at: float = Field(default_factory=time.time)
    stamp: Stamp
    noise: list[Noise] = Field(default_factory=list)

    def find(self, criterion: str, experiment: str) -> Noise | None:
        """The noise measured for this pair, if it was."""
        return next((n for n in self.noise if n.criterion == criterion and n.experiment == experiment), None)


def path_for(policy: Path) -> Path:
    """Where a policy's calibration lives."""
    return policy.with_name(policy.stem + SUFFIX)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _measured(crit: Criterion, p: PlannedExperiment, window: float) -> str:
    """What a criterion measures in an experiment, as text: its SLI's definition (from the
    experiment or its surface set), phase and window."""
    assert crit.sli is not None, "only a vs_baseline criterion is calibrated"
    found = crit.sli.find(p.candidate.surfaces)
    definition = found[1].model_dump_json() if found else "missing"
    return f"{crit.sli} = {definition} in the {crit.phase} phase, {window:g}s windows"


def stamp_of(policy: LoadedPolicy) -> Stamp:
    """The stamp the policy's calibration must carry to be used."""
    experiments = {p.name: _sha256(p.path) for p in policy.experiments}
    # Relative to the policy: the file is committed, and a clone elsewhere must find the same names.
    stacks = {os.path.relpath(p.candidate.stack.path, policy.path.parent): _sha256(p.candidate.stack.path)
              for p in policy.experiments}
    criteria = {f"{c.name} @ {p.name}": _measured(c, p, policy.spec.window) for c in policy.spec.criteria
                if c.vs_baseline for p in policy.experiments if c.applies_to(p.name)}
    return Stamp(experiments=experiments, stacks=stacks, criteria=criteria)


def load_for(policy: LoadedPolicy) -> tuple[Calibration | None, list[str]]:
    """The policy's calibration when it fits the policy as it is now, and the warnings about it."""
    path = path_for(policy.path)
    if not path.exists():
        return None, []
    try:
        cal = Calibration.model_validate_json(path.read_text())
    except ValueError as exc:
        return None, [f"calibration {path} is unreadable and not used: {str(exc).splitlines()[0]}"]
    now = stamp_of(policy)
    stale = [f"experiment {name}" for name, digest in now.experiments.items()
             if cal.stamp.experiments.get(name) not in (None, digest)]
    stale += [f"stack {name}" for name, digest in now.stacks.items() if cal.stamp.stacks.get(name) not in (None, digest)]
    stale += [f"criterion {name!r}" for name, text in now.criteria.items()
              if cal.stamp.criteria.get(name) not in (None, text)]
    if stale:
        return None, [f"calibration {path} is stale and not used: {', '.join(stale)} changed since it was measured "
                      f"(run `chaosgate calibrate {policy.path}` again)"]
    warnings = []
    if cal.stamp.chaosgate != now.chaosgate:
        warnings.append(f"calibration {path} was measured with chaosgate {cal.stamp.chaosgate} (this is "
                        f"{now.chaosgate}): used")
    if cal.stamp.cores != now.cores:
        warnings.append(f"calibration {path} was measured on {cal.stamp.cores} core(s), this machine has "
                        f"{now.cores}: used, but run-to-run noise depends on the machine")
    return cal, warnings
