"""Forecasting methods on a day × slot matrix (numpy only).

A method takes a :class:`Fit` (the history before the forecast origin and the calendar of every
day, history and horizon) and returns the forecast of the next ``horizon`` days, days × slots.

Counts (contacts offered):

``same_slot_last_week``
    The same slot of the same weekday one week before (for day ``h`` of the horizon, the last
    day of history with the same weekday).
``mean_of_4_weeks``
    The mean of the same slot over the last four same weekdays (fewer when the history is
    shorter): the common planner's baseline.
``daily_profile``
    The approach of call-centre research (Weinberg, Brown & Stroud 2007; Ibrahim & L'Ecuyer
    2013): the day's total times its intraday profile. Day totals are a weekday factor (the
    mean of each weekday over the last 8 weeks of ordinary days) times a level (an
    exponentially weighted mean of the weekday-adjusted totals, half-life 14 days) times the
    effect of a special day and of the day of the month (estimated from two months of history
    or more); the profile is each weekday's share of the day per slot over its last 8 ordinary
    days, shrunk towards the pooled profile of weekdays shaped like it (20,000 contacts'
    weight: a quiet queue borrows shape, a busy one keeps its own). Special days (holidays, their eves and days after, events) and
    outliers (an ordinary day under 0.6 or over 1.6 times its weekday's median) are left out
    of both. The effect of a special day is the median ratio of actual to expected totals over
    past days of the same name, else of the same kind (all holidays, all eves, ...), else, for
    a holiday, the quietest weekday; a holiday's profile is that of past holidays when there
    were any. A slot with no contacts on that weekday over the last 4 weeks is closed: 0.

    Yearly seasonality, with :data:`YEAR_MIN_DAYS` days of history or more: the level of each
    horizon day is multiplied by a yearly factor, how last year's level moved from the weeks
    the current level is estimated from to the weeks around the same date. A year back is 364
    days (52 weeks: the same weekday). On last year's ordinary days, weekday-adjusted (total
    over today's weekday factor), outliers dropped (outside [0.6, 1.6] times the window's
    median), the factor is the mean over the four weeks around the date a year before the
    horizon day (14 days before, 13 after) over the level a year before the origin (the same
    exponential weights as the level, over the 8 weeks before it). Its logarithm is shrunk
    towards 0 by the noise of both means (weight τ² / (τ² + se²), τ =
    :data:`YEAR_PRIOR_SD`, se² the squared standard error of the log ratio from the days'
    scatter); a window with under a week of usable days gives no factor (1), and the factor is
    kept within [:data:`YEAR_LOW`, :data:`YEAR_HIGH`]. So a rise that came at this time last
    year is anticipated, and a trend across years cancels out.

Ratios (AHT, forecast as Σ numerator / Σ denominator, a contact-weighted mean):
``same_slot_last_week`` and ``mean_of_4_weeks`` take the ratio of the sums over the same slots;
``daily_profile`` takes it over the last 8 ordinary same weekdays, shrunk towards the weekday's
whole-day AHT by 20 contacts' weight. Closed slots (no handled contact in 4 weeks) are NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["COUNT_METHODS", "METHODS", "RATIO_METHODS", "Fit"]

#: Weeks of ordinary days behind the weekday factors and intraday profiles.
PROFILE_WEEKS = 8
#: Half-life, in days, of the level of ``daily_profile``.
LEVEL_HALF_LIFE_DAYS = 14.0
#: An ordinary day outside [LOW, HIGH] times its weekday's median is an outlier.
OUTLIER_LOW, OUTLIER_HIGH = 0.6, 1.6
#: Weeks without a contact that make a slot closed.
CLOSED_WEEKS = 4
#: Profiles of two weekdays closer than this (sum of absolute differences) are alike.
PROFILE_SIMILAR_L1 = 0.2
#: Weight, in contacts, of the alike weekdays' pooled profile in a weekday's profile.
PROFILE_POOL_CONTACTS = 20_000.0
#: Days of history needed before the day-of-month effect is estimated.
MONTH_MIN_DAYS = 56
#: Prior weight, in days, that shrinks each day-of-month effect towards none.
MONTH_PRIOR_DAYS = 8.0
#: Days of history needed before ``daily_profile`` uses yearly seasonality.
YEAR_MIN_DAYS = 400
#: A year back, in days: 52 weeks, so the same weekday.
YEAR_DAYS = 364
#: Prior spread (standard deviation of the log) of the yearly factor; it sets the shrinkage.
YEAR_PRIOR_SD = 0.2
#: Bounds of the yearly factor.
YEAR_LOW, YEAR_HIGH = 0.5, 2.0
#: Weight, in contacts, of the weekday's AHT in a slot's AHT (shrinkage).
AHT_PRIOR_CONTACTS = 20.0


@dataclass
class Fit:
    """What a method sees: history before the origin, and the calendar of all days.

    ``weekday`` and ``special`` cover ``days + horizon`` days: 0 = Monday; ``special[d]`` is
    ``(kind, name)`` or None.
    """

    y: np.ndarray
    w: np.ndarray | None
    weekday: np.ndarray
    special: Sequence[tuple[str, str] | None]
    horizon: int
    dom: np.ndarray | None = None  # day of the month of every day (None: no month effect)

    @property
    def days(self) -> int:
        """Days of history."""
        return self.y.shape[0]

    def source_days(self, weeks: int) -> np.ndarray:
        """For each horizon day, the history days 1..``weeks`` weeks before it (horizon × weeks).

        Day ``h`` of the horizon maps to the latest history day of its weekday, then to the
        weeks before that one; indices below 0 are -1.
        """
        d = self.days
        h = np.arange(self.horizon)
        latest = d + h - 7 * ((h // 7) + 1)  # the last same weekday before the origin
        src = latest[:, None] - 7 * np.arange(weeks)[None, :]
        return np.where(src >= 0, src, -1)


def _require_week(fit: Fit) -> None:
    if fit.days < 7:
        raise ValueError("needs at least a week of history")


# ---- baselines ------------------------------------------------------------------------------


def same_slot_last_week(fit: Fit) -> np.ndarray:
    """The same slot one week before (the latest same weekday of the history)."""
    _require_week(fit)
    src = fit.source_days(1)[:, 0]
    return fit.y[src].copy()


def mean_of_weeks(fit: Fit, weeks: int = 4) -> np.ndarray:
    """The mean of the same slot over the last ``weeks`` same weekdays."""
    _require_week(fit)
    src = fit.source_days(weeks)
    ok = src >= 0
    vals = fit.y[np.where(ok, src, 0)] * ok[:, :, None]
    return vals.sum(axis=1) / ok.sum(axis=1)[:, None]


def mean_of_4_weeks(fit: Fit) -> np.ndarray:
    """:func:`mean_of_weeks` over four weeks."""
    return mean_of_weeks(fit, 4)


# ---- daily totals x intraday profile --------------------------------------------------------


@dataclass
class _Days:
    """Day-level facts of the history: totals, weekday, ordinary and clean days."""

    total: np.ndarray
    wd: np.ndarray
    ordinary: np.ndarray
    clean: np.ndarray
    factor: np.ndarray  # mean total per weekday (recent clean days, month effect removed)
    month: np.ndarray  # effect of the day of the month, index 1..31 (1.0: none)


def _recent(mask: np.ndarray, wd: np.ndarray, k: int, weeks: int) -> np.ndarray:
    """Indices of the last ``weeks`` days of weekday ``k`` where ``mask`` holds."""
    idx = np.flatnonzero(mask & (wd == k))
    return idx[-weeks:]


def _days(fit: Fit) -> _Days:
    d = fit.days
    total = fit.y.sum(axis=1)
    wd = fit.weekday[:d]
    ordinary = np.array([s is None for s in fit.special[:d]], dtype=bool)
    clean = ordinary.copy()
    med = np.zeros(7)
    for k in range(7):
        idx = _recent(ordinary, wd, k, PROFILE_WEEKS)
        if idx.size == 0:
            idx = _recent(np.ones(d, bool), wd, k, PROFILE_WEEKS)
        med[k] = np.median(total[idx]) if idx.size else 0.0
    ref = med[wd]
    ratio = np.divide(total, ref, out=np.ones(d), where=ref > 0)
    clean &= (ratio >= OUTLIER_LOW) & (ratio <= OUTLIER_HIGH)
    month = _month_effect(total, wd, clean, fit.dom[:d]) if fit.dom is not None else np.ones(32)
    adjusted = total / month[fit.dom[:d]] if fit.dom is not None else total
    factor = np.zeros(7)
    for k in range(7):
        idx = _recent(clean, wd, k, PROFILE_WEEKS)
        factor[k] = adjusted[idx].mean() if idx.size else med[k]
    return _Days(adjusted, wd, ordinary, clean, factor, month)


def _month_effect(
    total: np.ndarray, wd: np.ndarray, clean: np.ndarray, dom: np.ndarray
) -> np.ndarray:
    """Effect of the day of the month on day totals (index 1..31), from clean days.

    Each clean day's total over the mean of its weekday's clean days within two weeks either
    side (a centred four-week window, which averages the monthly cycle out); the ratios are
    averaged by day of the month with their neighbours (weights 1, 2, 1, circular) and shrunk
    towards 1 by :data:`MONTH_PRIOR_DAYS` days' weight. Needs :data:`MONTH_MIN_DAYS` days.
    """
    effect = np.ones(32)
    d = len(total)
    if d < MONTH_MIN_DAYS:
        return effect
    ratio = np.full(d, np.nan)
    for k in range(7):
        idx = np.flatnonzero(clean & (wd == k))
        if idx.size < 3:
            continue
        vals = total[idx]
        for j, i in enumerate(idx):
            near = np.abs(idx - i) <= 14
            near[j] = False
            ref = vals[near].mean() if near.any() else 0.0
            if ref > 0:
                ratio[i] = total[i] / ref
    ok = ~np.isnan(ratio)
    sums = np.bincount(dom[ok], weights=ratio[ok] - 1.0, minlength=32)[1:32]
    counts = np.bincount(dom[ok], minlength=32)[1:32].astype(float)
    ksum = np.roll(sums, 1) + 2 * sums + np.roll(sums, -1)
    kcnt = np.roll(counts, 1) + 2 * counts + np.roll(counts, -1)
    effect[1:32] = 1.0 + ksum / (kcnt + MONTH_PRIOR_DAYS)
    return effect


def _level(days: _Days) -> float:
    """Exponentially weighted mean of the weekday-adjusted totals of clean days (about 1)."""
    ref = days.factor[days.wd]
    use = days.clean & (ref > 0)
    if not use.any():
        return 1.0
    idx = np.flatnonzero(use)
    age = (len(days.total) - 1 - idx).astype(float)
    weight = 0.5 ** (age / LEVEL_HALF_LIFE_DAYS)
    return float(np.sum(weight * days.total[idx] / ref[idx]) / np.sum(weight))


def _window_mean(values: np.ndarray, weights: np.ndarray) -> tuple[float, float, float] | None:
    """Weighted mean of ``values`` after dropping outliers against their median, its squared
    relative standard error, and the effective number of days; None under a week of days."""
    if values.size == 0:
        return None
    med = np.median(values)
    if med <= 0:
        return None
    keep = (values >= OUTLIER_LOW * med) & (values <= OUTLIER_HIGH * med)
    v, wt = values[keep], weights[keep]
    n_eff = wt.sum() ** 2 / (wt**2).sum() if wt.sum() > 0 else 0.0
    if n_eff < 7:
        return None
    mean = float(np.sum(wt * v) / wt.sum())
    if mean <= 0:
        return None
    var = float(np.sum(wt * (v - mean) ** 2) / wt.sum())
    return mean, var / mean**2 / n_eff, n_eff


def _yearly(fit: Fit, days: _Days) -> np.ndarray:
    """Yearly factor of each horizon day's level (see the module's docstring); 1 without
    :data:`YEAR_MIN_DAYS` days of history."""
    out = np.ones(fit.horizon)
    d = fit.days
    if d < YEAR_MIN_DAYS:
        return out
    ref = days.factor[days.wd]
    use = days.ordinary & (ref > 0)
    adjusted = np.divide(days.total, ref, out=np.zeros(d), where=ref > 0)
    # last year's level at the origin: the level's weights, 8 weeks, a year back
    then = d - YEAR_DAYS
    idx = np.arange(max(then - 7 * PROFILE_WEEKS, 0), then)
    idx = idx[use[idx]]
    age = (then - 1 - idx).astype(float)
    base = _window_mean(adjusted[idx], 0.5 ** (age / LEVEL_HALF_LIFE_DAYS))
    if base is None:
        return out
    for h in range(fit.horizon):
        centre = d + h - YEAR_DAYS
        idx = np.arange(max(centre - 14, 0), min(centre + 14, d))
        idx = idx[use[idx]]
        target = _window_mean(adjusted[idx], np.ones(idx.size))
        if target is None:
            continue
        log_ratio = np.log(target[0] / base[0])
        se2 = target[1] + base[1]
        shrink = YEAR_PRIOR_SD**2 / (YEAR_PRIOR_SD**2 + se2)
        out[h] = float(np.clip(np.exp(shrink * log_ratio), YEAR_LOW, YEAR_HIGH))
    return out


def _profiles(fit: Fit, days: _Days) -> np.ndarray:
    """Share of the day per slot, per weekday (7 × slots); closed slots 0."""
    slots = fit.y.shape[1]
    prof = np.zeros((7, slots))
    counts = np.zeros(7)
    for k in range(7):
        for mask in (days.clean, days.ordinary, np.ones(fit.days, bool)):
            idx = _recent(mask, days.wd, k, PROFILE_WEEKS)
            if idx.size and fit.y[idx].sum() > 0:
                break
        recent = _recent(np.ones(fit.days, bool), days.wd, k, CLOSED_WEEKS)
        open_ = fit.y[recent].sum(axis=0) > 0 if recent.size else np.ones(slots, bool)
        shape = fit.y[idx].sum(axis=0) * open_ if idx.size else np.zeros(slots)
        if shape.sum() > 0:
            prof[k] = shape / shape.sum()
        counts[k] = fit.y[idx].sum() if idx.size else 0.0
    return _pool(prof, counts)


def _pool(prof: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Shrink each weekday's profile towards the pooled profile of the weekdays shaped like it.

    Weekdays are alike when their profiles differ by less than :data:`PROFILE_SIMILAR_L1` (sum
    of absolute differences); the pooled profile, kept to the weekday's open slots, weighs in
    as :data:`PROFILE_POOL_CONTACTS` contacts against the weekday's own count, so a busy queue
    keeps its own shape and a quiet one borrows from its similar days (less Poisson noise).
    """
    out = prof.copy()
    for k in range(7):
        if prof[k].sum() == 0:
            continue
        alike = [
            j
            for j in range(7)
            if prof[j].sum() > 0 and np.abs(prof[j] - prof[k]).sum() < PROFILE_SIMILAR_L1
        ]
        pool = (prof[alike] * counts[alike, None]).sum(axis=0) * (prof[k] > 0)
        if pool.sum() <= 0 or counts[k] <= 0:
            continue
        pool /= pool.sum()
        out[k] = (counts[k] * prof[k] + PROFILE_POOL_CONTACTS * pool) / (
            counts[k] + PROFILE_POOL_CONTACTS
        )
    return out


