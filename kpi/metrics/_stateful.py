"""Builder measures: the few that are not one aggregation over a table's rows.

FCR's repeat test (a sorted pass), the ticket backlog and the customer and agent rosters
(stocks: levels at bin edges) and the queue and peak-hour sweeps. Each is a
:class:`~kpi.metrics.Measure` with a ``builder`` that receives the engine's
:class:`~kpi.metrics.MeasureContext` and returns a LazyFrame keyed by the ``by`` columns and
``_bin``. A SQL engine runs each through its SQL form written beside it (``Measure.sql``: FCR,
the queue sweep, the peaks, the backlog's flows) or, for the rosters (``portable``), runs the
polars code itself on the roster the engine compacts (:meth:`~kpi.metrics.MeasureContext
.compact`).

Examples
--------
>>> fcr_resolved(7, "customer").lookahead_days, backlog().kind, max_in_queue().tables
(7, 'stock', ('contacts',))
"""

from __future__ import annotations

from functools import cache

import polars as pl

from kpi.metrics._context import MeasureContext
from kpi.metrics._factories import (
    ANS,
    HANDLED,
    HANDLED_SQL,
    OFFERED,
    OFFERED_SQL,
    WAIT,
    _n,
    _s,
)
from kpi.metrics._measure import Measure
from kpi.periods import local_midnight

__all__ = [
    "backlog",
    "bin_months",
    "customers_lost",
    "customers_start",
    "fcr_resolved",
    "headcount",
    "max_in_queue",
    "peak_hour",
    "peak_hour_calls",
    "separations",
]


# ---- first contact resolution -------------------------------------------------------------


_KEY_TEXT = {"customer_topic": "customer and topic", "customer": "customer"}


@cache
def fcr_resolved(window_days: int, key: str) -> Measure:
    name = f"fcr_resolved_{window_days}d_{key}"
    return Measure(
        name,
        f"handled inbound contacts with no repeat within {window_days} days ({key})",
        builder=lambda ctx: _fcr_resolved(ctx, window_days, key, name),
        tables=("contacts",),
        columns=("customer_id", "outcome", *(("topic",) if key == "customer_topic" else ())),
        lookahead_days=window_days,
        text=f"handled inbound contacts with no repeat contact (same {_KEY_TEXT[key]}) within "
        f"{window_days} days",
        sql=_fcr_sql(window_days, key),
    )


def _fcr_sql(window_days: int, key: str) -> str:
    """:func:`_fcr_resolved` in SQL: the next contact of the same key by ``LEAD`` over the
    whole table, in the same order (arrival, then contact id, nulls last); a null topic never
    matches (``null = null`` is null in polars too), so its contact is resolved. The contact
    is placed by ``{time}``, its stamp under the query's attribution."""
    keys = "customer_id, topic" if key == "customer_topic" else "customer_id"
    window_us = window_days * 86_400 * 1_000_000
    no_repeat = f"_next IS NULL OR _next - _a > {window_us}"
    if key == "customer_topic":
        no_repeat = f"topic IS NULL OR {no_repeat}"
    return (
        "SELECT {by}_t FROM (SELECT *, {time} AS _t, unix_micros(arrival_ts) AS _a, "
        f"unix_micros(LEAD(arrival_ts) OVER (PARTITION BY {keys} "
        "ORDER BY arrival_ts NULLS LAST, contact_id NULLS LAST)) AS _next "
        "FROM {table} WHERE customer_id IS NOT NULL) AS fcr "
        f"WHERE outcome = 'answered' AND ({no_repeat})"
    )


