"""Change against the previous period, a year before and the target; rolling values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from kpi.compute import Result, evaluate
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import METRICS
from kpi.periods import bin_expr, check_grain, to_timestamp
from kpi.targets import TargetSet, load_targets, status_columns
from kpi.trends._series import (
    Trend,
    _build,
    _duration,
    _lit_ts,
    _out,
    _series,
    _shifted,
    _sign,
)

__all__ = ["COMPARISONS", "YEAR_SHIFT", "change", "rolling"]

#: What :func:`change` can compare each period with.
COMPARISONS = ("previous", "year", "target")


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
    cmp = _comparisons(compare)
    lo, hi, lo_read = _period_bounds(
        start, end, tz=ds.tz, grain=grain, cmp=cmp, bin_offset=bin_offset
    )
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
    lf = _with_shifted_values(lf, keys, res.metrics, grain=grain, cmp=cmp)
    target_set = _targets(targets) if "target" in cmp else None
    if target_set is not None:
        lf = status_columns(lf, res.metrics, target_set, params=params)
    if lo is not None:
        lf = lf.filter(pl.col("period") >= pl.lit(lo))
    if hi is not None:
        lf = lf.filter(pl.col("period") < pl.lit(hi))
    wide = lf.collect_schema().names()
    parts = [
        lf.select(_metric_rows(res, k, keys, names=names, wide=wide, grain=grain, cmp=cmp))
        for k in res.metrics
    ]
    out = pl.concat(parts, how="vertical").sort(keys, maintain_order=True, nulls_last=True)
    return Trend(
        frame=out,
        definitions=res.definitions,
        methods=_change_methods(grain, cmp, targets, target_set),
        by=by_t,
        every=grain,
        params=res.params,
        notes=res.notes,
    )


def _comparisons(compare: Sequence[str] | str) -> list[str]:
    """The comparisons asked, each one of :data:`COMPARISONS`."""
    cmp = [c.strip() for c in compare.split(",")] if isinstance(compare, str) else list(compare)
    bad = [c for c in cmp if c not in COMPARISONS]
    if bad:
        raise KpiError(f"unknown comparison {bad[0]!r}; valid: {', '.join(COMPARISONS)}")
    return cmp


def _period_bounds(
    start: str | date | datetime | None,
    end: str | date | datetime | None,
    *,
    tz: str,
    grain: str,
    cmp: Sequence[str],
    bin_offset: str | None,
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """First period reported, end of the last one, and the first period read for comparisons."""
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
    return lo, hi, lo_read


def _shifts(grain: str) -> dict[str, tuple[str, str]]:
    """Per shifted comparison, the shift and the name of its columns."""
    return {"previous": (grain, "previous"), "year": (YEAR_SHIFT[grain], "year_ago")}


def _with_shifted_values(
    lf: pl.LazyFrame, keys: list[str], kpis: Sequence[str], *, grain: str, cmp: Sequence[str]
) -> pl.LazyFrame:
    """The values of the previous period and of a year before, as ``_{name}__{kpi}`` columns."""
    shifts = _shifts(grain)
    for c in ("previous", "year"):
        if c not in cmp:
            continue
        spec, name = shifts[c]
        n, unit = _duration(spec, arg="every")
        base = _shifted(
            lf.select(*keys, *[pl.col(k).alias(f"_{name}__{k}") for k in kpis]), n, unit
        )
        lf = lf.join(base, on=keys, how="left", nulls_equal=True)
    return lf


def _metric_rows(
    res: Result,
    k: str,
    keys: list[str],
    *,
    names: Sequence[str],
    wide: Sequence[str],
    grain: str,
    cmp: Sequence[str],
) -> list[pl.Expr]:
    """The long-format columns of KPI ``k``: value, measures and each comparison asked."""
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
            (pl.col(meas.name).cast(pl.Float64) if ok else pl.lit(None, pl.Float64)).alias(role)
        )
    shifts = _shifts(grain)
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
        cols += _target_columns(v, k, wide, sign=sign)
    return cols


def _target_columns(v: pl.Expr, k: str, wide: Sequence[str], *, sign: float) -> list[pl.Expr]:
    """Target, its change columns, ``target_met`` and ``status`` of KPI ``k``."""
    if f"{k}_target" in wide:
        t = pl.col(f"{k}_target").cast(pl.Float64)
        status = pl.col(f"{k}_status")
    else:
        t = pl.lit(None, pl.Float64)
        status = pl.lit(None, pl.String)
    return [
        *_compare(v, t, "target"),
        pl.when(v.is_null() | t.is_null())
        .then(None)
        .otherwise((v - t) * sign >= 0)
        .alias("target_met"),
        status.alias("status"),
    ]


def _change_methods(
    grain: str,
    cmp: Sequence[str],
    targets: TargetSet | str | Path | Mapping[str, Any] | None,
    target_set: TargetSet | None,
) -> dict[str, str]:
    """How each column of :func:`change` was found, in words."""
    methods = {"value": "the KPI computed from the measures of each group and period"}
    if "previous" in cmp:
        methods["previous"] = f"the value of the same group in period − {grain}"
    if "year" in cmp:
        methods["year_ago"] = f"the value of the same group in period − {YEAR_SHIFT[grain]}"
    if target_set is not None:
        src = targets if isinstance(targets, (str, Path)) else target_set.source
        methods["target"] = f"targets from {src}; status green/amber/red against target and red"
    return methods


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