def _expected(days: _Days, d: int) -> float:
    """What day ``d`` would have had as an ordinary day: the mean of its weekday over the
    clean days of the four weeks before and after it (in the history)."""
    near = np.flatnonzero(days.clean & (days.wd == days.wd[d]))
    near = near[np.abs(near - d) <= 28]
    return float(days.total[near].mean()) if near.size else 0.0


def _effects(fit: Fit, days: _Days) -> tuple[dict[str, float], dict[str, float]]:
    """Median ratio actual / expected total by special-day name and by kind, from history."""
    by_name: dict[str, list[float]] = {}
    by_kind: dict[str, list[float]] = {}
    for d, s in enumerate(fit.special[: fit.days]):
        if s is None:
            continue
        exp = _expected(days, d)
        if exp <= 0:
            continue
        r = days.total[d] / exp
        by_name.setdefault(s[1], []).append(r)
        by_kind.setdefault(s[0], []).append(r)
    med = {k: float(np.median(v)) for k, v in by_name.items()}
    kind = {k: float(np.median(v)) for k, v in by_kind.items()}
    return med, kind


def _special_profile(fit: Fit, kind: str) -> np.ndarray | None:
    idx = [d for d, s in enumerate(fit.special[: fit.days]) if s is not None and s[0] == kind]
    if not idx:
        return None
    shape = fit.y[idx].sum(axis=0)
    return shape / shape.sum() if shape.sum() > 0 else None


