"""Compute any set of KPIs at any grain and by any dimension, lazily, in one pass per table.

``compute(data, metrics, by=..., every=...)`` returns a LazyFrame with one row per group: the
group columns, ``period`` (the local start of each bin, when ``every`` is given), one column per
KPI id, then the measures behind them. Every KPI comes from measures aggregated from rows at the
grain asked for (sums, counts, maxima, distinct counts, statistics), so a monthly value is never
an average of daily values. :func:`evaluate` returns the same frame with the definitions used.

This module is the polars engine of the semantic layer (:mod:`kpi.metrics`), in two stages:

1. The measure stage, :func:`measure_frame`: each measure's rows filtered to the range, grouped
   by the dimensions and the time bin (``_bin``) and aggregated, one query per (table, time
   column), the tables' results joined. Its output, additive measures keyed by dimensions and
   bin, is engine-neutral data: what a cached cube stores and another engine must reproduce.
2. The KPI stage: each KPI's value expression (``Build.value_expr``, e.g. numerator /
   denominator) over those measure columns, plus the definitions, parameters and notes.

What is declared where: each table's time column in :func:`kpi.schema.time_column`; each
measure's table, row aggregation and kind in :class:`kpi.metrics.Measure`; what builder measures
may ask of the engine in :class:`kpi.metrics.MeasureContext`, which :class:`Context` implements.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from kpi._progress import reporter
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import Build, Measure, Metric, Source, resolve
from kpi.periods import Period, bin_expr, check_grain, to_timestamp
from kpi.schema import ATTRIBUTIONS, attribution_expr, time_column, time_expr

__all__ = ["ATTRIBUTIONS", "Context", "Result", "compute", "evaluate", "measure_frame"]

_CALENDAR = (
    ("contacts", "arrival_ts"),
    ("agent_time", "interval_start"),
    ("intervals", "interval_start"),
    ("tickets", "created_ts"),
    ("tickets", "solved_ts"),
)
_NO_ZERO_FILL = {"finance"}


@dataclass
class Context:
    """The polars engine's query: the dataset, groups, grain and range.

    It implements :class:`kpi.metrics.MeasureContext`, what builder measures are typed
    against. Row measures are grouped by ``by`` and ``_bin`` (the bin start, or a constant when
    ``every`` is None); stock and sweep builders return frames with the same keys.

    Examples
    --------
    >>> from kpi.data import Dataset
    >>> ctx = Context(Dataset({}), ("team",), "1d", None, None, attribution="answer")
    >>> ctx.time_column("contacts"), ctx.time_column("finance")
    ('_answer_ts', '_period_ts')
    """

    ds: Dataset
    by: tuple[str, ...]
    every: str | None
    start: datetime | None
    end: datetime | None
    attribution: str = "arrival"
    offset: str | None = None
    notes: dict[str, str] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def tz(self) -> str:
        """The dataset's site time zone."""
        return self.ds.tz

    def frame(self, table: str) -> pl.LazyFrame | None:
        """The table with derived time columns, or None when absent or lacking a ``by`` column."""
        if table not in self.ds:
            self.notes.setdefault(table, f"no {table} table in the data")
            return None
        lf = self.ds[table]
        names = lf.collect_schema().names()
        missing = [c for c in self.by if c not in names]
        if missing:
            self.notes.setdefault(table, f"{table} has no column {', '.join(map(repr, missing))}")
            return None
        derived = time_expr(table, tz=self.tz, attribution=self.attribution)
        return lf if derived is None else lf.with_columns(derived)

    def time_column(self, table: str) -> str:
        """The default time column that places rows of ``table`` in bins."""
        col = time_column(table, attribution=self.attribution)
        if col is None:
            raise KpiError(f"table {table} has no time column")
        return col

    def bin(self, ts: pl.Expr) -> pl.Expr:
        """The ``_bin`` key of each time stamp."""
        if self.every is None:
            return pl.lit(0, pl.Int32).alias("_bin")
        return bin_expr(ts, self.every, offset=self.offset).alias("_bin")

    def in_range(self, ts: pl.Expr) -> pl.Expr:
        """``start <= ts < end`` for the bounds given."""
        cond = ts.is_not_null()
        if self.start is not None:
            cond = cond & (ts >= pl.lit(self.start).dt.convert_time_zone(self.tz))
        if self.end is not None:
            cond = cond & (ts < pl.lit(self.end).dt.convert_time_zone(self.tz))
        return cond

    def _span(self) -> pl.LazyFrame | None:
        """First and last time stamp over the activity tables (``_lo``, ``_hi``)."""
        parts = [
            self.ds[table].select(pl.col(col).min().alias("_lo"), pl.col(col).max().alias("_hi"))
            for table, col in _CALENDAR
            if table in self.ds
        ]
        if not parts:
            return None
        dtype = pl.Datetime("us", self.tz)
        parts = [p.with_columns(pl.all().dt.convert_time_zone(self.tz).cast(dtype)) for p in parts]
        return pl.concat(parts).select(pl.col("_lo").min(), pl.col("_hi").max())

    def bins(self) -> pl.LazyFrame:
        """Every bin of the range: ``_bin`` key, ``_start`` and ``_end`` (exclusive) stamps."""
        if "bins" in self._memo:
            return self._memo["bins"]
        dtype = pl.Datetime("us", self.tz)
        span = self._span()
        if span is None:
            if self.start is None or self.end is None:
                raise KpiError(
                    "cannot tell the date range: give start and end, or data with time stamps"
                )
            span = pl.LazyFrame(
                {"_lo": [None], "_hi": [None]}, schema={"_lo": dtype, "_hi": dtype}
            )
        lo = pl.lit(self.start).cast(dtype) if self.start else pl.col("_lo")
        hi = (
            pl.lit(self.end).cast(dtype)
            if self.end
            else pl.col("_hi") + pl.duration(microseconds=1)
        )
        span = span.select(lo.alias("_start"), hi.alias("_end"))
        if self.every is None:
            out = span.select(pl.lit(0, pl.Int32).alias("_bin"), "_start", "_end")
        else:
            first = bin_expr(pl.col("_start"), self.every, offset=self.offset)
            last = pl.col("_end") - pl.duration(microseconds=1)
            start = pl.lit(self.start).cast(dtype) if self.start else None
            end = pl.lit(self.end).cast(dtype) if self.end else None
            step = pl.col("_bin").dt.offset_by(self.every)
            out = span.select(
                pl.datetime_range(first.first(), last.first(), self.every).alias("_bin")
            ).select(
                "_bin",
                (pl.max_horizontal("_bin", start) if start is not None else pl.col("_bin")).alias(
                    "_start"
                ),
                (pl.min_horizontal(step, end) if end is not None else step).alias("_end"),
            )
        self._memo["bins"] = out
        return out

    def stock_from_flows(self, flows: pl.LazyFrame, name: str) -> pl.LazyFrame:
        """Level at the end of each bin from +1/-1 flows (columns ``by``, ``_t``, ``_d``)."""
        keys = [*self.by, "_bin"]
        lo = self.bins().select(pl.col("_start").min().alias("_lo"))
        flows = flows.join(lo, how="cross")
        before = pl.col("_t") < pl.col("_lo")
        inb = (
            flows.filter(self.in_range(pl.col("_t")) & ~before)
            .group_by([*self.by, self.bin(pl.col("_t"))])
            .agg(pl.col("_d").sum().alias("_net"))
        )
        groups = flows.select(*self.by).unique() if self.by else pl.LazyFrame({"_one": [1]})
        grid = groups.join(self.bins().select("_bin"), how="cross")
        if not self.by:
            grid = grid.drop("_one")
        grid = grid.join(inb, on=keys, how="left", nulls_equal=True).with_columns(
            pl.col("_net").fill_null(0)
        )
        cum = pl.col("_net").cum_sum()
        level = grid.sort("_bin").with_columns(
            (cum.over(partition_by=list(self.by), order_by="_bin") if self.by else cum).alias(
                "_cum"
            )
        )
        pre = flows.filter(before & pl.col("_t").is_not_null())
        if self.by:
            pre = pre.group_by(list(self.by)).agg(pl.col("_d").sum().alias("_pre"))
            level = level.join(pre, on=list(self.by), how="left", nulls_equal=True)
        else:
            level = level.join(pre.select(pl.col("_d").sum().alias("_pre")), how="cross")
        level = level.with_columns((pl.col("_cum") + pl.col("_pre").fill_null(0)).alias("_cum"))
        return level.select(*keys, pl.col("_cum").cast(pl.Int64).alias(name))

    def memo(self, key: Any, make: Any) -> Any:
        """Build once per compute call (shared sub-plans of several measures)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


@dataclass
class Result:
    """A computed KPI table with the definitions that produced it.

    Attributes
    ----------
    frame
        LazyFrame: group columns, ``period`` (with ``every``), KPI columns, measure columns.
    definitions
        KPI id to formula text under the variants in force.
    params
        KPI id to the full set of variant values in force (defaults included).
    notes
        KPI id to the reason it is null throughout (a table or dimension the data lack).
    keys
        The group columns (``by`` plus ``period``).
    """

    frame: pl.LazyFrame
    definitions: dict[str, str]
    params: dict[str, dict[str, Any]]
    notes: dict[str, str]
    keys: list[str]
    metrics: list[str]

    def meta(self) -> dict[str, Any]:
        """Definitions, parameters and notes as plain data (for CLI and report output)."""
        out: dict[str, Any] = {"definitions": self.definitions, "params": self.params}
        if self.notes:
            out["notes"] = self.notes
        return out


def _source_for(measure: Measure, ctx: Context) -> tuple[Source | None, str]:
    reasons = []
    for src in measure.sources:
        if src.table not in ctx.ds:
            reasons.append(f"no {src.table} table")
            continue
        names = ctx.ds[src.table].collect_schema().names()
        missing = [c for c in ctx.by if c not in names]
        if missing:
            reasons.append(f"{src.table} has no column {', '.join(map(repr, missing))}")
            continue
        bad = {k: v for k, v in src.meta.items() if ctx.ds.meta.get(k) != v}
        if bad:
            reasons.append(
                f"{src.table} was reported with "
                + ", ".join(f"{k}={ctx.ds.meta.get(k)!r}" for k in bad)
                + " but the definition needs "
                + ", ".join(f"{k}={v!r}" for k, v in bad.items())
            )
            continue
        return src, ""
    return None, "; ".join(reasons) or "no source"


def _aggregate(ctx: Context, needed: Mapping[str, Measure]) -> tuple[pl.LazyFrame, dict[str, str]]:
    """One aggregation per (table, time column), stocks and sweeps, joined on ``by`` + ``_bin``.

    Returns the joined frame (missing measures as null columns, additive counts with no rows as
    0) and the reason each missing measure could not be computed.
    """
    keys = [*ctx.by, "_bin"]
    groups: dict[tuple[str, str], list[tuple[str, Source]]] = defaultdict(list)
    frames: list[pl.LazyFrame] = []
    missing: dict[str, str] = {}
    zero_fill: list[str] = []
    for name, meas in needed.items():
        if meas.builder is not None:
            lf = meas.builder(ctx)
            if lf is None:
                missing[name] = "; ".join(ctx.notes.get(t, f"no {t} table") for t in meas.tables)
            else:
                frames.append(lf)
                if meas.kind == "sum":
                    zero_fill.append(name)
            continue
        src, why = _source_for(meas, ctx)
        if src is None:
            missing[name] = why
            continue
        groups[(src.table, src.time or ctx.time_column(src.table))].append((name, src))
        if meas.kind == "sum" and src.table not in _NO_ZERO_FILL:
            zero_fill.append(name)
    for (table, time_col), items in groups.items():
        lf = ctx.frame(table)
        assert lf is not None
        t = pl.col(time_col)
        frames.append(
            lf.filter(ctx.in_range(t))
            .group_by([*ctx.by, ctx.bin(t)])
            .agg([src.agg.alias(name) for name, src in items])
        )
    if not frames:
        return pl.LazyFrame(schema=dict.fromkeys(keys, pl.Int32)), missing
    result = frames[0]
    for other in frames[1:]:
        result = result.join(other, on=keys, how="full", coalesce=True, nulls_equal=True)
    result = result.with_columns(
        *[pl.col(n).fill_null(0) for n in zero_fill],
        *[pl.lit(None, pl.Float64).alias(n) for n in missing],
    )
    return result, missing


def _bounds(
    ds: Dataset,
    start: str | date | datetime | None,
    end: str | date | datetime | None,
    period: Period | None,
) -> tuple[datetime | None, datetime | None]:
    """The range as time-zone-aware ``[start, end)`` from either ``period`` or ``start``/``end``."""
    if period is None:
        return to_timestamp(start, ds.tz), to_timestamp(end, ds.tz, end=True)
    if start is not None or end is not None:
        raise KpiError(
            "give either period= or start=/end=, not both "
            f"(period {period.label} is {period.start} to {period.end}, end excluded)"
        )
    return period.start_ts(ds.tz), period.end_ts(ds.tz)


def _check_attribution(attribution: str) -> None:
    if attribution not in ATTRIBUTIONS:
        raise KpiError(f"unknown attribution {attribution!r}; valid: {', '.join(ATTRIBUTIONS)}")


def measure_frame(
    data: Dataset | Mapping[str, Any] | str,
    measures: Iterable[Measure],
    *,
    by: Sequence[str] | str = (),
    every: str | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    period: Period | None = None,
    attribution: str = "arrival",
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """Aggregate measures directly: the measure stage of the engine, without KPI values.

    Each measure's rows in the range are grouped by ``by`` and the time bin and aggregated.
    Additive (``sum``) measures in this frame are what a cube of measures by time bin and
    dimensions stores: any coarser grain or subset of dimensions is their sum, and every ratio
    KPI is computed from them (:class:`kpi.metrics.Build`). Non-additive measures (maxima,
    statistics, distinct counts, stocks, sweeps) are exact only at the grain asked for.

    Parameters
    ----------
    data
        A :class:`~kpi.data.Dataset`, a mapping of table frames, or a dataset directory.
    measures
        The measures (e.g. ``Build.measures``, or ``kpi.metrics.factories.answered()``).
    by, every, start, end, period, attribution
        As for :func:`compute`.

    Returns
    -------
    tuple[pl.LazyFrame, dict[str, str]]
        The frame (``by``, ``period`` with ``every``, one column per measure) and the reason
        for each measure the data cannot support (its column is null).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> from kpi.metrics import factories
    >>> t = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> contacts = pl.DataFrame(
    ...     {"arrival_ts": [t, t], "outcome": ["answered", "flowout"], "team": ["A", "B"]}
    ... )
    >>> frame, missing = measure_frame(
    ...     {"contacts": contacts}, [factories.answered(), factories.offered()], by="team"
    ... )
    >>> frame.sort("team").collect().rows(), missing
    ([('A', 1, 1), ('B', 0, 1)], {})
    """
    ds = Dataset.coerce(data)
    _check_attribution(attribution)
    by = (by,) if isinstance(by, str) else tuple(by)
    lo, hi = _bounds(ds, start, end, period)
    ctx = Context(ds, by, check_grain(every), lo, hi, attribution)
    frame, missing = _aggregate(ctx, {m.name: m for m in measures})
    frame = frame.rename({"_bin": "period"}) if every else frame.drop("_bin")
    return frame, missing


def evaluate(
    data: Dataset | Mapping[str, Any] | str,
    metrics: str | Iterable[str | Metric],
    *,
    by: Sequence[str] | str = (),
    every: str | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    period: Period | None = None,
    params: Mapping[str, Any] | None = None,
    attribution: str = "arrival",
    bin_offset: str | None = None,
    measures: bool = True,
    chunk: str | None = None,
    progress: bool | Callable[[str], None] = False,
) -> Result:
    """Like :func:`compute`, also returning definitions, parameters and notes.

    ``period=`` takes a :class:`~kpi.periods.Period` (half-open: its end is excluded), so
    ``period=p`` is the same range as ``start=p.start, end=p.end - timedelta(days=1)``.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> t = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> contacts = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t, t, t],
    ...         "outcome": ["answered", "answered", "abandoned_queue"],
    ...         "wait_s": [10.0, 40.0, 25.0],
    ...         "team": ["A", "A", "B"],
    ...     }
    ... )
    >>> r = evaluate({"contacts": contacts}, ["service_level"], by="team")
    >>> r.definitions
    {'service_level': 'SL = answered ≤ 20 s / (answered + abandoned)'}
    >>> r.frame.collect()
    shape: (2, 4)
    ┌──────┬───────────────┬─────────────────────┬─────────────────────────┐
    │ team ┆ service_level ┆ answered_within_20s ┆ answered_plus_abandoned │
    │ ---  ┆ ---           ┆ ---                 ┆ ---                     │
    │ str  ┆ f64           ┆ i64                 ┆ i64                     │
    ╞══════╪═══════════════╪═════════════════════╪═════════════════════════╡
    │ A    ┆ 0.5           ┆ 1                   ┆ 2                       │
    │ B    ┆ 0.0           ┆ 0                   ┆ 1                       │
    └──────┴───────────────┴─────────────────────┴─────────────────────────┘
    >>> from kpi.periods import parse_period
    >>> r = evaluate({"contacts": contacts}, "service_level", period=parse_period("2026-01"))
    >>> r.frame.collect()["service_level"].to_list()
    [0.3333333333333333]
    """
    ds = Dataset.coerce(data)
    by = (by,) if isinstance(by, str) else tuple(by)
    every = check_grain(every)
    _check_attribution(attribution)
    _check_by(ds, by)
    resolved = resolve(metrics, params)
    if not resolved:
        raise KpiError("no KPI asked for")
    builds: list[tuple[Metric, dict[str, Any], Build]] = [(m, p, m.build(p)) for m, p in resolved]
    lo, hi = _bounds(ds, start, end, period)
    ctx = Context(ds, by, every, lo, hi, attribution, bin_offset)
    needed: dict[str, Measure] = {}
    for _, _, b in builds:
        for meas in b.measures:
            needed.setdefault(meas.name, meas)
    if chunk is not None:
        return _evaluate_chunked(
            ds,
            ctx,
            needed,
            chunk,
            progress=progress,
            metrics=metrics,
            params=params,
            measures=measures,
        )
    frame, missing = _aggregate(ctx, needed)
    notes = _kpi_notes(builds, missing, by)
    present = [n for n in needed if n not in missing]
    return _kpi_stage(frame, builds, notes, ctx, present, measures=measures)


def _check_by(ds: Dataset, by: tuple[str, ...]) -> None:
    all_cols = sorted({c for lf in ds.tables.values() for c in lf.collect_schema().names()})
    for col in by:
        if col not in all_cols:
            raise KpiError(
                f"unknown column {col!r} for --by; columns in the data: {', '.join(all_cols)}"
            )


def _kpi_notes(
    builds: Sequence[tuple[Metric, dict[str, Any], Build]],
    missing: Mapping[str, str],
    by: tuple[str, ...],
) -> dict[str, str]:
    """Why each KPI is null throughout (a measure it needs is missing); raise if all are."""
    notes: dict[str, str] = {}
    for m, _, b in builds:
        gone = [missing[x.name] for x in b.measures if x.name in missing]
        if gone:
            notes[m.id] = "; ".join(dict.fromkeys(gone))
    if len(notes) == len(builds):
        first = builds[0][0].id
        raise KpiError(
            f"cannot compute {', '.join(notes)} from this data"
            + (f" by {', '.join(by)}" if by else "")
            + f": {notes[first]}"
        )
    return notes


def _kpi_stage(
    frame: pl.LazyFrame,
    builds: Sequence[tuple[Metric, dict[str, Any], Build]],
    notes: dict[str, str],
    ctx: Context,
    present: list[str],
    *,
    measures: bool,
) -> Result:
    """KPI values from the measure columns, ordered and sorted, with their definitions."""
    by, every = ctx.by, ctx.every
    values = [
        pl.lit(None, pl.Float64).alias(m.id) if m.id in notes else b.value_expr().alias(m.id)
        for m, _, b in builds
    ]
    result = frame.with_columns(values)
    period = ["period"] if every else []
    result = result.rename({"_bin": "period"}) if every else result.drop("_bin")
    out_cols = [*by, *period, *(m.id for m, _, _ in builds)]
    if measures:
        out_cols += [n for n in present if n not in out_cols]
    result = result.select(out_cols).sort([*by, *period], nulls_last=True)
    return Result(
        frame=result,
        definitions={m.id: b.formula for m, _, b in builds},
        params={m.id: p for m, p, _ in builds},
        notes=notes,
        keys=[*by, *period],
        metrics=[m.id for m, _, _ in builds],
    )


def _chunk_plan(
    ctx: Context, chunk: str, lookahead: timedelta
) -> tuple[list[tuple[datetime | None, datetime | None]], Any]:
    """Chunk bounds (unions of whole bins) and the contacts a chunk must read, as a function.

    One small query: the bins of the range and, over contacts, how far a contact's queue exit
    or attribution time can lie after its arrival (``back``) and its queue entry or
    attribution time before it (``ahead``). They bound, by arrival time, the contacts a chunk
    needs, so a Parquet file sorted by arrival is read by row groups.
    """
    queries = [
        ctx.bins()
        .with_columns(pl.col("_bin").dt.truncate(chunk).alias("_chunk"))
        .group_by("_chunk")
        .agg(pl.col("_start").min(), pl.col("_end").max())
        .drop_nulls()
        .sort("_chunk")
    ]
    contacts = ctx.ds.tables.get("contacts")
    a, q = pl.col("arrival_ts"), pl.col("queue_ts")
    leave = q + pl.duration(microseconds=(pl.col("wait_s") * 1e6).cast(pl.Int64))
    placed = attribution_expr(ctx.attribution)
    if contacts is not None:
        queries.append(
            contacts.select(
                (pl.max_horizontal(leave, placed) - a).max().alias("back"),
                pl.max_horizontal(a - q, a - placed).max().alias("ahead"),
            )
        )
    found = pl.collect_all(queries)
    edges = list(found[0].select("_start", "_end").iter_rows())
    if contacts is None:
        return edges, None
    zero = timedelta(0)
    back, ahead = (max(v or zero, zero) for v in found[1].row(0))

    def needs(lo: datetime | None, hi: datetime | None) -> pl.Expr:
        def within(ts: pl.Expr, lo: datetime | None, hi: datetime | None) -> pl.Expr:
            cond = pl.lit(True)
            if lo is not None:
                cond = cond & (ts >= lo)
            if hi is not None:
                cond = cond & (ts < hi)
            return cond

        ahead_end = None if hi is None else hi + lookahead
        exact = (
            within(a, lo, ahead_end)  # in the chunk, or a later contact that decides FCR
            | within(placed, lo, hi)  # attributed to the chunk
            | within(q, None, hi) & within(leave, lo, None)  # in queue during the chunk
        )
        near = within(
            a, None if lo is None else lo - back, None if hi is None else hi + lookahead + ahead
        )
        # ``near`` is implied by ``exact``; it is stated on arrival alone so that Parquet
        # statistics can skip row groups of a file sorted by arrival
        return (a.is_null() | near) & exact.fill_null(False)

    return edges, needs


def _day(ts: datetime | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00")


def _evaluate_chunked(
    ds: Dataset,
    ctx: Context,
    needed: Mapping[str, Measure],
    chunk: str,
    *,
    progress: bool | Callable[[str], None],
    **kwargs: Any,
) -> Result:
    """:func:`evaluate` chunk by chunk of whole bins, the results concatenated.

    The frame is deferred (:func:`polars.defer`): planning the chunks and collecting them one
    after another (streaming engine) happen when it is collected, so only one chunk's state is
    held at a time. A union of the chunks' plans would let the engine run them together.
    """
    check_grain(chunk)
    if ctx.every is None:
        raise KpiError(
            "chunk needs every: chunks are unions of whole bins, and a value over the whole "
            "range (a distinct count, a maximum) cannot be put together from chunks"
        )
    lookahead = timedelta(days=max((m.lookahead_days for m in needed.values()), default=0))
    common = {
        "by": ctx.by,
        "every": ctx.every,
        "attribution": ctx.attribution,
        "bin_offset": ctx.offset,
        **kwargs,
    }
    whole = evaluate(ds, start=ctx.start, end=ctx.end, **common)
    report = reporter(progress, "kpi compute") or (lambda msg: None)

    def run() -> pl.DataFrame:
        began = time.perf_counter()
        edges, needs = _chunk_plan(ctx, chunk, lookahead)
        report(f"{len(edges)} chunks of {chunk} planned in {time.perf_counter() - began:.1f} s")
        if not edges:  # no bins: the plain evaluation gives the (empty) frame
            return whole.frame.collect(engine="streaming")
        # the first and last chunks are open-ended like the whole range (events after the
        # last arrival, such as queue exits or completions, stay in)
        edges[0] = (ctx.start, edges[0][1])
        edges[-1] = (edges[-1][0], ctx.end)
        parts = []
        for i, (lo, hi) in enumerate(edges, 1):
            t = time.perf_counter()
            part = ds
            if needs is not None:
                part = ds.replace(contacts=ds.tables["contacts"].filter(needs(lo, hi)))
            frame = evaluate(part, start=lo, end=hi, **common).frame
            parts.append(frame.collect(engine="streaming"))
            span = f"{_day(lo) or 'start'} to {_day(hi) or 'end'}"
            report(f"chunk {i} of {len(edges)} ({span}) in {time.perf_counter() - t:.1f} s")
        return pl.concat(parts, how="vertical_relaxed").sort(whole.keys, nulls_last=True)

    return replace(whole, frame=pl.defer(run, schema=whole.frame.collect_schema()))


def compute(
    data: Dataset | Mapping[str, Any] | str,
    metrics: str | Iterable[str | Metric],
    *,
    by: Sequence[str] | str = (),
    every: str | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    period: Period | None = None,
    params: Mapping[str, Any] | None = None,
    attribution: str = "arrival",
    bin_offset: str | None = None,
    measures: bool = True,
    chunk: str | None = None,
    progress: bool | Callable[[str], None] = False,
) -> pl.LazyFrame:
    """Compute KPIs lazily: one row per group with KPI values and the measures behind them.

    Parameters
    ----------
    data
        A :class:`~kpi.data.Dataset`, a mapping of table name to (Lazy)DataFrame, or a dataset
        directory.
    metrics
        KPI ids (see ``kpi metrics``), a comma-separated string, or ``"all"``.
    by
        Dimension columns to group by (e.g. ``("team", "channel")``).
    every
        Grain: ``15m``, ``30m``, ``1h``, ``1d``, ``1w``, ``1mo``, ``1q``, ``1y``; bins are in the
        site's local time (DST-correct). ``None``: one row per group for the whole range.
    start, end
        Range of time stamps. ``start`` is inclusive; ``end`` is inclusive when it is a date or
        period (``2026-01-31``, ``2026-01``) and exclusive when it is a date-time.
    period
        The range as a :class:`~kpi.periods.Period` (``[start, end)`` in local dates, end
        excluded), instead of ``start`` and ``end``; giving both raises a KpiError.
    params
        Definition variants, ``{"service_level.threshold_s": 30}`` or nested by KPI id.
    attribution
        Which contact time places a contact in a bin: ``arrival`` (default), ``answer`` (answer
        time, or abandon time) or ``completion`` (end of after-call work).
    bin_offset
        Shift bin edges, e.g. ``"6h"`` for days that start at 06:00.
    measures
        Include the measure columns after the KPI columns.
    chunk
        Evaluate chunk by chunk (a grain such as ``"1mo"`` or ``"1y"``; needs ``every``): each
        chunk is the bins whose start falls in one period of ``chunk``, and reads only the
        contacts that can matter to it (arriving in it, or up to FCR's window after it; waiting
        in queue or attributed to it). Values are identical; peak memory is bounded by the
        largest chunk instead of the whole range, so the streaming engine can take files larger
        than memory. The frame is deferred: when it is collected, a small query reads the date
        range and the longest queue stay, then the chunks are collected one after another
        with the streaming engine. Each chunk re-plans and re-reads its own rows, so use
        chunks of millions of contacts (a month or a year), not days.
    progress
        With ``chunk``: True to print a line per chunk on standard error when the frame is
        collected, or a callable taking each message.

    Returns
    -------
    pl.LazyFrame
        Group columns, ``period`` (with ``every``), one Float64 column per KPI (null where a
        denominator is zero or the data cannot support the KPI), then the measures.

    Notes
    -----
    Ratio KPIs are ``Σ numerator / Σ denominator`` over the rows of each group and bin, so any
    roll-up is exact. Use :func:`evaluate` for the definitions in force.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> t = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> contacts = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t, t],
    ...         "outcome": ["answered", "answered"],
    ...         "talk_s": [100.0, 200.0],
    ...         "hold_s": [0.0, 30.0],
    ...         "acw_s": [20.0, 10.0],
    ...     }
    ... )
    >>> compute({"contacts": contacts}, "aht,contacts_handled", measures=False).collect()
    shape: (1, 2)
    ┌───────┬──────────────────┐
    │ aht   ┆ contacts_handled │
    │ ---   ┆ ---              │
    │ f64   ┆ f64              │
    ╞═══════╪══════════════════╡
    │ 180.0 ┆ 2.0              │
    └───────┴──────────────────┘
    """
    return evaluate(
        data,
        metrics,
        by=by,
        every=every,
        start=start,
        end=end,
        period=period,
        params=params,
        attribution=attribution,
        bin_offset=bin_offset,
        measures=measures,
        chunk=chunk,
        progress=progress,
    ).frame
