"""The polars engine's query (:class:`Context`): dataset, groups, grain, range and bins.

It implements :class:`kpi.metrics.MeasureContext`, what builder measures are typed against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.periods import bin_expr
from kpi.schema import time_column, time_expr

__all__ = ["Context"]

_CALENDAR = (
    ("contacts", "arrival_ts"),
    ("agent_time", "interval_start"),
    ("intervals", "interval_start"),
    ("tickets", "created_ts"),
    ("tickets", "solved_ts"),
)


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

    def compact(self, table: str, columns: Sequence[str]) -> pl.LazyFrame | None:
        """The rows of ``table`` as they are (polars counts rows; SQL engines compact them)."""
        return self.frame(table)

    def aggregate(
        self, table: str, agg: pl.Expr, sql: str, *, by: Sequence[str], every: str
    ) -> pl.LazyFrame | None:
        """``agg`` over the rows of ``table`` in the range by ``by`` and the bins of ``every``
        (no bin offset): ``by``, ``_bin``, ``_value``."""
        lf = self.frame(table)
        if lf is None:
            return None
        t = pl.col(self.time_column(table))
        return (
            lf.filter(self.in_range(t))
            .group_by([*by, bin_expr(t, every).alias("_bin")])
            .agg(agg.alias("_value"))
        )

    def last_time(self, table: str, column: str) -> pl.LazyFrame | None:
        """The latest ``column`` of ``table`` over all its rows (one row, ``_max``)."""
        lf = self.frame(table)
        return None if lf is None else lf.select(pl.col(column).max().alias("_max"))

    def memo(self, key: Any, make: Any) -> Any:
        """Build once per compute call (shared sub-plans of several measures)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def has_values(self, table: str, column: str) -> bool:
        """True when ``table`` holds ``column`` with a value on some row (see
        :func:`kpi.compute._known.column_states`)."""
        from kpi.compute._known import column_states

        state = column_states(self.ds, {table: [column]}).get(table, {}).get(column, "absent")
        return state not in ("absent", "empty")