def _fcr_resolved(
    ctx: MeasureContext, window_days: int, key: str, name: str
) -> pl.LazyFrame | None:
    """Answered contacts of identified customers whose next contact (same key) is not near.

    Only identified customers can repeat. A contact whose key occurs once is resolved; the
    contacts of keys seen more than once are sorted by key, arrival and contact id, and a
    contact is resolved when the next row has another key or arrives more than
    ``window_days`` later. Keys are grouped and sorted by a 64-bit hash first (much cheaper
    than sorting strings) and neighbours compare the real key, so a hash collision (odds
    about n² / 2⁶⁵ for n keys) can at most hide a repeat, never invent one. Contacts after
    the range decide the repeats of those in it: with contacts placed by arrival, those
    arriving from the range's start to ``window_days`` after its end are read (a contact's
    next one, if near, is among them; one further away resolves it either way), else the
    whole table; only rows in the range are counted.
    """
    c = ctx.frame("contacts")
    if c is None:
        return None
    if ctx.time_column("contacts") == "arrival_ts":
        a = pl.col("arrival_ts")
        if ctx.start is not None:
            c = c.filter(a >= pl.lit(ctx.start).dt.convert_time_zone(ctx.tz))
        if ctx.end is not None:
            ahead = pl.lit(ctx.end).dt.convert_time_zone(ctx.tz) + pl.duration(
                days=window_days + 1
            )
            c = c.filter(a < ahead)
    keys = ["customer_id", "topic"] if key == "customer_topic" else ["customer_id"]
    same = pl.col("_fcr_key") == pl.col("_fcr_key").shift(-1)
    for k in keys:
        same = same & (pl.col(k) == pl.col(k).shift(-1))
    following = pl.when(same).then(pl.col("arrival_ts").shift(-1))
    no_repeat = following.is_null() | (
        (following - pl.col("arrival_ts")) > pl.duration(days=window_days)
    )
    t = pl.col(ctx.time_column("contacts"))
    hashed = c.filter(pl.col("customer_id").is_not_null()).with_columns(
        pl.struct(keys).hash().alias("_fcr_key")
    )
    hashed = hashed.with_columns(pl.len().over("_fcr_key").alias("_fcr_n"))
    once = hashed.filter(pl.col("_fcr_n") == 1)
    more = hashed.filter(pl.col("_fcr_n") > 1).sort(
        ["_fcr_key", "arrival_ts", "contact_id"], nulls_last=True
    )
    counted = [
        part.filter(cond & ANS & ctx.in_range(t))
        .group_by([*ctx.by, ctx.bin(t)])
        .agg(pl.len().cast(pl.Int64).alias(name))
        for part, cond in ((once, pl.lit(True)), (more, no_repeat))
    ]
    return pl.concat(counted).group_by([*ctx.by, "_bin"]).agg(pl.col(name).sum())


# ---- tickets (stocks) ---------------------------------------------------------------------


@cache
def backlog() -> Measure:
    return Measure(
        "backlog",
        "tickets open at the end of the period",
        kind="stock",
        builder=_backlog_builder,
        tables=("tickets",),
        columns=("solved_ts",),
        text="tickets created and not yet solved at the end of the period",
        sql=_BACKLOG_SQL,
    )


# :func:`_backlog_builder`'s flows in SQL: +1 at creation, -1 at solution; the engine sums them
# by group and bin and :meth:`~kpi.metrics.MeasureContext.stock_from_flows` levels them.
_BACKLOG_SQL = (
    "SELECT {by}unix_micros(created_ts) AS _t, CAST(1 AS BIGINT) AS _d FROM {table} "
    "UNION ALL SELECT {by}unix_micros(solved_ts) AS _t, CAST(-1 AS BIGINT) AS _d FROM {table} "
    "WHERE solved_ts IS NOT NULL"
)


def _backlog_builder(ctx: MeasureContext) -> pl.LazyFrame | None:
    t = ctx.frame("tickets")
    if t is None:
        return None
    flows = pl.concat(
        [
            t.select(*ctx.by, pl.col("created_ts").alias("_t"), pl.lit(1, pl.Int64).alias("_d")),
            t.filter(pl.col("solved_ts").is_not_null()).select(
                *ctx.by, pl.col("solved_ts").alias("_t"), pl.lit(-1, pl.Int64).alias("_d")
            ),
        ]
    )
    return ctx.stock_from_flows(flows, "backlog")


# ---- customers and agents (stocks) -----------------------------------------------------------


_ROSTERS = {"customers": ("joined", "churned"), "agents": ("hired", "left")}


def _roster_measure(name: str, description: str, table: str, *, text: str) -> Measure:
    begin, finish = _ROSTERS[table]
    return Measure(
        name,
        description,
        kind="stock",
        builder=lambda ctx: ctx.memo(
            (table, "roster"), lambda: _roster(ctx, table, begin, finish)
        )[name],
        tables=(table,),
        columns=(begin,),
        text=text,
        portable=True,
    )


