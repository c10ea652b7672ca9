"""Trends of any KPI: change against earlier periods and targets, rolling values, anomalies,
change points, and events attached to a series.

Every function returns a :class:`Trend`: a LazyFrame plus the definitions of the KPIs behind it
(the formula text of the variants in force, from :func:`kpi.compute.evaluate`) and a note of
how each added column was computed, so a chart or a report can always say which definition
produced a number. The functions that take a series accept the :class:`~kpi.compute.Result` of
``evaluate`` (best: it carries the definitions, variants and group columns), a ``Trend``, or a
plain (Lazy)DataFrame shaped like the output of :func:`kpi.compute.compute` (group columns,
``period``, KPI columns, measure columns).

- :func:`change`: each period's value against the previous period, the same period a year
  before and the target (one row per group, period and KPI).
- :func:`rolling`: rolling values over a time window; for ratio KPIs the exact ratio of the
  window sums of numerator and denominator.
- :func:`anomalies`: seasonal robust z-scores (against the median of the same weekday and
  time of day in earlier weeks, with a spread pooled over the series) with flags, expected
  values and bands, and whether the surprise is good or bad.
- :func:`change_points`: where the level of a series changes (exact PELT, numpy); collects.
- :func:`attach_events`: the labels of overlapping events per period, and a tidy events frame.

Everything is lazy except :func:`change_points`, which collects the short series it segments.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from kpi.compute import Result, evaluate
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import METRICS, Build, resolve
from kpi.periods import bin_expr, check_grain, to_timestamp
from kpi.targets import TargetSet, load_targets, status_columns

__all__ = [
    "ANOMALY_METHODS",
    "COMPARISONS",
    "YEAR_SHIFT",
    "Trend",
    "anomalies",
    "attach_events",
    "change",
    "change_points",
    "rolling",
]

#: What :func:`change` can compare each period with.
COMPARISONS = ("previous", "year", "target")

#: Methods of :func:`anomalies`.
ANOMALY_METHODS = ("seasonal_robust_z",)

#: The shift that finds "the same period a year before", by grain: 52 weeks (364 days) keeps
#: the weekday and time of day for days, weeks and intra-day bins; months, quarters and years
#: go back one calendar year.
YEAR_SHIFT = {
    "15m": "52w",
    "30m": "52w",
    "1h": "52w",
    "1d": "52w",
    "1w": "52w",
    "1mo": "1y",
    "1q": "1y",
    "1y": "1y",
}

_DURATION = re.compile(r"^(\d+)(m|h|d|w|mo|q|y)$")
_CALENDAR_UNITS = ("d", "w", "mo", "q", "y")
_SEASON_KEYS = ("1d", "1w")
# KPI units scored on the log scale by anomalies() (positive, right-skewed durations).
_DURATION_UNITS = ("s", "h")
# Normal-consistency constants: sigma = 1.4826 MAD = 1.2533 mean absolute deviation.
_MAD_TO_SIGMA = 1.4826
_MEANAD_TO_SIGMA = 1.2533
# Fewest scored points of a group for a pooled spread in anomalies().
_POOL_MIN = 10


@dataclass(frozen=True)
class Trend:
    """A trend table with the definitions that produced it.

    Attributes
    ----------
    frame
        The LazyFrame (see the function that made it for its columns).
    definitions
        KPI id to formula text under the variants in force.
    methods
        Output column (or group of columns) to how it was computed.
    by
        The group columns (without ``period``).
    every
        The grain of ``period``, when known (needed by :func:`attach_events`).
    params
        KPI id to the variant values in force, when known.
    notes
        KPI id to the reason it is null throughout (from :func:`kpi.compute.evaluate`).
    events
        From :func:`attach_events`: one row per event (and team) for chart rules.
    segments
        From :func:`change_points`: one row per segment of constant level.

    Examples
    --------
    >>> t = Trend(pl.LazyFrame({"x": [1]}), {"aht": "AHT = ..."}, {"x": "a column"})
    >>> t.meta()
    {'definitions': {'aht': 'AHT = ...'}, 'methods': {'x': 'a column'}}
    """

    frame: pl.LazyFrame
    definitions: dict[str, str]
    methods: dict[str, str]
    by: tuple[str, ...] = ()
    every: str | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    events: pl.LazyFrame | None = None
    segments: pl.LazyFrame | None = None

    def meta(self) -> dict[str, Any]:
        """Definitions, methods, variants and notes as plain data (for reports and JSON)."""
        out: dict[str, Any] = {"definitions": self.definitions, "methods": self.methods}
        if self.params:
            out["params"] = self.params
        if self.notes:
            out["notes"] = self.notes
        return out


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _duration(text: str, *, arg: str) -> tuple[int, str]:
    m = _DURATION.match(str(text).strip()) if isinstance(text, str) else None
    if m is None or int(m[1]) == 0:
        raise KpiError(
            f"bad {arg} {text!r}: use a whole number and a unit, m (minutes), h, d, w, mo, q "
            "or y, e.g. 7d, 4w, 3mo"
        )
    return int(m[1]), m[2]


def _shifted(lf: pl.LazyFrame, n: int, unit: str) -> pl.LazyFrame:
    """``lf`` with ``period`` moved forward by ``n`` ``unit`` (a row of p appears at p + shift).

    Calendar shifts (days and longer) keep the local wall time; a stamp that does not exist
    after the shift (inside a DST gap) is dropped, and where two stamps land on one (the
    repeated hour), the earlier one is kept, so the result has unique keys.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> z = ZoneInfo("Europe/London")
    >>> stamps = [datetime(2026, 3, 22, 1, 30, tzinfo=z), datetime(2026, 3, 22, 2, 30, tzinfo=z)]
    >>> out = _shifted(pl.LazyFrame({"period": stamps}), 1, "w").collect()
    >>> out["period"].dt.strftime("%d %H:%M %Z").to_list()  # 01:30 on 29 March does not exist
    ['29 02:30 BST']
    """
    p = pl.col("period")
    out = lf.with_columns(p.alias("_orig"), p.dt.offset_by(f"{n}{unit}").alias("period"))
    if unit in _CALENDAR_UNITS:
        orig = pl.col("_orig")
        # the second pass through a repeated (fall-back) hour: an hour earlier reads the same
        # or a later wall-clock time
        repeated = orig.dt.offset_by("-1h").dt.replace_time_zone(
            None
        ) >= orig.dt.replace_time_zone(None)
        out = out.filter((pl.col("period").dt.time() == orig.dt.time()) & ~repeated)
    return out.drop("_orig")


def _lit_ts(expr: pl.Expr) -> datetime:
    """Evaluate an expression on a literal time stamp (no data is read)."""
    return pl.select(expr).item()


def _as_lazy(frame: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    if isinstance(frame, pl.DataFrame):
        return frame.lazy()
    if isinstance(frame, pl.LazyFrame):
        return frame
    raise KpiError(
        f"expected a LazyFrame, DataFrame, kpi Result or Trend, got {type(frame).__name__}"
    )


@dataclass
class _Series:
    lf: pl.LazyFrame
    by: tuple[str, ...]
    names: list[str]
    definitions: dict[str, str]
    params: dict[str, dict[str, Any]]
    notes: dict[str, str]
    every: str | None
    base: Trend | None


def _series(
    frame: Trend | Result | pl.LazyFrame | pl.DataFrame,
    metric: str | None,
    by: Sequence[str] | str | None,
    params: Mapping[str, Any] | None,
    *,
    func: str,
) -> _Series:
    """Unpack the input of a series function and check its columns."""
    base = frame if isinstance(frame, Trend) else None
    if isinstance(frame, Trend):
        lf, keys_by = frame.frame, frame.by
        defs, prm, notes, every = (
            dict(frame.definitions),
            dict(frame.params),
            dict(frame.notes),
            frame.every,
        )
    elif isinstance(frame, Result):
        lf = frame.frame
        keys_by = tuple(k for k in frame.keys if k != "period")
        defs, prm, notes, every = dict(frame.definitions), dict(frame.params), {}, None
        notes.update(frame.notes)
    else:
        lf, keys_by, defs, prm, notes, every = _as_lazy(frame), (), {}, {}, {}, None
    by_t = tuple(keys_by) if by is None else (by,) if isinstance(by, str) else tuple(by)
    schema = lf.collect_schema()
    names = schema.names()
    missing = [c for c in (*by_t, "period") if c not in names]
    if missing:
        raise KpiError(
            f"{func}: the series has no column {missing[0]!r}; its columns: {', '.join(names)}"
        )
    if not isinstance(schema["period"], pl.Datetime):
        raise KpiError(
            f"{func}: column 'period' must be a time stamp (as made by kpi compute with "
            f"--every), got {schema['period']}"
        )
    if metric is not None:
        if metric not in names:
            raise KpiError(
                f"{func}: the series has no column {metric!r}; its columns: {', '.join(names)}"
            )
        if metric in METRICS and metric not in defs:
            if params is not None or metric not in prm:
                ((_, p),) = resolve([metric], params)
                prm[metric] = p
            defs[metric] = METRICS[metric].build(prm[metric]).formula
        elif metric not in METRICS:
            defs.setdefault(metric, f"column {metric!r} of the input series")
    return _Series(lf, by_t, names, defs, prm, notes, every, base)


def _out(s: _Series, frame: pl.LazyFrame, methods: Mapping[str, str], **extra: Any) -> Trend:
    fields: dict[str, Any] = {
        "frame": frame,
        "definitions": s.definitions,
        "by": s.by,
        "every": s.every,
        "params": s.params,
        "notes": s.notes,
        **extra,
    }
    if s.base is not None:
        return replace(s.base, methods={**s.base.methods, **methods}, **fields)
    return Trend(methods=dict(methods), **fields)


def _sign(metric: str) -> float | None:
    m = METRICS.get(metric)
    if m is None:
        return None
    return 1.0 if m.direction == "higher" else -1.0


def _build(s: _Series, metric: str) -> Build | None:
    if metric not in METRICS:
        return None
    return METRICS[metric].build(s.params.get(metric))


def _targets(targets: TargetSet | str | Path | Mapping[str, Any] | None) -> TargetSet:
    if targets is None or isinstance(targets, TargetSet):
        return targets or TargetSet()
    if isinstance(targets, Mapping):
        return TargetSet.from_mapping(targets)
    return load_targets(targets)


# --------------------------------------------------------------------------------------------
# Change against the previous period, a year before, and the target
# --------------------------------------------------------------------------------------------


def _compare(value: pl.Expr, base: pl.Expr, name: str) -> list[pl.Expr]:
    diff = value - base
    return [
        base.alias(name),
        diff.alias(f"{name}_change"),
        pl.when(base != 0).then(diff / base.abs()).otherwise(None).alias(f"{name}_change_rel"),
    ]


def change(
    data: Dataset | Mapping[str, Any] | str,
    metrics: str | Iterable[str],
    *,
    by: Sequence[str] | str = (),
    every: str = "1mo",
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    params: Mapping[str, Any] | None = None,
    compare: Sequence[str] | str = COMPARISONS,
    targets: TargetSet | str | Path | Mapping[str, Any] | None = None,
    attribution: str = "arrival",
    bin_offset: str | None = None,
) -> Trend:
    """Each period's KPI values against the previous period, a year before and the target.

    Parameters
    ----------
    data
        A :class:`~kpi.data.Dataset`, a mapping of table frames, or a dataset directory.
    metrics
        KPI ids (a list or a comma-separated string, or ``"all"``).
    by
        Dimension columns (e.g. ``"team"``); every comparison stays within its group.
    every
        Grain of the periods: ``15m``, ``30m``, ``1h``, ``1d``, ``1w``, ``1mo``, ``1q``, ``1y``.
    start, end
        The periods to report: every period that overlaps ``[start, end]`` is reported whole
        (a ``start`` inside a month reports that whole month), so each value and its
        comparisons cover like-for-like periods. Data before ``start`` is read for the
        comparisons. ``None``: from the first or to the last period with data.
    params
        Definition variants, as for :func:`kpi.compute.compute`.
    compare
        Any of ``previous``, ``year``, ``target`` (a sequence or comma-separated string).
    targets
        A :class:`~kpi.targets.TargetSet`, a targets TOML path, or a mapping in the same
        layout; default: the catalogue targets. Overrides by ``team`` etc. apply per group.
    attribution, bin_offset
        As for :func:`kpi.compute.compute`.

    Returns
    -------
    Trend
        ``frame``: one row per group, period and KPI, sorted by group and period (KPIs in the
        order asked): the group columns, ``period``, ``metric``, ``definition`` (formula text),
        ``value``, ``numerator`` and ``denominator`` (the KPI's measures, when it has them);
        then per comparison ``c`` asked, its base value ``c`` (``previous``, ``year_ago``,
        ``target``), ``c_change``, ``c_change_rel`` and a flag: ``previous_improved`` and
        ``year_ago_improved`` (true when strictly better, false when worse or equal) and
        ``target_met``; plus ``previous_period`` and ``year_ago_period`` (the periods
        compared with) and ``status`` (green, amber, red) with targets. The comparison
        columns are null where the value or its base is missing. ``definitions`` holds the
        formulas, ``every`` the grain (so :func:`attach_events` needs no ``every=``).

    Notes
    -----
    Each value is computed from the measures of its own period (a monthly ratio is
    Σ numerator / Σ denominator over the month), so comparisons never average finer values.

    - previous: the value of the same group in the period ``period − every`` (found by joining
      on the shifted period, so a group with no data in a period gets a null base, never the
      value of an older period);
    - year: the same group in ``period − 1 y`` (months, quarters, years) or ``period − 52 w``
      (days, weeks and intra-day bins: same weekday and time of day, see :data:`YEAR_SHIFT`);
    - target: the target in force for the group (``TargetSet`` overrides by dimension value).

    ``c_change = value − base``; ``c_change_rel = (value − base) / |base|`` (null when the
    base is 0 or null; ``|base|`` keeps the sign meaningful for KPIs that can be negative, such
    as NPS); improved when ``(value − base) × s > 0`` with ``s = +1`` for KPIs where higher is
    better and ``−1`` otherwise; target met when ``(value − target) × s ≥ 0``.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> import polars as pl
    >>> z = ZoneInfo("Europe/London")
    >>> days = [datetime(2026, m, d, 9, tzinfo=z) for m, d in [(1, 5), (1, 6), (3, 2)]]
    >>> contacts = pl.DataFrame(
    ...     {
    ...         "arrival_ts": days,
    ...         "outcome": ["answered", "answered", "answered"],
    ...         "wait_s": [10.0, 30.0, 10.0],
    ...         "talk_s": [100.0, 200.0, 90.0],
    ...         "hold_s": [0.0, 0.0, 0.0],
    ...         "acw_s": [20.0, 0.0, 30.0],
    ...     }
    ... )
    >>> t = change(
    ...     {"contacts": contacts},
    ...     "aht",
    ...     compare="previous,target",
    ...     targets={"aht": {"target": 150, "red": 200}},
    ... )
    >>> t.frame.select(
    ...     pl.col("period").dt.strftime("%Y-%m"), "value", "previous", "target_met", "status"
    ... ).collect()
    shape: (2, 5)
    ┌─────────┬───────┬──────────┬────────────┬────────┐
    │ period  ┆ value ┆ previous ┆ target_met ┆ status │
    │ ---     ┆ ---   ┆ ---      ┆ ---        ┆ ---    │
    │ str     ┆ f64   ┆ f64      ┆ bool       ┆ str    │
    ╞═════════╪═══════╪══════════╪════════════╪════════╡
    │ 2026-01 ┆ 160.0 ┆ null     ┆ false      ┆ amber  │
    │ 2026-03 ┆ 120.0 ┆ null     ┆ true       ┆ green  │
    └─────────┴───────┴──────────┴────────────┴────────┘

    February has no contacts, so March has no previous value (not January's). The definition
    travels with the result:

    >>> t.definitions
    {'aht': 'AHT = (talk + hold + after-call work) / handled'}
    """
    ds = Dataset.coerce(data)
    grain = check_grain(every)
    if grain is None:
        raise KpiError(
            "change needs a grain: every must be one of 15m, 30m, 1h, 1d, 1w, 1mo, 1q, 1y"
        )
    by_t = (by,) if isinstance(by, str) else tuple(by)
    cmp = [c.strip() for c in compare.split(",")] if isinstance(compare, str) else list(compare)
    bad = [c for c in cmp if c not in COMPARISONS]
    if bad:
        raise KpiError(f"unknown comparison {bad[0]!r}; valid: {', '.join(COMPARISONS)}")
    tz = ds.tz
    s_ts = to_timestamp(start, tz)
    e_ts = to_timestamp(end, tz, end=True)
    lo = hi = lo_read = None
    if s_ts is not None:
        lo = _lit_ts(bin_expr(pl.lit(s_ts), grain, offset=bin_offset))
        reads = [lo]
        if "previous" in cmp:
            reads.append(_lit_ts(pl.lit(lo).dt.offset_by(f"-{grain}")))
        if "year" in cmp:
            reads.append(_lit_ts(pl.lit(lo).dt.offset_by(f"-{YEAR_SHIFT[grain]}")))
        lo_read = min(reads)
    if e_ts is not None:
        last = pl.lit(e_ts) - pl.duration(microseconds=1)
        hi = _lit_ts(bin_expr(last, grain, offset=bin_offset).dt.offset_by(grain))
    res = evaluate(
        ds,
        metrics,
        by=by_t,
        every=grain,
        start=lo_read,
        end=hi,
        params=params,
        attribution=attribution,
        bin_offset=bin_offset,
        measures=True,
    )
    keys = [*by_t, "period"]
    lf = res.frame.cache()  # read by the value and by each shifted copy: compute it once
    names = lf.collect_schema().names()
    kpis = res.metrics
    shifts = {"previous": (grain, "previous"), "year": (YEAR_SHIFT[grain], "year_ago")}
    for c in ("previous", "year"):
        if c not in cmp:
            continue
        spec, name = shifts[c]
        n, unit = _duration(spec, arg="every")
        base = _shifted(
            lf.select(*keys, *[pl.col(k).alias(f"_{name}__{k}") for k in kpis]), n, unit
        )
        lf = lf.join(base, on=keys, how="left", nulls_equal=True)
    target_set = _targets(targets) if "target" in cmp else None
    if target_set is not None:
        lf = status_columns(lf, kpis, target_set)
    if lo is not None:
        lf = lf.filter(pl.col("period") >= pl.lit(lo))
    if hi is not None:
        lf = lf.filter(pl.col("period") < pl.lit(hi))
    wide = lf.collect_schema().names()
    parts = []
    for k in kpis:
        b = METRICS[k].build(res.params[k])
        sign = _sign(k) or 1.0
        v = pl.col(k)
        cols: list[pl.Expr] = [
            *keys,
            pl.lit(k).alias("metric"),
            pl.lit(res.definitions[k]).alias("definition"),
            v.alias("value"),
        ]
        for role, meas in (("numerator", b.numerator), ("denominator", b.denominator)):
            ok = meas is not None and meas.name in names
            cols.append(
                (pl.col(meas.name).cast(pl.Float64) if ok else pl.lit(None, pl.Float64)).alias(
                    role
                )
            )
        for c in ("previous", "year"):
            if c not in cmp:
                continue
            spec, name = shifts[c]
            base_v = pl.col(f"_{name}__{k}")
            cols += [
                pl.col("period").dt.offset_by(f"-{spec}").alias(f"{name}_period"),
                *_compare(v, base_v, name),
                pl.when(v.is_null() | base_v.is_null())
                .then(None)
                .otherwise((v - base_v) * sign > 0)
                .alias(f"{name}_improved"),
            ]
        if "target" in cmp:
            if f"{k}_target" in wide:
                t = pl.col(f"{k}_target").cast(pl.Float64)
                status = pl.col(f"{k}_status")
            else:
                t = pl.lit(None, pl.Float64)
                status = pl.lit(None, pl.String)
            cols += [
                *_compare(v, t, "target"),
                pl.when(v.is_null() | t.is_null())
                .then(None)
                .otherwise((v - t) * sign >= 0)
                .alias("target_met"),
                status.alias("status"),
            ]
        parts.append(lf.select(cols))
    out = pl.concat(parts, how="vertical").sort(keys, maintain_order=True, nulls_last=True)
    methods = {"value": "the KPI computed from the measures of each group and period"}
    if "previous" in cmp:
        methods["previous"] = f"the value of the same group in period − {grain}"
    if "year" in cmp:
        methods["year_ago"] = f"the value of the same group in period − {YEAR_SHIFT[grain]}"
    if target_set is not None:
        src = targets if isinstance(targets, (str, Path)) else target_set.source
        methods["target"] = f"targets from {src}; status green/amber/red against target and red"
    return Trend(
        frame=out,
        definitions=res.definitions,
        methods=methods,
        by=by_t,
        every=grain,
        params=res.params,
        notes=res.notes,
    )


# --------------------------------------------------------------------------------------------
# Rolling values
# --------------------------------------------------------------------------------------------

_ROLLING_METHODS = ("auto", "ratio", "mean")


def rolling(
    frame: Trend | Result | pl.LazyFrame | pl.DataFrame,
    metric: str,
    *,
    window: str,
    by: Sequence[str] | str | None = None,
    method: str = "auto",
    min_periods: int = 1,
    params: Mapping[str, Any] | None = None,
) -> Trend:
    """Rolling value of a KPI over a time window: the exact ratio for ratio KPIs.

    Parameters
    ----------
    frame
        A series: the :class:`~kpi.compute.Result` of ``evaluate(..., every=...)`` (with its
        measures), a :class:`Trend`, or a frame with ``period``, the group columns and the KPI.
    metric
        The KPI id (or any numeric column, rolled as a mean).
    window
        Window length ending at each period, e.g. ``7d``, ``4w``, ``3mo`` (m, h, d, w, mo, q, y).
        The window is ``(period − window, period]`` in time, so a missing period is never
        replaced by an older one: with monthly data, ``3mo`` is the period and the two before.
    by
        Group columns (default: those of a Result or Trend, else none).
    method
        ``auto`` (default): the exact ratio when the KPI has a denominator and all its
        measures are additive and present in the frame, else the mean; ``ratio``: require the
        exact ratio; ``mean``: the mean of the KPI values in the window.
    min_periods
        Fewest periods with a value in the window for a rolling value (else null).
    params
        Variants the frame was computed with, when it is not a Result (to find the measures).

    Returns
    -------
    Trend
        The input frame sorted by group and period, with ``<metric>_rolling`` (Float64) and
        ``<metric>_rolling_n`` (periods with a value in the window). ``methods`` says which
        formula was used.

    Notes
    -----
    Exact ratio: every measure of the KPI is summed over the window and the KPI's own formula
    is applied to the sums, e.g. ``AHT₇ = Σ₇ handle_s / Σ₇ handled``, so busy and quiet
    periods weigh by their volume (a mean of daily AHTs would not). Mean: the mean of the
    non-null KPI values in the window (used for counts, and for KPIs with a non-additive
    measure such as a distinct count or a median); a period absent from the frame is not
    counted, not even as zero.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> frame = pl.DataFrame(
    ...     {
    ...         "period": [datetime(2026, 1, d) for d in (1, 2, 3)],
    ...         "aht": [100.0, 400.0, 200.0],
    ...         "handle_s": [1000.0, 400.0, 2000.0],
    ...         "handled": [10, 1, 10],
    ...     }
    ... ).with_columns(pl.col("period").dt.replace_time_zone("Europe/London"))
    >>> t = rolling(frame, "aht", window="2d")
    >>> t.frame.select("aht", "aht_rolling", "aht_rolling_n").collect()
    shape: (3, 3)
    ┌───────┬─────────────┬───────────────┐
    │ aht   ┆ aht_rolling ┆ aht_rolling_n │
    │ ---   ┆ ---         ┆ ---           │
    │ f64   ┆ f64         ┆ u32           │
    ╞═══════╪═════════════╪═══════════════╡
    │ 100.0 ┆ 100.0       ┆ 1             │
    │ 400.0 ┆ 127.272727  ┆ 2             │
    │ 200.0 ┆ 218.181818  ┆ 2             │
    └───────┴─────────────┴───────────────┘
    >>> t.methods["aht_rolling"]
    'Σ handle_s / Σ handled over the 2d window ending at each period (exact rolling ratio)'
    """
    if method not in _ROLLING_METHODS:
        raise KpiError(f"unknown rolling method {method!r}; valid: {', '.join(_ROLLING_METHODS)}")
    if not isinstance(min_periods, int) or min_periods < 1:
        raise KpiError(f"bad min_periods {min_periods!r}: must be a whole number >= 1")
    _duration(window, arg="window")
    s = _series(frame, metric, by, params, func="rolling")
    b = _build(s, metric)
    measures = b.measures if b is not None else ()
    why = ""
    if b is None:
        why = f"{metric} is not a catalogue KPI"
    elif b.denominator is None:
        why = f"{metric} has no denominator"
    elif any(m.kind != "sum" for m in measures):
        odd = next(m for m in measures if m.kind != "sum")
        why = f"its measure {odd.name} is a {odd.kind}, not additive"
    elif any(m.name not in s.names for m in measures):
        gone = next(m.name for m in measures if m.name not in s.names)
        why = f"the frame has no measure column {gone!r} (compute with measures=True)"
    if method == "ratio" and why:
        raise KpiError(f"rolling: no exact rolling ratio for {metric}: {why}")
    exact = method != "mean" and not why
    by_l = list(s.by)
    lf = s.lf.sort([*by_l, "period"], nulls_last=True)

    def roll(e: pl.Expr, how: str) -> pl.Expr:
        r = getattr(e, f"rolling_{how}_by")("period", window)
        return r.over(by_l) if by_l else r

    n = roll(pl.col(metric).is_not_null().cast(pl.UInt32), "sum").cast(pl.UInt32)
    out_name = f"{metric}_rolling"
    lf = lf.with_columns(n.alias(f"{metric}_rolling_n"))
    enough = pl.col(f"{metric}_rolling_n") >= min_periods
    if exact:
        assert b is not None
        keep = {m.name: f"__keep__{m.name}" for m in measures}
        lf = (
            lf.with_columns([pl.col(a).alias(z) for a, z in keep.items()])
            .with_columns([roll(pl.col(a).cast(pl.Float64), "sum").alias(a) for a in keep])
            .with_columns(pl.when(enough).then(b.value_expr()).otherwise(None).alias(out_name))
            .with_columns([pl.col(z).alias(a) for a, z in keep.items()])
            .drop(list(keep.values()))
        )
        num = b.numerator.name
        den = b.denominator.name if b.denominator is not None else ""
        scale = f"{b.scale:g} × " if b.scale != 1 else ""
        how = (
            f"{scale}Σ {num} / Σ {den}"
            if b.value is None
            else f"the {metric} formula on the window sums of "
            + ", ".join(m.name for m in measures)
        )
        text = f"{how} over the {window} window ending at each period (exact rolling ratio)"
    else:
        val = roll(pl.col(metric).cast(pl.Float64), "mean")
        lf = lf.with_columns(pl.when(enough).then(val).otherwise(None).alias(out_name))
        text = f"mean of {metric} over the {window} window ending at each period"
        if why and b is not None and b.denominator is not None:
            text += f" (not the exact ratio: {why})"
    return _out(s, lf, {out_name: text})


# --------------------------------------------------------------------------------------------
# Anomalies
# --------------------------------------------------------------------------------------------


def anomalies(
    frame: Trend | Result | pl.LazyFrame | pl.DataFrame,
    metric: str,
    *,
    by: Sequence[str] | str | None = None,
    method: str = "seasonal_robust_z",
    season: str = "1w",
    lookback: int = 8,
    min_history: int = 4,
    threshold: float = 3.5,
    min_scale: float | None = None,
    params: Mapping[str, Any] | None = None,
) -> Trend:
    """Flag values far from what the same point of earlier seasons leads one to expect.

    Parameters
    ----------
    frame
        A series (Result of ``evaluate(..., every=...)``, Trend, or frame with ``period``).
    metric
        The KPI id (or any numeric column).
    by
        Group columns (default: those of a Result or Trend, else none).
    method
        ``seasonal_robust_z`` (see Notes).
    season
        The seasonal cycle: ``1w`` compares each point with the same weekday and time of day
        in earlier weeks; ``1d`` with the same time of day on earlier days (for daily data:
        the previous days). Any duration (``m``, ``h``, ``d``, ``w``, ``mo``, ``q``, ``y``).
    lookback
        How many earlier seasons form the reference (default 8).
    min_history
        Fewest reference values needed for a score (default 4); before that, nulls.
    threshold
        Flag when ``|score| > threshold`` (default 3.5, the usual cut for modified z-scores).
    min_scale
        Floor for σ, in the KPI's unit (default: none beyond the noise floors in Notes).
    params
        Variants the frame was computed with, when it is not a Result (for the definition).

    Returns
    -------
    Trend
        The input frame, sorted by group and period, with ``<metric>_expected`` (median of
        the reference), ``_lower`` and ``_upper`` (``expected ∓ threshold × σ``), ``_score``,
        ``_history_n`` (reference values found), ``_anomaly`` (bool; null without enough
        history or without a value) and ``_effect`` (``good`` or ``bad`` given the KPI's
        direction, for flagged points; null otherwise).

    Notes
    -----
    *Expected value.* For a point ``x`` at period ``t`` the reference is the values of the
    same group at ``t − k × season``, ``k = 1..lookback`` (found by joining on shifted
    periods, so gaps are not filled by other points; calendar shifts keep the local time of
    day across DST). The expected value ``m`` is their median (on the scoring scale ``y``
    below), so a regular weekly pattern is expected and not flagged, and earlier anomalies
    hardly move it.

    *Scale.* Counts (contacts offered, handled ...) are scored on the variance-stabilised
    scale ``y = √(x + 3/8)`` (Anscombe), where Poisson noise has σ ≈ ½ at any level, so
    quiet night hours and busy mornings are judged alike; times (AHT, ASA, resolution hours)
    on ``y = ln(1 + x)``, so one long call in a quiet interval is not a 10 σ event; other
    KPIs as they are. Expected value and band are given back in the KPI's unit (so the band
    of a count or a time is asymmetric).

    *Spread.* A MAD from a handful of reference values is too unstable for a 3.5 cut (with 8
    normal values about 5 % of ordinary points would be flagged), so σ is pooled over the
    group. Each point has a sampling scale ``b``: ½ for counts; ``√(p̃ (1 − p̃) / n)`` with
    ``p̃ = (m n + 1) / (n + 2)`` for fractions whose denominator ``n`` is in the frame
    (binomial); ``1 / √n`` for other KPIs with their denominator in the frame (AHT over
    ``n`` handled contacts); else 1. The standardised deviations ``u = (y − m) / b`` of all
    the group's points with enough history (leaving out those exactly at their expected
    value, which say nothing of the spread: a service level of 1 at its usual 1, a quiet
    interval with no calls) give ``φ = 1.4826 × median |u|`` (``1.2533 × mean |u|`` when
    that is 0), and ``σ = φ b`` at each point; for counts and fractions ``φ ≥ 1``, i.e. never
    less than the sampling noise. A group with fewer than 10 such points uses each point's
    own reference instead: ``σ = 1.4826 × MAD`` of the reference values (``1.2533 × mean
    |r − m|`` when the MAD is 0), again at least ``b`` for counts and fractions. σ is then
    floored at ``min_scale``.

    *Score.* ``z = (y − m) / σ`` (a robust z-score in the manner of Iglewicz and Hoaglin);
    when σ is 0 the score is 0 for ``y = m`` and ±inf otherwise. Flag when ``|z| >
    threshold``; ``effect`` is good when the KPI moved in its better direction. The pooled
    spread uses the whole series of the group, so adding data can change earlier scores a
    little. On 20 simulations of ten weeks of hourly Poisson counts with a weekday and
    time-of-day pattern, 0.045 % of ordinary points (about 1 in 2,200) were flagged at the
    default threshold, and an injected spike of 120 on 200 was flagged every time. On the
    sample data (30-minute intervals by team, three months): 1 flag in 6,363 points for
    contacts offered, 9 for AHT, and 128 for service level, whose interval values collapse
    when a queue builds up (mostly North after it lost half its agents, and morning peaks).

    *Minimum history:* ``min_history`` earlier seasons with a value at the same point; with
    hourly data, ``season="1w"`` and the defaults, the first scores are in the fifth week.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> import polars as pl
    >>> days = [datetime(2026, 1, 1) + timedelta(days=7 * i) for i in range(6)]
    >>> frame = pl.DataFrame(
    ...     {"period": days, "contacts_handled": [100.0, 104.0, 98.0, 102.0, 101.0, 160.0]}
    ... ).with_columns(pl.col("period").dt.replace_time_zone("Europe/London"))
    >>> t = anomalies(frame, "contacts_handled", lookback=4, min_history=3)
    >>> cols = ["contacts_handled_" + c for c in ("expected", "anomaly", "effect")]
    >>> t.frame.select("contacts_handled", *cols).rename(
    ...     lambda c: c.replace("contacts_handled", "x")
    ... ).collect()
    shape: (6, 4)
    ┌───────┬────────────┬───────────┬──────────┐
    │ x     ┆ x_expected ┆ x_anomaly ┆ x_effect │
    │ ---   ┆ ---        ┆ ---       ┆ ---      │
    │ f64   ┆ f64        ┆ bool      ┆ str      │
    ╞═══════╪════════════╪═══════════╪══════════╡
    │ 100.0 ┆ null       ┆ null      ┆ null     │
    │ 104.0 ┆ null       ┆ null      ┆ null     │
    │ 98.0  ┆ null       ┆ null      ┆ null     │
    │ 102.0 ┆ 100.0      ┆ false     ┆ null     │
    │ 101.0 ┆ 101.0      ┆ false     ┆ null     │
    │ 160.0 ┆ 101.5      ┆ true      ┆ good     │
    └───────┴────────────┴───────────┴──────────┘

    The reference for the last week is 104, 98, 102, 101 (median 101.5). A count is scored
    on the √ scale, and with only three scored points σ comes from that reference, floored
    at ½: ``z = (√160.375 − √101.875) / 0.5 ≈ 5.4 > 3.5``.
    """
    if method not in ANOMALY_METHODS:
        raise KpiError(f"unknown anomaly method {method!r}; valid: {', '.join(ANOMALY_METHODS)}")
    n_season, unit = _duration(season, arg="season")
    if not isinstance(lookback, int) or lookback < 1:
        raise KpiError(f"bad lookback {lookback!r}: must be a whole number of seasons >= 1")
    if not isinstance(min_history, int) or not 1 <= min_history <= lookback:
        raise KpiError(f"bad min_history {min_history!r}: must be between 1 and lookback")
    if not threshold > 0:
        raise KpiError(f"bad threshold {threshold!r}: must be > 0")
    if min_scale is not None and not min_scale >= 0:
        raise KpiError(f"bad min_scale {min_scale!r}: must be >= 0")
    s = _series(frame, metric, by, params, func="anomalies")
    by_l = list(s.by)
    keys = [*by_l, "period"]
    b = _build(s, metric)
    kpi_unit = METRICS[metric].unit if metric in METRICS else None
    is_count = b is not None and b.denominator is None and kpi_unit == "count"
    den = (
        b.denominator.name
        if b is not None
        and b.denominator is not None
        and b.value is None
        and b.denominator.name in s.names
        else None
    )
    is_duration = kpi_unit in _DURATION_UNITS

    def fwd(e: pl.Expr) -> pl.Expr:
        """The scoring scale: √(x + 3/8) for counts, ln(1 + x) for durations."""
        if is_count:
            return (e.clip(lower_bound=0.0) + 0.375).sqrt()
        if is_duration:
            return e.clip(lower_bound=0.0).log1p()
        return e

    def back(e: pl.Expr) -> pl.Expr:
        """From the scoring scale back to the KPI's unit (never below 0 for counts, times)."""
        if is_count:
            return (e.clip(lower_bound=0.0) ** 2 - 0.375).clip(lower_bound=0.0)
        if is_duration:
            return (e.exp() - 1).clip(lower_bound=0.0)
        return e

    raw = pl.col(metric).cast(pl.Float64)
    y_expr = fwd(raw)
    base = s.lf.cache()  # the series, read for the points and for their references
    point = base.select(*keys, y_expr.alias("_ref"), raw.alias("_raw"))
    refs = pl.concat(
        [_shifted(point, k * n_season, unit) for k in range(1, lookback + 1)],
        how="vertical",
    )
    # one group_by on the stamp's integer value (much faster than a zoned datetime key) that
    # gathers each point's reference values into a list; medians and deviations are then list
    # operations (nested aggregations in a group_by are several times slower)
    kk = [*by_l, "_pk"]
    lists = (
        refs.filter(pl.col("_ref").is_not_null())
        .with_columns(pl.col("period").dt.epoch("us").alias("_pk"))
        .group_by(kk)
        .agg(pl.col("_ref").alias("_l"), pl.col("_raw").alias("_lr"))
        .with_columns(pl.col("_l").list.median().alias("_c"))
    )
    dev = (pl.col("_l") - pl.col("_c")).list.eval(pl.element().abs())
    raw_median = pl.col("_lr").list.median()
    ref = lists.with_columns(dev.alias("_d")).select(
        *kk,
        # the expected value is the median in the KPI's unit, on the scoring scale (the
        # same as the median on that scale for an odd number of values)
        fwd(raw_median).alias("_m"),
        pl.col("_d").list.median().alias("_mad"),
        pl.col("_d").list.mean().alias("_meanad"),
        pl.col("_l").list.len().cast(pl.UInt32).alias("_n"),
    )
    m = pl.col("_m")
    y = pl.col("_y")
    # b: the sampling noise of one point in the scoring unit; the pooled spread is a multiple
    # of it (for counts and fractions never less than 1: the known sampling noise)
    sampling = False
    if is_count:
        b_expr: pl.Expr = pl.lit(0.5)  # Poisson noise on the √ scale
        sampling = True
    elif den is not None:
        n_den = pl.col(den).cast(pl.Float64)
        if kpi_unit == "ratio":
            p_adj = (m * n_den + 1) / (n_den + 2)
            b_expr = pl.when(n_den > 0).then((p_adj * (1 - p_adj) / n_den).sqrt())
            sampling = True
        else:
            b_expr = pl.when(n_den > 0).then(1 / n_den.sqrt())
    else:
        b_expr = pl.lit(1.0)
    ok = (pl.col("_n").fill_null(0) >= min_history) & y.is_not_null()

    def per_group(e: pl.Expr) -> pl.Expr:
        return e.over(by_l) if by_l else e

    u = pl.col("_u")
    phi = pl.when(pl.col("_s") > 0).then(_MAD_TO_SIGMA * pl.col("_s"))
    phi = phi.otherwise(_MEANAD_TO_SIGMA * pl.col("_su"))
    if sampling:
        phi = pl.max_horizontal(phi, pl.lit(1.0))
    local = (
        pl.when(pl.col("_mad") > 0)
        .then(_MAD_TO_SIGMA * pl.col("_mad"))
        .otherwise(_MEANAD_TO_SIGMA * pl.col("_meanad"))
    )
    if sampling:
        local = pl.max_horizontal(local, pl.col("_b"))
    floors: list[pl.Expr] = []
    if min_scale is not None:
        # in the KPI's unit: σ_y ≈ σ_x / (2 √(x + 3/8)) for counts, σ_x / (1 + x) for times
        ms = pl.lit(float(min_scale))
        floors.append(ms / (2 * m) if is_count else ms / m.exp() if is_duration else ms)
    sigma = pl.max_horizontal(
        pl.when(pl.col("_pool_n") >= _POOL_MIN).then(phi * pl.col("_b")).otherwise(local),
        *floors,
    )
    score = (
        pl.when(~ok)
        .then(None)
        .when(pl.col("_sigma") > 0)
        .then((y - m) / pl.col("_sigma"))
        .when(y == m)
        .then(0.0)
        .otherwise((y - m).sign() * math.inf)
    )
    sign = _sign(metric)
    flag = pl.col(f"{metric}_score").abs() > threshold
    effect = (
        pl.when(flag & pl.lit(sign is not None))
        .then(
            pl.when(pl.col(f"{metric}_score") * (sign or 1.0) > 0)
            .then(pl.lit("good"))
            .otherwise(pl.lit("bad"))
        )
        .otherwise(None)
    )
    band = pl.lit(threshold) * pl.col("_sigma")
    lo_y, hi_y = m - band, m + band

    lf = (
        base.with_columns(pl.col("period").dt.epoch("us").alias("_pk"))
        .join(ref, on=kk, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(y_expr.alias("_y"))
        .with_columns(b_expr.alias("_b"))
        .with_columns(
            # points equal to their expected value say nothing of the spread (a bounded KPI
            # at its bound, a quiet interval with no calls): left out of the pool
            pl.when(ok & (pl.col("_b") > 0) & (y != m))
            .then((y - m) / pl.col("_b"))
            .otherwise(None)
            .alias("_u")
        )
        .with_columns(
            per_group(u.count()).alias("_pool_n"),
            per_group(u.abs().median()).alias("_s"),
            per_group(u.abs().mean()).alias("_su"),
        )
        .with_columns(sigma.alias("_sigma"))
        .with_columns(
            pl.when(ok).then(back(m)).otherwise(None).alias(f"{metric}_expected"),
            pl.when(ok).then(back(lo_y)).otherwise(None).alias(f"{metric}_lower"),
            pl.when(ok).then(back(hi_y)).otherwise(None).alias(f"{metric}_upper"),
            score.alias(f"{metric}_score"),
            pl.col("_n").fill_null(0).alias(f"{metric}_history_n"),
        )
        .with_columns(flag.alias(f"{metric}_anomaly"))
        .with_columns(effect.alias(f"{metric}_effect"))
        .drop(
            "_pk",
            "_m",
            "_mad",
            "_meanad",
            "_n",
            "_y",
            "_b",
            "_u",
            "_pool_n",
            "_s",
            "_su",
            "_sigma",
        )
        .sort(keys, nulls_last=True, maintain_order=True)
    )
    scale_text = (
        "on the √(x + 3/8) scale, at least Poisson noise"
        if is_count
        else "on the ln(1 + x) scale"
        if is_duration
        else "at least binomial noise"
        if sampling
        else ""
    )
    weight_text = ", ".join(
        t for t in (scale_text, f"scaled by 1/√{den}" if den and not sampling else "") if t
    )
    text = (
        f"robust z-score of {metric} against the median of the same point in the previous "
        f"{lookback} × {season} (at least {min_history} values), spread pooled over the "
        f"group{' (' + weight_text + ')' if weight_text else ''}; anomaly when "
        f"|z| > {threshold:g}"
    )
    return _out(s, lf, {f"{metric}_anomaly": text})


# --------------------------------------------------------------------------------------------
# Change points
# --------------------------------------------------------------------------------------------

_PENALTIES = ("bic", "mbic")


def _pelt(x: np.ndarray, beta: float, min_size: int) -> list[int]:
    """Exact optimal partition of ``x`` into segments of constant mean (PELT).

    Minimises ``Σ segment SSE + beta × (segments − 1)`` over segments of at least
    ``min_size`` points; returns the start index of every segment but the first. A candidate
    last change ``s`` is pruned at ``t`` when ``F(s) + C(s, t) > F(t)``, applied from
    ``t + min_size`` on (the first time a segment can start at ``t``), which keeps the search
    exact under the minimum size.

    Examples
    --------
    >>> _pelt(np.array([0.0, 0.1, -0.1, 0.0, 5.0, 5.1, 4.9, 5.0]), 1.0, 2)
    [4]
    """
    n = len(x)
    if n < 2 * min_size:
        return []
    y = x - x.mean()
    s1 = np.concatenate([[0.0], np.cumsum(y)])
    s2 = np.concatenate([[0.0], np.cumsum(y * y)])
    f = np.full(n + 1, np.inf)
    f[0] = -beta
    last = np.zeros(n + 1, dtype=np.int64)
    cand = np.zeros(0, dtype=np.int64)
    expire = np.zeros(0, dtype=np.int64)
    for t in range(min_size, n + 1):
        new = t - min_size
        if new == 0 or new >= min_size:
            cand = np.append(cand, new)
            expire = np.append(expire, np.iinfo(np.int64).max)
        live = expire > t
        cand, expire = cand[live], expire[live]
        m = t - cand
        cost = s2[t] - s2[cand] - (s1[t] - s1[cand]) ** 2 / m
        total = f[cand] + cost + beta
        i = int(np.argmin(total))
        f[t] = total[i]
        last[t] = cand[i]
        prune = (f[cand] + cost > f[t]) & (expire == np.iinfo(np.int64).max)
        expire[prune] = t + min_size
    out = []
    t = n
    while t > 0:
        t = int(last[t])
        if t > 0:
            out.append(t)
    return sorted(out)


def _noise_sigma(y: np.ndarray) -> float:
    """Noise σ from first differences (robust to level shifts): 1.4826 MAD(Δy) / √2."""
    d = np.diff(y)
    if len(d) == 0:
        return 0.0
    mad = np.median(np.abs(d - np.median(d)))
    sigma = _MAD_TO_SIGMA * mad / math.sqrt(2)
    if sigma == 0:
        sigma = float(np.std(d)) / math.sqrt(2)
    return float(sigma)


def _winsorize(y: np.ndarray, sigma: float, min_size: int, *, c: float = 3.0) -> np.ndarray:
    """Clip each value to ``c σ`` around the running median of its ``2 min_size + 1`` neighbours.

    A run of at most ``min_size`` outlying values (a bank holiday, an outage) is pulled in to
    the local level, so it cannot form a segment of its own, while a lasting change of level
    (``min_size + 1`` values or more) moves the running median with it and stays.

    Examples
    --------
    >>> _winsorize(np.array([10.0, 11, 9, 40, 10, 11, 9]), 1.0, 2).tolist()
    [10.0, 11.0, 9.0, 14.0, 10.0, 11.0, 9.0]
    """
    k = min_size
    padded = np.concatenate([np.full(k, np.nan), y, np.full(k, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)
    level = np.nanmedian(windows, axis=1)
    return np.clip(y, level - c * sigma, level + c * sigma)


def _segment(y: np.ndarray, pen: float, min_size: int, *, rounds: int = 5) -> list[int]:
    """Change points of ``y`` by PELT, re-estimating the noise scale from the segments.

    Values are first winsorised around their running median (:func:`_winsorize`), so a short
    burst of outliers is not taken for a change of level.

    Start from σ of the first differences; then, until the change points stop moving (at most
    ``rounds`` times), take σ from the residuals within segments (never below the first
    estimate) and inflate it to the long-run scale ``σ √((1 + ρ) / (1 − ρ))`` with ``ρ`` the
    lag-1 autocorrelation of those residuals (clipped to [0, 0.9]), so that slow drifts of
    autocorrelated KPI series are not taken for level changes.

    Examples
    --------
    >>> y = np.array([10.0, 10.2, 9.8, 10.1, 9.9, 12.0, 12.1, 11.9, 12.2, 11.8])
    >>> _segment(y, 3 * math.log(10), 3)
    [5]
    """
    n = len(y)
    s0 = _noise_sigma(y)
    if s0 <= 0 or n < 2 * min_size:
        return []
    y = _winsorize(y, s0, min_size)
    bkps = _pelt(y / s0, pen, min_size)
    for _ in range(rounds):
        edges = [0, *bkps, n]
        parts = [y[a:b] - y[a:b].mean() for a, b in itertools.pairwise(edges)]
        res = np.concatenate(parts)
        ss = float((res**2).sum())
        dof = n - len(edges) + 1
        sigma = max(math.sqrt(ss / dof) if dof > 0 else 0.0, s0)
        lag = sum(float((p[1:] * p[:-1]).sum()) for p in parts)
        rho = min(max(lag / ss if ss > 0 else 0.0, 0.0), 0.9)
        sigma *= math.sqrt((1 + rho) / (1 - rho))
        new = _pelt(y / sigma, pen, min_size)
        if new == bkps:
            break
        bkps = new
    return bkps


def change_points(
    frame: Trend | Result | pl.LazyFrame | pl.DataFrame,
    metric: str,
    *,
    by: Sequence[str] | str | None = None,
    penalty: str | float = "mbic",
    min_size: int = 3,
    season: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Trend:
    """Periods where the level of a KPI series changes, with the mean before and after.

    This function collects: it selects the group columns, ``period`` and the KPI (already
    aggregated, so a short series per group), runs the exact segmentation in numpy per group,
    and returns the (small) results as LazyFrames.

    Parameters
    ----------
    frame
        A series (Result of ``evaluate(..., every=...)``, Trend, or frame with ``period``).
    metric
        The KPI id (or any numeric column).
    by
        Group columns (default: those of a Result or Trend, else none); one search per group.
    penalty
        Cost of one more change point in units of the noise variance σ²: ``mbic`` (default,
        ``3 ln n``, the modified BIC), ``bic`` (``2 ln n``: a change adds a location and a
        mean; more sensitive, more false alarms), or a number.
    min_size
        Fewest periods in a segment (default 3).
    season
        ``1d`` or ``1w``: remove the median profile of each time of day (and weekday) before
        the search, so a daily or weekly pattern is not taken for level changes (for counts
        on the log scale: a weekend is a fraction of a weekday). The means reported are of
        the raw values.
    params
        Variants the frame was computed with, when it is not a Result (for the definition).

    Returns
    -------
    Trend
        ``frame``: one row per change point: the group columns, ``period`` (the first period
        at the new level), ``mean_before`` and ``mean_after`` (the level of the segments on
        either side), ``change``, ``change_rel`` (null when the level before is 0) and
        ``improved`` (given the KPI's direction). ``segments``: the group columns,
        ``first_period``, ``last_period``, ``n_periods`` and ``mean`` of every segment. The
        level of a segment is the KPI over it: for a ratio KPI whose additive measures are in
        the frame, ``Σ numerator / Σ denominator`` over the segment's periods (exact, a
        volume-weighted mean), else the mean of the period values.

    Notes
    -----
    Optimal partitioning by PELT (Killick, Fearnhead and Eckley 2012), exact: it minimises
    ``Σ_segments Σ (x − x̄_seg)² / σ² + penalty × (number of change points)`` over segments
    of at least ``min_size`` non-null values, after clipping each value to 3 σ around the
    running median of its ``2 min_size + 1`` neighbours (so a bank holiday or a one-day
    outage, up to ``min_size`` periods, is not a level change). σ starts from the first differences
    (``1.4826 × MAD(Δx) / √2``, which level shifts hardly disturb) and is then re-estimated
    from the residuals within the segments found and inflated to the long-run scale
    ``σ √((1 + ρ) / (1 − ρ))`` (``ρ``: lag-1 autocorrelation of the residuals), repeating
    until the change points are stable. On 1,000 simulated series of 90 points with the
    default penalty: false alarms in 0.5 % of white-noise series and 3 % of series with
    autocorrelation 0.3; a shift of 1.5 σ found at the right place (±2 periods) in 83 % (68 %
    with autocorrelation 0.3). Null values
    are skipped. A series with fewer than ``2 × min_size`` values, or constant, has no change
    point. Daily or intra-day series with a weekly pattern need ``season``.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> frame = pl.DataFrame(
    ...     {
    ...         "period": [datetime(2026, 1, d) for d in range(1, 11)],
    ...         "aht": [300.0, 302, 298, 301, 299, 360, 362, 358, 361, 359],
    ...     }
    ... ).with_columns(pl.col("period").dt.replace_time_zone("Europe/London"))
    >>> t = change_points(frame, "aht")
    >>> t.frame.select(
    ...     pl.col("period").dt.strftime("%m-%d"), "mean_before", "mean_after", "improved"
    ... ).collect()
    shape: (1, 4)
    ┌────────┬─────────────┬────────────┬──────────┐
    │ period ┆ mean_before ┆ mean_after ┆ improved │
    │ ---    ┆ ---         ┆ ---        ┆ ---      │
    │ str    ┆ f64         ┆ f64        ┆ bool     │
    ╞════════╪═════════════╪════════════╪══════════╡
    │ 01-06  ┆ 300.0       ┆ 360.0      ┆ false    │
    └────────┴─────────────┴────────────┴──────────┘
    """
    if isinstance(penalty, str):
        if penalty not in _PENALTIES:
            raise KpiError(
                f"unknown penalty {penalty!r}; valid: {', '.join(_PENALTIES)} or a number"
            )
    elif not (isinstance(penalty, (int, float)) and penalty >= 0):
        raise KpiError(f"bad penalty {penalty!r}: must be bic, mbic or a number >= 0")
    if not isinstance(min_size, int) or min_size < 1:
        raise KpiError(f"bad min_size {min_size!r}: must be a whole number >= 1")
    if season is not None and season not in _SEASON_KEYS:
        raise KpiError(f"bad season {season!r}; valid: {', '.join(_SEASON_KEYS)} or None")
    s = _series(frame, metric, by, params, func="change_points")
    by_l = list(s.by)
    build = _build(s, metric)
    # segment levels of a ratio KPI come from its summed measures when they are in the frame
    exact = (
        build is not None
        and build.denominator is not None
        and all(m.kind == "sum" and m.name in s.names for m in build.measures)
    )
    meas = [m.name for m in build.measures] if exact and build is not None else []
    x = pl.col(metric).cast(pl.Float64)
    lf = s.lf.select(
        *by_l, "period", x.alias("_x"), *[pl.col(c).cast(pl.Float64) for c in meas]
    ).filter(pl.col("_x").is_not_null())
    if season is not None:
        p = pl.col("period")
        key = p.dt.hour().cast(pl.Int32) * 60 + p.dt.minute().cast(pl.Int32)
        if season == "1w":
            key = key + p.dt.weekday().cast(pl.Int32) * 1440
        # counts vary in proportion (a weekend is a fraction of a weekday): their profile is
        # removed on the log scale, other KPIs' additively
        multiplicative = (
            build is not None and build.denominator is None and METRICS[metric].unit == "count"
        )
        v = pl.col("_x").clip(lower_bound=0).log1p() if multiplicative else pl.col("_x")
        prof = v.median().over([*by_l, "_key"])
        lf = lf.with_columns(key.alias("_key")).with_columns((v - prof).alias("_y"))
    else:
        lf = lf.with_columns(pl.col("_x").alias("_y"))
    df = (
        lf.select(*by_l, "period", "_x", "_y", *meas)
        .sort([*by_l, "period"], nulls_last=True)
        .collect()
    )
    schema = df.schema
    sign = _sign(metric)
    cps: list[dict[str, Any]] = []
    segs: list[dict[str, Any]] = []
    groups = df.partition_by(by_l, maintain_order=True, as_dict=True) if by_l else {(): df}
    for gkey, g in groups.items():
        if g.height == 0:
            continue
        gvals = dict(zip(by_l, gkey, strict=True))
        raw = g["_x"].to_numpy()
        y = g["_y"].to_numpy()
        periods = g["period"].to_list()
        n = len(y)
        pen = (
            float(penalty)
            if not isinstance(penalty, str)
            else (2.0 if penalty == "bic" else 3.0) * math.log(max(n, 2))
        )
        bkps = _segment(y, pen, min_size)
        edges = [0, *bkps, n]
        if exact and build is not None:
            sums = {
                c: [float(g[c][a:b].sum()) for a, b in itertools.pairwise(edges)] for c in meas
            }
            means = pl.DataFrame(sums).select(build.value_expr().alias("v"))["v"].to_list()
        else:
            means = [float(raw[a:b].mean()) for a, b in itertools.pairwise(edges)]
        for (a, b_), mu in zip(itertools.pairwise(edges), means, strict=True):
            segs.append(
                {
                    **gvals,
                    "first_period": periods[a],
                    "last_period": periods[b_ - 1],
                    "n_periods": b_ - a,
                    "mean": mu,
                }
            )
        for i, cp in enumerate(bkps):
            before, after = means[i], means[i + 1]
            diff = None if before is None or after is None else after - before
            cps.append(
                {
                    **gvals,
                    "period": periods[cp],
                    "mean_before": before,
                    "mean_after": after,
                    "change": diff,
                    "change_rel": diff / abs(before) if diff is not None and before else None,
                    "improved": None if sign is None or diff is None else diff * sign > 0,
                }
            )
    dims = {c: schema[c] for c in by_l}
    cp_schema = {
        **dims,
        "period": schema["period"],
        "mean_before": pl.Float64,
        "mean_after": pl.Float64,
        "change": pl.Float64,
        "change_rel": pl.Float64,
        "improved": pl.Boolean,
    }
    seg_schema = {
        **dims,
        "first_period": schema["period"],
        "last_period": schema["period"],
        "n_periods": pl.Int64,
        "mean": pl.Float64,
    }
    pen_text = (
        f"{penalty:g}"
        if not isinstance(penalty, str)
        else {"bic": "2 ln n (BIC)", "mbic": "3 ln n (modified BIC)"}[penalty]
    )
    level = (
        f"Σ {build.numerator.name} / Σ {build.denominator.name} over each segment"
        if exact and build is not None and build.denominator is not None and build.value is None
        else f"the {metric} formula on the segment sums of its measures"
        if exact
        else f"the mean of {metric} over each segment"
    )
    text = (
        f"exact PELT on the mean of {metric}, penalty {pen_text} × σ² (σ: long-run noise "
        f"scale within segments), segments of at least {min_size} periods"
        + (f", after removing the median {season} profile" if season else "")
        + f"; levels before and after: {level}"
    )
    return _out(
        s,
        pl.DataFrame(cps, schema=cp_schema).lazy(),
        {"change_points": text},
        segments=pl.DataFrame(segs, schema=seg_schema).lazy(),
    )


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


def _events_frame(
    events: pl.LazyFrame | pl.DataFrame | Dataset | Mapping[str, Any],
) -> pl.LazyFrame:
    if isinstance(events, Dataset):
        return events["events"]
    if isinstance(events, Mapping):
        if "events" not in events:
            raise KpiError("attach_events: no 'events' table in the data given")
        return _as_lazy(events["events"])
    return _as_lazy(events)


def attach_events(
    series: Trend | Result | pl.LazyFrame | pl.DataFrame,
    events: pl.LazyFrame | pl.DataFrame | Dataset | Mapping[str, Any],
    *,
    every: str | None = None,
    by: Sequence[str] | str | None = None,
) -> Trend:
    """Attach the labels of overlapping events to each period of a series.

    Parameters
    ----------
    series
        A series with ``period`` (a Result, a Trend, or a frame); any other columns are kept.
    events
        The ``events`` table (``start_ts``, ``end_ts`` (null for a point event), ``label``,
        ``team`` (null: all teams)), or a Dataset / mapping holding it. Time stamps are
        converted to the series' time zone (stamps without a zone are taken as local).
    every
        The grain of ``period`` (default: the Trend's); a duration such as ``1d`` or ``15m``.
    by
        Group columns of the series (default: those of a Result or Trend, else none).

    Returns
    -------
    Trend
        ``frame``: the series with ``events`` (String: the labels of the events overlapping
        the period, in order of start, joined by ``"; "``; null when none). ``events``
        attribute: one row per event within the series' time range, with ``start_ts``,
        ``end_ts`` (equal to ``start_ts`` for a point event), ``label`` and ``team``, ready for
        chart rules.

    Notes
    -----
    Period ``[p, p + every)`` and event ``[start, end)`` overlap when ``start < p + every`` and
    ``end > p``; a point event belongs to the period holding ``start``. When the series is by
    ``team``, an event applies to its own team (and an event without team to every team); the
    tidy events frame then has one row per team, with the series' team. Otherwise every event
    applies, and a team event is labelled ``"label (team)"``.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> tz = "Europe/London"
    >>> series = pl.DataFrame(
    ...     {
    ...         "team": ["A", "A", "B", "B"],
    ...         "period": [datetime(2026, 1, d) for d in (1, 2, 1, 2)],
    ...         "aht": [300.0, 320.0, 280.0, 290.0],
    ...     }
    ... ).with_columns(pl.col("period").dt.replace_time_zone(tz))
    >>> events = pl.DataFrame(
    ...     {
    ...         "start_ts": [datetime(2026, 1, 1, 9), datetime(2026, 1, 2, 14)],
    ...         "end_ts": [None, datetime(2026, 1, 3, 8)],
    ...         "label": ["new IVR", "outage"],
    ...         "team": [None, "B"],
    ...     }
    ... ).with_columns(pl.col("start_ts", "end_ts").dt.replace_time_zone(tz))
    >>> t = attach_events(series, events, every="1d", by="team")
    >>> t.frame.select("team", pl.col("period").dt.day(), "events").collect()
    shape: (4, 3)
    ┌──────┬────────┬─────────┐
    │ team ┆ period ┆ events  │
    │ ---  ┆ ---    ┆ ---     │
    │ str  ┆ i8     ┆ str     │
    ╞══════╪════════╪═════════╡
    │ A    ┆ 1      ┆ new IVR │
    │ A    ┆ 2      ┆ null    │
    │ B    ┆ 1      ┆ new IVR │
    │ B    ┆ 2      ┆ outage  │
    └──────┴────────┴─────────┘
    """
    s = _series(series, None, by, None, func="attach_events")
    every = every or s.every
    if every is None:
        raise KpiError(
            "attach_events needs the grain of the series: pass every= (e.g. 1d, 15m, 1mo)"
        )
    _duration(every, arg="every")
    ev = _events_frame(events)
    ev_names = ev.collect_schema().names()
    for col in ("start_ts", "label"):
        if col not in ev_names:
            raise KpiError(
                f"attach_events: the events table has no column {col!r}; "
                f"its columns: {', '.join(ev_names)}"
            )
    dtype = s.lf.collect_schema()["period"]
    assert isinstance(dtype, pl.Datetime)
    tz = dtype.time_zone

    ev_schema = ev.collect_schema()

    def to_series_tz(col: str) -> pl.Expr:
        got = ev_schema.get(col)
        if got is None or got == pl.Null:
            return pl.lit(None, dtype)
        if not isinstance(got, pl.Datetime):
            raise KpiError(f"attach_events: events column {col!r} must be a time stamp, got {got}")
        e = pl.col(col)
        if got.time_zone is None and tz is not None:
            e = e.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        elif tz is not None:
            e = e.dt.convert_time_zone(tz)
        return e.cast(dtype)

    ev = ev.select(
        to_series_tz("start_ts").alias("_start"),
        to_series_tz("end_ts").alias("_end_raw"),
        pl.col("label").cast(pl.String).alias("_label"),
        (pl.col("team").cast(pl.String) if "team" in ev_names else pl.lit(None, pl.String)).alias(
            "_team"
        ),
    ).filter(pl.col("_start").is_not_null())
    ev = ev.with_columns(
        pl.when(pl.col("_end_raw") > pl.col("_start"))
        .then(pl.col("_end_raw"))
        .otherwise(pl.col("_start"))
        .alias("_stop")
    ).with_columns(
        # last instant covered: the start for a point event
        pl.when(pl.col("_stop") > pl.col("_start"))
        .then(pl.col("_stop") - pl.duration(microseconds=1))
        .otherwise(pl.col("_start"))
        .alias("_last")
    )
    by_l = list(s.by)
    keys = [*by_l, "period"]
    per_team = "team" in by_l
    src = (s.lf.drop("events") if "events" in s.names else s.lf).cache()
    bins = (
        src.select(keys).unique().with_columns(pl.col("period").dt.offset_by(every).alias("_pend"))
    )
    pairs = bins.join_where(
        ev, pl.col("_start") < pl.col("_pend"), pl.col("_last") >= pl.col("period")
    )
    if per_team:
        pairs = pairs.filter(pl.col("_team").is_null() | (pl.col("_team") == pl.col("team")))
        label = pl.col("_label")
    else:
        label = (
            pl.when(pl.col("_team").is_null())
            .then(pl.col("_label"))
            .otherwise(pl.format("{} ({})", pl.col("_label"), pl.col("_team")))
        )
    per_period = (
        pairs.with_columns(label.alias("_l"))
        .sort([*by_l, "period", "_start", "_l"], nulls_last=True)
        .group_by(keys, maintain_order=True)
        .agg(pl.col("_l").unique(maintain_order=True).str.join("; ").alias("events"))
    )
    frame = src.join(per_period, on=keys, how="left", nulls_equal=True, maintain_order="left")
    span = bins.select(pl.col("period").min().alias("_lo"), pl.col("_pend").max().alias("_hi"))
    in_span = ev.join(span, how="cross").filter(
        (pl.col("_start") < pl.col("_hi")) & (pl.col("_last") >= pl.col("_lo"))
    )
    if per_team:
        teams = src.select("team").unique()
        tidy = in_span.join(teams, how="cross").filter(
            pl.col("_team").is_null() | (pl.col("_team") == pl.col("team"))
        )
    else:
        tidy = in_span.with_columns(pl.col("_team").alias("team"))
    tidy = tidy.select(
        pl.col("_start").alias("start_ts"),
        pl.col("_stop").alias("end_ts"),
        pl.col("_label").alias("label"),
        pl.col("team"),
    ).sort(["start_ts", "team", "label"], nulls_last=True)
    text = f"labels of events overlapping [period, period + {every})" + (
        ", matched by team" if per_team else ""
    )
    return _out(s, frame, {"events": text}, every=every, events=tidy)
