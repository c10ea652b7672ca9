"""Rolling-origin backtests, accuracy metrics and prediction intervals.

A backtest refits a method at several origins (one week apart, the last one a week before the
forecast's own origin), forecasts the days after each origin and scores them against what
happened. The metrics, over all scored intervals of all origins:

- ``wape``: Σ|actual − forecast| / Σ actual (for AHT, each interval weighted by its handled
  contacts);
- ``mase``: mean |actual − forecast| over the mean |actual − same slot a week before| of the
  history before the first origin (below 1: better than the seasonal naive forecast in-sample);
- ``bias``: Σ(forecast − actual) / Σ actual (positive: over-forecast);
- ``coverage``: the share of intervals whose actual lies within [lower, upper], each origin's
  interval width estimated from the other origins (leave one origin out);
- ``poisson_floor``: sqrt(2 / (π · m)), m the mean actual per open interval (an interval with
  a contact or a forecast above 0): the WAPE of a forecast that knew each interval's Poisson
  rate exactly, the least any forecast can reach.

Intervals for counts are negative binomial (Poisson–gamma): variance μ + φ·μ², φ the method's
backtest overdispersion, max(0, Σ((a − f)² − f) / Σ f²); φ = 0 (Poisson) without a backtest.
A forecast of 0 has an interval of 0 width. For AHT, z = (a − f) / f · sqrt(n) over the
backtest's intervals (n handled contacts) gives empirical quantiles, and the interval is
f · (1 + z_q / sqrt(n̂)), n̂ the expected handled contacts; without a backtest z ~ N(0, 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from kpi.forecast._methods import Fit

__all__ = ["Scores", "backtest", "count_interval", "ratio_interval"]


@dataclass
class Scores:
    """One method's backtest of one group: metrics and the stacked forecasts and actuals."""

    method: str
    actual: np.ndarray  # origins × days × slots
    forecast: np.ndarray
    weight: np.ndarray | None  # handled contacts, for a ratio
    scale: float  # MASE denominator
    dispersion: float = 0.0
    z: np.ndarray | None = None  # AHT: standardised errors

    def metrics(self, level: float, *, ratio: bool) -> dict[str, float | None]:
        """WAPE, MASE, bias and coverage (see the module's docstring)."""
        a, f = self.actual, self.forecast
        wt = self.weight if ratio else np.ones_like(a)
        ok = ~np.isnan(f) & (wt > 0) if ratio else np.ones_like(a, bool)
        fa = np.where(ok, f, 0.0)
        aa = np.where(ok, a, 0.0)
        ww = np.where(ok, wt, 0.0)
        total = float((ww * aa).sum())
        err = float((ww * np.abs(aa - fa)).sum())
        out: dict[str, float | None] = {
            "wape": err / total if total > 0 else None,
            "mase": (err / max(ww.sum(), 1)) / self.scale if self.scale > 0 else None,
            "bias": float((ww * (fa - aa)).sum()) / total if total > 0 else None,
            "coverage": self._coverage(level, ratio=ratio, ok=ok),
        }
        return out

    def _coverage(self, level: float, *, ratio: bool, ok: np.ndarray) -> float | None:
        n = self.actual.shape[0]
        if n < 2:
            return None
        hits = total = 0
        for i in range(n):
            rest = [j for j in range(n) if j != i]
            a, f = self.actual[i], self.forecast[i]
            if ratio:
                assert self.weight is not None
                z = _z(self.actual[rest], self.forecast[rest], self.weight[rest])
                lo, hi = ratio_interval(f, self.weight[i], level, z)
                m = ok[i]
            else:
                phi = dispersion(self.actual[rest], self.forecast[rest])
                lo, hi = count_interval(f, level, phi)
                m = (f > 0) | (a > 0)
            hits += int(((a >= lo) & (a <= hi) & m).sum())
            total += int(m.sum())
        return hits / total if total else None


