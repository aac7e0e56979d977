"""The gate's statistics: is the candidate worse than the baseline by more than is allowed?

One pure function, `compare`, decides on the *effect* and its confidence interval, never on a
p-value alone (Kayenta's flaw: a 70x worse canary passed because its test was not significant):

    effect   = how much worse the candidate is (positive = worse, in the SLI's bad direction)
    allowed  = max(relative x |baseline|, floor)
    FAIL          when the whole interval is beyond `allowed`  (it is worse than allowed)
    PASS          when the whole interval is within `allowed`  (it is not worse than allowed)
    INCONCLUSIVE  otherwise, and whenever a side has fewer than `min_samples` observations

Counts (good, total) are compared as a difference of proportions with Newcomb's hybrid score
interval (statsmodels); values (per-window latencies, gauges) as a difference of means with a
seeded BCa bootstrap interval (scipy), so a verdict is the same every time for the same data
and seed. `alpha` is the two-sided error level of the interval: a FAIL is claimed with error at
most alpha/2 (one tail), and so is a PASS.

    >>> from chaos.measure.stats import Counts, compare
    >>> d = compare(Counts(good=990, total=1000), Counts(good=900, total=1000),
    ...             better="higher", relative=0.02, floor=0.01)
    >>> d.verdict, round(d.effect, 3)
    ('FAIL', 0.09)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
#: Bootstrap resamples: enough for stable 99.9% tails on the sample sizes a gate sees.
RESAMPLES = 4000


class Counts(BaseModel):
    """Events of a ratio SLI over a window: `good` of `total`."""

    good: float = Field(ge=0)
    total: float = Field(ge=0)

    @property
    def ratio(self) -> float | None:
        return self.good / self.total if self.total else None


Observations = Counts | Sequence[float]


class Decision(BaseModel):
    """A comparison's outcome, with everything a reader needs to check it."""

    verdict: Verdict
    reason: str
    method: str
    confidence: float = Field(description="two-sided level of the interval, e.g. 0.95")
    baseline: float | None = Field(None, description="baseline estimate (proportion or mean)")
    candidate: float | None = Field(None, description="candidate estimate")
    n_baseline: float = 0
    n_candidate: float = 0
    effect: float | None = Field(None, description="how much worse the candidate is (positive = worse)")
    low: float | None = Field(None, description="interval of the effect, lower end")
    high: float | None = Field(None, description="interval of the effect, upper end")
    allowed: float | None = Field(None, description="largest effect still acceptable")


def allowed_change(baseline: float, relative: float, floor: float) -> float:
    """The largest worsening still acceptable: a share of the baseline, never below the floor."""
    return max(relative * abs(baseline), floor)


def compare(baseline: Observations, candidate: Observations, *, better: Literal["higher", "lower"],
            relative: float = 0.0, floor: float = 0.0, alpha: float = 0.05, min_samples: int = 10,
            seed: int = 0) -> Decision:
    """Decide whether `candidate` is worse than `baseline` by more than is allowed (see module doc)."""
    counts = isinstance(baseline, Counts)
    if counts != isinstance(candidate, Counts):
        raise TypeError("baseline and candidate must both be Counts or both be value sequences")
    nb, nc = _size(baseline), _size(candidate)
    method = "difference of proportions, Newcomb score interval" if counts else "difference of means, BCa bootstrap"
    base = Decision(verdict="INCONCLUSIVE", reason="", method=method, confidence=1 - alpha,
                    n_baseline=nb, n_candidate=nc)
    if min(nb, nc) < min_samples:
        side = "baseline" if nb < min_samples else "candidate"
        base.reason = f"too few samples: {side} has {min(nb, nc):g}, at least {min_samples} are needed"
        return base
    sign = 1.0 if better == "lower" else -1.0  # worse = sign x (candidate - baseline)
    b_est: float | None
    c_est: float | None
    if isinstance(baseline, Counts) and isinstance(candidate, Counts):
        b_est, c_est = baseline.ratio, candidate.ratio
        lo, hi = _proportions_interval(baseline, candidate, alpha)
    else:
        # Both are value sequences: a mix was refused above.
        assert not isinstance(baseline, Counts) and not isinstance(candidate, Counts)
        b_est, c_est = _mean(baseline), _mean(candidate)
        lo, hi = _bootstrap_interval(list(baseline), list(candidate), alpha, seed)
    # A ratio is None only for a total of 0, and both totals are at least min_samples here.
    assert b_est is not None and c_est is not None
    effect = sign * (c_est - b_est) + 0.0  # + 0.0: no "-0" in a reader's face
    low, high = sorted((sign * lo, sign * hi))
    allowed = allowed_change(b_est, relative, floor)
    d = base.model_copy(update=dict(baseline=b_est, candidate=c_est, effect=effect, low=low, high=high,
                                    allowed=allowed))
    span = f"worse by {effect:.4g} ({low:.4g} to {high:.4g}, {100 * (1 - alpha):.4g}% interval)"
    if low > allowed:
        d.verdict, d.reason = "FAIL", f"{span}: all of it beyond the allowed {allowed:.4g}"
    elif high <= allowed:
        d.verdict, d.reason = "PASS", f"{span}: all of it within the allowed {allowed:.4g}"
    else:
        d.reason = f"{span}: straddles the allowed {allowed:.4g}; more samples would tell"
    return d


def _size(obs: Observations) -> float:
    """Events (Counts) or values (a sequence) observed."""
    return obs.total if isinstance(obs, Counts) else len(obs)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _proportions_interval(baseline: Counts, candidate: Counts, alpha: float) -> tuple[float, float]:
    """Interval of candidate ratio - baseline ratio."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    lo, hi = confint_proportions_2indep(candidate.good, candidate.total, baseline.good, baseline.total,
                                        method="newcomb", compare="diff", alpha=alpha)
    return float(lo), float(hi)


def _bootstrap_interval(baseline: list[float], candidate: list[float], alpha: float,
                        seed: int) -> tuple[float, float]:
    """Interval of mean(candidate) - mean(baseline); exact when both samples are constant."""
    if len(set(baseline)) == 1 and len(set(candidate)) == 1:
        d = candidate[0] - baseline[0]
        return d, d  # no variation at all: the difference is known (and deterministic)
    import numpy as np
    from scipy.stats import bootstrap

    def diff(c, b, axis=-1):
        return np.mean(c, axis=axis) - np.mean(b, axis=axis)

    data = (np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float))
    res = bootstrap(data, diff, vectorized=True, paired=False, confidence_level=1 - alpha,
                    n_resamples=RESAMPLES, method="BCa", rng=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isnan(lo) or math.isnan(hi):  # BCa needs variation in the jackknife; fall back
        res = bootstrap(data, diff, vectorized=True, paired=False, confidence_level=1 - alpha,
                        n_resamples=RESAMPLES, method="percentile", rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return lo, hi
