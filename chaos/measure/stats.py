"""The gate's statistics: is the candidate worse than the baseline by more than is allowed?

One pure function, `compare`, decides on the *effect* and its confidence interval, never on a
p-value alone (Kayenta's flaw: a 70x worse canary passed because its test was not significant):

    effect   = how much worse the candidate is (positive = worse, in the SLI's bad direction)
    allowed  = max(relative x |baseline|, floor)
    FAIL          when the whole interval is beyond `allowed`  (it is worse than allowed)
    PASS          when the whole interval is within `allowed`  (it is not worse than allowed)
    INCONCLUSIVE  otherwise, and whenever a side has fewer than `min_samples` observations

Each side is one of:

- a time-ordered sequence of per-window values (latencies, gauges): a time series, so the
  interval uses a dependence-aware variance of the mean (`chaos.measure.longrun`) and a t
  quantile on the effective sample size; when every value is positive (latencies, delays,
  durations), they are compared on the log scale, as a ratio of geometric means: skewed and
  heavy-tailed values are close to normal there, and a 400-fold rise is as plain as it is;
- a time-ordered sequence of per-window `Counts` (a ratio SLI): the ratio of sums, with the same
  dependence-aware variance of its linearisation, never below the binomial variance at the
  pooled rate (so 0 errors in 40 is not "known exactly");
- per-run groups of either (a list of lists): with two or more runs a side, runs are the unit
  that repeats and the interval is Welch's over per-run estimates; with fewer, the windows of a
  side's runs are taken as one series, and the verdict says run-to-run variance was not measured;
- a time-ordered sequence of per-window histogram `Buckets` (a quantile SLI, with `quantile=q`):
  the q-quantile of the phase's summed buckets, its interval the inverted test of the per-window
  shares below it (`chaos.measure.quantiles`), the difference a Welch t interval;
- one pooled `Counts` (events assumed independent): Newcomb's hybrid score interval (statsmodels).

NaN and infinite values are missing data: left out of n, counted, and named in the reason; a
comparison that left any out never PASSes. `alpha` is the two-sided error level of the interval:
a FAIL is claimed with error at most alpha/2 (one tail), and so is a PASS. Every method is
deterministic (`seed` is accepted for callers of earlier versions).

    >>> from chaos.measure.stats import Counts, compare
    >>> d = compare(Counts(good=990, total=1000), Counts(good=900, total=1000),
    ...             better="higher", relative=0.02, floor=0.01)
    >>> d.verdict, round(d.effect, 3)
    ('FAIL', 0.09)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from chaos.measure.longrun import MeanVariance, mean_variance, welch_df
from chaos.measure.quantiles import Buckets, QuantileEstimate, estimate, point, pooled

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]


class Counts(BaseModel):
    """Events of a ratio SLI over a window: `good` of `total`."""

    good: float = Field(ge=0)
    total: float = Field(ge=0)

    @property
    def ratio(self) -> float | None:
        return self.good / self.total if self.total else None


#: time-series: the default, described above. independent: the windows taken as independent (a BCa
#: bootstrap of the difference of means, seeded; counts pooled, Newcomb), chaosgate's method before
#: the time-series one; the gate and the blast radius still use it (see docs/guides/gate.md: a
#: degradation that grows during the fault phase reads as dependence to the time-series method).
Method = Literal["time-series", "independent"]
#: Bootstrap resamples of the independent method: stable 99.9% tails at a gate's sample sizes.
RESAMPLES = 4000
Values = Sequence[float]
Windows = Sequence[Counts]
Histograms = Sequence[Buckets]
Observations = Counts | Values | Windows | Histograms | Sequence[Values] | Sequence[Windows] | Sequence[Histograms]


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
    scale: Literal["raw", "log"] = Field("raw", description="log: positive values, a ratio of geometric means")
    left_out_baseline: int = Field(0, description="non-finite values (NaN, inf) left out of the baseline")
    left_out_candidate: int = Field(0, description="non-finite values left out of the candidate")
    detectable: float | None = Field(None, description="the worsening this comparison would FAIL with 80 % "
                                                       "power at its alpha, n and observed spread")


#: The power the detectable worsening is stated at.
POWER = 0.8


def detectable_worsening(low: float, high: float, allowed: float, alpha: float) -> float:
    """The true worsening at which this comparison FAILs with POWER: the allowed change plus
    (z_(1-alpha/2) + z_POWER) standard errors, the standard error read off the interval's
    half-width (a normal approximation for every method: it sizes, it does not decide)."""
    from scipy.stats import norm

    q = float(norm.ppf(1 - alpha / 2))
    se = (high - low) / 2 / q
    return allowed + (q + float(norm.ppf(POWER))) * se


def load_libraries() -> None:
    """Import the statistics libraries now (about 1.5 s of CPU), not inside the first comparison:
    a fail-fast look that had to wait for them would block that much later."""
    import scipy.stats  # noqa: F401
    import statsmodels.stats.proportion  # noqa: F401


def allowed_change(baseline: float, relative: float, floor: float) -> float:
    """The largest worsening still acceptable: a share of the baseline, never below the floor."""
    return max(relative * abs(baseline), floor)


class _Side(BaseModel):
    """One side's observations in a single shape: runs of finite values or of finite window counts."""

    kind: Literal["values", "windows", "pooled", "histograms"]
    runs: list[list[float]] = Field(default_factory=list)
    counts: list[list[Counts]] = Field(default_factory=list)
    hists: list[list[Buckets]] = Field(default_factory=list)
    pooled: Counts | None = None
    left_out: int = 0

    @property
    def size(self) -> float:
        """Windows (values), or events (counts)."""
        if self.kind == "pooled":
            return self.pooled.total if self.pooled else 0.0
        if self.kind == "windows":
            return sum(c.total for run in self.counts for c in run)
        if self.kind == "histograms":
            return sum(h.total for run in self.hists for h in run)
        return float(sum(len(run) for run in self.runs))


