"""Waivers: a known failure of one criterion, accepted for one candidate, by someone, until a date.

A waiver turns that criterion's FAIL or INCONCLUSIVE into a WARN, and every output lists it. An
expired waiver is ignored, with a warning: nothing is accepted forever by accident.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from chaos.errors import InputError
from chaos.util.yamlsource import load_yaml, validated


class Waiver(BaseModel):
    """One accepted failure."""

    model_config = ConfigDict(extra="forbid")
    criterion: str = Field(min_length=1, description="the criterion's name")
    experiment: str = Field("*", description="experiment name (glob); default every experiment")
    candidate: dict[str, str] = Field(min_length=1, description="the candidate variables it is for, e.g. "
                                      "{TELEMETRY_RELEASE: 1.5.0-rc1}")
    reason: str = Field(min_length=1, description="why the failure is accepted, e.g. a ticket and its fix")
    owner: str = Field(min_length=1, description="who accepted it and answers for it: a person or a team")
    expires: dt.date = Field(description="last day it applies (YYYY-MM-DD); after it the waiver is ignored, "
                                         "with a warning")

    def matches(self, criterion: str, experiment: str, candidate: dict[str, str]) -> bool:
        """Whether it speaks of this criterion, experiment and candidate."""
        return (self.criterion == criterion and fnmatch.fnmatchcase(experiment, self.experiment)
                and all(candidate.get(k) == v for k, v in self.candidate.items()))


class WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    waivers: list[Waiver] = Field(default_factory=list, description="the accepted failures")


def load_waivers(path: Path | str) -> list[Waiver]:
    """Read a waivers file; located InputErrors when it is wrong."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(path, "a waivers file is a mapping with a 'waivers' list", 1)
    return validated(doc, WaiverFile, {}).waivers


def split_expired(waivers: list[Waiver], today: dt.date) -> tuple[list[Waiver], list[str]]:
    """The waivers still in force, and a warning for each expired one."""
    active, warnings = [], []
    for w in waivers:
        if w.expires < today:
            warnings.append(f"waiver for {w.criterion!r} ({w.owner}) expired on {w.expires}: ignored")
        else:
            active.append(w)
    return active, warnings
