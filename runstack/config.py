"""The run stack's knobs, read once from the environment, and its scaled platform clock."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Config(BaseModel):
    """Every knob the run stack has; environment variables of the same name (upper case) set them."""

    time_scale: float = Field(1.0, gt=0, description="real seconds per platform minute")
    telemetry_release: str = "1.4.2"
    telemetry_rc3_share: float = Field(0.05, ge=0, le=1, description="share of projects 1.5.0-rc3 hangs for")
    telemetry_timeout_s: float = Field(0.0, ge=0, description="guardrail on post-run telemetry; 0 = none")
    overflow_to_shared: bool = True
    run_pool_slots: int = Field(8, ge=1)
    shared_pool_slots: int = Field(12, ge=1)
    broker_max_connections: int = Field(40, ge=1)
    connections_per_run: int = Field(2, ge=1, description="a run holds one for events, one for logs")
    queue_timeout_min: float = 10.0
    max_queued_per_job: int = 3
    run_steps: int = 4
    step_min: float = 0.25
    housekeeping_interval_min: float = 0.5
    studio_launch_timeout_min: float = 1.0
    studio_session_min: float = 3.0
    publications_wait_min: float = 0.2
    telemetry_stuck_after_min: float = 1.0
    catalogue_seed: int = 2026

    def seconds(self, platform_minutes: float) -> float:
        """Real seconds for a span of platform minutes."""
        return platform_minutes * self.time_scale


_ENV_NAMES = {"time_scale": "RUNSTACK_TIME_SCALE"}


@lru_cache(maxsize=1)
def config() -> Config:
    """The process's configuration from its environment."""
    values = {}
    for name in Config.model_fields:
        raw = os.environ.get(_ENV_NAMES.get(name, name.upper()))
        if raw not in (None, ""):
            values[name] = raw.lower() in ("1", "true", "yes", "on") if name == "overflow_to_shared" else raw
    return Config.model_validate(values)