def _finite(c: Counts) -> bool:
    return math.isfinite(c.good) and math.isfinite(c.total)


def _side(obs: Observations) -> _Side:
    """Sort out what a caller passed, leaving out non-finite values (missing data, never zero)."""
    if isinstance(obs, Counts):
        ok = _finite(obs)
        return _Side(kind="pooled", pooled=obs if ok else Counts(good=0, total=0), left_out=0 if ok else 1)
    items: list[Any] = list(obs)
    grouped = bool(items) and all(isinstance(i, (list, tuple)) for i in items)
    runs: list[list[Any]] = [list(i) for i in items] if grouped else [items]
    flat = [x for run in runs for x in run]
    if flat and all(isinstance(x, Counts) for x in flat):
        kept = [[c for c in run if _finite(c)] for run in runs]
        return _Side(kind="windows", counts=kept, left_out=len(flat) - sum(map(len, kept)))
    if flat and all(isinstance(x, Buckets) for x in flat):
        kept_h = [[h for h in run if h.finite()] for run in runs]
        return _Side(kind="histograms", hists=kept_h, left_out=len(flat) - sum(map(len, kept_h)))
    if any(isinstance(x, (Counts, Buckets)) for x in flat):
        raise TypeError("a side mixes Counts, Buckets and values")
    values = [[float(x) for x in run if math.isfinite(float(x))] for run in runs]
    return _Side(kind="values", runs=values, left_out=len(flat) - sum(map(len, values)))


