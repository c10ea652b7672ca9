"""Additive measures: the building blocks every KPI is computed from.

A :class:`Measure` is an aggregation over the rows of one table (or several alternative tables,
e.g. contact rows *or* ACD interval rows), placed in time by one time-stamp column. Counts and
sums are additive, so any grain or dimension rolls up exactly from them; a KPI is a function of
measures (usually numerator / denominator). Measures that are not additive (maxima, medians,
distinct counts, stocks, sweeps) say so in ``kind`` and are computed from rows at the grain asked
for, never by averaging finer results.

This is the row-level stage of the semantic layer, and it is engine-neutral by declaration: a
:class:`Source` names a table, an aggregation over its rows, the time column that places a row
in a bin and the dataset facts it requires; :class:`Measure` adds the kind. Executing it (filter
to the range, group by the dimensions and ``_bin``, aggregate, join the tables' results) is the
engine's job: :func:`kpi.compute.measure_frame` for polars. The aggregation is written as a
polars expression, and row sources also carry it as one SQL aggregate (``Source.sql``, in the
subset DuckDB and Spark SQL share), written beside the expression by the same factory; the SQL
engines (:mod:`kpi.engines`) run that form, and the parity tests hold the two to the same
numbers. Builder measures (``builder=``) are typed against :class:`~kpi.metrics.MeasureContext`;
a SQL engine runs those with a SQL form (``Measure.sql``) or declared ``portable``.

Examples
--------
>>> import polars as pl
>>> m = Measure("answered", "contacts answered", (Source("contacts", pl.len()),), text="answered")
>>> m.additive, m.source_tables, m.text
(True, ('contacts',), 'answered')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from kpi.metrics._context import MeasureContext

__all__ = ["KINDS", "Measure", "Source"]

#: ``sum``: additive count or total; ``max``: maximum (rolls up as a max); ``stat``: a
#: row statistic such as a median, computed at the grain; ``distinct``: a distinct count;
#: ``stock``: a level at the end of each bin (backlog, headcount); ``sweep``: computed from a
#: time-ordered sweep over events (calls waiting at once, busiest hour).
KINDS = ("sum", "max", "stat", "distinct", "stock", "sweep")


@dataclass(frozen=True)
class Source:
    """How to compute a measure from one table.

    Parameters
    ----------
    table
        Canonical table name.
    agg
        Aggregation expression over the table's rows (with the derived time columns of
        :func:`kpi.schema.time_column` added).
    time
        Time-stamp column that places a row in a bin; ``None`` means the table's own time
        column (:func:`kpi.schema.time_column`; for contacts, chosen by ``attribution=``).
    meta
        Facts the dataset must state for this source to apply (e.g. the threshold an interval
        report used): key in ``dataset.json`` to required value.
    sql
        The same aggregation as one SQL aggregate expression over the table's columns, in the
        dialect DuckDB and Spark SQL share (``count(CASE WHEN ... THEN 1 END)``, ``CASE``,
        ``coalesce``, ``count(DISTINCT ...)``, ``max``); ``None`` when no SQL engine can run
        this source yet. It reads the same columns as ``agg`` (:attr:`columns`).
    """

    table: str
    agg: pl.Expr
    time: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    sql: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of ``table`` the aggregation reads, from the expression itself.

        The engine uses a source only when every one of them is present and not null on every
        row: an input the data lack is unknown, never zero.

        Examples
        --------
        >>> Source("contacts", (pl.col("talk_s") + pl.col("hold_s")).sum()).columns
        ('talk_s', 'hold_s')
        >>> Source("contacts", pl.len()).columns
        ()
        """
        return tuple(dict.fromkeys(self.agg.meta.root_names()))


@dataclass(frozen=True)
class Measure:
    """A named measure with one or more alternative sources (the first usable one is used).

    ``builder`` replaces ``sources`` when rows cannot simply be aggregated (stocks, sweeps, and
    sums that need a sorted pass such as FCR's repeat test): it receives the engine's
    :class:`~kpi.metrics.MeasureContext` and returns a LazyFrame keyed by the group columns and
    ``_bin``. Builder ``sum`` measures are
    zero-filled like row sums.

    ``text`` is the measure as a term of a formula (``"answered ≤ 20 s"``), written by its
    factory from the same arguments that build its aggregation; :meth:`Build.ratio
    <kpi.metrics.Build.ratio>` composes a KPI's formula text from it, so the text a report
    prints and the number it computes cannot drift apart.
    """

    name: str
    description: str
    sources: tuple[Source, ...] = ()
    kind: str = "sum"
    unit: str = "count"
    builder: Callable[[MeasureContext], pl.LazyFrame | None] | None = None
    tables: tuple[str, ...] = ()
    #: How many days of contacts after a bin's end decide its value (FCR's repeat window);
    #: chunked evaluation reads that far ahead.
    lookahead_days: int = 0
    #: The measure as a term of a formula (see above); empty when no formula names it.
    text: str = ""
    #: The columns of ``tables`` a builder measure reads (row sources declare theirs in their
    #: expression, :attr:`Source.columns`): the engine leaves the measure unknown when one is
    #: absent or null on every row.
    columns: tuple[str, ...] = ()
    #: The builder's work in SQL, for the SQL engines (:mod:`kpi.engines`), written beside the
    #: polars builder: a ``SELECT`` over ``{table}`` (the FROM item of ``tables[0]``) returning
    #: the dimension columns (``{by}`` expands to each quoted and followed by a comma), ``_t``
    #: (epoch microseconds that place the row in a bin and in the range) and whatever
    #: :attr:`sql_agg` reads; ``{partition_by}`` is ``PARTITION BY`` the dimensions, or empty.
    #: Epoch microseconds are written ``unix_micros(ts)`` on every engine. The engine keeps
    #: ``_t`` in the range, bins it in local time and aggregates by dimensions and bin. None:
    #: polars only.
    sql: str | None = None
    #: The aggregate over the rows of :attr:`sql` (an integer unless the builder says otherwise).
    sql_agg: str = "count(*)"
    #: True when the builder reads the large tables only through what every engine's context
    #: answers (:meth:`~kpi.metrics.MeasureContext.compact`, ``aggregate``, ``last_time``) and
    #: reads whole only small tables (stored forecasts): a SQL engine runs it as it is, with a
    #: context whose row work is SQL (the rosters, forecast accuracy).
    portable: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} not in {KINDS}")

    @property
    def additive(self) -> bool:
        """True when finer-grain values sum to coarser ones."""
        return self.kind == "sum"

    def needs(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Each alternative source as (table, columns it reads), in order of preference.

        Examples
        --------
        >>> m = Measure("talk", "talk", (Source("contacts", pl.col("talk_s").sum()),))
        >>> m.needs()
        (('contacts', ('talk_s',)),)
        """
        if self.sources:
            return tuple((s.table, s.columns) for s in self.sources)
        return tuple((t, self.columns) for t in self.tables)

    @property
    def source_tables(self) -> tuple[str, ...]:
        """Tables this measure can be computed from, in order of preference."""
        return tuple(s.table for s in self.sources) or self.tables
