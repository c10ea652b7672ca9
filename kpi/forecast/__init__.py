"""Forecast contacts offered and AHT per interval, with prediction intervals and a backtest.

:func:`forecast` (``kpi forecast`` on the command line) forecasts a KPI of a dataset per group
(``by``) at 15-minute, 30-minute, hourly or daily grain from ``until`` (exclusive end of the
history used; default: the end of the data) for ``horizon``. It returns a plain table that
staffing can read: the ``by`` columns, ``period`` (interval start, site local time),
``forecast``, ``lower``, ``upper`` (the central ``level`` % prediction interval) and
``method``. :func:`run` also returns the backtest leaderboard per group (WAPE, MASE, bias,
interval coverage and the Poisson floor) and notes.

The history comes from the engine (:func:`kpi.compute.evaluate`), so contacts offered are
counted from contact rows or from an interval report alike. AHT is forecast as a weighted
mean: Σ handle seconds / Σ handled contacts over the same slots of past weeks (never a mean
of interval AHTs).

Methods (:mod:`kpi.forecast._methods`): ``same_slot_last_week``, ``mean_of_4_weeks`` and
``daily_profile`` (day totals from weekday, day-of-month, level, holiday and event effects,
spread by each weekday's intraday profile); ``auto`` picks, per group, the method with the
lowest WAPE in a rolling-origin backtest of the last four weeks
(:mod:`kpi.forecast._backtest`). Public holidays come from the ``holidays`` package for
``country`` (or ``country`` in ``dataset.json``), events from the ``events`` table
(:mod:`kpi.forecast._holidays`).

``import kpi.forecast`` makes the package callable: ``kpi.forecast(ds, ...)`` is
:func:`forecast`.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from scipy import stats

from kpi._progress import reporter
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.forecast._backtest import (
    Scores,
    backtest,
    count_interval,
    poisson_floor,
    ratio_interval,
)
from kpi.forecast._findings import accuracy_findings, by_group, findings, stored_accuracy
from kpi.forecast._holidays import Calendar, country_of, event_days, team_of
from kpi.forecast._methods import COUNT_METHODS, METHODS, RATIO_METHODS, Fit
from kpi.forecast._series import METRICS, Series, check_by, history, slot_minutes
from kpi.periods import to_timestamp

__all__ = [
    "METHODS",
    "METRICS",
    "RECENT_DAYS",
    "Forecast",
    "accuracy_findings",
    "by_group",
    "findings",
    "forecast",
    "parse_horizon",
    "run",
    "stored_accuracy",
]

#: Weekly origins of the backtest behind ``auto``, the leaderboard and the intervals.
BACKTEST_WEEKS = 4
#: Days of history an origin needs before it.
MIN_TRAIN_DAYS = 14
#: Longest horizon.
MAX_HORIZON_DAYS = 366
#: Days of history :attr:`Forecast.recent` keeps (for charts beside the forecast).
RECENT_DAYS = 14


def parse_horizon(text: str, every: str) -> timedelta:
    """A horizon such as ``7d``, ``2w`` or ``36h``: whole slots of ``every``, at most a year.

    Examples
    --------
    >>> parse_horizon("2w", "30m")
    datetime.timedelta(days=14)
    >>> parse_horizon("90m", "1h")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: bad horizon '90m': it must be a whole number of 1h intervals
    """
    found = re.fullmatch(r"\s*(\d+)\s*(m|h|d|w)\s*", str(text))
    if not found:
        raise KpiError(f"bad horizon {text!r}: write a number and a unit, e.g. 7d, 2w or 36h")
    n, unit = int(found[1]), found[2]
    span = timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n})
    if span <= timedelta(0) or span > timedelta(days=MAX_HORIZON_DAYS):
        raise KpiError(f"bad horizon {text!r}: it must be above 0 and at most 366 days")
    if span % timedelta(minutes=slot_minutes(every)):
        raise KpiError(f"bad horizon {text!r}: it must be a whole number of {every} intervals")
    return span


def _level(level: float) -> float:
    if not isinstance(level, int | float) or not 1 <= level < 100:
        raise KpiError(f"level must be a percentage from 1 to below 100, got {level!r}")
    return float(level) / 100


@dataclass
class Forecast:
    """A forecast run: the forecast table, the backtest leaderboard and notes."""

    table: pl.DataFrame
    leaderboard: pl.DataFrame
    notes: list[str] = field(default_factory=list)
    until: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: The last :data:`RECENT_DAYS` days of history: ``by`` columns, ``period``, ``actual``
    #: (for AHT, Σ handle / Σ handled; null where nothing was handled).
    recent: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: Special days of the recent history and the horizon (centre-wide; team events only
    #: when grouped by team): ``date``, ``kind`` (holiday, event, eve, after) and ``name``.
    special: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: One row per group: ``by`` columns, ``method``, ``days`` (the horizon's whole and part
    #: days), ``forecast`` (the horizon's total; for AHT the mean of its intervals),
    #: ``lower``/``upper`` (for a count, the total's interval from the backtest's errors on
    #: weekly totals and Poisson noise), ``before`` (the same span just before ``until``),
    #: ``wape`` and ``poisson_floor`` of the method in the backtest.
    summary: pl.DataFrame = field(default_factory=pl.DataFrame)


def forecast(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str = "30m",
    horizon: str = "7d",
    metric: str = "contacts_offered",
    by: Sequence[str] | str = (),
    until: str | date | datetime | None = None,
    method: str = "auto",
    level: float = 80,
    country: str | None = None,
    progress: bool | Callable[[str], None] = False,
    store: bool = False,
) -> pl.DataFrame:
    """Forecast ``metric`` per ``by`` group and interval: a plain table staffing can read.

    Parameters
    ----------
    data
        A :class:`~kpi.data.Dataset`, a mapping of tables, or a dataset directory.
    every
        Interval: ``15m``, ``30m``, ``1h`` or ``1d``.
    horizon
        How far ahead: ``7d``, ``2w``, ``36h`` (whole intervals, at most 366 days).
    metric
        ``contacts_offered`` or ``aht`` (a weighted mean: Σ handle / Σ handled).
    by
        Group columns (``queue``, ``channel``, ...); each group gets its own forecast. Never
        a column of customer identifiers, and at most 1,000 groups (else a KpiError).
    until
        End of the history used, exclusive, in site local time (a date means its midnight);
        the forecast starts there. Default: the end of the data (midnight after its last day);
        a later ``until`` is refused (a KpiError): what follows the data is unknown.
    method
        ``auto`` (per group, the lowest backtest WAPE) or a name of :data:`METHODS`.
    level
        Central prediction interval, in percent.
    country
        ISO country code of the public holidays (default: ``country`` in ``dataset.json``).
    progress
        Report progress (True: lines on standard error; or a callable taking a message).
    store
        Also keep the forecast in the dataset directory (its ``forecasts`` table, switched in
        atomically; :mod:`kpi.forecast._store`), so that the ``forecast_accuracy`` KPI can
        score it once the actuals arrive. ``by`` may then hold only queue, channel and team.

    Returns
    -------
    polars.DataFrame
        ``by`` columns, ``period`` (interval start, local time), ``forecast``, ``lower``,
        ``upper`` (Float64; for AHT null where the slot had no handled contact in 4 weeks) and
        ``method``.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> import polars as pl
    >>> t0 = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("UTC"))
    >>> t = [t0 + timedelta(days=d, minutes=m) for d in range(28) for m in (0, 10, 20)]
    >>> contacts = pl.DataFrame({"arrival_ts": t, "queue_ts": t, "outcome": ["answered"] * 84})
    >>> fc = forecast({"contacts": contacts}, every="1h", horizon="1d", method="mean_of_4_weeks")
    >>> fc.filter(pl.col("forecast") > 0).select("period", "forecast", "lower", "upper", "method")
    shape: (1, 5)
    ┌─────────────────────────┬──────────┬───────┬───────┬─────────────────┐
    │ period                  ┆ forecast ┆ lower ┆ upper ┆ method          │
    │ ---                     ┆ ---      ┆ ---   ┆ ---   ┆ ---             │
    │ datetime[μs, UTC]       ┆ f64      ┆ f64   ┆ f64   ┆ str             │
    ╞═════════════════════════╪══════════╪═══════╪═══════╪═════════════════╡
    │ 2026-02-02 09:00:00 UTC ┆ 3.0      ┆ 1.0   ┆ 5.0   ┆ mean_of_4_weeks │
    └─────────────────────────┴──────────┴───────┴───────┴─────────────────┘
    """
    return run(
        data,
        every=every,
        horizon=horizon,
        metric=metric,
        by=by,
        until=until,
        method=method,
        level=level,
        country=country,
        progress=progress,
        store=store,
    ).table


def run(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str = "30m",
    horizon: str = "7d",
    metric: str = "contacts_offered",
    by: Sequence[str] | str = (),
    until: str | date | datetime | None = None,
    method: str = "auto",
    level: float = 80,
    country: str | None = None,
    progress: bool | Callable[[str], None] = False,
    store: bool = False,
) -> Forecast:
    """Like :func:`forecast`, also returning the leaderboard and notes (see :class:`Forecast`)."""
    ds = Dataset.coerce(data)
    minutes = slot_minutes(every)
    span = parse_horizon(horizon, every)
    q = _level(level)
    if method != "auto" and method not in METHODS:
        raise KpiError(f"unknown method {method!r}; methods: auto, {', '.join(METHODS)}")
    by = check_by(ds, (by,) if isinstance(by, str) else by)
    if store:
        from kpi.forecast._store import check_storable

        check_storable(ds, by)
    end = to_timestamp(until, ds.tz) if until is not None else None
    if end is not None:
        end = end.astimezone(ZoneInfo(ds.tz))
    report = reporter(progress, "kpi forecast") or (lambda msg: None)
    series, end = history(ds, metric=metric, every=every, by=by, until=end)
    ratio = metric == "aht"
    country = country_of(ds, country)
    events = event_days(ds)
    wall_from = end.replace(tzinfo=None)
    wall_to = wall_from + span
    h_days = (wall_to - timedelta(microseconds=1)).date().toordinal() - wall_from.toordinal() + 1
    report(f"{len(series)} group(s), {series[0].days} days of history, {h_days} day(s) ahead")
    tables, boards, notes, recents, specials, summaries = [], [], [], [], [], []
    empty = [s for s in series if not s.y.any()]
    for s in empty:
        notes.append(f"{_label(s.keys)}: no {metric} in the history; not forecast")
    series = [s for s in series if s.y.any()]
    if not series:
        raise KpiError(f"no group has any {metric} in the history: nothing to forecast from")
    for i, s in enumerate(series, 1):
        table, board, note, recent, special, summary = _one(
            s,
            ratio=ratio,
            minutes=minutes,
            h_days=h_days,
            method=method,
            level=q,
            country=country,
            events=events,
        )
        tables.append(table)
        boards.append(board)
        recents.append(recent)
        specials.append(special)
        summaries.append(summary)
        notes += [f"{_label(s.keys)}: {n}" for n in note]
        if i % 10 == 0 or i == len(series):
            report(f"{i} of {len(series)} group(s) forecast")
    table = pl.concat(tables, how="vertical_relaxed")
    table = (
        table.filter((pl.col("period") >= wall_from) & (pl.col("period") < wall_to))
        .with_columns(
            pl.col("period").dt.replace_time_zone(ds.tz, ambiguous="earliest", non_existent="null")
        )
        .drop_nulls("period")
        .sort([*by, "period"])
    )
    board = pl.concat(boards, how="diagonal_relaxed") if boards else pl.DataFrame()
    recent = (
        pl.concat(recents, how="vertical_relaxed")
        .with_columns(
            pl.col("period").dt.replace_time_zone(ds.tz, ambiguous="earliest", non_existent="null")
        )
        .drop_nulls("period")
        .sort([*by, "period"])
    )
    special = pl.concat(specials, how="vertical_relaxed").unique(maintain_order=True).sort("date")
    meta = {
        "metric": metric,
        "every": every,
        "horizon": horizon,
        "until": end.isoformat(sep=" "),
        "level": level,
        "country": country,
        "method": method,
    }
    result = Forecast(
        table, board, notes, end, meta, recent, special, pl.DataFrame(summaries, strict=False)
    )
    if store:
        from kpi.forecast._store import store_forecast

        store_forecast(ds, result, by=by, every=every)
        report(f"stored {table.height} forecast rows in {ds.path}")
    return result


def _label(keys: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in keys.items()) or "all"


def _one(
    s: Series,
    *,
    ratio: bool,
    minutes: int,
    h_days: int,
    method: str,
    level: float,
    country: str | None,
    events: pl.DataFrame | None,
) -> tuple[pl.DataFrame, pl.DataFrame, list[str], pl.DataFrame, pl.DataFrame, dict]:
    """Forecast one group: the rows (naive local periods), its leaderboard rows, notes, its
    recent history (naive local periods), its special days and its summary row."""
    notes: list[str] = []
    d = s.days
    if d < 7:
        raise KpiError(
            f"too little history for {_label(s.keys)}: {d} day(s) before the forecast start; "
            "at least one week is needed (four or more for a backtest)"
        )
    dates = s.dates(h_days)
    weekday = np.array([x.weekday() for x in dates])
    dom = np.array([x.day for x in dates])
    cal = Calendar.build(dates[0], dates[-1], country=country, events=events, team=team_of(s.keys))
    special = cal.kinds(dates)
    methods = RATIO_METHODS if ratio else COUNT_METHODS
    bt_days = min(h_days, 7)
    origins = [
        d - 7 * k
        for k in range(BACKTEST_WEEKS, 0, -1)
        if d - 7 * k >= MIN_TRAIN_DAYS and d - 7 * k + bt_days <= d
    ]
    scores: dict[str, Scores] = {}
    if origins:
        scores = backtest(s.y, s.w, weekday, special, dom, methods, origins, bt_days)
    else:
        notes.append(
            "too little history for a backtest (needs three weeks): no leaderboard, Poisson "
            "intervals"
        )
    rows = []
    for name, sc in scores.items():
        rows.append(
            {
                **s.keys,
                "method": name,
                **sc.metrics(level, ratio=ratio),
                "poisson_floor": None
                if ratio
                else poisson_floor(sc.actual, (sc.actual > 0) | _open_any(scores)),
                "origins": len(origins),
            }
        )
    chosen = method
    if method == "auto":
        ranked = [r for r in rows if r["wape"] is not None]
        chosen = min(ranked, key=lambda r: r["wape"])["method"] if ranked else "mean_of_4_weeks"
    for r in rows:
        r["chosen"] = r["method"] == chosen
    fit = Fit(s.y, s.w, weekday, special, h_days, dom)
    f = methods[chosen](fit)
    n_hat = None
    if ratio:
        assert s.w is not None
        n_hat = COUNT_METHODS["mean_of_4_weeks"](Fit(s.w, None, weekday, special, h_days, dom))
        z = scores[chosen].z if chosen in scores else None
        lo, hi = ratio_interval(f, n_hat, level, z)
    else:
        phi = scores[chosen].dispersion if chosen in scores else 0.0
        lo, hi = count_interval(f, level, phi)
    slots = f.shape[1]
    start = datetime.combine(dates[d], datetime.min.time())
    periods = [
        start + timedelta(days=h, minutes=minutes * k) for h in range(h_days) for k in range(slots)
    ]
    table = pl.DataFrame(
        {
            **{k: [v] * len(periods) for k, v in s.keys.items()},
            "period": periods,
            "forecast": f.ravel(),
            "lower": lo.ravel(),
            "upper": hi.ravel(),
            "method": [chosen] * len(periods),
        },
        schema_overrides={"period": pl.Datetime("us")},
        strict=False,
    ).with_columns(pl.col("forecast", "lower", "upper").fill_nan(None))
    board = pl.DataFrame(rows) if rows else pl.DataFrame()
    first = max(0, d - RECENT_DAYS)
    summary = _summary(s, f, scores.get(chosen), rows, chosen, n_hat=n_hat, level=level)
    past = s.y[first:d]
    if ratio:
        assert s.w is not None
        den = s.w[first:d]
        past = np.divide(past, den, out=np.full(past.shape, np.nan), where=den > 0)
    day0 = datetime.combine(dates[first], datetime.min.time())
    recent = pl.DataFrame(
        {
            **{k: [v] * past.size for k, v in s.keys.items()},
            "period": [
                day0 + timedelta(days=i, minutes=minutes * k)
                for i in range(past.shape[0])
                for k in range(slots)
            ],
            "actual": past.ravel(),
        },
        schema_overrides={"period": pl.Datetime("us"), "actual": pl.Float64},
        strict=False,
    ).with_columns(pl.col("actual").fill_nan(None))
    shown = [(x, cal.days[x]) for x in dates[first:] if x in cal.days]
    special = pl.DataFrame(
        {
            "date": [x for x, _ in shown],
            "kind": [k for _, (k, _) in shown],
            "name": [n for _, (_, n) in shown],
        },
        schema={"date": pl.Date, "kind": pl.String, "name": pl.String},
    )
    return table, board, notes, recent, special, summary


def _summary(
    s: Series,
    f: np.ndarray,
    sc: Scores | None,
    rows: list[dict[str, Any]],
    chosen: str,
    *,
    n_hat: np.ndarray | None,
    level: float,
) -> dict[str, Any]:
    """The group's summary row (see :attr:`Forecast.summary`)."""
    h = f.shape[0]
    row = next((r for r in rows if r["method"] == chosen), {})
    out: dict[str, Any] = {**s.keys, "method": chosen, "days": h}
    if n_hat is not None:  # a ratio: weighted by the expected handled contacts
        assert s.w is not None
        w = s.w[-h:]
        ok = np.isfinite(f) & (n_hat > 0)
        out["forecast"] = float((f[ok] * n_hat[ok]).sum() / n_hat[ok].sum()) if ok.any() else None
        out["lower"] = out["upper"] = None
        out["before"] = float(s.y[-h:].sum() / w.sum()) if w.sum() > 0 else None
    else:
        total = float(np.nansum(f))
        var = total  # Poisson noise of the total
        if sc is not None:
            fs, acts = sc.forecast.sum(axis=(1, 2)), sc.actual.sum(axis=(1, 2))
            ok = fs > 0
            if ok.any():
                var += float(np.mean(((acts[ok] - fs[ok]) / fs[ok]) ** 2)) * total**2
        z = float(stats.norm.ppf((1 + level) / 2))
        out["forecast"] = total
        out["lower"] = max(0.0, total - z * var**0.5)
        out["upper"] = total + z * var**0.5
        out["before"] = float(s.y[-h:].sum()) if s.days >= h else None
    out["wape"] = row.get("wape")
    out["poisson_floor"] = row.get("poisson_floor")
    return out


def _open_any(scores: Mapping[str, Scores]) -> np.ndarray:
    """Intervals any method forecast above 0."""
    return np.any([np.nan_to_num(sc.forecast) > 0 for sc in scores.values()], axis=0)


class _CallableModule(types.ModuleType):
    """``kpi.forecast(...)`` calls :func:`forecast`."""

    def __call__(self, *args: Any, **kwargs: Any) -> pl.DataFrame:
        return forecast(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
