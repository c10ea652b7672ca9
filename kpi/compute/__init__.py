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

Unknown is never zero (``_known``). A measure whose inputs the data lack (a table, or a column
absent or null on every row) is null, never 0, and so is every KPI built on it, with one line in
:attr:`Result.notes` that says why and what data would enable it; :func:`availability` answers
the same question cheaply (schemas and null counts) for the layers above. Inside a table, a
group (a team, a half-hour) whose rows are all null in a column the measure reads is null too,
where that column's null is an unknown rather than a value (:attr:`kpi.schema.Column
.null_is_value`). A count of rows that exist is still a count, and a bin with no rows has 0 of a
sum whose inputs are known.

Modules: ``_context`` (the query, :class:`Context`), ``_known`` (what the data can support),
``_chunk`` (chunked evaluation), ``_spill`` (a chunked result on disk); this module runs the
two stages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from kpi.compute._chunk import evaluate_chunked
from kpi.compute._context import Context
from kpi.compute._known import (
    Availability,
    column_states,
    group_checks,
    kpi_availability,
    resolve_sources,
)
from kpi.compute._spill import Spill
from kpi.cube import Cube
from kpi.cube import find as find_cube
from kpi.data import Dataset
from kpi.engines import EngineContext, SqlEngine, offset_us, open_engine, unsupported
from kpi.errors import KpiError
from kpi.metrics import Build, Measure, Metric, Source, resolve
from kpi.periods import Period, check_grain, to_timestamp
from kpi.schema import ATTRIBUTIONS

__all__ = [
    "ATTRIBUTIONS",
    "DATASET_PARAMS",
    "Availability",
    "Context",
    "Result",
    "Spill",
    "availability",
    "compute",
    "dataset_params",
    "evaluate",
    "known_columns",
    "measure_frame",
]

_NO_ZERO_FILL = {"finance"}


def _aggregate(
    ctx: Context,
    needed: Mapping[str, Measure],
    engine: SqlEngine | None = None,
    cube: Cube | None = None,
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """One aggregation per (table, time column), stocks and sweeps, joined on ``by`` + ``_bin``.

    Returns the joined frame and the reason each unknown measure could not be computed (its
    column is null). A measure is null in a group whose rows are all null in a column it
    reads (:func:`~kpi.compute._known.group_checks`); an additive measure is 0 in a group with
    no rows of its table.
    """
    keys = [*ctx.by, "_bin"]
    chosen, missing, states = resolve_sources(ctx.ds, ctx.by, needed)
    if engine is not None:
        _check_engine(engine, ctx, dict(needed), chosen)
    groups: dict[tuple[str, str], list[tuple[str, Source]]] = defaultdict(list)
    frames: list[pl.LazyFrame] = []
    zero_fill: list[pl.Expr] = []
    helpers: list[str] = []
    for name, meas in needed.items():
        if name in missing:
            continue
        if meas.builder is not None:
            lf = _from_cube_builder(cube, ctx, meas) if cube else None
            if lf is None and engine is not None and meas.portable:  # rows asked of the engine
                lf = meas.builder(EngineContext(engine, ctx))
            elif lf is None and engine is not None:  # its SQL form (_check_engine: it has one)
                rows = ctx.frame(meas.tables[0])
                if rows is not None and meas.kind == "stock":  # flows there, levels here
                    lo = ctx.bins().select(pl.col("_start").min()).collect().item()
                    flows = engine.flows(
                        ctx.ds, rows, meas, by=ctx.by, every=ctx.every,
                        start=ctx.start, end=ctx.end, lo=lo, offset=ctx.offset,
                    )  # fmt: skip
                    lf = ctx.stock_from_flows(flows, meas.name)
                elif rows is not None:
                    lf = engine.stateful(
                        ctx.ds, rows, meas, by=ctx.by, every=ctx.every, start=ctx.start,
                        end=ctx.end, offset=ctx.offset, time_col=ctx.time_column(meas.tables[0]),
                    )  # fmt: skip
            elif lf is None:
                lf = meas.builder(ctx)
            if lf is None:
                missing[name] = "; ".join(ctx.notes.get(t, f"no {t} table") for t in meas.tables)
            else:
                frames.append(lf)
                if meas.kind == "sum":
                    zero_fill.append(pl.col(name).fill_null(0))
            continue
        src = chosen[name]
        assert src is not None
        groups[(src.table, src.time or ctx.time_column(src.table))].append((name, src))
    for i, ((table, time_col), items) in enumerate(groups.items()):
        lf = ctx.frame(table)
        assert lf is not None
        t = pl.col(time_col)
        checks = {name: group_checks(src, states) for name, src in items}
        cols = sorted({c for cs in checks.values() for c in cs})
        rows = f"__rows_{i}"
        aggs = [src.agg.alias(name) for name, src in items]
        if cols:
            aggs.append(pl.len().alias(rows))
            aggs += [(pl.col(c).count() > 0).alias(f"__known_{i}_{c}") for c in cols]
        known = {c: f"__known_{i}_{c}" for c in cols}
        frame = _from_cube(cube, ctx, table, time_col, items, rows, known) if cube else None
        if frame is None and engine is None:
            frame = lf.filter(ctx.in_range(t)).group_by([*ctx.by, ctx.bin(t)]).agg(aggs)
        elif frame is None:  # the row-level stage on DuckDB or Spark (kpi.engines)
            frame = engine.aggregate(
                ctx.ds, lf, table, time_col, items, cols, i,
                by=ctx.by, every=ctx.every, start=ctx.start, end=ctx.end, offset=ctx.offset,
            )  # fmt: skip
        if cols:
            frame = frame.with_columns(
                pl.when(pl.all_horizontal(pl.col(f"__known_{i}_{c}") for c in cs))
                .then(pl.col(name))
                .alias(name)
                for name, cs in checks.items()
                if cs
            ).drop(f"__known_{i}_{c}" for c in cols)
            helpers.append(rows)
        frames.append(frame)
        if table in _NO_ZERO_FILL:
            continue
        for name, _ in items:
            if needed[name].kind != "sum":
                continue
            if checks[name]:  # null with rows: unknown; no rows: 0
                zero_fill.append(
                    pl.when(pl.col(rows).is_null()).then(0).otherwise(pl.col(name)).alias(name)
                )
            else:
                zero_fill.append(pl.col(name).fill_null(0))
    if not frames:
        return pl.LazyFrame(schema=dict.fromkeys(keys, pl.Int32)), missing
    result = frames[0]
    for other in frames[1:]:
        result = result.join(other, on=keys, how="full", coalesce=True, nulls_equal=True)
    result = result.with_columns(*zero_fill, *[pl.lit(None, pl.Float64).alias(n) for n in missing])
    return (result.drop(helpers) if helpers else result), missing


def _check_engine(
    engine: SqlEngine, ctx: Context, needed: dict[str, Measure], chosen: Mapping[str, Any]
) -> None:
    """Refuse, naming the measures, what the SQL engine cannot run (see :mod:`kpi.engines`):
    measures without a SQL form, a bin offset in calendar units."""
    offset_us(ctx.offset)
    gone = unsupported(needed, dict(chosen))
    if gone:
        raise KpiError(
            f"engine {engine.name!r} cannot compute {'; '.join(gone)}: use engine='polars'"
        )


# ---- the cube (kpi.cube): stored additive measures, where they answer the query ---------------


def _cube_for(
    ds: Dataset, ctx: Context, params: Mapping[str, Any], *, cube: bool | None
) -> Cube | None:
    """The dataset's cube for this query: None with ``cube=False``, a bin offset or no fresh
    cube; ``cube=True`` builds a missing or stale one (defaults and the dataset's facts)."""
    if cube is False or ctx.offset is not None or ds.path is None:
        return None
    return find_cube(ds, build_missing=cube is True, params=dict(params))


def _from_cube(
    cube: Cube,
    ctx: Context,
    table: str,
    time_col: str,
    items: Sequence[tuple[str, Source]],
    rows: str,
    known: dict[str, str],
) -> pl.LazyFrame | None:
    """One (table, time column) aggregation rolled up from the cube, or None (read the rows)."""
    frame = cube.rollup(
        table, time_col, items, by=ctx.by, every=ctx.every, start=ctx.start, end=ctx.end,
        rows=rows, known=known,
    )  # fmt: skip
    return frame if frame is None or known else frame.drop(rows)


def _from_cube_builder(cube: Cube, ctx: Context, meas: Measure) -> pl.LazyFrame | None:
    """An exact builder measure (FCR's numerator, peak-hour traffic) from the cube, or None."""
    if meas.kind not in ("sum", "sweep") or not meas.tables or ctx.frame(meas.tables[0]) is None:
        return None
    time_col = ctx.time_column(meas.tables[0])
    return cube.rollup_builder(
        meas, time_col, by=ctx.by, every=ctx.every, start=ctx.start, end=ctx.end
    )


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
        KPI id to one plain line for each KPI null throughout: why (a table, a column or a
        dimension the data lack) and what data would enable it (``Availability.message``).
    keys
        The group columns (``by`` plus ``period``).
    metrics
        The KPI ids, in the order asked for.
    availability
        KPI id to its :class:`Availability` (every KPI asked for).
    units
        KPI id to the unit of its value under the variants in force
        (:meth:`kpi.metrics.Metric.unit_for`: CSAT as a mean is in points, not a ratio).
    spill
        With ``chunk``: a context manager that computes the chunks into a :class:`Spill` on
        disk and gives it (``with result.spill() as s: for batch in s.batches(): ...``), to
        write a result larger than memory batch by batch; removed on exit. Else None.
    """

    frame: pl.LazyFrame
    definitions: dict[str, str]
    params: dict[str, dict[str, Any]]
    notes: dict[str, str]
    keys: list[str]
    metrics: list[str]
    availability: dict[str, Availability] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    spill: Callable[[], AbstractContextManager[Spill]] | None = None

    def meta(self) -> dict[str, Any]:
        """Definitions, parameters and notes as plain data (for CLI and report output)."""
        out: dict[str, Any] = {"definitions": self.definitions, "params": self.params}
        if self.notes:
            out["notes"] = self.notes
        return out


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
    engine: Any = "polars",
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
    by, every, start, end, period, attribution, engine
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
    frame, missing = _aggregate(ctx, {m.name: m for m in measures}, open_engine(engine))
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
    engine: Any = "polars",
    cube: bool | None = None,
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
    >>> fixed = {"service_level.threshold_s": 20}  # one threshold (default: each queue's own)
    >>> r = evaluate({"contacts": contacts}, ["service_level"], by="team", params=fixed)
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
    resolved = resolve(metrics, dataset_params(ds, params))
    if not resolved:
        raise KpiError("no KPI asked for")
    builds: list[tuple[Metric, dict[str, Any], Build]] = [(m, p, m.build(p)) for m, p in resolved]
    lo, hi = _bounds(ds, start, end, period)
    ctx = Context(ds, by, every, lo, hi, attribution, bin_offset)
    needed: dict[str, Measure] = {}
    for _, _, b in builds:
        for meas in b.measures:
            needed.setdefault(meas.name, meas)
    sql_engine = open_engine(engine)
    if sql_engine is not None:
        _refuse_kpis(sql_engine, builds, ctx, needed, chunk)
    if chunk is not None:
        return evaluate_chunked(
            evaluate,
            ds,
            ctx,
            needed,
            chunk,
            progress=progress,
            metrics=metrics,
            params=params,
            measures=measures,
        )
    # a SQL engine reads the rows where the data is; the cube is polars' own store
    cube_here = _cube_for(ds, ctx, dataset_params(ds), cube=cube) if sql_engine is None else None
    frame, missing = _aggregate(ctx, needed, sql_engine, cube_here)
    notes, avail = _kpi_notes(builds, missing, by)
    present = [n for n in needed if n not in missing]
    result = _kpi_stage(frame, builds, notes, ctx, present, measures=measures)
    result.availability = avail
    return result


def _refuse_kpis(
    engine: SqlEngine,
    builds: Sequence[tuple[Metric, dict[str, Any], Build]],
    ctx: Context,
    needed: Mapping[str, Measure],
    chunk: str | None,
) -> None:
    """Name the KPIs a SQL engine cannot compute (their measures are polars-only)."""
    if chunk is not None:
        raise KpiError(f"chunk= is for the polars engine; engine {engine.name!r} needs none")
    chosen, _, _ = resolve_sources(ctx.ds, ctx.by, needed)
    gone = set(unsupported(dict(needed), chosen))
    bad = {
        m.id: [g for g in gone if g.split(" ")[0] in {x.name for x in b.measures}]
        for m, _, b in builds
    }
    bad = {k: v for k, v in bad.items() if v}
    if bad:
        raise KpiError(
            f"engine {engine.name!r} cannot compute "
            + "; ".join(f"{k} (needs {', '.join(v)})" for k, v in bad.items())
            + ": compute these with engine='polars'"
        )


def _check_by(ds: Dataset, by: tuple[str, ...]) -> None:
    twice = sorted({c for c in by if by.count(c) > 1})
    if twice:
        raise KpiError(f"--by names {twice[0]!r} twice; give each column once")
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
) -> tuple[dict[str, str], dict[str, Availability]]:
    """Each KPI's availability, and a note for each one null throughout; raise if all are."""
    avail = kpi_availability([(m.id, b) for m, _, b in builds], missing)
    notes = {k: a.message for k, a in avail.items() if not a.ok}
    if len(notes) == len(builds):
        first = builds[0][0].id
        raise KpiError(
            f"cannot compute {', '.join(notes)} from this data"
            + (f" by {', '.join(by)}" if by else "")
            + f": {avail[first].reason}; {first} needs {avail[first].needs}"
        )
    return notes, avail


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
        units={m.id: b.unit or m.unit for m, _, b in builds},
    )


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
    engine: Any = "polars",
    cube: bool | None = None,
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
        Dimension columns to group by (e.g. ``("team", "channel")``). A KPI whose table lacks
        one, or holds it null on every row, is unavailable (null, with the reason), and
        raises a KpiError when every KPI asked is.
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
        than memory. The frame is deferred: when it is collected or sunk, a small query reads
        the date range and the longest queue stay, then the chunks are collected one after
        another with the streaming engine, each written to a temporary directory as it is
        done and read back in order (``frame.sink_parquet(...)`` never holds the whole
        result; see ``Result.spill``). Each chunk re-plans and re-reads its own rows, so use
        chunks of millions of contacts (a month or a year), not days.
    progress
        With ``chunk``: True to print a line per chunk on standard error when the frame is
        collected, or a callable taking each message.
    engine
        Where the row-level stage runs: ``"polars"`` (default), ``"duckdb"``, ``"spark"``, or
        an open DuckDB connection or SparkSession (:mod:`kpi.engines`: Parquet datasets; the
        KPIs whose measures have a SQL form). The measure table comes back to polars for the
        KPI values; results are the same to 1e-9.
    cube
        The measure cube (:mod:`kpi.cube`): ``None`` (default) rolls measures up from the
        dataset directory's cube where it exists, is fresh and answers the query, and reads the
        rows for the rest (the values are the same); ``True`` also builds a missing or stale
        cube first; ``False`` always reads the rows.

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
        engine=engine,
        cube=cube,
    ).frame


#: Facts in ``dataset.json`` that set a definition variant unless the caller sets it.
DATASET_PARAMS = {"csat_scale_max": "csat.scale_max"}


def dataset_params(ds: Dataset, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``params`` with the variants the dataset itself states (a survey's scale), where the
    caller gave none: ``dataset.json`` ``csat_scale_max = 10`` means ``csat.scale_max = 10``.

    Examples
    --------
    >>> ds = Dataset({}, tz="UTC", meta={"csat_scale_max": 10})
    >>> dataset_params(ds), dataset_params(ds, {"csat.scale_max": 5})
    ({'csat.scale_max': 10}, {'csat.scale_max': 5})
    """
    out = dict(params or {})
    for fact, key in DATASET_PARAMS.items():
        metric, name = key.split(".")
        given = key in out or name in (out.get(metric) or {})
        if fact in ds.meta and not given:
            out[key] = ds.meta[fact]
    return out


def availability(
    data: Dataset | Mapping[str, Any] | str,
    metrics: str | Iterable[str | Metric] = "all",
    *,
    params: Mapping[str, Any] | None = None,
    by: Sequence[str] | str = (),
) -> dict[str, Availability]:
    """Which KPIs the data can support, why not, and what data would enable them.

    Cheap: table schemas and one null-count query per table (remembered on the dataset), no
    KPI is computed. The same rule as :func:`evaluate`, which leaves exactly these KPIs null
    throughout, so views and reports can leave out what they cannot compute, consistently.

    Parameters
    ----------
    data
        A :class:`~kpi.data.Dataset`, a mapping of table frames, or a dataset directory.
    metrics
        KPI ids, a comma-separated string, or ``"all"`` (default).
    params
        Definition variants, as for :func:`compute` (a variant may need other data).
    by
        Dimension columns the KPIs would be grouped by (a table without them is unusable).

    Returns
    -------
    dict[str, Availability]
        KPI id to ``Availability(ok, reason, needs)``, in the order asked for;
        ``Availability.line(label)`` is the one plain line to show in place of a section.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> t = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> intervals = pl.DataFrame(
    ...     {"interval_start": [t], "interval_s": [1800.0], "queue": ["q"], "offered": [12]}
    ... )
    >>> found = availability({"intervals": intervals}, "contacts_offered,aht,csat")
    >>> found["contacts_offered"].ok
    True
    >>> print(found["aht"].line("aht"))
    aht: unavailable: no contacts table; intervals has no talk_s values; intervals has no answered values; needs talk_s, hold_s, acw_s in contacts, or talk_s, hold_s, acw_s, answered in intervals
    >>> found["csat"].message
    'unavailable: no surveys table; needs csat in surveys'
    """
    ds = Dataset.coerce(data)
    by = (by,) if isinstance(by, str) else tuple(by)
    builds = [(m.id, m.build(p)) for m, p in resolve(metrics, dataset_params(ds, params))]
    needed = {meas.name: meas for _, b in builds for meas in b.measures}
    _, missing, _ = resolve_sources(ds, by, needed)
    return kpi_availability(builds, missing)


def known_columns(
    data: Dataset | Mapping[str, Any] | str, columns: Mapping[str, Iterable[str]]
) -> dict[str, dict[str, bool]]:
    """Whether each column has values (present, and not null on every row), by table.

    The same test :func:`availability` applies to a KPI's inputs, for analyses that read
    columns directly (staffing reads ``staffed_s`` of an interval report): a column that is
    not known must not be read as zeros. Tables the data lack are left out.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> t = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> intervals = pl.DataFrame(
    ...     {"interval_start": [t], "interval_s": [1800.0], "queue": ["q"], "offered": [12]}
    ... )
    >>> known_columns({"intervals": intervals}, {"intervals": ["offered", "staffed_s"]})
    {'intervals': {'offered': True, 'staffed_s': False}}
    """
    ds = Dataset.coerce(data)
    states = column_states(ds, {t: list(cols) for t, cols in columns.items()})
    return {
        t: {c: s not in ("absent", "empty") for c, s in cs.items()} for t, cs in states.items()
    }
