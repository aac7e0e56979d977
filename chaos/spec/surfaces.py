"""What a user declares of a surface: the services a user-facing experience rests on, and its SLIs.

Pure models, selector parsing and SLI references (`surface.sli`), read while an experiment is
validated; computing an SLI over a window of the timeline is `chaos.measure.sli`'s work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, field_validator
from pydantic_core import core_schema

_SELECTOR = re.compile(r'^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$')
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=|!=)\s*"([^"]*)"\s*(?:,|$)')


class Selector(BaseModel):
    """`name{label="v",other!="w"}`: a metric and label matchers."""

    name: str
    equal: dict[str, str] = Field(default_factory=dict)
    not_equal: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse a selector; ValueError when malformed."""
        m = _SELECTOR.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a metric selector (example: runs_total{{status=\"ok\"}})")
        equal: dict[str, str] = {}
        not_equal: dict[str, str] = {}
        body = (m.group(2) or "").strip()
        pos = 0
        while pos < len(body):
            mm = _MATCHER.match(body, pos)
            if not mm:
                raise ValueError(f"bad label matcher in {text!r} at {body[pos:]!r}")
            (equal if mm.group(2) == "=" else not_equal)[mm.group(1)] = mm.group(3)
            pos = mm.end()
        return cls(name=m.group(1), equal=equal, not_equal=not_equal)

    def matches(self, labels: dict[str, str]) -> bool:
        """True when labels satisfy every matcher (a missing label counts as empty)."""
        return (all(labels.get(k, "") == v for k, v in self.equal.items())
                and all(labels.get(k, "") != v for k, v in self.not_equal.items()))


def _selector(v: str) -> str:
    Selector.parse(v)
    return v


class _SLI(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str | None = Field(None, description="service whose metrics are read; default the surface's")
    better: Literal["higher", "lower"] = Field("higher", description="which direction is good")
    tolerance: float = Field(0.0, ge=0, description="absolute change from baseline still not degraded")
    tolerance_pct: float = Field(0.0, ge=0, description="relative change from baseline still not degraded")


class RatioSLI(_SLI):
    kind: Literal["ratio"]
    good: str
    total: str
    _v = field_validator("good", "total")(_selector)


class QuantileSLI(_SLI):
    kind: Literal["quantile"]
    histogram: str = Field(description="histogram name without _bucket, optional label matchers")
    q: float = Field(gt=0, lt=1)
    better: Literal["higher", "lower"] = "lower"
    _v = field_validator("histogram")(_selector)


class GaugeSLI(_SLI):
    kind: Literal["gauge"]
    metric: str
    agg: Literal["max", "min", "mean", "last"] = "max"
    better: Literal["higher", "lower"] = "lower"
    _v = field_validator("metric")(_selector)


class RateSLI(_SLI):
    kind: Literal["rate"]
    counter: str
    _v = field_validator("counter")(_selector)


SLIDef = Annotated[RatioSLI | QuantileSLI | GaugeSLI | RateSLI, Field(discriminator="kind")]


class Surface(BaseModel):
    """A user-facing experience: the services it rests on, its SLIs and its weight in the radius."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    services: list[str] = Field(min_length=1, description="services this experience rests on; first = default source")
    weight: float = Field(1.0, gt=0)
    slis: dict[str, SLIDef] = Field(min_length=1)


class SLIRef(NamedTuple):
    """One SLI of one surface, written `surface.sli` (e.g. runs.failure_ratio) in experiments, policies
    and stored results.

    As a pydantic field it is read from that string (a located error when it has no dot) and written
    back as the same string, so files keep their format; in code it is the pair, `str()` the text.
    """

    surface: str
    sli: str

    @classmethod
    def parse(cls, text: str) -> SLIRef:
        """`surface.sli` -> SLIRef (split at the first dot); ValueError when either part is missing."""
        surface, dot, sli = text.partition(".")
        if not (dot and surface and sli):
            raise ValueError(f"{text!r} is not an SLI reference: write surface.sli (e.g. runs.failure_ratio)")
        return cls(surface, sli)

    def __str__(self) -> str:
        return f"{self.surface}.{self.sli}"

    def find(self, surfaces: Mapping[str, Surface]) -> tuple[Surface, SLIDef] | None:
        """The surface and SLI this names among `surfaces`; None when either is unknown."""
        surface = surfaces.get(self.surface)
        if surface is None or self.sli not in surface.slis:
            return None
        return surface, surface.slis[self.sli]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        # Validated as a string (an SLIRef given in code is taken as its text), written as one in
        # both dump modes: a dict from model_dump() goes to JSON or YAML as it always did.
        return core_schema.no_info_before_validator_function(
            lambda v: str(v) if isinstance(v, SLIRef) else v,
            core_schema.no_info_after_validator_function(cls.parse, core_schema.str_schema()),
            serialization=core_schema.to_string_ser_schema(when_used="unless-none"))


#: Suffixes under which one metric appears in the text format (a counter, a histogram's parts).
METRIC_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def base_name(name: str) -> str:
    """A sample's metric name without its counter or histogram suffix."""
    for suffix in METRIC_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def wanted_metrics(surfaces: dict[str, Surface]) -> dict[str, set[str]]:
    """Per source, the base names of the metrics the surfaces' SLIs read: all a run stores of a
    Prometheus endpoint (the report and the gate read the same SLIs)."""
    wanted: dict[str, set[str]] = {}
    for surface in surfaces.values():
        for sli in surface.slis.values():
            selectors = {"ratio": lambda s: [s.good, s.total], "quantile": lambda s: [s.histogram],
                         "gauge": lambda s: [s.metric], "rate": lambda s: [s.counter]}[sli.kind](sli)
            names = wanted.setdefault(sli.source or surface.services[0], set())
            names.update(base_name(Selector.parse(sel).name) for sel in selectors)
    return wanted
