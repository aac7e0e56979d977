"""SLIs: declared per surface, computed for a time window from the timeline.

Kinds: `ratio` of two counter deltas, `quantile` of a histogram's bucket deltas, `gauge`
extremes, `rate` of a counter. A window without data gives a value of None with the reason —
never zero.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from chaos.metrics.timeline import Timeline

_SELECTOR = re.compile(r'^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$')
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=|!=)\s*"([^"]*)"\s*(?:,|$)')


class Selector(BaseModel):
    """`name{label="v",other!="w"}`: a metric and label matchers."""

    name: str
    equal: dict[str, str] = Field(default_factory=dict)
    not_equal: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "Selector":
        """Parse a selector; ValueError when malformed."""
        m = _SELECTOR.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a metric selector (example: runs_total{{status=\"ok\"}})")
        equal, not_equal = {}, {}
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


SLIDef = Annotated[Union[RatioSLI, QuantileSLI, GaugeSLI, RateSLI], Field(discriminator="kind")]


class Surface(BaseModel):
    """A user-facing experience: the services it rests on, its SLIs and its weight in the radius."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    services: list[str] = Field(min_length=1, description="services this experience rests on; first = default source")
    weight: float = Field(1.0, gt=0)
    slis: dict[str, SLIDef] = Field(min_length=1)


#: Suffixes under which one metric appears in the text format (a counter, a histogram's parts).
METRIC_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def base_name(name: str) -> str:
    """A sample's metric name without its counter or histogram suffix."""
    for suffix in METRIC_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def wanted_metrics(surfaces: dict[str, "Surface"]) -> dict[str, set[str]]:
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


class SLIValue(BaseModel):
    """An SLI over one window: its value (None when there was no data), sample size and why missing."""

    value: float | None
    n: float = 0
    missing: str | None = None


# --- evaluation -------------------------------------------------------------------------------
def counter_delta(tl: Timeline, source: str, sel: Selector, t0: float, t1: float) -> float | None:
    """Increase of the matching counters over [t0, t1] (resets handled; new series start at 0)."""
    name = sel.name if sel.name.endswith(("_total", "_count", "_sum", "_bucket")) else sel.name + "_total"
    rows = tl.series(source, name, t0 - 3600, t1)
    if not rows or not tl.scrape_times(source, t0, t1):
        return None
    by_series: dict[str, list[tuple[float, float]]] = {}
    for t, labels, v in rows:
        if sel.matches(labels):
            by_series.setdefault(repr(sorted(labels.items())), []).append((t, v))
    total = 0.0
    for points in by_series.values():
        before = [v for t, v in points if t <= t0]
        inside = [(t, v) for t, v in points if t0 < t <= t1]
        prev = before[-1] if before else 0.0
        for _, v in inside:
            total += v - prev if v >= prev else v  # a drop is a counter reset
            prev = v
    return total


def _buckets(tl: Timeline, source: str, sel: Selector, t0: float, t1: float) -> dict[float, float] | None:
    name = sel.name + "_bucket"
    rows = tl.series(source, name, t0 - 3600, t1)
    if not tl.scrape_times(source, t0, t1):
        return None
    les = sorted({float(labels["le"]) for _, labels, _ in rows if "le" in labels and sel.matches(labels)})
    out = {}
    for le in les:
        le_sel = Selector(name=name, equal={**sel.equal, "le": _le_text(le)}, not_equal=sel.not_equal)
        out[le] = counter_delta(tl, source, le_sel, t0, t1) or 0.0
    return out


def _le_text(le: float) -> str:
    return "+Inf" if math.isinf(le) else repr(float(le))


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """Prometheus-style histogram_quantile over cumulative bucket counts."""
    if not buckets:
        return None
    les = sorted(buckets)
    total = buckets[les[-1]]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le in les:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return les[-1]


def evaluate(tl: Timeline, sli: RatioSLI | QuantileSLI | GaugeSLI | RateSLI, source: str,
             t0: float, t1: float) -> SLIValue:
    """The SLI's value over [t0, t1], read from one consistent timeline (the sampler may be writing)."""
    with tl.frozen():
        return _evaluate(tl, sli, source, t0, t1)


def _evaluate(tl: Timeline, sli: RatioSLI | QuantileSLI | GaugeSLI | RateSLI, source: str,
              t0: float, t1: float) -> SLIValue:
    if not tl.scrape_times(source, t0, t1):
        failed = tl.missing_count(source, t0, t1)
        return SLIValue(value=None, missing=f"no successful read of {source} in the window"
                        + (f" ({failed} failed)" if failed else ""))
    if isinstance(sli, RatioSLI):
        good = counter_delta(tl, source, Selector.parse(sli.good), t0, t1)
        total = counter_delta(tl, source, Selector.parse(sli.total), t0, t1)
        if not total:
            return SLIValue(value=None, n=0, missing="no events in the window")
        return SLIValue(value=(good or 0.0) / total, n=total)
    if isinstance(sli, QuantileSLI):
        buckets = _buckets(tl, source, Selector.parse(sli.histogram), t0, t1)
        n = max(buckets.values()) if buckets else 0
        value = quantile(buckets or {}, sli.q)
        return SLIValue(value=value, n=n, missing=None if value is not None else "no observations in the window")
    if isinstance(sli, RateSLI):
        delta = counter_delta(tl, source, Selector.parse(sli.counter), t0, t1)
        return SLIValue(value=None if delta is None else delta / max(t1 - t0, 1e-9), n=delta or 0)
    sel = Selector.parse(sli.metric)
    per_scrape: dict[float, float] = {}
    for t, labels, v in tl.series(source, sel.name, t0, t1):
        if sel.matches(labels):
            per_scrape[t] = per_scrape.get(t, 0.0) + v
    if not per_scrape:
        return SLIValue(value=None, missing=f"no samples of {sel.name}")
    values = [per_scrape[t] for t in sorted(per_scrape)]
    agg = {"max": max, "min": min, "mean": lambda xs: sum(xs) / len(xs), "last": lambda xs: xs[-1]}[sli.agg]
    return SLIValue(value=agg(values), n=len(values))
