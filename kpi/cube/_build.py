"""Building a cube: additive measures aggregated once by levels of bins and dimensions.

What goes in (:func:`cube_measures`): every ``sum`` measure of the catalogue under its default
variants (and the dataset's own facts, such as the survey scale), each of its row sources
(contacts *and* intervals, ...) stored separately, because which source a query uses depends on
its ``by``; plus FCR's repeat test, whose numerator is additive once each contact's repeat flag
is known (the flag looks at the whole table, never at the range or the groups asked for).

What each cell holds (:data:`LEVELS`): per (table, time column), for each level, the rows of
the table grouped by the level's dimensions and bin: one column per source aggregation, the
row count ``_rows`` and, for each column a source reads that has nulls, its non-null count
``_nn_<column>`` (the engine's unknown-group rule needs it; a column with no null is known
wherever there are rows).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from kpi.data import Dataset
from kpi.metrics import Measure, Source, resolve
from kpi.periods import bin_expr
from kpi.schema import time_column, time_expr

__all__ = ["DIMENSIONS", "LEVELS", "Level", "build_levels", "cube_measures", "signature"]

#: The slicing dimensions a cube keeps (``agent_id`` is left out: one agent's contacts per
#: quarter hour are about one row each, so a cube by agent would be as large as the rows).
DIMENSIONS = ("site", "team", "queue", "channel", "topic")


@dataclass(frozen=True)
class Level:
    """One aggregation of a table: a grain and the dimensions kept."""

    name: str
    grain: str
    dims: tuple[str, ...]


#: Intraday: quarter hours (the finest grain, so every grain rolls up; local time, DST days
#: included) by the dimensions without topic. Daily: local days by every dimension. A query
#: is answered from the smallest level that has its dimensions and a grain its grain is a
#: multiple of; topic by the quarter hour is left to the rows (that level would be as large
#: as the rows at 10 million contacts a year).
LEVELS = (
    Level("intraday", "15m", ("site", "team", "queue", "channel")),
    Level("daily", "1d", DIMENSIONS),
)
#: Grains each level's grain divides (in local time).
ROLLS_UP_TO = {
    "15m": {None, "15m", "30m", "1h", "1d", "1w", "1mo", "1q", "1y"},
    "1d": {None, "1d", "1w", "1mo", "1q", "1y"},
}
#: Builder ``sum`` measures that are exact from the cube: a per-contact flag computed from the
#: whole table, counted in the contact's bin and groups (FCR's repeat test).
EXACT_BUILDERS = ("fcr_resolved_",)


def signature(table: str, time: str, what: Source | Measure) -> str:
    """The identity of a stored column: table, time column and the aggregation itself (its
    serialised expression), so a variant or a changed definition never matches a stale one."""
    if isinstance(what, Measure):
        text = f"builder|{what.name}"
    else:
        text = what.agg.meta.serialize(format="json")
    return hashlib.sha256(f"{table}|{time}|{text}".encode()).hexdigest()[:20]


def cube_measures(params: dict[str, Any] | None = None) -> list[Measure]:
    """The additive measures of every catalogue KPI under ``params`` (defaults otherwise)."""
    out: dict[str, Measure] = {}
    for m, p in resolve("all", params or {}):
        build = m.build(p)
        for meas in build.measures:
            if meas.kind != "sum":
                continue
            if meas.builder is not None and not meas.name.startswith(EXACT_BUILDERS):
                continue
            out.setdefault(meas.name, meas)
    return list(out.values())


@dataclass
class _BuildContext:
    """The :class:`kpi.metrics.MeasureContext` a builder measure sees while a cube is built:
    the whole table (no range), grouped by a level's dimensions and grain."""

    ds: Dataset
    by: tuple[str, ...]
    every: str | None
    start: datetime | None = None
    end: datetime | None = None
    attribution: str = "arrival"
    notes: dict[str, str] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def tz(self) -> str:
        return self.ds.tz

    def frame(self, table: str) -> pl.LazyFrame | None:
        if table not in self.ds:
            return None
        lf = self.ds[table]
        derived = time_expr(table, tz=self.tz, attribution=self.attribution)
        return lf if derived is None else lf.with_columns(derived)

    def time_column(self, table: str) -> str:
        col = time_column(table, attribution=self.attribution)
        assert col is not None
        return col

    def bin(self, ts: pl.Expr) -> pl.Expr:
        assert self.every is not None
        return bin_expr(ts, self.every).alias("_bin")

    def in_range(self, ts: pl.Expr) -> pl.Expr:
        return ts.is_not_null()

    def bins(self) -> pl.LazyFrame:  # pragma: no cover - stocks are never in a cube
        raise NotImplementedError("a cube holds no stocks")

    def stock_from_flows(self, flows: pl.LazyFrame, name: str) -> pl.LazyFrame:  # pragma: no cover
        raise NotImplementedError("a cube holds no stocks")

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