def compare(baseline: Observations, candidate: Observations, *, better: Literal["higher", "lower"],
            relative: float = 0.0, floor: float = 0.0, alpha: float = 0.05, min_samples: int = 10,
            seed: int = 0, method: Method = "time-series", extra_variance: float = 0.0,
            quantile: float | None = None) -> Decision:
    """Decide whether `candidate` is worse than `baseline` by more than is allowed (see module doc).

    `quantile`: the q compared when the sides are histogram `Buckets` (required then); histograms are
    always judged with their windows as a time series, whatever the `method`.

    `extra_variance`: variance of the difference these samples cannot show — the run-to-run noise a
    calibration measured — added to the interval (each end widened in quadrature)."""
    b, c = _side(baseline), _side(candidate)
    if b.kind != c.kind:
        # An empty sequence has no kind of its own: it takes the other side's.
        empty, other = (b, c) if b.size == 0 and b.kind != "pooled" else (c, b)
        if empty.size != 0 or empty.kind == "pooled":
            raise TypeError("baseline and candidate must be observations of the same kind (Counts, windows "
                            "of Counts, or values)")
        empty.kind, empty.pooled = other.kind, Counts(good=0, total=0)
    kind = b.kind
    if kind == "histograms" and not (quantile is not None and 0 < quantile < 1):
        raise ValueError("comparing histograms needs quantile=q, between 0 and 1")
    nb, nc = b.size, c.size
    base = Decision(verdict="INCONCLUSIVE", reason="", method=_METHODS[kind], confidence=1 - alpha,
                    n_baseline=nb, n_candidate=nc, left_out_baseline=b.left_out, left_out_candidate=c.left_out)
    missing = _left_out(b.left_out, c.left_out)
    if min(nb, nc) < min_samples:
        side = "baseline" if nb < min_samples else "candidate"
        base.reason = f"too few samples: {side} has {min(nb, nc):g}, at least {min_samples} are needed{missing}"
        return base
    sign = 1.0 if better == "lower" else -1.0  # worse = sign x (candidate - baseline)
    if method == "independent" and kind == "windows":
        b, c, kind = _pooled_side(b), _pooled_side(c), "pooled"
    # Values are compared in units of their largest magnitude: 1e308 cannot overflow a sum, nor
    # 1e-300 underflow a variance to an exact, falsely certain zero. Counts are bounded already.
    # Logs need neither (and dividing would flush the smallest to 0).
    log = method != "independent" and kind == "values" and _log_scale(b, c)
    unit = _unit(b, c) if kind == "values" and not log else 1.0
    if unit != 1.0:
        b, c = _divided(b, unit), _divided(c, unit)
    if kind == "pooled":
        est = _pooled(b, c, alpha)
    elif kind == "histograms":
        assert quantile is not None
        est = _quantiles(b, c, quantile, alpha, better)
    elif method == "independent":
        est = _independent(b, c, alpha, seed)
    else:
        est = _estimate(b, c, kind, alpha, log)
    est = est.times(unit)
    if not all(math.isfinite(x) for x in (est.b, est.c)) or math.isnan(est.lo) or math.isnan(est.hi):
        base.reason = f"cannot tell: the estimates are not finite numbers ({est.method}){missing}"
        return base
    worse_lo, worse_hi = sorted(est.worse(sign))
    effect = est.worse_point(sign) + 0.0  # + 0.0: no "-0" in a reader's face
    if extra_variance > 0:
        worse_lo, worse_hi = _widened(effect, worse_lo, worse_hi, extra_variance, alpha)
        est = est.model_copy(update=dict(method=f"{est.method}; run-to-run sd {math.sqrt(extra_variance):.3g} "
                                                f"from the calibration added"))
    allowed = allowed_change(est.b, relative, floor)
    d = base.model_copy(update=dict(baseline=est.b, candidate=est.c, effect=effect, low=worse_lo, high=worse_hi,
                                    allowed=allowed, method=est.method, scale=est.scale,
                                    detectable=detectable_worsening(worse_lo, worse_hi, allowed, alpha)))
    span = f"worse by {effect:.4g} ({worse_lo:.4g} to {worse_hi:.4g}, {100 * (1 - alpha):.4g}% interval)"
    return decided(d, span, missing, "more samples would tell")


def decided(d: Decision, span: str, missing: str, more: str) -> Decision:
    """`d` with its verdict and reason, from its interval (low, high) against its allowed change:
    FAIL when all of it is beyond, PASS when all of it is within and no value was left out."""
    assert d.low is not None and d.high is not None and d.allowed is not None, "an interval to decide on"
    if d.low > d.allowed:
        d.verdict, d.reason = "FAIL", f"{span}: all of it beyond the allowed {d.allowed:.4g}{missing}"
    elif d.high <= d.allowed and not missing:
        d.verdict, d.reason = "PASS", f"{span}: all of it within the allowed {d.allowed:.4g}"
    elif d.high <= d.allowed:
        d.reason = f"{span}: within the allowed {d.allowed:.4g}, but a PASS needs every value finite{missing}"
    else:
        d.reason = f"{span}: straddles the allowed {d.allowed:.4g}; {more}{missing}"
    return d


_METHODS = {"pooled": "difference of proportions, Newcomb score interval (events assumed independent)",
            "windows": "difference of ratios of per-window counts, dependence-aware t interval",
            "values": "difference of means of per-window values, dependence-aware t interval",
            "histograms": "difference of quantiles of the phase's histogram, inverted share tests"}


def _widened(effect: float, lo: float, hi: float, extra: float, alpha: float) -> tuple[float, float]:
    """The interval with `extra` variance added: each half-width h becomes sqrt(h^2 + (z x sd)^2)."""
    from scipy.stats import norm

    reach = (float(norm.ppf(1 - alpha / 2))) ** 2 * extra
    return effect - math.sqrt((effect - lo) ** 2 + reach), effect + math.sqrt((hi - effect) ** 2 + reach)


