"""FCR's repeat test while a cube is built: which contacts of a partition are resolved.

FCR's numerator under its default window and key is additive once each contact's repeat flag
is known, but the flag looks at the whole table (the customer's next contact within the
window), never at the range or the groups a query asks for. The build runs the catalogue's own
builder (:mod:`kpi.metrics`) once per partition of whole local months, each row its own group
(:class:`BuildContext`), over the partition's rows and the days its window looks ahead
(:func:`resolved_rows`); each chunk's rows then carry the flag (:func:`flag`), summed in every
level like any ``sum`` measure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from kpi.cube._chunks import Span, between
from kpi.data import Dataset
from kpi.metrics import Measure
from kpi.schema import time_column, time_expr

__all__ = ["BuildContext", "flag", "resolved_rows", "table_frame"]


@dataclass
class BuildContext:
    """The :class:`kpi.metrics.MeasureContext` a builder measure sees while a cube is built:
    ``rows``, the rows of ``table`` in one partition and its look-ahead, numbered ``_r``. Each
    row is its own group (``_bin`` is its number), counted when its time is in ``[lo, hi)``:
    the builder's result is the set of rows it counts (FCR: the resolved contacts)."""

    ds: Dataset
    table: str
    rows: pl.LazyFrame
    lo: datetime | None = None
    hi: datetime | None = None
    by: tuple[str, ...] = ()
    every: str | None = "15m"
    start: datetime | None = None
    end: datetime | None = None
    attribution: str = "arrival"
    notes: dict[str, str] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def tz(self) -> str:
        return self.ds.tz

    def frame(self, table: str) -> pl.LazyFrame | None:
        if table == self.table:
            return self.rows
        return table_frame(self.ds, table) if table in self.ds else None

    def time_column(self, table: str) -> str:
        col = time_column(table, attribution=self.attribution)
        assert col is not None
        return col

    def bin(self, ts: pl.Expr) -> pl.Expr:
        return pl.col("_r").alias("_bin")

    def in_range(self, ts: pl.Expr) -> pl.Expr:
        return between(ts, self.lo, self.hi)

    def bins(self) -> pl.LazyFrame:  # pragma: no cover - stocks are never in a cube
        raise NotImplementedError("a cube holds no stocks")

    def stock_from_flows(self, flows: pl.LazyFrame, name: str) -> pl.LazyFrame:  # pragma: no cover
        raise NotImplementedError("a cube holds no stocks")

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


def table_frame(ds: Dataset, table: str) -> pl.LazyFrame:
    """A table as the cube reads it: with its derived time columns (arrival attribution)."""
    lf = ds[table]
    derived = time_expr(table, tz=ds.tz)
    return lf if derived is None else lf.with_columns(derived)


def resolved_rows(
    ds: Dataset,
    table: str,
    rows: pl.LazyFrame,
    tcol: str,
    part: Span,
    chunks: list[Span],
    builders: list[Measure],
) -> list[np.ndarray]:
    """The rows each exact builder counts (FCR: resolved contacts) in partition ``part``, by
    their number in the concatenation of its ``chunks`` (each read as :func:`build_levels`
    reads it). FCR's repeat test looks forward only, so the contacts of the partition and of
    the next ``lookahead_days`` (+1) decide it exactly; the builder sorts those once."""
    t = pl.col(tcol)
    scans = [rows.filter(between(t, c.lo, c.hi)) for c in chunks]
    if part.hi is not None:
        ahead = timedelta(days=max(b.lookahead_days for b in builders) + 1)
        scans.append(rows.filter(between(t, part.hi, part.hi + ahead)))
    numbered = pl.concat(scans).with_row_index("_r")
    ctx = BuildContext(ds, table, numbered, part.lo, part.hi)
    plans = [b.builder(ctx).filter(pl.col(b.name) > 0).select("_bin") for b in builders]
    return [f["_bin"].to_numpy() for f in pl.collect_all(plans)]


def flag(ids: np.ndarray, offset: int, n: int) -> np.ndarray:
    """Rows ``offset`` to ``offset + n`` of a partition: whether each is among ``ids``."""
    out = np.zeros(n, dtype=bool)
    out[ids[(ids >= offset) & (ids < offset + n)] - offset] = True
    return out
