"""The same KPI declarations on other engines: DuckDB and Apache Spark (the row-level stage).

:func:`kpi.compute.evaluate` (and ``compute``, ``measure_frame``) take ``engine=``:
``"polars"`` (the default, unchanged), ``"duckdb"``, ``"spark"``, or an open
``duckdb.DuckDBPyConnection`` or ``pyspark.sql.SparkSession``. With another engine, the
row-level stage runs there: for each (table, time column), one SQL query reads the table's
Parquet file, filters the range, places each row in its local-time bin, groups by the
dimensions and the bin and computes every measure's aggregate. Only that small table of measures
by group and bin comes back to polars, where :mod:`kpi.compute` joins the tables, applies the
unknown-is-never-zero rules and computes the KPIs exactly as it does for polars.

Design (why SQL text, not narwhals)
-----------------------------------
Each row source declares its aggregation twice, written by the same factory from the same
arguments: as the polars expression (untouched, so the polars path is as fast as before) and
as one SQL aggregate (:attr:`kpi.metrics.Source.sql`) in the dialect DuckDB and Spark SQL share.
narwhals was the other candidate; it was not chosen because

- its lazy group-by accepts only elementary aggregations (``col.sum()``), so every measure
  would become a flag column plus a sum, a third form of each declaration to keep in step;
- its known gaps (local time zones, 15-minute truncation) are exactly the hard part, and they
  are solved here engine-neutrally anyway: the site's UTC offsets are shipped into the query as
  integer constants (:mod:`kpi.engines._time`), so DuckDB and Spark bin in the site's local time
  with arithmetic on epoch microseconds, independent of any session time zone;
- SQL is what a warehouse runs, and the same strings serve the dbt MetricFlow export
  (:func:`metricflow_yaml`).

The cost is two forms per row measure; the parity suite (``tests/test_engines.py``) holds every
pair to the same numbers (1e-9 relative, nulls equal) on polars, DuckDB and Spark.

What runs where: every KPI of the catalogue, under every variant, attribution and fixed bin
offset. The row measures with a SQL form: the contact and ACD-interval measures (sums,
distinct counts, maxima), the plain sums and counts of tickets, agent time, surveys, agent
surveys, QA evaluations and coaching, the ticket medians, means and p90s (exact
``percentile_cont``), and finance (placed at local midnight of ``period_start``:
:func:`~kpi.engines._time.local_midnight_sql`). The builder measures with one
(:attr:`kpi.metrics.Measure.sql`): FCR's repeat test (``LEAD`` over the whole contacts table),
the queue sweep ``max_in_queue`` (a running sum over entry and exit events) and the busiest
hour (per local clock hour and bin, then ``max_by`` per bin), run by :meth:`SqlEngine.stateful`,
and the backlog, whose flows the engine sums (:meth:`SqlEngine.flows`) and polars levels. The
``portable`` builders (:attr:`kpi.metrics.Measure.portable`) run their polars code on what
:class:`EngineContext` asks of the engine: the customer and agent rosters on the roster
compacted to one row per distinct (groups, start date, end date) with its count
(:meth:`SqlEngine.compact`), and forecast accuracy on the small stored forecasts table (read by
polars) and the contacts offered per forecast interval and group and the last contact stamp,
both aggregated by the engine. Contacts are placed by ``attribution=`` (``answer`` and
``completion`` stamps derived in SQL as :func:`kpi.schema.attribution_expr` derives them,
after-call work truncated to the microsecond); ``bin_offset=`` in fixed units (``us`` to ``h``,
e.g. ``"6h"``) bins each stamp less the offset and polars shifts the bin start back, as
:func:`kpi.periods.bin_expr` does; an offset in calendar units (``d``, ``w``, ``mo``, ...) is
refused in one line (:func:`offset_us`), and so is a measure without a SQL form
(:func:`unsupported`), and ``chunk=`` (the engine is the way past one machine). On DuckDB the
engine defines a temporary macro ``unix_micros`` (Spark's name for epoch microseconds) on the
connection, so every SQL form is written once.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from kpi.data import Dataset
from kpi.engines._metricflow import metricflow_yaml
from kpi.engines._time import (
    FIXED,
    bin_sql,
    bin_to_polars,
    epoch_us,
    local_midnight_sql,
    local_stamp,
    offset_sql,
    uneven,
)
from kpi.errors import KpiError
from kpi.metrics import Measure, Source
from kpi.schema import time_column

__all__ = [
    "ENGINES",
    "EngineContext",
    "SqlEngine",
    "metricflow_yaml",
    "offset_us",
    "open_engine",
    "unsupported",
]

#: The engine names ``engine=`` and ``kpi compute --engine`` accept.
ENGINES = ("polars", "duckdb", "spark")

_DIALECTS: dict[str, dict[str, str]] = {
    "duckdb": {
        "epoch_us": "epoch_us({})",
        "quote": '"{}"',
        "from_day": "(DATE '1970-01-01' + CAST({} AS INTEGER))",
        "to_day": "CAST(date_diff('day', DATE '1970-01-01', {}) AS BIGINT)",
        "trunc_month": "CAST(date_trunc('month', {}) AS DATE)",
        "trunc_quarter": "CAST(date_trunc('quarter', {}) AS DATE)",
        "trunc_year": "CAST(date_trunc('year', {}) AS DATE)",
    },
    "spark": {
        "epoch_us": "unix_micros({})",
        "quote": "`{}`",
        "from_day": "date_from_unix_date(CAST({} AS INT))",
        "to_day": "CAST(unix_date({}) AS BIGINT)",
        "trunc_month": "trunc({}, 'MM')",
        "trunc_quarter": "trunc({}, 'QUARTER')",
        "trunc_year": "trunc({}, 'YEAR')",
    },
}
_VIEW_IDS = itertools.count()
#: Time columns :mod:`kpi.schema` derives (``time_expr``): the date column whose local midnight
#: places the row.
_DERIVED_TIME = {"_period_ts": "period_start"}
#: The contact stamps :func:`kpi.schema.attribution_expr` derives: the first known of these,
#: and for completion the after-call work added, truncated to whole microseconds as polars'
#: cast of ``acw_s * 1e6`` to an integer truncates (toward zero).
_ACW_US = "coalesce({acw}, 0) * CAST(1000000 AS DOUBLE)"
_ATTRIBUTED = {
    "_answer_ts": (("answer_ts", "end_ts", "arrival_ts"), ""),
    "_completion_ts": (
        ("end_ts", "answer_ts", "arrival_ts"),
        f"CAST(CASE WHEN {_ACW_US} < 0 THEN ceil({_ACW_US}) ELSE floor({_ACW_US}) END AS BIGINT)",
    ),
}


class SqlEngine:
    """A SQL engine (DuckDB or Spark) running the row-level stage of :mod:`kpi.compute`.

    Parameters
    ----------
    name
        ``"duckdb"`` or ``"spark"``.
    session
        The DuckDB connection or SparkSession to run on.
    """

    def __init__(self, name: str, session: Any) -> None:
        self.name = name
        self.session = session
        self.fns = _DIALECTS[name]
        self._views: dict[str, str] = {}
        if name == "duckdb":  # the SQL forms write epoch microseconds as Spark names them
            session.execute("CREATE OR REPLACE TEMP MACRO unix_micros(t) AS epoch_us(t)")

    def __repr__(self) -> str:
        return f"SqlEngine({self.name!r})"

    def quote(self, col: str) -> str:
        """A column name as an identifier of the dialect."""
        return self.fns["quote"].format(col.replace(self.fns["quote"][0], ""))

    def time_sql(
        self, ds: Dataset, time_col: str, start: datetime | None, end: datetime | None
    ) -> str:
        """The epoch microseconds of ``time_col``, stored or derived (:func:`kpi.schema
        .time_expr`: finance's local midnight of ``period_start``, a contact's answer or
        completion stamp)."""
        q = self.quote
        if time_col in _DERIVED_TIME:  # finance: local midnight of period_start
            day = self.fns["to_day"].format(q(_DERIVED_TIME[time_col]))
            return local_midnight_sql(day, ds.tz, start, end)
        if time_col in _ATTRIBUTED:  # contacts by answer or completion time
            stamps, extra = _ATTRIBUTED[time_col]
            u = self.fns["epoch_us"].format(f"coalesce({', '.join(map(q, stamps))})")
            return f"({u} + {extra.format(acw=q('acw_s'))})" if extra else u
        return self.fns["epoch_us"].format(q(time_col))

    def source(self, ds: Dataset, table: str) -> str:
        """The FROM item for ``table``: the Parquet file of the dataset (a Spark view of it)."""
        if ds.path is None:
            raise KpiError(
                f"engine {self.name!r} reads Parquet files: pass a dataset directory (or URI), "
                "not frames in memory"
            )
        path = f"{str(ds.path).rstrip('/')}/{table}.parquet"
        if self.name == "duckdb":
            return "read_parquet('" + path.replace("'", "''") + "')"
        if path not in self._views:
            view = f"kpi_{table}_{next(_VIEW_IDS)}"
            self.session.read.parquet(path).createOrReplaceTempView(view)
            self._views[path] = view
        return self._views[path]

    def query(
        self,
        ds: Dataset,
        table: str,
        time_col: str,
        items: Sequence[tuple[str, Source]],
        known: Sequence[str],
        index: int,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
        offset: str | None = None,
    ) -> str:
        """The SQL of one (table, time column) group: keys, measures, row and known counts."""
        q = self.quote
        u = self.time_sql(ds, time_col, start, end)
        where = _range(u, start, end)
        b = _shifted("_u", offset)
        off = offset_sql(b, ds.tz, start, end)
        off_at = _offset_at(every, ds.tz, start, end)
        aggs = [f"{src.sql} AS {q(name)}" for name, src in items]
        if known:
            aggs.append(f"count(*) AS {q(f'__rows_{index}')}")
            aggs += [f"count({q(c)}) > 0 AS {q(f'__known_{index}_{c}')}" for c in known]
        keys = [q(c) for c in by]
        inner = (
            f"SELECT *, {bin_sql(every, b, '_off', self.fns, off_at)} AS _bin FROM ("
            f"SELECT *, {off} AS _off FROM (SELECT *, {u} AS _u FROM {self.source(ds, table)} "
            f"WHERE {' AND '.join(where)}) AS t0) AS t1"
        )
        return (
            f"SELECT {', '.join([*keys, '_bin', *aggs])} FROM ({inner}) AS t2 "
            f"GROUP BY {', '.join([*keys, '_bin'])}"
        )

    def run(self, sql: str) -> list[tuple]:
        """Run a query; its rows as tuples."""
        if self.name == "duckdb":
            return self.session.execute(sql).fetchall()
        return [tuple(r) for r in self.session.sql(sql).collect()]

    def aggregate(
        self,
        ds: Dataset,
        lf: pl.LazyFrame,
        table: str,
        time_col: str,
        items: Sequence[tuple[str, Source]],
        known: Sequence[str],
        index: int,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
        offset: str | None = None,
    ) -> pl.LazyFrame:
        """The measures of one table group by ``by`` and ``_bin``, as the polars engine has them.

        Same columns and dtypes as ``lf.group_by([*by, _bin]).agg(...)`` in
        :mod:`kpi.compute`: the dtypes come from the polars aggregations on the empty table.
        ``offset`` is ``bin_offset`` (:func:`offset_us`).
        """
        sql = self.query(
            ds, table, time_col, items, known, index,
            by=by, every=every, start=start, end=end, offset=offset,
        )  # fmt: skip
        schema = lf.collect_schema()
        measures = lf.head(0).select(src.agg.alias(name) for name, src in items).collect_schema()
        cols: dict[str, pl.DataType] = {c: schema[c] for c in by}
        cols["_bin"] = pl.Int64
        cols.update(measures)
        if known:
            cols[f"__rows_{index}"] = pl.UInt32
            cols.update({f"__known_{index}_{c}": pl.Boolean for c in known})
        return _frame(self.run(sql), cols, every, ds.tz, offset)

    def stateful_query(
        self,
        ds: Dataset,
        measure: Measure,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
        offset: str | None = None,
        time_col: str | None = None,
    ) -> str:
        """The SQL of a builder measure (FCR's repeat test, the queue sweep, the busiest hour)
        from its :attr:`~kpi.metrics.Measure.sql`: its rows, kept in the range, binned and
        aggregated.

        Besides ``{table}``, ``{by}`` and ``{partition_by}``, the rows may use ``{time}``
        (epoch microseconds of ``time_col``, the table's time column under the attribution),
        ``{offset}`` (the site's UTC offset at ``_u``, epoch microseconds), ``{hour}`` (the
        start of the local clock hour of ``_u`` given that offset as ``_off``; the bin itself
        under 15- and 30-minute bins), ``{bin}`` (the key of the query's bin of ``_u``, bin
        offset included, given ``{bin_offset}``, the site's UTC offset at ``_u`` less the bin
        offset, as ``_boff``), ``{hour_s}`` (the hour's seconds) and ``{in_range}`` (``_u`` in
        the range).
        """
        if measure.sql is None:
            raise KpiError(f"engine {self.name!r} cannot compute {measure.name}: no SQL form")
        q = self.quote
        keys = [q(c) for c in by]
        hour = every if every in ("15m", "30m") else "1h"  # the peaks' clock hour
        off_at = _offset_at(every, ds.tz, start, end)
        bu = _shifted("_u", offset)
        rows = measure.sql.format(
            time=self.time_sql(ds, time_col or time_column(measure.tables[0]) or "", start, end),
            bin_offset=offset_sql(bu, ds.tz, start, end),
            bin=bin_sql(every, bu, "_boff", self.fns, off_at),
            table=self.source(ds, measure.tables[0]),
            by="".join(f"{k}, " for k in keys),
            partition_by=f"PARTITION BY {', '.join(keys)}" if keys else "",
            offset=offset_sql("_u", ds.tz, start, end),
            hour=bin_sql(hour, "_u", "_off", self.fns, _offset_at(hour, ds.tz, start, end)),
            hour_s=FIXED[hour] // 1_000_000,
            in_range=" AND ".join(_range("_u", start, end)),
        )
        where = _range("_t", start, end)
        bt = _shifted("_t", offset)
        off = offset_sql(bt, ds.tz, start, end)
        inner = (
            f"SELECT *, {bin_sql(every, bt, '_off', self.fns, off_at)} AS _bin FROM ("
            f"SELECT *, {off} AS _off FROM ({rows}) AS s0 WHERE {' AND '.join(where)}) AS s1"
        )
        return (
            f"SELECT {', '.join([*keys, '_bin', f'{measure.sql_agg} AS {q(measure.name)}'])} "
            f"FROM ({inner}) AS s2 GROUP BY {', '.join([*keys, '_bin'])}"
        )

    def stateful(
        self,
        ds: Dataset,
        lf: pl.LazyFrame,
        measure: Measure,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
        offset: str | None = None,
        time_col: str | None = None,
    ) -> pl.LazyFrame:
        """A builder measure by ``by`` and ``_bin``, as its polars builder returns it (Int64 for
        a count, else Float64)."""
        sql = self.stateful_query(
            ds, measure, by=by, every=every, start=start, end=end, offset=offset,
            time_col=time_col,
        )  # fmt: skip
        schema = lf.collect_schema()
        cols: dict[str, pl.DataType] = {c: schema[c] for c in by}
        cols["_bin"] = pl.Int64
        cols[measure.name] = pl.Int64 if measure.unit == "count" else pl.Float64
        return _frame(self.run(sql), cols, every, ds.tz, offset)

    def flows(
        self,
        ds: Dataset,
        lf: pl.LazyFrame,
        measure: Measure,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
        lo: datetime | None,
        offset: str | None = None,
    ) -> pl.LazyFrame:
        """A stock's flows (``by``, ``_t``, ``_d``), summed where the level cannot tell them
        apart: by group and bin in the range, and by group before ``lo`` (the first bin's
        start), after the range and without a time; each sum placed at its rows' first ``_t``.
        :meth:`~kpi.metrics.MeasureContext.stock_from_flows` levels them as it levels the rows.
        """
        if measure.sql is None:
            raise KpiError(f"engine {self.name!r} cannot compute {measure.name}: no SQL form")
        q = self.quote
        keys = [q(c) for c in by]
        rows = measure.sql.format(
            table=self.source(ds, measure.tables[0]), by="".join(f"{k}, " for k in keys)
        )
        off_at = _offset_at(every, ds.tz, start, end)
        before = f"_t < {epoch_us(lo)}" if lo is not None else "FALSE"
        inside = " AND ".join(_range("_t", start, end))
        part = f"CASE WHEN _t IS NULL THEN 0 WHEN {before} THEN 1 WHEN {inside} THEN 2 ELSE 3 END"
        bt = _shifted("_t", offset)
        bin_ = bin_sql(every, bt, "_off", self.fns, off_at)
        inner = (
            f"SELECT *, CASE WHEN _p = 2 THEN {bin_} ELSE 0 END AS _k FROM (SELECT *, {part} AS "
            f"_p, {offset_sql(bt, ds.tz, start, end)} AS _off FROM ({rows}) AS f0) AS f1"
        )
        sql = (
            f"SELECT {', '.join([*keys, 'min(_t)', 'sum(_d)'])} FROM ({inner}) AS f2 "
            f"GROUP BY {', '.join([*keys, '_p', '_k'])}"
        )
        schema = lf.collect_schema()
        cols: dict[str, pl.DataType] = {c: schema[c] for c in by}
        cols.update({"_t": pl.Int64, "_d": pl.Int64})
        frame = _table(self.run(sql), cols)
        return frame.with_columns(local_stamp("_t", ds.tz)).lazy()

    def compact(
        self,
        ds: Dataset,
        lf: pl.LazyFrame,
        table: str,
        columns: Sequence[str],
        *,
        by: Sequence[str],
    ) -> pl.LazyFrame:
        """``table`` grouped by ``by`` and ``columns``, with the count of its rows as ``_w``
        (:meth:`kpi.metrics.MeasureContext.compact`): a roster of people becomes one row per
        distinct (groups, start date, end date)."""
        names = list(dict.fromkeys([*by, *columns]))
        keys = ", ".join(self.quote(c) for c in names)
        sql = f"SELECT {keys}, count(*) AS _w FROM {self.source(ds, table)} GROUP BY {keys}"
        schema = lf.collect_schema()
        cols: dict[str, pl.DataType] = {c: schema[c] for c in names}
        cols["_w"] = pl.Int64
        return _table(self.run(sql), cols).lazy()

    def last_time(self, ds: Dataset, lf: pl.LazyFrame, table: str, column: str) -> pl.LazyFrame:
        """The latest ``column`` stamp of ``table`` over all its rows: one row, ``_max``."""
        sql = f"SELECT max({self.time_sql(ds, column, None, None)}) FROM {self.source(ds, table)}"
        frame = _table(self.run(sql), {"_max": pl.Int64})
        dtype = lf.collect_schema()[column]
        return frame.select(local_stamp("_max", ds.tz).cast(dtype)).lazy()


def _offset_at(
    every: str | None, tz: str, start: datetime | None, end: datetime | None
) -> Callable[[str], str] | None:
    """The site's UTC offset at a bin's start, in SQL, for grains uneven in ``tz`` (days and
    longer across a DST change); None where the rows' own offset serves."""
    if not uneven(every, tz, start, end):
        return None
    return lambda x: offset_sql(x, tz, start, end)


def _range(u: str, start: datetime | None, end: datetime | None) -> list[str]:
    """``u`` (epoch microseconds) known and in ``[start, end)``, as SQL conditions."""
    where = [f"{u} IS NOT NULL"]
    if start is not None:
        where.append(f"{u} >= {epoch_us(start)}")
    if end is not None:
        where.append(f"{u} < {epoch_us(end)}")
    return where


def _table(rows: list[tuple], cols: dict[str, pl.DataType]) -> pl.DataFrame:
    """The engine's rows as a polars frame of ``cols`` (exact casts from wide dtypes)."""
    names = list(cols)
    frame = pl.DataFrame(
        {
            n: pl.Series(n, [r[i] for r in rows], dtype=_wide(cols[n]), strict=False)
            for i, n in enumerate(names)
        }
    )
    return frame.with_columns(pl.col(n).cast(cols[n]) for n in names)


def _frame(
    rows: list[tuple],
    cols: dict[str, pl.DataType],
    every: str | None,
    tz: str,
    offset: str | None = None,
) -> pl.LazyFrame:
    """The engine's rows as a lazy polars frame of ``cols`` (the ``_bin`` key as polars has it:
    with a bin offset, the bin of the shifted stamps shifted back, as
    :func:`kpi.periods.bin_expr` does)."""
    frame = _table(rows, {**cols, "_bin": pl.Int64})
    bin_ = bin_to_polars(every, tz)
    if offset and every is not None:
        bin_ = bin_.dt.offset_by(offset)
    return frame.with_columns(bin_.alias("_bin")).lazy()


#: Units of a bin offset that are fixed durations, in microseconds; the others (``d``, ``w``,
#: ``mo``, ``q``, ``y``) are calendar units, local wall-clock steps in polars.
_FIXED_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
_OFFSET_PART = re.compile(r"(\d+)(ns|us|ms|mo|s|m|h|d|w|q|y|i)")


def offset_us(offset: str | None) -> int:
    """``bin_offset`` as microseconds, where it is a fixed duration (a one-line KpiError else).

    polars shifts a time-zone-aware stamp by a fixed duration in absolute time, so the SQL
    engines bin ``stamp - offset`` and polars shifts each bin start back (:func:`_frame`):
    ``offset_by(-offset).truncate(every).offset_by(offset)`` exactly, DST days included.

    Examples
    --------
    >>> offset_us("6h"), offset_us("5h30m"), offset_us(None)
    (21600000000, 19800000000, 0)
    >>> offset_us("1d")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: bin_offset='1d': the SQL engines shift bins by fixed durations (us, ms, s, m, h: e.g. '6h', '5h30m'), not by calendar units (d, w, mo, q, y): use engine='polars'
    """
    if not offset:
        return 0
    parts = _OFFSET_PART.findall(offset)
    if "".join(n + u for n, u in parts) != offset or any(u not in _FIXED_UNITS for _, u in parts):
        raise KpiError(
            f"bin_offset={offset!r}: the SQL engines shift bins by fixed durations (us, ms, s, "
            "m, h: e.g. '6h', '5h30m'), not by calendar units (d, w, mo, q, y): use "
            "engine='polars'"
        )
    return sum(int(n) * _FIXED_UNITS[u] for n, u in parts)


def _shifted(u: str, offset: str | None) -> str:
    """``u`` (epoch microseconds) less the bin offset: the stamp whose bin is taken."""
    shift = offset_us(offset)
    return f"({u} - {shift})" if shift else u


def _wide(dtype: pl.DataType) -> pl.DataType:
    """A dtype that takes the engine's Python values before the exact cast (Decimal, int128)."""
    if dtype.is_integer():
        return pl.Int128
    if dtype.is_float():
        return pl.Float64
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String
    return dtype


def open_engine(engine: Any) -> SqlEngine | None:
    """The engine for ``engine=``: None for polars, else a :class:`SqlEngine`.

    ``"duckdb"`` opens an in-memory DuckDB connection; ``"spark"`` the active SparkSession,
    or a local one (``local[*]``) when none is running. An open ``duckdb`` connection or
    ``SparkSession`` is used as it is.

    Examples
    --------
    >>> open_engine("polars") is None, open_engine("duckdb")
    (True, SqlEngine('duckdb'))
    >>> open_engine("pandas")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: unknown engine 'pandas'; valid: polars, duckdb, spark (or a duckdb connection or SparkSession)
    """
    if engine is None or engine == "polars":
        return None
    if isinstance(engine, SqlEngine):
        return engine
    if engine == "duckdb":
        try:
            import duckdb
        except ImportError:
            raise KpiError(
                "engine 'duckdb' needs the duckdb package: pip install duckdb"
            ) from None
        return SqlEngine("duckdb", duckdb.connect())
    if engine == "spark":
        return SqlEngine("spark", local_spark())
    kind = type(engine).__module__.split(".")[0]
    if kind in ("duckdb", "_duckdb"):
        return SqlEngine("duckdb", engine)
    if kind == "pyspark":
        return SqlEngine("spark", engine)
    raise KpiError(
        f"unknown engine {engine!r}; valid: {', '.join(ENGINES)} "
        "(or a duckdb connection or SparkSession)"
    )


def local_spark(cores: int | None = None) -> Any:
    """The active SparkSession, or a new local one (``local[cores]``, all cores by default)."""
    import warnings

    try:
        with warnings.catch_warnings():  # "does not yet fully support pandas >= 3": unused here
            warnings.simplefilter("ignore", FutureWarning)
            from pyspark.sql import SparkSession
    except ImportError:
        raise KpiError(
            "engine 'spark' needs PySpark and Java 17+: pip install 'kpi-workbench[spark]' "
            "and a JRE (Debian: apt-get install openjdk-17-jre-headless)"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None and cores is None:
        return active
    master = f"local[{cores or '*'}]"
    spark = (
        SparkSession.builder.master(master)
        .appName("kpi-workbench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(2 * (cores or 2)))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class EngineContext:
    """A :class:`~kpi.metrics.MeasureContext` whose row work runs on a SQL engine.

    It wraps the polars engine's context (groups, bins, range, memo, small tables) and answers
    :meth:`compact`, :meth:`aggregate` and :meth:`last_time` with SQL, so a ``portable``
    builder measure (:attr:`kpi.metrics.Measure.portable`) runs unchanged on DuckDB or Spark.
    """

    def __init__(self, engine: SqlEngine, ctx: Any) -> None:
        self.engine = engine
        self.ctx = ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ctx, name)

    def compact(self, table: str, columns: Sequence[str]) -> pl.LazyFrame | None:
        """``table`` grouped by the context's ``by`` and ``columns``, counts as ``_w``."""
        lf = self.ctx.frame(table)
        if lf is None:
            return None
        return self.ctx.memo(
            ("compact", table, tuple(columns)),
            lambda: self.engine.compact(self.ctx.ds, lf, table, columns, by=self.ctx.by),
        )

    def aggregate(
        self, table: str, agg: pl.Expr, sql: str, *, by: Sequence[str], every: str
    ) -> pl.LazyFrame | None:
        """``sql`` over ``table``'s rows in the range by ``by`` and the bins of ``every``."""
        lf = self.ctx.frame(table)
        if lf is None:
            return None
        c = self.ctx
        frame = self.engine.aggregate(
            c.ds, lf, table, c.time_column(table), [("_value", Source(table, agg, sql=sql))],
            (), 0, by=by, every=every, start=c.start, end=c.end,
        )  # fmt: skip
        return frame.select(*by, "_bin", "_value")

    def last_time(self, table: str, column: str) -> pl.LazyFrame | None:
        """The latest ``column`` stamp of ``table`` (one row, ``_max``)."""
        lf = self.ctx.frame(table)
        return None if lf is None else self.engine.last_time(self.ctx.ds, lf, table, column)


def unsupported(measures: dict[str, Measure], chosen: dict[str, Source | None]) -> list[str]:
    """The measures a SQL engine cannot run, each with why (builder, or no SQL form)."""
    out = []
    for name, m in measures.items():
        if name not in chosen:
            continue  # unknown in this data: null on every engine
        if m.builder is not None and m.sql is None and not m.portable:
            out.append(f"{name} ({m.kind}: a polars builder)")
        elif chosen[name] is not None and chosen[name].sql is None:
            out.append(f"{name} (no SQL form for {chosen[name].table})")
    return out