def daily_profile(fit: Fit) -> np.ndarray:
    """Day total (weekday factor × level × yearly factor × day-of-month and special-day
    effects) × weekday intraday profile."""
    _require_week(fit)
    days = _days(fit)
    level = _level(days)
    yearly = _yearly(fit, days)
    prof = _profiles(fit, days)
    names, kinds = _effects(fit, days)
    hol_prof = _special_profile(fit, "holiday")
    quiet = days.factor[days.factor > 0].min() if (days.factor > 0).any() else 0.0
    out = np.zeros((fit.horizon, fit.y.shape[1]))
    for h in range(fit.horizon):
        k = int(fit.weekday[fit.days + h])
        total = level * days.factor[k] * yearly[h]
        if fit.dom is not None:
            total *= days.month[fit.dom[fit.days + h]]
        shape = prof[k]
        special = fit.special[fit.days + h]
        if special is not None:
            kind, name = special
            if name in names:
                effect = names[name]
            elif kind in kinds:
                effect = kinds[kind]
            elif kind == "holiday" and days.factor[k] > 0:
                effect = quiet / days.factor[k]
            else:
                effect = 1.0
            total *= effect
            if kind == "holiday" and hol_prof is not None:
                shape = hol_prof
        out[h] = total * shape
    return out


# ---- ratios (AHT) ---------------------------------------------------------------------------


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def ratio_same_slot_last_week(fit: Fit) -> np.ndarray:
    """Σ numerator / Σ denominator of the same slot one week before."""
    _require_week(fit)
    assert fit.w is not None
    src = fit.source_days(1)[:, 0]
    return _ratio(fit.y[src], fit.w[src])


