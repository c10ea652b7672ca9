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

What runs where: every row measure with a SQL form: the contact and ACD-interval measures
(sums, distinct counts, maxima), the plain sums and counts of tickets, agent time, surveys,
agent surveys, QA evaluations and coaching, the ticket medians, means and p90s (exact
``percentile_cont``), and finance (placed at local midnight of ``period_start``:
:func:`~kpi.engines._time.local_midnight_sql`); and the builder measures with one
(:attr:`kpi.metrics.Measure.sql`): FCR's repeat test (``LEAD`` over the whole contacts table),
the queue sweep ``max_in_queue`` (a running sum over entry and exit events) and the busiest
hour (per local clock hour, then ``max_by`` per bin), run by :meth:`SqlEngine.stateful`, and
the backlog, whose flows the engine sums (:meth:`SqlEngine.flows`) and polars levels. The
customer and agent rosters and stored forecasts have no SQL form yet: a KPI needing one raises
a :class:`~kpi.errors.KpiError` naming it and its measure in one line (:func:`unsupported`).
The ``arrival`` attribution only; no ``bin_offset`` and no ``chunk`` (the engine is the way
past one machine). On DuckDB the engine
defines a temporary macro ``unix_micros`` (Spark's name for epoch microseconds) on the
connection, so every SQL form is written once.
"""

from __future__ import annotations

import itertools
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
    offset_sql,
    uneven,
)
from kpi.errors import KpiError
from kpi.metrics import Measure, Source

__all__ = ["ENGINES", "SqlEngine", "metricflow_yaml", "open_engine", "unsupported"]

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
    ) -> str:
        """The SQL of one (table, time column) group: keys, measures, row and known counts."""
        q = self.quote
        u = self.fns["epoch_us"].format(q(time_col))
        if time_col in _DERIVED_TIME:  # finance: local midnight of period_start
            day = _DERIVED_TIME[time_col]
            u = local_midnight_sql(self.fns["to_day"].format(q(day)), ds.tz, start, end)
        where = _range(u, start, end)
        off = offset_sql("_u", ds.tz, start, end)
        off_at = _offset_at(every, ds.tz, start, end)
        aggs = [f"{src.sql} AS {q(name)}" for name, src in items]
        if known:
            aggs.append(f"count(*) AS {q(f'__rows_{index}')}")
            aggs += [f"count({q(c)}) > 0 AS {q(f'__known_{index}_{c}')}" for c in known]
        keys = [q(c) for c in by]
        inner = (
            f"SELECT *, {bin_sql(every, '_u', '_off', self.fns, off_at)} AS _bin FROM ("
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
    ) -> pl.LazyFrame:
        """The measures of one table group by ``by`` and ``_bin``, as the polars engine has them.

        Same columns and dtypes as ``lf.group_by([*by, _bin]).agg(...)`` in
        :mod:`kpi.compute`: the dtypes come from the polars aggregations on the empty table.
        """
        sql = self.query(
            ds, table, time_col, items, known, index, by=by, every=every, start=start, end=end
        )
        schema = lf.collect_schema()
        measures = lf.head(0).select(src.agg.alias(name) for name, src in items).collect_schema()
        cols: dict[str, pl.DataType] = {c: schema[c] for c in by}
        cols["_bin"] = pl.Int64
        cols.update(measures)
        if known:
            cols[f"__rows_{index}"] = pl.UInt32
            cols.update({f"__known_{index}_{c}": pl.Boolean for c in known})
        return _frame(self.run(sql), cols, every, ds.tz)

    def stateful_query(
        self,
        ds: Dataset,
        measure: Measure,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> str:
        """The SQL of a builder measure (FCR's repeat test, the queue sweep, the busiest hour)
        from its :attr:`~kpi.metrics.Measure.sql`: its rows, kept in the range, binned and
        aggregated.

        Besides ``{table}``, ``{by}`` and ``{partition_by}``, the rows may use ``{offset}``
        (the site's UTC offset at ``_u``, epoch microseconds), ``{hour}`` (the start of the
        local clock hour of ``_u`` given that offset as ``_off``; the bin itself under 15- and
        30-minute bins), ``{hour_s}`` (its seconds) and ``{in_range}`` (``_u`` in the range).
        """
        if measure.sql is None:
            raise KpiError(f"engine {self.name!r} cannot compute {measure.name}: no SQL form")
        q = self.quote
        keys = [q(c) for c in by]
        hour = every if every in ("15m", "30m") else "1h"  # the peaks' clock hour
        rows = measure.sql.format(
            table=self.source(ds, measure.tables[0]),
            by="".join(f"{k}, " for k in keys),
            partition_by=f"PARTITION BY {', '.join(keys)}" if keys else "",
            offset=offset_sql("_u", ds.tz, start, end),
            hour=bin_sql(hour, "_u", "_off", self.fns, _offset_at(hour, ds.tz, start, end)),
            hour_s=FIXED[hour] // 1_000_000,
            in_range=" AND ".join(_range("_u", start, end)),
        )
        where = _range("_t", start, end)
        off = offset_sql("_t", ds.tz, start, end)
        off_at = _offset_at(every, ds.tz, start, end)
        inner = (
            f"SELECT *, {bin_sql(every, '_t', '_off', self.fns, off_at)} AS _bin FROM ("
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
    ) -> pl.LazyFrame:
        """A builder measure by ``by`` and ``_bin``, as its polars builder returns it (Int64 for
        a count, else Float64)."""
        sql = self.stateful_query(ds, measure, by=by, every=every, start=start, end=end)
        schema = lf.collect_schema()
        cols: dict[str, pl.DataType] = {c: schema[c] for c in by}
        cols["_bin"] = pl.Int64
        cols[measure.name] = pl.Int64 if measure.unit == "count" else pl.Float64
        return _frame(self.run(sql), cols, every, ds.tz)

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
        bin_ = bin_sql(every, "_t", "_off", self.fns, off_at)
        inner = (
            f"SELECT *, CASE WHEN _p = 2 THEN {bin_} ELSE 0 END AS _k FROM (SELECT *, {part} AS "
            f"_p, {offset_sql('_t', ds.tz, start, end)} AS _off FROM ({rows}) AS f0) AS f1"
        )
        sql = (
            f"SELECT {', '.join([*keys, 'min(_t)', 'sum(_d)'])} FROM ({inner}) AS f2 "
            f"GROUP BY {', '.join([*keys, '_p', '_k'])}"
        )
        schema = lf.collect_schema()
        cols: dict[str, pl.DataType] = {c: schema[c] for c in by}
        cols.update({"_t": pl.Int64, "_d": pl.Int64})
        names = list(cols)
        data = self.run(sql)
        frame = pl.DataFrame(
            {
                n: pl.Series(n, [r[i] for r in data], dtype=_wide(cols[n]), strict=False)
                for i, n in enumerate(names)
            }
        ).with_columns(pl.col(n).cast(cols[n]) for n in names)
        t = pl.from_epoch("_t", time_unit="us").dt.replace_time_zone("UTC")
        return frame.with_columns(t.dt.convert_time_zone(ds.tz)).lazy()


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


def _frame(
    rows: list[tuple], cols: dict[str, pl.DataType], every: str | None, tz: str
) -> pl.LazyFrame:
    """The engine's rows as a lazy polars frame of ``cols`` (the ``_bin`` key as polars has it)."""
    names = list(cols)
    data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    frame = pl.DataFrame(
        {n: pl.Series(n, data[n], dtype=_wide(cols[n]), strict=False) for n in names}
    )
    frame = frame.with_columns(
        *[pl.col(n).cast(cols[n]) for n in names if n != "_bin"],
        bin_to_polars(every, tz).alias("_bin"),
    )
    return frame.lazy()


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


def unsupported(measures: dict[str, Measure], chosen: dict[str, Source | None]) -> list[str]:
    """The measures a SQL engine cannot run, each with why (builder, or no SQL form)."""
    out = []
    for name, m in measures.items():
        if name not in chosen:
            continue  # unknown in this data: null on every engine
        if m.builder is not None and m.sql is None:
            out.append(f"{name} ({m.kind}: a polars builder)")
        elif chosen[name] is not None and chosen[name].sql is None:
            out.append(f"{name} (no SQL form for {chosen[name].table})")
    return out