def _left_out(nb: int, nc: int) -> str:
    if not nb and not nc:
        return ""
    return f" ({nb} baseline and {nc} candidate values were NaN or infinite and left out)"


class _Estimate(BaseModel):
    """Estimates of each side and an interval of candidate - baseline, on the scale compared."""

    b: float
    c: float
    lo: float
    hi: float
    scale: Literal["raw", "log"] = "raw"
    method: str

    def times(self, unit: float) -> _Estimate:
        """The estimate of values that were divided by `unit`, in their own units again."""
        if unit == 1.0:
            return self
        k = 1.0 if self.scale == "log" else unit  # a log ratio has no unit
        return self.model_copy(update=dict(b=self.b * unit, c=self.c * unit, lo=self.lo * k, hi=self.hi * k))

    def worse(self, sign: float) -> tuple[float, float]:
        """The interval of the worsening, in the SLI's units."""
        if self.scale == "log":  # lo/hi bound log(c/b): back to units as the baseline's share
            return self.b * (_exp(self.lo) - 1) * sign, self.b * (_exp(self.hi) - 1) * sign
        return sign * self.lo, sign * self.hi

    def worse_point(self, sign: float) -> float:
        """The worsening itself."""
        return sign * (self.c - self.b)


def _exp(x: float) -> float:
    """exp, infinite instead of an OverflowError (an interval that wide says "cannot tell" anyway)."""
    return math.exp(x) if x < 700 else math.inf


def _pooled(b: _Side, c: _Side, alpha: float) -> _Estimate:
    from statsmodels.stats.proportion import confint_proportions_2indep

    assert b.pooled is not None and c.pooled is not None
    lo, hi = confint_proportions_2indep(c.pooled.good, c.pooled.total, b.pooled.good, b.pooled.total,
                                        method="newcomb", compare="diff", alpha=alpha)
    assert b.pooled.ratio is not None and c.pooled.ratio is not None  # totals >= min_samples > 0
    return _Estimate(b=b.pooled.ratio, c=c.pooled.ratio, lo=float(lo), hi=float(hi), method=_METHODS["pooled"])


def _log_scale(b: _Side, c: _Side) -> bool:
    """Values compared on the log scale: all positive, and not both sides constant (their
    difference is known exactly, and exp(log(x)) would blur it in the last digit)."""
    return _positive(b.runs + c.runs) and not _constant(b.runs) + _constant(c.runs) == 2


def _estimate(b: _Side, c: _Side, kind: str, alpha: float, log: bool) -> _Estimate:
    """Either side's estimate and variance (per run, or as one series), then a Welch t interval."""
    from scipy.stats import t as student

    by_runs = min(_runs(b, kind), _runs(c, kind)) >= 2
    eb, ec = (_by_runs(s, kind, log) if by_runs else _one_series(s, kind, log) for s in (b, c))
    se = math.sqrt(eb.variance + ec.variance)
    df = welch_df(eb, ec)
    q = float(student.ppf(1 - alpha / 2, df)) if se > 0 else 0.0
    diff = ec.mean - eb.mean
    what = ("values on the log scale (all positive: a ratio of geometric means)" if log else
            "per-window values" if kind == "values" else "ratios of per-window counts")
    unit = (f"runs as units ({eb.n} and {ec.n} runs)" if by_runs else
            f"windows as one time series a side (lag-1 autocorrelation {eb.lag1:.2f} and {ec.lag1:.2f}; "
            f"worth {eb.n_eff:.1f} and {ec.n_eff:.1f} independent values)"
            + ("" if max(_runs(b, kind), _runs(c, kind)) < 2
               else "; run-to-run variance not measured: fewer than 2 runs a side"))
    method = f"difference of {what}, Welch t interval ({df:.1f} df), {unit}"
    if log:
        return _Estimate(b=math.exp(eb.mean), c=math.exp(ec.mean), lo=diff - q * se, hi=diff + q * se, scale="log",
                         method=method)
    return _Estimate(b=eb.mean, c=ec.mean, lo=diff - q * se, hi=diff + q * se, method=method)


