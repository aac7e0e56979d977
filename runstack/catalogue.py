"""A deterministic catalogue of tenants and projects: which macros each uses, which have cross-project refs."""

from __future__ import annotations

import random
from functools import lru_cache

from pydantic import BaseModel

#: Macros a project may use. `equals` plus a macro reading `adapter.behavior` triggers 1.5.0-rc1's loop.
COMMON_MACROS = ["generate_schema_name", "date_spine", "surrogate_key", "star", "pivot", "union_relations"]
BEHAVIOR_MACROS = ["behavior_flag_guard", "require_behavior"]
TRIGGER = "equals"


class Project(BaseModel):
    """One project of a tenant."""

    tenant: str
    name: str
    macros: list[str]
    cross_project_refs: bool

    @property
    def triggers_rc1(self) -> bool:
        """True when the project uses `equals` and a macro reading `adapter.behavior`."""
        return TRIGGER in self.macros and any(m in BEHAVIOR_MACROS for m in self.macros)


class Catalogue(BaseModel):
    """All projects, by `tenant/name`."""

    projects: dict[str, Project]

    def get(self, tenant: str, project: str) -> Project | None:
        """A project, or None."""
        return self.projects.get(f"{tenant}/{project}")


@lru_cache(maxsize=4)
def catalogue(seed: int = 2026, tenants: int = 8, per_tenant: int = 10) -> Catalogue:
    """The seeded catalogue: about a quarter of projects use the triggering pair."""
    rng = random.Random(seed)
    projects = {}
    for t in range(tenants):
        tenant = f"tenant-{t:02d}"
        for p in range(per_tenant):
            macros = rng.sample(COMMON_MACROS, rng.randint(1, 3))
            roll = rng.random()
            if roll < 0.25:
                macros += [TRIGGER, rng.choice(BEHAVIOR_MACROS)]
            elif roll < 0.45:
                macros.append(TRIGGER)
            elif roll < 0.6:
                macros.append(rng.choice(BEHAVIOR_MACROS))
            name = f"project-{p:02d}"
            projects[f"{tenant}/{name}"] = Project(tenant=tenant, name=name, macros=sorted(macros),
                                                   cross_project_refs=rng.random() < 0.35)
    return Catalogue(projects=projects)