def dispersion(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Overdispersion φ of actuals around forecasts: variance = μ + φ·μ².

    Examples
    --------
    >>> dispersion(np.array([10.0, 10.0]), np.array([10.0, 10.0]))
    0.0
    >>> round(dispersion(np.array([0.0, 20.0]), np.array([10.0, 10.0])), 3)
    0.9
    """
    f = np.nan_to_num(forecast)
    denom = float((f**2).sum())
    if denom <= 0:
        return 0.0
    return max(0.0, float(((actual - f) ** 2 - f).sum()) / denom)


def count_interval(
    forecast: np.ndarray, level: float, phi: float
) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval of a negative binomial (Poisson when φ = 0) around ``forecast``.

    Examples
    --------
    >>> lo, hi = count_interval(np.array([0.0, 100.0]), 0.8, 0.0)
    >>> lo.tolist(), hi.tolist()
    ([0.0, 87.0], [0.0, 113.0])
    """
    mu = np.maximum(np.nan_to_num(forecast), 0.0)
    q_lo, q_hi = (1 - level) / 2, (1 + level) / 2
    pos = mu > 0
    lo, hi = np.zeros_like(mu), np.zeros_like(mu)
    if phi <= 1e-9:
        lo[pos] = stats.poisson.ppf(q_lo, mu[pos])
        hi[pos] = stats.poisson.ppf(q_hi, mu[pos])
    else:
        n = 1.0 / phi
        p = n / (n + mu[pos])
        lo[pos] = stats.nbinom.ppf(q_lo, n, p)
        hi[pos] = stats.nbinom.ppf(q_hi, n, p)
    return lo, hi


def _z(actual: np.ndarray, forecast: np.ndarray, weight: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(forecast) & (weight > 0) & (np.nan_to_num(forecast) > 0)
    return (actual[ok] - forecast[ok]) / forecast[ok] * np.sqrt(weight[ok])


def ratio_interval(
    forecast: np.ndarray, expected_n: np.ndarray, level: float, z: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of a ratio forecast from standardised errors ``z`` (normal when too few)."""
    q_lo, q_hi = (1 - level) / 2, (1 + level) / 2
    if z is not None and z.size >= 30:
        z_lo, z_hi = np.quantile(z, [q_lo, q_hi])
    else:
        z_lo, z_hi = stats.norm.ppf([q_lo, q_hi])
    root = np.sqrt(np.maximum(expected_n, 1.0))
    lo = np.maximum(forecast * (1 + z_lo / root), 0.0)
    hi = forecast * (1 + z_hi / root)
    return lo, hi


def poisson_floor(actual: np.ndarray, open_: np.ndarray) -> float | None:
    """sqrt(2 / (π · mean actual per open interval)).

    Examples
    --------
    >>> round(poisson_floor(np.array([100.0, 0.0]), np.array([True, False])), 4)
    0.0798
    """
    n = int(open_.sum())
    total = float(actual[open_].sum())
    if n == 0 or total <= 0:
        return None
    return math.sqrt(2 / (math.pi * total / n))


def backtest(
    y: np.ndarray,
    w: np.ndarray | None,
    weekday: np.ndarray,
    special: Sequence[tuple[str, str] | None],
    dom: np.ndarray,
    methods: dict[str, Callable[[Fit], np.ndarray]],
    origins: Sequence[int],
    horizon: int,
) -> dict[str, Scores]:
    """Refit each method at each origin (a day index), forecast ``horizon`` days, keep both."""
    scale = _mase_scale(y[: origins[0]], w[: origins[0]] if w is not None else None)
    out: dict[str, Scores] = {}
    for name, method in methods.items():
        fc, ac, wt = [], [], []
        for o in origins:
            fit = Fit(y[:o], None if w is None else w[:o], weekday, special, horizon, dom)
            f = method(fit)
            if w is None:
                fc.append(f)
                ac.append(y[o : o + horizon])
            else:
                fc.append(f)
                num, den = y[o : o + horizon], w[o : o + horizon]
                ac.append(np.divide(num, den, out=np.zeros_like(num), where=den > 0))
                wt.append(den)
        s = Scores(name, np.array(ac), np.array(fc), np.array(wt) if wt else None, scale)
        if w is None:
            s.dispersion = dispersion(s.actual, s.forecast)
        else:
            assert s.weight is not None
            s.z = _z(s.actual, s.forecast, s.weight)
        out[name] = s
    return out


def _mase_scale(y: np.ndarray, w: np.ndarray | None) -> float:
    """Mean |value − value a week before| over the history (contact-weighted for a ratio)."""
    if y.shape[0] <= 7:
        return 0.0
    if w is None:
        return float(np.abs(y[7:] - y[:-7]).mean())
    r = np.divide(y, w, out=np.zeros_like(y), where=w > 0)
    both = (w[7:] > 0) & (w[:-7] > 0)
    if not both.any():
        return 0.0
    return float((np.abs(r[7:] - r[:-7]) * w[7:] * both).sum() / (w[7:] * both).sum())