def _quantiles(b: _Side, c: _Side, q: float, alpha: float, better: str) -> _Estimate:
    """The difference of the sides' q-quantiles: each end from the sides' half-widths on that end
    (a skewed quantile's interval is wider above), a Welch t on the windows' effective sizes."""
    import numpy as np
    from scipy.stats import norm
    from scipy.stats import t as student

    z = float(norm.ppf(1 - alpha / 2))
    if min(_runs(b, "histograms"), _runs(c, "histograms")) >= 2:
        per_run = [[v for run in s.hists if (v := point(pooled(run), q)) is not None] for s in (b, c)]
        eb, ec = (MeanVariance(mean=float(np.mean(v)), variance=float(np.var(v, ddof=1)) / len(v), n=len(v),
                               n_eff=float(len(v)), lag1=0.0) for v in per_run)
        diff, se = ec.mean - eb.mean, math.sqrt(eb.variance + ec.variance)
        tq = float(student.ppf(1 - alpha / 2, welch_df(eb, ec))) if se > 0 else 0.0
        return _Estimate(b=eb.mean, c=ec.mean, lo=diff - tq * se, hi=diff + tq * se,
                         method=f"difference of q{q:g} of each run's histogram, runs as units ({eb.n} and "
                                f"{ec.n} runs), Welch t interval")
    wb, wc = ([h for run in s.hists for h in run] for s in (b, c))
    # A PASS rests on the candidate's end towards worse and the baseline's towards better.
    worse: Literal["low", "high"] = "high" if better == "lower" else "low"
    qb = estimate(wb, q, z, other=wc, cautious="low" if worse == "high" else "high")
    qc = estimate(wc, q, z, other=wb, cautious=worse)
    if qb is None or qc is None:
        return _Estimate(b=math.nan, c=math.nan, lo=math.nan, hi=math.nan, method=_METHODS["histograms"])
    df = welch_df(_se_of(qb), _se_of(qc))
    k = float(student.ppf(1 - alpha / 2, df)) / z  # the half-widths are at z: widened to Welch's t
    diff = qc.value - qb.value
    lo = diff - k * math.hypot(qc.value - qc.low, qb.high - qb.value)
    hi = diff + k * math.hypot(qc.high - qc.value, qb.value - qb.low)
    method = (f"difference of q{q:g} of the phase's histogram ({qb.events:g} and {qc.events:g} events), "
              f"intervals inverting a test of the windows' shares below it as a time series (lag-1 {qb.share.lag1:.2f} and "
              f"{qc.share.lag1:.2f}; worth {qb.share.n_eff:.1f} and {qc.share.n_eff:.1f} independent windows), "
              f"Welch t ({df:.1f} df)" + ("; a quantile in the +Inf bucket: at least the top bound, open above"
                                         if math.isinf(qb.high) or math.isinf(qc.high) else ""))
    return _Estimate(b=qb.value, c=qc.value, lo=lo, hi=hi, method=method)


def _se_of(e: QuantileEstimate) -> MeanVariance:
    """A side's quantile as a mean-like estimate for Welch's degrees of freedom."""
    se = e.se if math.isfinite(e.se) else (e.value - e.low)
    return MeanVariance(mean=e.value, variance=se * se, n=e.share.n, n_eff=e.share.n_eff, lag1=e.share.lag1)


def _unit(b: _Side, c: _Side) -> float:
    """The largest magnitude among the values, or 1 when all are 0."""
    return max((abs(x) for s in (b, c) for run in s.runs for x in run), default=0.0) or 1.0


def _divided(s: _Side, unit: float) -> _Side:
    return s.model_copy(update=dict(runs=[[x / unit for x in run] for run in s.runs]))


def _runs(s: _Side, kind: str) -> int:
    """How many runs of a side carry observations."""
    if kind == "histograms":
        return sum(1 for r in s.hists if sum(h.total for h in r) > 0)
    if kind == "windows":
        return sum(1 for r in s.counts if sum(c.total for c in r) > 0)
    return sum(1 for r in s.runs if r)


def _constant(runs: list[list[float]]) -> bool:
    return len({x for run in runs for x in run}) <= 1


def _positive(runs: list[list[float]]) -> bool:
    """All values above zero: compared on the log scale. Not chosen by a skewness test: a test that
    switches scale with the sample gave small lognormal samples the raw scale now and then, and
    with it half again the false passes."""
    flat = [x for run in runs for x in run]
    return bool(flat) and min(flat) > 0