@cache
def customers_start() -> Measure:
    return _roster_measure(
        "customers_start",
        "customers at the start of the period",
        "customers",
        text="customers at its start",
    )


@cache
def customers_lost() -> Measure:
    return _roster_measure(
        "customers_lost",
        "customers lost in the period",
        "customers",
        text="customers lost in the period",
    )


@cache
def separations() -> Measure:
    return _roster_measure(
        "separations", "agents who left in the period", "agents", text="agents who left"
    )


@cache
def headcount(kind: str) -> Measure:
    name = "headcount_avg" if kind == "average" else "headcount_start"
    text = (
        "average headcount ((start + end) / 2)" if kind == "average" else "headcount at the start"
    )
    return _roster_measure(name, f"agent headcount ({kind})", "agents", text=text)


@cache
def bin_months() -> Measure:
    return _roster_measure(
        "period_months",
        "length of the period in months (days / 30.44)",
        "agents",
        text="months in the period",
    )


def _roster(
    ctx: MeasureContext, table: str, begin: str, finish: str
) -> dict[str, pl.LazyFrame | None]:
    """Levels and flows of a roster (people with a start and an end date) per bin.

    A cross join of people and bins. The people come from :meth:`~kpi.metrics.MeasureContext
    .compact`: on a SQL engine, one row per distinct (``by``, start, end) with its count of
    people ``_w``, so the join is of dates, not of people; counts are then sums of ``_w``.
    """
    lf = ctx.compact(table, (begin, finish))
    keys = [*ctx.by, "_bin"]
    if lf is None:
        return dict.fromkeys(
            (
                "customers_start",
                "customers_lost",
                "separations",
                "headcount_avg",
                "headcount_start",
                "period_months",
            )
        )
    tz = ctx.tz
    b = local_midnight(begin, tz)
    # the person is counted up to and including the end date: gone from the next day
    f = local_midnight(pl.col(finish).dt.offset_by("1d"), tz)
    weighted = "_w" in lf.collect_schema().names()
    people = lf.select(*ctx.by, b.alias("_b"), f.alias("_f"), *(["_w"] if weighted else []))
    grid = people.join(ctx.bins(), how="cross")
    s, e = pl.col("_start"), pl.col("_end")
    present_at = lambda t: (pl.col("_b") <= t) & (pl.col("_f").is_null() | (pl.col("_f") > t))  # noqa: E731
    n = _weighted if weighted else _n
    agg = grid.group_by(keys).agg(
        n(present_at(s)).alias("_at_start"),
        n(present_at(e - pl.duration(microseconds=1))).alias("_at_end"),
        n((pl.col("_f") > s) & (pl.col("_f") <= e) & (pl.col("_b") < s)).alias("_lost"),
        pl.first("_start"),
        pl.first("_end"),
    )
    months = (
        (pl.col("_end") - pl.col("_start")).dt.total_seconds(fractional=True) / 86400 / 30.436875
    )
    out = agg.select(
        *keys,
        pl.col("_at_start").alias("customers_start"),
        pl.col("_lost").alias("customers_lost"),
        pl.col("_lost").alias("separations"),
        ((pl.col("_at_start") + pl.col("_at_end")) / 2).alias("headcount_avg"),
        pl.col("_at_start").alias("headcount_start"),
        months.alias("period_months"),
    )
    return {
        name: out.select(*keys, name)
        for name in (
            "customers_start",
            "customers_lost",
            "separations",
            "headcount_avg",
            "headcount_start",
            "period_months",
        )
    }


def _weighted(cond: pl.Expr) -> pl.Expr:
    """:func:`_n` over compacted rows: the sum of their counts ``_w`` where ``cond`` holds."""
    return pl.when(cond).then(pl.col("_w")).otherwise(0).sum().cast(pl.Int64)


# ---- sweeps over contacts -----------------------------------------------------------------


@cache
def max_in_queue() -> Measure:
    return Measure(
        "max_in_queue",
        "most contacts waiting at once",
        kind="sweep",
        builder=_max_in_queue,
        tables=("contacts",),
        columns=("queue_ts", "wait_s"),
        text="most contacts waiting at once (sweep over queue entries and exits)",
        sql=_MAX_IN_QUEUE_SQL,
        sql_agg="max(_v)",
    )