def _groups(ds: Dataset, measures: Iterable[Measure]) -> dict[tuple[str, str], list[Any]]:
    """Row sources and exact builders by (table, time column), those the table can compute."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for meas in measures:
        if meas.builder is not None:
            table = meas.tables[0]
            if table in ds:
                key = (table, time_column(table) or "")
                groups.setdefault(key, []).append(meas)
            continue
        for src in meas.sources:
            if src.table not in ds:
                continue
            names = set(ds[src.table].collect_schema().names())
            if not set(src.columns) <= names:
                continue
            key = (src.table, src.time or time_column(src.table) or "")
            items = groups.setdefault(key, [])
            if all(not (isinstance(s, Source) and s.agg.meta.eq(src.agg)) for s in items):
                items.append(src)
    return groups


def build_levels(
    ds: Dataset,
    measures: Iterable[Measure],
    write: Callable[[str, pl.LazyFrame], int],
    report: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Aggregate each (table, time column) at each level; ``write(file, frame)`` stores one
    (returning its rows). Returns the levels' descriptions for ``cube.json``."""
    out: list[dict[str, Any]] = []
    for (table, tcol), items in _groups(ds, measures).items():
        began = time.perf_counter()
        lf = _BuildContext(ds, (), None).frame(table)
        assert lf is not None
        names = lf.collect_schema().names()
        sources = [s for s in items if isinstance(s, Source)]
        builders = [m for m in items if isinstance(m, Measure)]
        read = sorted({c for s in sources for c in s.columns})
        nulls = (
            lf.select(pl.col(c).null_count() for c in read).collect().row(0, named=True)
            if read
            else {}
        )
        nullable = [c for c in read if nulls[c]]
        columns = {signature(table, tcol, s): f"m{i}" for i, s in enumerate(sources)}
        aggs = [s.agg.alias(f"m{i}") for i, s in enumerate(sources)]
        aggs += [pl.len().alias("_rows")]
        aggs += [pl.col(c).count().alias(f"_nn_{c}") for c in nullable]
        rows = lf.filter(pl.col(tcol).is_not_null())
        fine = [d for d in DIMENSIONS if d in names]
        flags = None
        if builders:
            # the repeat test sorts the whole table once, at the finest cell of all levels
            finest = _BuildContext(ds, tuple(fine), "15m")
            parts = [b.builder(finest) for b in builders]
            flags = parts[0]
            for p in parts[1:]:
                flags = flags.join(
                    p, on=[*fine, "_bin"], how="full", coalesce=True, nulls_equal=True
                )
            flags = flags.collect().lazy()
            for j, b in enumerate(builders):
                columns[signature(table, tcol, b)] = f"b{j}"
            flags = flags.rename({b.name: f"b{j}" for j, b in enumerate(builders)})
        for level in LEVELS:
            dims = [d for d in level.dims if d in names]
            key = [*dims, bin_expr(pl.col(tcol), level.grain).alias("_bin")]
            frame = rows.group_by(key).agg(aggs)
            if flags is not None:
                rolled = flags.group_by(
                    [*dims, bin_expr(pl.col("_bin"), level.grain).alias("_bin")]
                ).agg(pl.col(f"b{j}").sum() for j in range(len(builders)))
                frame = frame.join(rolled, on=[*dims, "_bin"], how="left", nulls_equal=True)
                frame = frame.with_columns(
                    pl.col(f"b{j}").fill_null(0) for j in range(len(builders))
                )
            file = f"{table}.{tcol.strip('_')}.{level.name}"
            n = write(file, frame)
            out.append(
                {
                    "table": table,
                    "time": tcol,
                    "level": level.name,
                    "grain": level.grain,
                    "dims": dims,
                    "file": file,
                    "rows": n,
                    "columns": columns,
                    "nullable": nullable,
                }
            )
        report(
            f"{table} by {tcol}: {len(columns)} measures, "
            + ", ".join(f"{o['level']} {o['rows']:,} cells" for o in out if o["table"] == table)
            + f" in {time.perf_counter() - began:.1f} s"
        )
    return out
