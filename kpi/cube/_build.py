"""Building a cube: measures aggregated once to the finest cells, coarser levels from those.

What goes in (:func:`cube_measures`): every ``sum``, ``max`` and ``distinct`` measure of the
catalogue under its default variants (and the dataset's own facts, such as the survey scale),
each of its row sources (contacts *and* intervals, ...) stored separately, because which source
a query uses depends on its ``by``; plus FCR's repeat test, whose numerator is additive once each
contact's repeat flag is known (the flag looks at the whole table, never at the range or the
groups asked for).

How each source is stored (:func:`_plan`), so that a coarser cell is exactly a roll-up of finer
ones:

- ``sum`` (``X.sum()``): the cell's sum; rolls up as a sum.
- ``max`` (``X.filter(P).max()``): the cell's maximum; rolls up as a maximum.
- ``distinct`` (``pl.col(C).filter(P).drop_nulls().n_unique()``): a bit set of the values of
  ``C`` in the cell, as ``UInt64`` words (value ``i`` of the sorted distinct values is bit
  ``i % 64`` of word ``i // 64``); rolls up as a bitwise or, counted with a population count.
  Only when ``C`` has at most :data:`MAX_DISTINCT` values (agents: a few hundred); a column
  with more (customers: as many as the contacts) is left to the rows.

How it is built (:func:`build_levels`): per (table, time column), each row's values are
computed once (``X``, ``when(P).then(X)``, the bit of its value) and the rows are grouped, in
one streaming query, twice: by the intraday dimensions and the quarter hour (keyed by the UTC
quarter hour, an integer, mapped to the local bin afterwards: :func:`_quarters` checks that
each UTC quarter hour lies in one local one, else each row is binned in local time), and by
every dimension and the local date (and by team, agent and local date). The rows are read in
partitions by customer (:func:`_partitions`) when there are more than ``partition_rows``, each
partition's cells built as below and the partitions' cells combined (:func:`_combine`).
FCR's repeat test then sorts the partition once, grouped by
one 64-bit key of the dimensions (checked one-to-one against the daily cells) and the integer
quarter hour, and its counts are rolled up on integers and joined to both (and once more,
keyed by team and agent, for the agent level). The other levels
(:data:`LEVELS`) are aggregated from the smallest level already built that has their
dimensions, never from the rows again. Each cell holds the row count ``_rows`` and, for each
column a source reads that has nulls, its non-null count ``_nn_<column>`` (the engine's
unknown-group rule needs it; a column with no null is known wherever there are rows).
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

__all__ = [
    "AGENT_DIMS",
    "DIMENSIONS",
    "INTRADAY",
    "LEVELS",
    "MAX_DISTINCT",
    "PARTITION_ROWS",
    "Level",
    "build_levels",
    "cube_measures",
    "rebin",
    "signature",
]

#: The slicing dimensions a cube keeps (``agent_id`` is left out: one agent's contacts per
#: quarter hour are about one row each, so a cube by agent would be as large as the rows;
#: agents have levels of their own, by day and month: :data:`AGENT_DIMS`).
DIMENSIONS = ("site", "team", "queue", "channel", "topic")
#: The dimensions of the intraday levels (topic by the quarter hour would be as large as the
#: rows at 10 million contacts a year; topic is kept by day).
INTRADAY = ("site", "team", "queue", "channel")
#: The dimensions of the agent levels (by day and by month): agent scorecards and the agent
#: explorer group by team and agent (one agent's contacts per day are tens, so a day by agent is
#: far smaller than the rows, unlike a quarter hour by agent).
AGENT_DIMS = ("team", "agent_id")
#: Distinct counts are stored as bit sets when their column has at most this many values.
MAX_DISTINCT = 2048
#: A table of more rows is built in partitions of about this many rows (by customer, so FCR's
#: repeats are exact within each), whose cells are then combined: FCR's sort holds one
#: partition, not the table. Each partition reads the file again and the cells are combined
#: once more, so a partition is made large: at 10 million contacts two partitions of 5 million
#: took 52 CPU s and 4.4 GiB against 41 CPU s and 3.7 GiB in one (bench/RESULTS.md).
PARTITION_ROWS = 10_000_000
#: Kinds of measure the cube stores.
STORED_KINDS = ("sum", "max", "distinct")


@dataclass(frozen=True)
class Level:
    """One aggregation of a table: a grain and the dimensions kept."""

    name: str
    grain: str
    dims: tuple[str, ...]


def _levels() -> tuple[Level, ...]:
    out = [
        Level("intraday", "15m", INTRADAY),
        Level("daily", "1d", DIMENSIONS),
        Level("hourly", "1h", INTRADAY),
    ]
    out += [Level(f"hourly by {d}", "1h", (d,)) for d in INTRADAY]
    out += [Level("intraday total", "15m", ()), Level("hourly total", "1h", ())]
    out += [Level(f"daily by {d}, topic", "1d", (d, "topic")) for d in INTRADAY]
    out += [Level(f"daily by {d}", "1d", (d,)) for d in DIMENSIONS]
    out.append(Level("daily total", "1d", ()))
    # last: no other level is aggregated from them
    out += [Level("agents daily", "1d", AGENT_DIMS), Level("agents monthly", "1mo", AGENT_DIMS)]
    return tuple(out)


#: Every level. The finest three are aggregated from the rows: quarter hours in local time (the
#: finest grain, so every grain rolls up; DST days included) by :data:`INTRADAY`, local days
#: by every dimension, and local days by :data:`AGENT_DIMS` (months by agent are rolled up from
#: those). Smaller ones (hours; each single dimension; topic with each other
#: dimension by day; totals) are aggregated from the smallest level already built that has
#: their dimensions, so a query reads the smallest level that has its dimensions and a grain
#: its grain is a multiple of: `1h by queue` reads hours by queue (24 queues × 8,760 hours),
#: not quarter hours by four dimensions.
LEVELS = _levels()
#: Grains each level's grain divides (in local time).
ROLLS_UP_TO = {
    "15m": {None, "15m", "30m", "1h", "1d", "1w", "1mo", "1q", "1y"},
    "1h": {None, "1h", "1d", "1w", "1mo", "1q", "1y"},
    "1d": {None, "1d", "1w", "1mo", "1q", "1y"},
    "1mo": {None, "1mo", "1q", "1y"},
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
    """The measures the cube stores for every catalogue KPI under ``params`` (defaults
    otherwise): ``sum``, ``max`` and ``distinct`` row measures and FCR's exact builder."""
    out: dict[str, Measure] = {}
    for m, p in resolve("all", params or {}):
        build = m.build(p)
        for meas in build.measures:
            if meas.kind not in STORED_KINDS:
                continue
            if meas.builder is not None and not (
                meas.kind == "sum" and meas.name.startswith(EXACT_BUILDERS)
            ):
                continue
            out.setdefault(meas.name, meas)
    return list(out.values())