def ratio_mean_of_4_weeks(fit: Fit) -> np.ndarray:
    """Σ numerator / Σ denominator over the same slot of the last four same weekdays."""
    _require_week(fit)
    assert fit.w is not None
    src = fit.source_days(4)
    ok = (src >= 0)[:, :, None]
    num = (fit.y[np.where(src >= 0, src, 0)] * ok).sum(axis=1)
    den = (fit.w[np.where(src >= 0, src, 0)] * ok).sum(axis=1)
    return _ratio(num, den)


def ratio_daily_profile(fit: Fit) -> np.ndarray:
    """The weekday's slot AHT over its last 8 ordinary days, shrunk to the weekday's AHT."""
    _require_week(fit)
    assert fit.w is not None
    d = fit.days
    wd = fit.weekday[:d]
    ordinary = np.array([s is None for s in fit.special[:d]], dtype=bool)
    out = np.full((fit.horizon, fit.y.shape[1]), np.nan)
    for h in range(fit.horizon):
        k = int(fit.weekday[d + h])
        idx = _recent(ordinary, wd, k, PROFILE_WEEKS)
        if idx.size == 0:
            idx = _recent(np.ones(d, bool), wd, k, PROFILE_WEEKS)
        num, den = fit.y[idx].sum(axis=0), fit.w[idx].sum(axis=0)
        if den.sum() <= 0:
            continue
        prior = num.sum() / den.sum()
        value = (num + AHT_PRIOR_CONTACTS * prior) / (den + AHT_PRIOR_CONTACTS)
        recent = _recent(np.ones(d, bool), wd, k, CLOSED_WEEKS)
        open_ = fit.w[recent].sum(axis=0) > 0
        out[h] = np.where(open_, value, np.nan)
    return out


Method = Callable[[Fit], np.ndarray]

#: Methods for counts, in the order leaderboards list them (simplest first).
COUNT_METHODS: dict[str, Method] = {
    "same_slot_last_week": same_slot_last_week,
    "mean_of_4_weeks": mean_of_4_weeks,
    "daily_profile": daily_profile,
}
#: The same names for ratios (AHT).
RATIO_METHODS: dict[str, Method] = {
    "same_slot_last_week": ratio_same_slot_last_week,
    "mean_of_4_weeks": ratio_mean_of_4_weeks,
    "daily_profile": ratio_daily_profile,
}
#: Every method name ``--method`` takes (besides ``auto``).
METHODS = tuple(COUNT_METHODS)