def _one_series(s: _Side, kind: str, log: bool) -> MeanVariance:
    """A side's windows, all its runs in order, as one time series."""
    if kind == "values":
        xs = [math.log(x) for run in s.runs for x in run] if log else [x for run in s.runs for x in run]
        return mean_variance(xs)
    return _ratio(s.counts)


def _ratio(runs: list[list[Counts]]) -> MeanVariance:
    """The ratio of sums, with the variance of its linearisation over the windows (a time series),
    never below the binomial variance at the pooled rate (Agresti-Coull adjusted: 0 of 40 is not 0)."""
    windows = [w for run in runs for w in run]
    good, total = sum(w.good for w in windows), sum(w.total for w in windows)
    ratio = good / total
    z = mean_variance([w.good - ratio * w.total for w in windows])
    per_window = total / len(windows)
    variance = z.variance / per_window ** 2
    p = (good + 2) / (total + 4)
    binomial = p * (1 - p) / total
    n_eff = z.n_eff if variance >= binomial else len(windows)
    return MeanVariance(mean=ratio, variance=max(variance, binomial), n=len(windows), n_eff=n_eff, lag1=z.lag1)


def _by_runs(s: _Side, kind: str, log: bool) -> MeanVariance:
    """Runs as the unit that repeats: each run's estimate, their mean and its plain variance."""
    import numpy as np

    if kind == "values":
        per_run = [float(np.mean(np.log(r))) if log else float(np.mean(r)) for r in s.runs if r]
    else:
        per_run = [sum(c.good for c in r) / total for r in s.counts if (total := sum(c.total for c in r)) > 0]
    k = len(per_run)
    var = float(np.var(per_run, ddof=1)) / k
    if kind == "windows":
        # Runs that all saw 0 errors agree exactly, yet 0 in 80 is not 0: the same binomial floor.
        good = sum(c.good for r in s.counts for c in r)
        total = sum(c.total for r in s.counts for c in r)
        p = (good + 2) / (total + 4)
        var = max(var, p * (1 - p) / total)
    return MeanVariance(mean=float(np.mean(per_run)), variance=var, n=k, n_eff=float(k), lag1=0.0)


def _pooled_side(s: _Side) -> _Side:
    """Every window's counts summed: the independent method's pooled events."""
    windows = [w for run in s.counts for w in run]
    pooled = Counts(good=sum(w.good for w in windows), total=sum(w.total for w in windows))
    return _Side(kind="pooled", pooled=pooled, left_out=s.left_out)


def _independent(b: _Side, c: _Side, alpha: float, seed: int) -> _Estimate:
    """Difference of means with the windows taken as independent: a seeded BCa bootstrap."""
    xb, xc = [x for run in b.runs for x in run], [x for run in c.runs for x in run]
    lo, hi = _bootstrap_interval(xb, xc, alpha, seed)
    return _Estimate(b=sum(xb) / len(xb), c=sum(xc) / len(xc), lo=lo, hi=hi,
                     method="difference of means of per-window values taken as independent, BCa bootstrap")


def _bootstrap_interval(baseline: list[float], candidate: list[float], alpha: float,
                        seed: int) -> tuple[float, float]:
    """Interval of mean(candidate) - mean(baseline); exact when both samples are constant."""
    if len(set(baseline)) == 1 and len(set(candidate)) == 1:
        d = candidate[0] - baseline[0]
        return d, d  # no variation at all: the difference is known (and deterministic)
    import numpy as np

    def diff(c, b, axis=-1):
        return np.mean(c, axis=axis) - np.mean(b, axis=axis)

    data = (np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float))
    # BCa's jackknife degenerates on near-constant samples: scipy warns and returns NaN, which is
    # handled below. A user sees chaosgate's words about it (the method), not scipy's warnings.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _bca_or_percentile(data, diff, alpha, seed)


def _bca_or_percentile(data, diff, alpha: float, seed: int) -> tuple[float, float]:
    """BCa, or the percentile interval where BCa cannot be computed."""
    import numpy as np
    from scipy.stats import bootstrap

    res = bootstrap(data, diff, vectorized=True, paired=False, confidence_level=1 - alpha,
                    n_resamples=RESAMPLES, method="BCa", rng=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isnan(lo) or math.isnan(hi):  # BCa needs variation in the jackknife; fall back
        res = bootstrap(data, diff, vectorized=True, paired=False, confidence_level=1 - alpha,
                        n_resamples=RESAMPLES, method="percentile", rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return lo, hi
