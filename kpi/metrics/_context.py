"""What a measure needs from the engine that runs it: the typed boundary of the semantic layer.

The semantic layer declares *what* to aggregate; an engine decides *how*. Most measures are
engine-neutral declarations (:class:`~kpi.metrics.Source`: a table, a row aggregation, the time
column that places a row in a bin, and a kind), so any engine that can filter a table to a time
range, group it by the dimensions and a bin key, and aggregate can run them. A few measures
(stocks, sweeps, FCR's repeat test) cannot be written as one row aggregation; their ``builder``
receives a :class:`MeasureContext` and returns a frame keyed by the dimensions and ``_bin``.

:class:`MeasureContext` is the contract those builders are typed against. The polars engine,
:class:`kpi.compute.Context`, implements it; the engine imports the semantic layer, never the
reverse. The SQL engines (:mod:`kpi.engines`) translate the :class:`~kpi.metrics.Source`
declarations, run the SQL forms of FCR, the sweeps and the backlog, and hand the ``portable``
builders (rosters, forecast accuracy) a context of their own whose row work (:meth:`compact`,
:meth:`aggregate`, :meth:`last_time`) is SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

import polars as pl

__all__ = ["MeasureContext"]

_T = TypeVar("_T")


@runtime_checkable
class MeasureContext(Protocol):
    """The query a builder measure answers: dataset tables, groups, grain, range and zone.

    Output of every builder: a LazyFrame with the ``by`` columns, ``_bin`` (the bin key from
    :meth:`bin`, or a constant without a grain) and one column per measure it computes.

    Examples
    --------
    >>> from kpi.compute import Context
    >>> from kpi.data import Dataset
    >>> ctx = Context(Dataset({}), (), None, None, None)
    >>> isinstance(ctx, MeasureContext), ctx.time_column("tickets")
    (True, 'created_ts')
    """

    #: Dimension columns every output is grouped by.
    by: tuple[str, ...]
    #: Grain of the bins (``"1d"``...), or None for one bin over the whole range.
    every: str | None
    #: Range of time stamps, ``start <= ts < end`` (either may be None: open).
    start: datetime | None
    end: datetime | None
    #: Which contact time stamp places a contact (``arrival``, ``answer``, ``completion``).
    attribution: str
    #: Table name to the reason it cannot be used (filled in by :meth:`frame`).
    notes: dict[str, str]

    @property
    def tz(self) -> str:
        """The site time zone (bins are local)."""
        ...

    def frame(self, table: str) -> pl.LazyFrame | None:
        """The rows of ``table`` with derived time columns, or None (and a note) if unusable."""
        ...

    def time_column(self, table: str) -> str:
        """The column that places rows of ``table`` in bins (see :func:`kpi.schema.time_column`)."""
        ...

    def bin(self, ts: pl.Expr) -> pl.Expr:
        """The ``_bin`` key of each time stamp."""
        ...

    def in_range(self, ts: pl.Expr) -> pl.Expr:
        """True where ``ts`` lies in the range."""
        ...

    def bins(self) -> pl.LazyFrame:
        """Every bin of the range: ``_bin``, ``_start`` and ``_end`` (exclusive)."""
        ...

    def stock_from_flows(self, flows: pl.LazyFrame, name: str) -> pl.LazyFrame:
        """Level at the end of each bin from +1/-1 flows (columns ``by``, ``_t``, ``_d``)."""
        ...

    def memo(self, key: Any, make: Callable[[], _T]) -> _T:
        """Build once per query (sub-plans shared by several measures)."""
        ...

    def compact(self, table: str, columns: Sequence[str]) -> pl.LazyFrame | None:
        """The rows of ``table`` (``by`` and ``columns``), or those grouped by ``by`` and
        ``columns`` with their count as ``_w``: a builder counts by summing ``_w`` where the
        frame has it (a SQL engine compacts; polars hands the rows over as they are)."""
        ...

    def aggregate(
        self, table: str, agg: pl.Expr, sql: str, *, by: Sequence[str], every: str
    ) -> pl.LazyFrame | None:
        """``agg`` (``sql`` on a SQL engine) over the rows of ``table`` in the range, by ``by``
        and the local bins of ``every`` without any bin offset: ``by``, ``_bin``, ``_value``."""
        ...

    def last_time(self, table: str, column: str) -> pl.LazyFrame | None:
        """The latest ``column`` stamp of ``table`` over all its rows: one row, ``_max``."""
        ...

    def has_values(self, table: str, column: str) -> bool:
        """True when ``table`` holds ``column`` with a value on some row (a column absent or
        null on every row is unknown: the engine's one rule, remembered on the dataset)."""
        ...