# :func:`_max_in_queue` in SQL: entries (+1) and exits (-1, the wait truncated to whole
# microseconds as polars' cast does) in time order, exits first at the same instant; the level
# after each event by a running sum per group, and the level before it.
_QUEUED = "FROM {table} WHERE queue_ts IS NOT NULL AND wait_s IS NOT NULL"
_WAIT_US = "wait_s * CAST(1000000 AS DOUBLE)"
_MAX_IN_QUEUE_SQL = (
    "SELECT {by}_t, greatest(_level, _level - _d) AS _v FROM (SELECT *, sum(_d) OVER "
    "({partition_by} ORDER BY _t, _d ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _level "
    "FROM (SELECT {by}unix_micros(queue_ts) AS _t, CAST(1 AS BIGINT) AS _d " + _QUEUED + " "
    "UNION ALL SELECT {by}unix_micros(queue_ts) + CAST(CASE WHEN wait_s < 0 THEN ceil("
    + _WAIT_US
    + ") ELSE floor("
    + _WAIT_US
    + ") END AS BIGINT) AS _t, CAST(-1 AS BIGINT) AS _d "
    + _QUEUED
    + ") AS events) AS levels"
)


def _max_in_queue(ctx: MeasureContext) -> pl.LazyFrame | None:
    c = ctx.frame("contacts")
    if c is None:
        return None
    entry = pl.col("queue_ts")
    leave = entry + pl.duration(microseconds=(WAIT * 1e6).cast(pl.Int64))
    q = c.filter(entry.is_not_null() & WAIT.is_not_null() & _waiting_in(ctx, entry, leave))
    events = pl.concat(
        [
            q.select(*ctx.by, entry.alias("_t"), pl.lit(1, pl.Int64).alias("_d")),
            q.select(*ctx.by, leave.alias("_t"), pl.lit(-1, pl.Int64).alias("_d")),
        ]
    )
    # exits before entries at the same instant; the level after each event, per group. With
    # groups, an ordered window sorts each group's events itself (cheaper than one global sort
    # followed by a window, and the groups' sorts run in parallel).
    level = (
        events.with_columns(
            pl.col("_d")
            .cum_sum()
            .over(partition_by=list(ctx.by), order_by=["_t", "_d"])
            .alias("_level")
        )
        if ctx.by
        else events.sort(["_t", "_d"]).with_columns(pl.col("_d").cum_sum().alias("_level"))
    )
    level = level.with_columns((pl.col("_level") - pl.col("_d")).alias("_before"))
    inrange = level.filter(ctx.in_range(pl.col("_t")))
    return inrange.group_by([*ctx.by, ctx.bin(pl.col("_t"))]).agg(
        pl.max_horizontal(pl.col("_level").max(), pl.col("_before").max())
        .cast(pl.Int64)
        .alias("max_in_queue")
    )


def _waiting_in(ctx: MeasureContext, entry: pl.Expr, leave: pl.Expr) -> pl.Expr:
    """The contacts that can change the queue's level during the range: not entered and left
    before its start, nor both at or after its end (either event first: a negative wait leaves
    before it enters). The others' +1 and -1 cancel before the range's first event, or follow
    its last, so every level in the range is the same without them, and a sweep of a month
    sorts that month's contacts, not the whole table's."""
    keep = pl.lit(True)
    if ctx.start is not None:
        start = pl.lit(ctx.start).dt.convert_time_zone(ctx.tz)
        keep = keep & (pl.max_horizontal(entry, leave) >= start)
    if ctx.end is not None:
        end = pl.lit(ctx.end).dt.convert_time_zone(ctx.tz)
        keep = keep & (pl.min_horizontal(entry, leave) < end)
    return keep


