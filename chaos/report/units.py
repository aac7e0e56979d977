"""The unit a chart draws an SLI in: which of a surface's SLIs may share one y axis, and that axis's label.

One place for both reports, so a run's chart and a gate's chart of the same SLI label it alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from chaos.spec.surfaces import GaugeSLI, QuantileSLI, RateSLI, RatioSLI, Selector, SLIDef

#: Every ratio SLI is good events over total events, whatever the metrics: one unit for them all.
RATIO_LABEL = "share of events (0 to 1)"

#: Unit suffixes of Prometheus's naming convention (a histogram is named for its unit, as
#: http_request_duration_seconds); a histogram named otherwise is in a unit only its owner knows.
_UNIT_SUFFIXES = {"seconds": "seconds", "milliseconds": "milliseconds", "ms": "milliseconds",
                  "microseconds": "microseconds", "us": "microseconds", "nanoseconds": "nanoseconds",
                  "bytes": "bytes", "bits": "bits", "meters": "meters", "ratio": "0 to 1", "percent": "percent"}


class UnitGroup(NamedTuple):
    """SLIs drawn on one axis: its label and the SLIs by name, in the surface's order."""

    label: str
    slis: list[tuple[str, SLIDef]]


def _metric(sli: SLIDef) -> str:
    """The metric whose unit the SLI is in (for a ratio, none: a share has no unit of its own)."""
    if isinstance(sli, QuantileSLI):
        return Selector.parse(sli.histogram).name
    if isinstance(sli, GaugeSLI):
        return Selector.parse(sli.metric).name
    if isinstance(sli, RateSLI):
        return Selector.parse(sli.counter).name
    return ""


def unit_key(sli: SLIDef) -> tuple[str, str]:
    """What two SLIs must share to share an axis: their kind and the metric they read (not for ratios)."""
    return sli.kind, _metric(sli)


def _histogram_unit(name: str) -> str:
    return _UNIT_SUFFIXES.get(name.rsplit("_", 1)[-1], "in the histogram's unit")


def _quantile(q: float) -> str:
    # :g drops float noise (0.29 * 100 is 28.999999999999996) and a whole number's ".0": p29, p99.9.
    return f"p{q * 100:g}"


def axis_label(slis: Sequence[SLIDef]) -> str:
    """The y-axis label of a chart of these SLIs, which share one unit (as `unit_groups` groups them)."""
    first = slis[0]
    if isinstance(first, RatioSLI):
        return RATIO_LABEL
    metric = _metric(first)
    if isinstance(first, QuantileSLI):
        unit = _histogram_unit(metric)
        qs = list(dict.fromkeys(s.q for s in slis if isinstance(s, QuantileSLI)))
        return f"{_quantile(qs[0])} of {metric} ({unit})" if len(qs) == 1 else f"{metric} quantiles ({unit})"
    if isinstance(first, GaugeSLI):
        aggs = list(dict.fromkeys(s.agg for s in slis if isinstance(s, GaugeSLI)))
        return f"{aggs[0]} of {metric}" if len(aggs) == 1 else f"{metric} ({', '.join(aggs)})"
    return f"{metric} per second"


def unit_groups(slis: Mapping[str, SLIDef]) -> list[UnitGroup]:
    """A surface's SLIs split into groups that share a unit, each labelled, in the order each unit first appears."""
    groups: dict[tuple[str, str], list[tuple[str, SLIDef]]] = {}
    for name, sli in slis.items():
        groups.setdefault(unit_key(sli), []).append((name, sli))
    return [UnitGroup(axis_label([s for _, s in members]), members) for members in groups.values()]
