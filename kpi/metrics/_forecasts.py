"""Measures of the ``forecast_accuracy`` KPI: stored forecasts scored against contacts offered.

``kpi forecast --store`` keeps forecasts in the ``forecasts`` table (:mod:`kpi.schema`). These
two builder measures pair each stored forecast interval that has happened with the contacts
offered in it (from contact rows, else from an interval report, as ``contacts_offered``
counts them) and sum, by the query's groups and bins, ``|offered − forecast|`` and
``offered``: their ratio is the WAPE of the forecasts, and ``forecast_accuracy`` is 1 − WAPE.
See :func:`_forecast_scores` for which forecasts are scored. The forecasts table is small and
read whole; the contacts are aggregated by the engine (:meth:`~kpi.metrics.MeasureContext
.aggregate` and ``last_time``), so the measures are ``portable``: the same scoring runs on
polars, DuckDB and Spark.

Examples
--------
>>> forecast_abs_error().tables, forecast_actual().text
(('forecasts',), 'Σ offered')
"""

from __future__ import annotations

from functools import cache

import polars as pl

from kpi.metrics._context import MeasureContext
from kpi.metrics._factories import offered
from kpi.metrics._measure import Measure, Source

__all__ = ["FORECAST_GROUPS", "forecast_abs_error", "forecast_actual"]


#: Group columns of the ``forecasts`` table (null: all values together).
FORECAST_GROUPS = ("queue", "channel", "team")
#: The grain of a stored forecast by its ``interval_s``.
_FORECAST_GRAINS = {900.0: "15m", 1800.0: "30m", 3600.0: "1h", 86400.0: "1d"}


@cache
def forecast_abs_error() -> Measure:
    return Measure(
        "forecast_abs_error",
        "Σ |offered − forecast| over the intervals of stored forecasts that have happened",
        builder=lambda ctx: _forecast_score(ctx, "forecast_abs_error"),
        tables=("forecasts",),
        columns=("period", "interval_s", "metric", "forecast", "until"),
        portable=True,
        text="Σ |offered − forecast|",
    )


@cache
def forecast_actual() -> Measure:
    return Measure(
        "forecast_actual",
        "Σ contacts offered over the intervals of stored forecasts that have happened",
        builder=lambda ctx: _forecast_score(ctx, "forecast_actual"),
        tables=("forecasts",),
        columns=("period", "interval_s", "metric", "forecast", "until"),
        portable=True,
        text="Σ offered",
    )


def _forecast_score(ctx: MeasureContext, name: str) -> pl.LazyFrame | None:
    scores = ctx.memo(("forecast_scores",), lambda: _forecast_scores(ctx))
    if scores is None:
        return None
    return scores.select(*ctx.by, "_bin", name)


def _offered_source(ctx: MeasureContext, groups: list[str]) -> Source | None:
    """The first usable source of contacts offered (contact rows, else an interval report, as
    ``contacts_offered`` counts them): its table has the group columns and known inputs."""
    for src in offered(0).sources:
        lf = ctx.frame(src.table)
        if lf is None:
            continue
        names = lf.collect_schema().names()
        if any(c not in names for c in (*src.columns, *groups)):
            continue
        if not all(ctx.has_values(src.table, c) for c in src.columns):  # unknown, not zero
            continue
        return src
    return None


def _forecast_scores(ctx: MeasureContext) -> pl.LazyFrame | None:
    """|offered − forecast| and offered per stored forecast interval, by ``by`` and ``_bin``.

    The forecasts scored: metric ``contacts_offered``; of one scope, the stored group columns
    that hold the query's ``by`` columns with the fewest columns (a centre-wide forecast for
    the centre, forecasts by queue for queues or the centre when there is no centre-wide one),
    and of that scope the finest grain; for each interval the latest forecast made before it
    (the greatest ``until``, then ``made_at``); only intervals that ended by the end of the
    data (the midnight after the last day with contacts).
    """
    f = ctx.frame("forecasts")
    if f is None:
        return None
    wanted = [c for c in ctx.by if c in FORECAST_GROUPS]
    f = f.filter(pl.col("metric") == "contacts_offered")
    if wanted:
        f = f.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in wanted))
    scopes = (
        f.select(*[pl.col(c).is_not_null() for c in FORECAST_GROUPS], "interval_s")
        .unique()
        .collect()
        .rows(named=True)
    )
    scopes = [s for s in scopes if s["interval_s"] in _FORECAST_GRAINS]
    empty = pl.LazyFrame(
        schema={
            **dict.fromkeys(ctx.by, pl.String),
            "_bin": pl.Datetime("us", ctx.tz) if ctx.every else pl.Int32,
            "forecast_abs_error": pl.Float64,
            "forecast_actual": pl.Float64,
        }
    )
    if not scopes:
        return empty
    best = min(scopes, key=lambda s: (sum(s[c] for c in FORECAST_GROUPS), s["interval_s"]))
    groups = [c for c in FORECAST_GROUPS if best[c]]
    src = _offered_source(ctx, groups)
    if src is None:  # no actuals: the KPI's extra measure (contacts offered) says why
        return empty
    grain = _FORECAST_GRAINS[best["interval_s"]]
    f = f.filter(
        (pl.col("interval_s") == best["interval_s"])
        & pl.all_horizontal(pl.col(c).is_null() != best[c] for c in FORECAST_GROUPS)
        & ctx.in_range(pl.col("period"))
    )
    latest = (
        f.sort("until", "made_at", nulls_last=False)
        .group_by([*groups, "period"])
        .agg(pl.col("forecast").last())
    )
    # the two row aggregations the engine does (polars, or SQL on DuckDB and Spark): the last
    # day with contacts, and contacts offered per group and forecast interval in the range
    last = ctx.last_time(src.table, ctx.time_column(src.table))
    actual = ctx.aggregate(src.table, src.agg, src.sql or "", by=groups, every=grain)
    if last is None or actual is None:
        return empty
    end = last.select(pl.col("_max").dt.truncate("1d").dt.offset_by("1d").alias("_end"))
    actual = actual.select(
        *groups,
        pl.col("_bin").alias("period"),
        pl.col("_value").cast(pl.Float64).alias("_actual"),
    )
    scored = (
        latest.join(end, how="cross")
        .filter(pl.col("period").dt.offset_by(grain) <= pl.col("_end"))
        .join(actual, on=[*groups, "period"], how="left", nulls_equal=True)
        .with_columns(pl.col("_actual").fill_null(0.0))
    )
    return scored.group_by([*ctx.by, ctx.bin(pl.col("period"))]).agg(
        (pl.col("_actual") - pl.col("forecast").fill_null(0.0))
        .abs()
        .sum()
        .alias("forecast_abs_error"),
        pl.col("_actual").sum().alias("forecast_actual"),
    )