def rebin(lf: pl.LazyFrame, grain: str) -> pl.LazyFrame:
    """``_bin`` (local bins of a finer grain) moved to the bins of ``grain``: truncating
    time-zone-aware stamps is costly, so it is done once per distinct bin and joined."""
    b = pl.col("_bin")
    bins = lf.select(b.unique()).with_columns(bin_expr(b, grain).alias("_to"))
    return lf.join(bins, on="_bin").drop("_bin").rename({"_to": "_bin"})


# ---- how each source is stored ----------------------------------------------------------------


@dataclass
class _Stored:
    """One source as stored: its kind, the per-row values, the cell aggregations and the
    stored columns (``words`` for a bit set)."""

    kind: str
    rows: list[pl.Expr]
    cells: list[pl.Expr]
    words: list[str] = field(default_factory=list)
    first: list[pl.Expr] = field(default_factory=list)


def _same(a: pl.Expr, b: pl.Expr) -> bool:
    try:
        return bool(a.meta.eq(b))
    except Exception:  # pragma: no cover - an expression meta cannot compare
        return False


def _inputs(e: pl.Expr) -> list[pl.Expr]:
    try:
        return e.meta.pop()
    except Exception:  # pragma: no cover - a leaf
        return []


def _sum_input(agg: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """``X`` when ``agg`` is ``X.sum()`` or ``X.sum().cast(dtype)``, else None."""
    for top in (agg, *_inputs(agg)):
        for x in _inputs(top)[:1]:
            if _same(agg, x.sum()) or _same(agg, x.sum().cast(dtype)):
                return x
    return None


def _max_input(agg: pl.Expr) -> pl.Expr | None:
    """``when(P).then(X)`` when ``agg`` is ``X.filter(P).max()``; ``X`` for ``X.max()``."""
    inner = _inputs(agg)
    if len(inner) != 1:
        return None
    x = inner[0]
    if _same(agg, x.max()):
        parts = _inputs(x)
        if len(parts) == 2:
            pred, val = parts
            if _same(x, val.filter(pred)):
                return pl.when(pred).then(val)
        return x
    return None


def _distinct_input(agg: pl.Expr) -> tuple[str, pl.Expr] | None:
    """``(C, P)`` when ``agg`` is ``pl.col(C).filter(P).drop_nulls().n_unique().cast(Int64)``."""
    e = agg
    for _ in range(3):
        inner = _inputs(e)
        if len(inner) != 1:
            return None
        e = inner[0]
    parts = _inputs(e)
    if len(parts) != 2:
        return None
    pred, col = parts
    if not col.meta.is_column():
        return None
    name = col.meta.output_name()
    want = pl.col(name).filter(pred).drop_nulls().n_unique().cast(pl.Int64)
    return (name, pred) if _same(agg, want) else None


def _bit_words(i: int, col: str, pred: pl.Expr, values: list[Any]) -> _Stored:
    """The bit set of the values of ``col`` among the rows where ``pred`` holds."""
    code = pl.col(col).replace_strict(
        values, list(range(len(values))), default=None, return_dtype=pl.Int64
    )
    # the value's code where the row counts, else null (computed once, before the words)
    first = pl.when(pred.fill_null(False)).then(code).alias(f"_c{i}")
    c = pl.col(f"_c{i}")
    bit = (c % 64).replace_strict(
        list(range(64)), [1 << k for k in range(64)], return_dtype=pl.UInt64
    )
    n = (len(values) + 63) // 64
    words = [f"m{i}_{k}" for k in range(n)]
    rows = [
        pl.when(c // 64 == k).then(bit).otherwise(pl.lit(0, pl.UInt64)).alias(w)
        for k, w in enumerate(words)
    ]
    cells = [pl.col(w).bitwise_or().alias(w) for w in words]
    return _Stored("distinct", rows, cells, words, first=[first])


def _plan(
    i: int, src: Source, kind: str, schema: pl.Schema, values: dict[str, list[Any] | None]
) -> _Stored | None:
    """How source ``i`` is stored (None: not in the cube)."""
    name = f"m{i}"
    if kind == "sum":
        dtype = pl.LazyFrame(schema=schema).select(src.agg).collect_schema().dtypes()[0]
        x = _sum_input(src.agg, dtype)
        if x is None:  # any other additive aggregation: computed per cell as it is
            return _Stored("sum", [], [src.agg.alias(name)])
        cell = pl.col(f"_v{i}").sum().cast(dtype).alias(name)
        return _Stored("sum", [x.alias(f"_v{i}")], [cell])
    if kind == "max":
        x = _max_input(src.agg)
        if x is None:
            return None
        return _Stored("max", [x.alias(f"_v{i}")], [pl.col(f"_v{i}").max().alias(name)])
    found = _distinct_input(src.agg)
    if found is None or values.get(found[0]) is None:
        return None
    return _bit_words(i, found[0], found[1], values[found[0]] or [])


def rollup_exprs(kind: str, col: str, words: list[str] | None) -> list[pl.Expr]:
    """The aggregation of a stored column over cells: a sum, a maximum, a bitwise or."""
    if kind == "distinct":
        return [pl.col(w).bitwise_or().alias(w) for w in words or []]
    return [pl.col(col).max() if kind == "max" else pl.col(col).sum()]


# ---- the build ---------------------------------------------------------------------------------


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
    quarter_keys: bool = False
    part: pl.Expr | None = None  # the rows of one partition (see _partitions)
    notes: dict[str, str] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def tz(self) -> str:
        return self.ds.tz

    def frame(self, table: str) -> pl.LazyFrame | None:
        if table not in self.ds:
            return None
        lf = self.ds[table]
        if self.part is not None:
            lf = lf.filter(self.part)
        derived = time_expr(table, tz=self.tz, attribution=self.attribution)
        lf = lf if derived is None else lf.with_columns(derived)
        if self.by == ("_g",):  # the dimensions as one key (see _fine)
            dims = [d for d in DIMENSIONS if d in lf.collect_schema().names()]
            lf = lf.with_columns(pl.struct(dims).hash().alias("_g"))
        return lf

    def time_column(self, table: str) -> str:
        col = time_column(table, attribution=self.attribution)
        assert col is not None
        return col

    def bin(self, ts: pl.Expr) -> pl.Expr:
        assert self.every is not None
        if self.quarter_keys and self.every == "15m":  # mapped to local bins afterwards
            return (ts.dt.epoch("s") // 900).alias("_bin")
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
    """Row sources (with their measure's kind) and exact builders by (table, time column),
    those the table can compute."""
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
            if all(not (isinstance(s, tuple) and s[0].agg.meta.eq(src.agg)) for s in items):
                items.append((src, meas.kind))
    return groups


def _quarters(rows: pl.LazyFrame, tcol: str, dtype: pl.Datetime) -> pl.DataFrame | None:
    """The map from each UTC quarter hour of the data (``_k``, epoch seconds // 900) to its
    local quarter hour (``_bin``) and local day (``_day``, ``_day_bin``); None when one spans
    two local bins (a zone whose offset is not whole quarter hours)."""
    unit = {"ns": 10**9, "us": 10**6, "ms": 10**3}[dtype.time_unit or "us"]
    k = pl.col("_k")

    def stamp(e: pl.Expr) -> pl.Expr:
        utc = e.cast(pl.Datetime(dtype.time_unit or "us", "UTC"))
        return utc.dt.convert_time_zone(dtype.time_zone or "UTC")

    keys = rows.select((pl.col(tcol).dt.epoch("s") // 900).unique().alias("_k")).collect()
    keys = keys.with_columns(
        bin_expr(stamp(k * 900 * unit), "15m").alias("_bin"),
        bin_expr(stamp((k + 1) * 900 * unit - 1), "15m").alias("_b1"),
    )
    if not (keys["_bin"] == keys["_b1"]).all():
        return None
    day = bin_expr(pl.col("_bin"), "1d")
    return keys.select("_k", "_bin", pl.col("_bin").dt.date().alias("_day"), day.alias("_dbin"))


def _fine(
    rows: pl.LazyFrame,
    tcol: str,
    stored: list[_Stored],
    extra: list[pl.Expr],
    names: list[str],
    quarters: pl.DataFrame | None,
) -> list[pl.DataFrame]:
    """The levels aggregated from the rows, in one streaming query: by :data:`INTRADAY` and
    quarter hour, by :data:`DIMENSIONS` and day and, when there is ``agent_id``, by
    :data:`AGENT_DIMS` and day (local bins: the UTC quarter hour and the local date, mapped by
    ``quarters``; each row's own bin when there is no map). The daily cells by every dimension
    carry ``_g``, a 64-bit hash of their dimensions."""
    t = pl.col(tcol)
    first = [e for s in stored for e in s.first]
    per_row = [e for s in stored for e in s.rows]
    cells = [e for s in stored for e in s.cells] + extra
    pre = rows.with_columns(first) if first else rows
    pre = pre.with_columns(per_row) if per_row else pre
    intra = [d for d in INTRADAY if d in names]
    every = [d for d in DIMENSIONS if d in names]
    agents = [d for d in AGENT_DIMS if d in names] if "agent_id" in names else []
    if quarters is None:
        grouped = [(intra, "15m"), (every, "1d")] + ([(agents, "1d")] if agents else [])
        plans = [
            pre.group_by([*dims, bin_expr(t, g).alias("_bin")]).agg(cells) for dims, g in grouped
        ]
        out = pl.collect_all(plans, engine="streaming")
        out[1] = out[1].with_columns(pl.struct(every).hash().alias("_g"))
        return out
    combo = pl.struct(every).hash().alias("_g")  # the flags' key of the cell's dimensions
    day = t.dt.date().alias("_day")
    plans = [
        pre.group_by([*intra, (t.dt.epoch("s") // 900).alias("_k")]).agg(cells),
        pre.group_by([*every, combo, day]).agg(cells),
    ]
    if agents:
        plans.append(pre.group_by([*agents, day]).agg(cells))
    q, *ds = pl.collect_all(plans, engine="streaming")
    q = q.join(quarters.select("_k", "_bin"), on="_k").drop("_k")
    days = quarters.select("_day", pl.col("_dbin").alias("_bin")).unique()
    return [q, *(d.join(days, on="_day").drop("_day") for d in ds)]


def _roll_flags(
    flags: pl.LazyFrame,
    dims: tuple[str, ...],
    grain: str,
    n: int,
    quarters: pl.DataFrame | None,
    combos: pl.DataFrame | None,
) -> pl.DataFrame:
    """FCR's flags rolled up to ``dims`` and ``grain``. With ``combos`` (their dimensions' key
    ``_g`` to the dimensions) they are keyed by ``_g`` and the UTC quarter hour ``_bin``, which
    ``quarters`` maps to local bins; without, by every dimension and the local quarter hour."""
    sums = [pl.col(f"b{j}").sum() for j in range(n)]
    if combos is None or quarters is None:
        rolled = rebin(flags, grain) if grain != "15m" else flags
        return rolled.group_by([*dims, "_bin"]).agg(sums).collect()
    # integers until the last join: ``_i`` numbers the combinations of ``dims``
    groups = combos.select(dims).unique().with_row_index("_i")
    ids = combos.join(groups, on=list(dims), nulls_equal=True).select("_g", "_i").lazy()
    to = quarters.lazy().select(
        pl.col("_k").alias("_bin"), pl.col("_bin" if grain == "15m" else "_dbin").alias("_to")
    )
    keyed = flags.join(ids, on="_g").drop("_g")
    if grain == "15m":  # group on the integer keys first (fewer rows to join)
        keyed = keyed.group_by(["_i", "_bin"]).agg(sums)
    keyed = keyed.join(to, on="_bin").drop("_bin").rename({"_to": "_bin"})
    keyed = keyed.group_by(["_i", "_bin"]).agg(sums)
    out = keyed.join(groups.lazy(), on="_i").drop("_i")
    return out.select(*dims, "_bin", *(f"b{j}" for j in range(n))).collect()


def _with_flags(frame: pl.DataFrame, rolled: pl.DataFrame | None, n: int) -> pl.DataFrame:
    """A level's cells with FCR's flags joined (0 where a cell has none)."""
    if rolled is None:
        return frame
    flags = {f"b{j}" for j in range(n)}
    keys = [c for c in rolled.columns if c not in flags]
    out = frame.join(rolled, on=keys, how="left", nulls_equal=True)
    return out.with_columns(pl.col(f"b{j}").fill_null(0) for j in range(n))


def _partitions(names: list[str], n_rows: int, size: int) -> list[pl.Expr | None]:
    """The partitions a table of ``n_rows`` rows is built in (``[None]``: one, the table).

    About ``size`` rows each, by a hash of the customer (every contact of a
    customer is in one partition, so FCR's repeat test, keyed by customer or by customer and
    topic, finds the same repeats as over the whole table). Rows with no customer (never
    repeats, never counted by FCR) are spread by their contact id, so they weigh on no one
    partition.
    """
    k = -(-n_rows // size)
    keys = [c for c in ("customer_id", "contact_id") if c in names]
    if k <= 1 or not keys:
        return [None]
    code = pl.coalesce([pl.col(c).cast(pl.String) for c in keys]).hash(seed=18) % k
    return [code == p for p in range(k)]


def _cells(
    ds: Dataset,
    rows: pl.LazyFrame,
    tcol: str,
    stored: list[_Stored],
    extra: list[pl.Expr],
    names: list[str],
    quarters: pl.DataFrame | None,
    builders: list[Measure],
    part: pl.Expr | None,
) -> list[pl.DataFrame]:
    """The levels aggregated from the rows of one partition (:func:`_fine`), with the counts
    of the exact builders (FCR's repeat test over the partition) joined as ``b0``, ``b1``..."""
    intraday, daily, *agents = _fine(rows, tcol, stored, extra, names, quarters)
    n = len(builders)
    fine = tuple(d for d in DIMENSIONS if d in names)
    intra = tuple(d for d in INTRADAY if d in names)
    if builders:
        # the repeat test sorts the partition once, at the finest cell of those levels: every
        # dimension as one 64-bit key (checked one-to-one in the daily cells) and the UTC
        # quarter hour (an integer) where it maps to the local one
        combos: pl.DataFrame | None = daily.select(*fine, "_g").unique()
        if quarters is None or combos["_g"].n_unique() != combos.height:
            combos = None
        keys = ("_g",) if combos is not None else fine
        finest = _BuildContext(ds, keys, "15m", quarter_keys=combos is not None, part=part)
        flags = _flags(builders, finest, keys).collect().lazy()
        intraday = _with_flags(intraday, _roll_flags(flags, intra, "15m", n, quarters, combos), n)
        daily = _with_flags(daily, _roll_flags(flags, fine, "1d", n, quarters, combos), n)
        del flags
        if agents:  # a second sort, keyed by the agent
            dims = tuple(d for d in AGENT_DIMS if d in names)
            by_agent = _BuildContext(
                ds, dims, "15m" if quarters is not None else "1d",
                quarter_keys=quarters is not None, part=part,
            )  # fmt: skip
            flags = _flags(builders, by_agent, dims)
            if quarters is not None:  # UTC quarter hours to local days
                to = quarters.lazy().select(pl.col("_k").alias("_bin"), pl.col("_dbin"))
                flags = flags.join(to, on="_bin").drop("_bin").rename({"_dbin": "_bin"})
            sums = [pl.col(f"b{j}").sum() for j in range(n)]
            rolled = flags.group_by([*dims, "_bin"]).agg(sums).collect()
            agents = [_with_flags(agents[0], rolled, n)]
    return [intraday, daily.drop("_g"), *agents]


def _flags(builders: list[Measure], ctx: _BuildContext, keys: tuple[str, ...]) -> pl.LazyFrame:
    """The exact builders' counts by ``keys`` and ``_bin``, as ``b0``, ``b1``..."""
    parts = [b.builder(ctx) for b in builders]
    flags = parts[0]
    for p in parts[1:]:
        flags = flags.join(p, on=[*keys, "_bin"], how="full", coalesce=True, nulls_equal=True)
    return flags.rename({b.name: f"b{j}" for j, b in enumerate(builders)})


def _combine(acc: pl.DataFrame, new: pl.DataFrame, aggs: list[pl.Expr]) -> pl.DataFrame:
    """Two partitions' cells of one level combined (sums, maxima, bitwise ors), in the
    columns and types of one partition's."""
    keys = [c for c in new.columns if c == "_bin" or c in DIMENSIONS or c in AGENT_DIMS]
    both = pl.concat([acc, new], rechunk=False).lazy().group_by(keys).agg(aggs)
    return both.select(pl.col(c).cast(t) for c, t in new.schema.items()).collect()


def build_levels(
    ds: Dataset,
    measures: Iterable[Measure],
    write: Callable[[str, pl.DataFrame], None],
    report: Callable[[str], None],
    *,
    partition_rows: int = PARTITION_ROWS,
) -> list[dict[str, Any]]:
    """Aggregate each (table, time column) at each level; ``write(file, frame)`` stores one;
    a table of more than ``partition_rows`` rows is aggregated in partitions of about that
    many. Returns the levels' descriptions for ``cube.json``."""
    out: list[dict[str, Any]] = []
    for (table, tcol), items in _groups(ds, measures).items():
        began = time.perf_counter()
        lf = _BuildContext(ds, (), None).frame(table)
        assert lf is not None
        schema = lf.collect_schema()
        names = schema.names()
        sources = [s for s in items if isinstance(s, tuple)]
        builders = [m for m in items if isinstance(m, Measure)]
        read = sorted({c for s, _ in sources for c in s.columns})
        wanted = {
            found[0]
            for s, kind in sources
            if kind == "distinct" and (found := _distinct_input(s.agg)) is not None
        }
        facts = (
            lf.select(
                pl.len().alias("rows"),
                *(pl.col(c).null_count().alias(f"n|{c}") for c in read),
                *(pl.col(c).approx_n_unique().alias(f"u|{c}") for c in wanted),
            )
            .collect()
            .row(0, named=True)
        )
        nullable = [c for c in read if facts[f"n|{c}"]]
        values: dict[str, list[Any] | None] = {}
        for c in wanted:
            few = facts[f"u|{c}"] <= 2 * MAX_DISTINCT
            got = lf.select(pl.col(c).drop_nulls().unique().sort()).collect() if few else None
            values[c] = got[c].to_list() if got is not None and len(got) <= MAX_DISTINCT else None
        columns: dict[str, str] = {}
        kinds: dict[str, str] = {}
        words: dict[str, list[str]] = {}
        stored = []
        for i, (s, kind) in enumerate(sources):
            plan = _plan(i, s, kind, schema, values)
            if plan is None:
                continue
            stored.append(plan)
            columns[signature(table, tcol, s)] = f"m{i}"
            kinds[f"m{i}"] = plan.kind
            if plan.words:
                words[f"m{i}"] = plan.words
        extra = [pl.len().alias("_rows")]
        extra += [pl.col(c).count().alias(f"_nn_{c}") for c in nullable]
        rows = lf.filter(pl.col(tcol).is_not_null())
        dtype = schema[tcol]
        assert isinstance(dtype, pl.Datetime)
        quarters = _quarters(rows, tcol, dtype)
        for j, b in enumerate(builders):
            columns[signature(table, tcol, b)] = f"b{j}"
            kinds[f"b{j}"] = "sum"
        aggs = [e for c, k in kinds.items() for e in rollup_exprs(k, c, words.get(c))]
        aggs += [pl.col(c).sum() for c in ("_rows", *(f"_nn_{c}" for c in nullable))]
        parts = _partitions(names, facts["rows"], partition_rows)
        fine: list[pl.DataFrame] = []
        for part in parts:
            cells = _cells(
                ds, rows.filter(part) if part is not None else rows, tcol,
                stored, extra, names, quarters, builders, part,
            )  # fmt: skip
            fine = (
                cells
                if not fine
                else [_combine(a, c, aggs) for a, c in zip(fine, cells, strict=True)]
            )
        intraday, daily, *agents = fine
        built: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}
        for level in LEVELS:
            dims = tuple(d for d in level.dims if d in names)
            if (level.grain, dims) in built:
                continue  # the dataset lacks the dimensions that make this level smaller
            if level.grain == "15m" and dims == tuple(d for d in INTRADAY if d in names):
                frame = intraday
            elif level.grain == "1d" and dims == tuple(d for d in DIMENSIONS if d in names):
                frame = daily
            elif level.dims == AGENT_DIMS and "agent_id" not in names:
                continue  # no agents: the agent levels would be levels by team
            elif level.grain == "1d" and level.dims == AGENT_DIMS:
                frame = agents[0]
            else:  # from the smallest level built that has the dimensions and a finer grain
                (pgrain, _), parent = min(
                    (
                        (k, f)
                        for k, f in built.items()
                        if set(dims) <= set(k[1]) and level.grain in ROLLS_UP_TO[k[0]]
                    ),
                    key=lambda kf: kf[1].height,
                )
                lf_parent = parent.lazy()
                if level.grain != pgrain:
                    lf_parent = rebin(lf_parent, level.grain)
                frame = lf_parent.group_by([*dims, "_bin"]).agg(aggs).collect()
            frame = frame.sort("_bin")  # ranges read only the row groups they cover
            built[(level.grain, dims)] = frame
            file = f"{table}.{tcol.strip('_')}.{level.grain}.{'-'.join(dims) or 'total'}"
            write(file, frame)
            out.append(
                {
                    "table": table,
                    "time": tcol,
                    "level": level.name,
                    "grain": level.grain,
                    "dims": list(dims),
                    "file": file,
                    "rows": frame.height,
                    "columns": columns,
                    "kinds": kinds,
                    "words": words,
                    "nullable": nullable,
                }
            )
        sizes = ", ".join(f"{o['level']} {o['rows']:,}" for o in out if o["table"] == table)
        report(
            f"{table} by {tcol}: {len(columns)} measures; {len(parts)} partition(s); cells:"
            f" {sizes} in {time.perf_counter() - began:.1f} s"
        )
    return out