def _peak(ctx: MeasureContext, rank_by: str) -> pl.LazyFrame | None:
    c = ctx.frame("contacts")
    if c is None:
        return None
    c = c.filter(OFFERED & ctx.in_range(pl.col("arrival_ts")))
    hour_every = "1h" if ctx.every not in ("15m", "30m") else ctx.every
    hour_s = {"15m": 900, "30m": 1800}.get(ctx.every or "", 3600)
    handle = pl.sum_horizontal(
        pl.col("talk_s").fill_null(0), pl.col("hold_s").fill_null(0), pl.col("acw_s").fill_null(0)
    )
    hours = c.group_by(
        [
            *ctx.by,
            ctx.bin(pl.col("arrival_ts")),
            pl.col("arrival_ts").dt.truncate(hour_every).alias("_hour"),
        ]
    ).agg(
        pl.len().cast(pl.Int64).alias("_calls"),
        (_s(handle, HANDLED) / hour_s).alias("_erlangs"),
    )
    rank = "_calls" if rank_by == "calls" else "_erlangs"
    # the busiest hour; ties go to the earliest hour (order-independent)
    order = [pl.col(rank), -pl.col("_hour").dt.epoch("us")]
    return hours.group_by([*ctx.by, "_bin"]).agg(
        pl.col("_erlangs").sort_by(order).last().alias(f"peak_hour_erlangs_by_{rank_by}"),
        pl.col("_calls").sort_by(order).last().alias(f"peak_hour_calls_by_{rank_by}"),
    )


def _peak_sql(rank_by: str, value: str) -> str:
    """:func:`_peak` in SQL: contacts offered and Erlangs per local clock hour (``{hour}``, the
    bin itself under 15- and 30-minute bins) and bin (``{bin}``: under a bin offset an hour
    may fall in two bins) of arrivals in the range, placed by their first arrival; each hour
    numbered by ``ROW_NUMBER`` over the group in the order (rank, later hours first), so
    ``max_by(_v, _rk)`` over the hours of a bin takes the busiest, the earliest of equals."""
    rank = "_calls" if rank_by == "calls" else "_erlangs"
    handle = "coalesce(talk_s, 0) + coalesce(hold_s, 0) + coalesce(acw_s, 0)"
    return (
        f"SELECT {{by}}_t, {value} AS _v, ROW_NUMBER() OVER ({{partition_by}} ORDER BY {rank}, "
        "_hour DESC) AS _rk FROM (SELECT {by}min(_u) AS _t, _hour, count(*) AS _calls, "
        f"CAST(sum(CASE WHEN {HANDLED_SQL} THEN {handle} ELSE 0 END) AS DOUBLE) / {{hour_s}} "
        "AS _erlangs FROM (SELECT *, {hour} AS _hour, {bin} AS _k FROM (SELECT *, {offset} AS "
        "_off, {bin_offset} AS _boff FROM (SELECT *, unix_micros(arrival_ts) AS _u FROM {table} "
        "WHERE "
        f"{OFFERED_SQL}) AS p0 WHERE {{in_range}}) AS p1) AS p2 GROUP BY {{by}}_hour, _k) "
        "AS hours"
    )


@cache
def peak_hour(rank_by: str) -> Measure:
    name = f"peak_hour_erlangs_by_{rank_by}"
    return Measure(
        name,
        "Erlangs of the busiest hour (carried load, handle incl. wrap)",
        kind="sweep",
        unit="erlang",
        builder=lambda ctx: _sel(_peak(ctx, rank_by), ctx, name),
        tables=("contacts",),
        columns=("outcome", "talk_s", "hold_s", "acw_s"),
        text=f"Erlangs (handle s / 3600) of the busiest clock hour by {rank_by}",
        sql=_peak_sql(rank_by, "_erlangs"),
        sql_agg="max_by(_v, _rk)",
    )


@cache
def peak_hour_calls(rank_by: str) -> Measure:
    name = f"peak_hour_calls_by_{rank_by}"
    return Measure(
        name,
        "contacts offered in the busiest hour",
        kind="sweep",
        builder=lambda ctx: _sel(_peak(ctx, rank_by), ctx, name),
        tables=("contacts",),
        columns=("outcome",) if rank_by == "calls" else ("outcome", "talk_s", "hold_s", "acw_s"),
        text=f"contacts offered in the busiest clock hour by {rank_by}",
        sql=_peak_sql(rank_by, "_calls"),
        sql_agg="max_by(_v, _rk)",
    )


def _sel(lf: pl.LazyFrame | None, ctx: MeasureContext, name: str) -> pl.LazyFrame | None:
    return None if lf is None else lf.select(*ctx.by, "_bin", name)
