"""Metric sources an experiment declares beyond its services' own endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chaos.util.durations import Duration


class PromQLSourceSpec(BaseModel):
    """`{kind: promql, name: prom, url: http://127.0.0.1:9090, queries: {name: expr}}`."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["promql"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", description="source name SLIs refer to")
    url: str = Field(description="the Prometheus server; non-loopback hosts need allow_hosts")
    queries: dict[str, str] = Field(min_length=1, description="metric name in the timeline -> PromQL expression")
    timeout: Duration = Field(2.0, gt=0, le=30)
