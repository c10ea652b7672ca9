"""Building a cube: measures aggregated once to the finest cells, coarser levels from those.

What goes in (:func:`cube_measures`): every ``sum``, ``max`` and ``distinct`` measure of the
catalogue under its default variants (and the dataset's own facts, such as the survey scale),
each of its row sources (contacts *and* intervals, ...) stored separately, because which source
a query uses depends on its ``by``; plus FCR's repeat test, whose numerator is additive once each
contact's repeat flag is known (the flag looks at the whole table, never at the range or the
groups asked for).

How each source is stored (:mod:`kpi.cube._plan`), so that a coarser cell is exactly a roll-up of finer
ones:

- ``sum`` (``X.sum()``): the cell's sum; rolls up as a sum.
- ``max`` (``X.filter(P).max()``): the cell's maximum; rolls up as a maximum.
- ``distinct`` (``pl.col(C).filter(P).drop_nulls().n_unique()``): a bit set of the values of
  ``C`` in the cell, as ``UInt64`` words (value ``i`` of the sorted distinct values is bit
  ``i % 64`` of word ``i // 64``); rolls up as a bitwise or, counted with a population count.
  Only when ``C`` has at most :data:`MAX_DISTINCT` values (agents: a few hundred); a column
  with more (customers) is counted from first contacts and stored as sets of its values'
  hashes by day (:mod:`kpi.cube._counts`), when no two of the column's values share a hash.

How it is built (:func:`build_levels`): per (table, time column), the rows are read in chunks
of whole local months (:data:`CHUNK_ROWS`; :mod:`kpi.cube._chunks`), each row's values computed
once (``X``, ``when(P).then(X)``, the bit of its value) and grouped four times (:func:`_fine`);
the other levels (:data:`LEVELS`) come from the smallest level of the chunk already made that
has their dimensions. Every cell lies within a month, so chunks' cells are concatenated.
Text dimensions are read as enums of the table's values (one scan), so the groupings, sets
and sweeps key on small integers; the cells hold text again. FCR's repeat test runs once per
partition (about ``partition_rows`` rows, plus the days its window looks ahead); its result,
a flag per contact, is summed in every level. The queue sweep (``max_in_queue``) runs per
chunk over the contacts waiting during it, in a thread beside the chunk's groupings (numpy's
sorts and sums take one core), or, the sweeps built alone, beside the next chunk's sweep. The
customers' first-contact counts (:mod:`kpi.cube._counts`) sort the whole table apart from the
chunks: in a thread beside them when it holds at most :data:`COUNT_ROWS` rows (the day sets
made meanwhile are dropped if two customers share a hash), else first, in parts, so that
memory holds one or the other. Each cell holds its row count ``_rows`` and, for each column
with nulls a source reads, its non-null count ``_nn_<column>`` (the engine's unknown-group
rule needs it).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import polars as pl

from kpi.cube._chunks import (
    Cells,
    between,
    customer_sets,
    local_keys,
    month_counts,
    peak_days,
    quarter_map,
    spans,
    sweep_later,
)
from kpi.cube._counts import Counts, count_levels, customer_counts, dimension_values
from kpi.cube._later import Later, timed
from kpi.cube._plan import Stored, distinct_input, plan_source, rollup_exprs
from kpi.cube._repeat import flag, resolved_rows, table_frame
from kpi.data import Dataset
from kpi.metrics import Measure, Source, factories, resolve
from kpi.periods import bin_expr
from kpi.schema import time_column

__all__ = [
    "AGENT_DIMS",
    "APART_NAMES",
    "CELLS_BYTES",
    "CELL_PARTS",
    "CHUNK_ROWS",
    "COUNT_ROWS",
    "DIMENSIONS",
    "INTRADAY",
    "LEVELS",
    "MAX_DISTINCT",
    "PARTITION_ROWS",
    "PARTS",
    "PEAK_BUILDERS",
    "PEAK_DAILY",
    "PROGRESS_S",
    "SWEEP_BUILDERS",
    "SWEEP_DAILY",
    "SWEEP_DIMS",
    "TOPICAL",
    "Level",
    "apart_name",
    "build_levels",
    "cube_measures",
    "peak_sources",
    "rebin",
    "signature",
    "table_frame",
]

#: The slicing dimensions a cube keeps (``agent_id`` is left out: one agent's contacts per
#: quarter hour are about one row each, so a cube by agent would be as large as the rows;
#: agents have levels of their own, by day and month: :data:`AGENT_DIMS`).
DIMENSIONS = ("site", "team", "queue", "channel", "topic")
#: The dimensions of the intraday levels (topic by the quarter hour would be as large as the
#: rows at 10 million contacts a year; topic is kept by day).
INTRADAY = ("site", "team", "queue", "channel")
#: The dimensions of a second quarter-hour level from the rows: few values each (topic, the
#: views' direction and priority), so a small level that answers each by the quarter hour.
TOPICAL = ("topic", "direction", "priority")
#: The dimensions of the agent levels (by day and by month): agent scorecards and the agent
#: explorer group by team and agent (one agent's contacts per day are tens, so a day by agent is
#: far smaller than the rows, unlike a quarter hour by agent).
AGENT_DIMS = ("team", "agent_id")
#: Distinct counts are stored as bit sets when their column has at most this many values.
MAX_DISTINCT = 2048
#: FCR's repeat test sorts partitions of whole local months of about this many rows (and the
#: days its window looks ahead, read again): its sort holds a partition, not the table.
PARTITION_ROWS = 10_000_000
#: Contacts held at once when customers are counted (:mod:`kpi.cube._counts`; more: in parts).
COUNT_ROWS = 20_000_000
#: Kinds of measure the cube stores.
STORED_KINDS = ("sum", "max", "distinct")
#: The parts of a cube, each built on its own (:func:`build_levels`' ``parts``): ``core``, the
#: levels of the additive measures (sums and maxima; :data:`LEVELS`); ``agents``, the bit
#: sets of distinct counts of few values (agents handling) and ``fcr``, FCR's repeat flags,
#: both at the same levels (in the core's cells when built with it, else in levels of their
#: own: a bit set is a word per 64 values in every cell, a quarter of the core's work at 10
#: million contacts); ``customers``, distinct counts of too many values for bit sets
#: (first-contact counts and day sets, :mod:`kpi.cube._counts`); ``sweeps``, most contacts
#: waiting at once (:data:`SWEEP_DIMS`, :data:`SWEEP_DAILY`); ``peaks``, each day's busiest
#: hour by agent and by topic with another dimension (:data:`PEAK_DAILY`). The core answers
#: most KPIs; an explorer's first use builds it and each other part when a KPI first needs it.
PARTS = ("core", "agents", "fcr", "customers", "sweeps", "peaks")
#: The parts stored at the core's levels: in its cells when built with it, else in levels of
#: their own, named by what they hold (:func:`apart_name`).
CELL_PARTS = ("core", "agents", "fcr")
#: How a level of a part built apart from the core is named after the core's level.
APART_NAMES = {"agents": "agents' sets", "fcr": "FCR's repeats"}


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
        Level("intraday by topic", "15m", TOPICAL),
        Level("hourly", "1h", INTRADAY),
        Level("hourly by topic", "1h", TOPICAL),
    ]
    out += [Level(f"hourly by {d}", "1h", (d,)) for d in (*INTRADAY, *TOPICAL)]
    out += [Level("intraday total", "15m", ()), Level("hourly total", "1h", ())]
    out += [Level(f"daily by {d}, topic", "1d", (d, "topic")) for d in INTRADAY]
    out += [Level(f"daily by {d}", "1d", (d,)) for d in (*DIMENSIONS, *TOPICAL[1:])]
    out.append(Level("daily total", "1d", ()))
    # last: no other level is aggregated from them (but from agents daily); days by agent
    # alone, for views by agent: an agent who works for several teams in a day has one cell
    out += [Level("agents daily", "1d", AGENT_DIMS), Level("agents monthly", "1mo", AGENT_DIMS)]
    out.append(Level("agents daily by agent", "1d", AGENT_DIMS[1:]))
    return tuple(out)


#: Every level. Four are aggregated from the rows (:func:`_fine`): local quarter hours (every
#: grain rolls up, DST days included) by :data:`INTRADAY` and by :data:`TOPICAL`, local days by
#: :data:`DIMENSIONS` and by :data:`AGENT_DIMS`. The others from the smallest level built that
#: has their dimensions, so `1h by queue` reads hours by queue, not quarter hours by four.
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


#: Sweep measures answered from stored sums: the busiest clock hour of each bin (peak-hour
#: traffic, by calls or by Erlangs) ranks the hourly sums of :func:`peak_sources`, which add up
#: over the dimensions, so hours by the dimensions asked for (or quarter hours, for 15- and
#: 30-minute bins) answer it exactly.
PEAK_BUILDERS = ("peak_hour_erlangs_by_", "peak_hour_calls_by_")


#: Sweep measures stored per dimension set: most contacts waiting at once is a maximum over
#: time of a level that depends on the groups, so it is exact only at the dimensions it was
#: swept by: stored by quarter hour (and by hour) for no dimension and for each one of
#: :data:`SWEEP_DIMS`, rolled up over time only (a maximum of quarter-hour maxima).
SWEEP_BUILDERS = ("max_in_queue",)
#: The dimensions the queue sweep is stored by, one at a time (and by none).
SWEEP_DIMS = (*DIMENSIONS, *TOPICAL[1:])
#: The dimension sets the queue sweep is stored by per local day only (by the quarter hour,
#: agents and pairs of dimensions would be about as large as the rows): days and longer bins
#: by agent, or by any two of :data:`DIMENSIONS`, are exact from it.
SWEEP_DAILY = (("agent_id",), *itertools.combinations(DIMENSIONS, 2))


#: Dimension pairs whose busiest hour of each local day is stored (as by agent): no hourly
#: level holds topic with another dimension, so days and longer bins by these read it.
PEAK_DAILY = tuple((d, "topic") for d in INTRADAY)


def peak_sources() -> tuple[Source, Source]:
    """The two sums peak-hour traffic ranks hours by, as its sweep reads the rows
    (:mod:`kpi.metrics`' ``peak_hour``): contacts offered, and the handle time (talk + hold +
    after-call work, a missing part counted 0) of the offered contacts handled, i.e. answered.

    Examples
    --------
    >>> [s.columns for s in peak_sources()]
    [('outcome',), ('talk_s', 'hold_s', 'acw_s', 'outcome')]
    """
    handle = pl.sum_horizontal(*(pl.col(c).fill_null(0) for c in ("talk_s", "hold_s", "acw_s")))
    answered = factories.ANS.fill_null(False)
    total = pl.when(answered).then(handle.fill_null(0)).otherwise(0).sum().cast(pl.Float64)
    return factories.offered().sources[0], Source("contacts", total)


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
            if meas.name.startswith(PEAK_BUILDERS):
                offered, handle = peak_sources()
                for name, src in (("cube_peak_offered", offered), ("cube_peak_handle_s", handle)):
                    out.setdefault(name, Measure(name, name, (src,), text=name))
            if meas.name.startswith(SWEEP_BUILDERS):
                out.setdefault(meas.name, meas)
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
    return lf.join(bins, on="_bin", maintain_order="left").drop("_bin").rename({"_to": "_bin"})


# ---- the build ---------------------------------------------------------------------------------

#: Seconds between two progress messages of a build (and one at the end of each table).
PROGRESS_S = 5.0


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


def _text(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its enum columns as text again (as the table holds them)."""
    enums = [c for c, t in frame.schema.items() if isinstance(t, pl.Enum)]
    return frame.with_columns(pl.col(enums).cast(pl.String)) if enums else frame


def _fine(
    pre: pl.DataFrame,
    tcol: str,
    cells: list[pl.Expr],
    names: list[str],
    quarters: pl.DataFrame | None,
) -> dict[tuple[str, tuple[str, ...]], pl.DataFrame]:
    """The levels aggregated from the rows of one chunk (``pre``: each row's values computed,
    held in memory so the groupings share them), by (grain, dimensions): by :data:`INTRADAY`
    and quarter hour, by :data:`DIMENSIONS` and day, by :data:`TOPICAL` and quarter hour and,
    when there is ``agent_id``, by :data:`AGENT_DIMS` and day (local bins: ``pre``'s keys from
    :func:`local_keys` when there is a map of ``quarters``; each row's own bin otherwise)."""
    t = pl.col(tcol)
    lf = pre.lazy()
    grouped = [
        ("15m", tuple(d for d in INTRADAY if d in names)),
        ("1d", tuple(d for d in DIMENSIONS if d in names)),
    ]
    topical = tuple(d for d in TOPICAL if d in names)
    if topical:
        grouped.append(("15m", topical))
    if "agent_id" in names:
        grouped.append(("1d", tuple(d for d in AGENT_DIMS if d in names)))
    if quarters is None:
        plans = [lf.group_by([*d, bin_expr(t, g).alias("_bin")]).agg(cells) for g, d in grouped]
        return dict(zip(grouped, pl.collect_all(plans), strict=True))
    key = {"15m": "_q", "1d": "_d"}  # each row's local bins: :func:`local_keys`
    # first seen first: rows in time order (as most tables are) make cells in time order
    plans = [lf.group_by([*d, key[g]], maintain_order=True).agg(cells) for g, d in grouped]
    dtype = quarters["_bin"].dtype  # of the days' bins too
    return {
        (g, d): f.with_columns(pl.col(key[g]).cast(dtype).alias("_bin")).drop(key[g])
        for (g, d), f in zip(grouped, pl.collect_all(plans), strict=True)
    }


def _derive(
    fine: dict[tuple[str, tuple[str, ...]], pl.DataFrame], names: list[str], aggs: list[pl.Expr]
) -> list[tuple[Level, tuple[str, ...], pl.DataFrame]]:
    """Every level of one chunk's cells: the finest from :func:`_fine`, the others from the
    smallest level already made that has their dimensions and a finer grain."""
    built: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}
    out = []
    for level in LEVELS:
        dims = tuple(d for d in level.dims if d in names)
        if (level.grain, dims) in built:
            continue  # the dataset lacks the dimensions that make this level smaller
        if level.dims == AGENT_DIMS and "agent_id" not in names:
            continue  # no agents: the agent levels would be levels by team
        if (level.grain, dims) in fine:
            frame = fine[level.grain, dims]
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
            # in the order of the parent's bins (sorted), first seen first: sorted too
            frame = lf_parent.group_by([*dims, "_bin"], maintain_order=True).agg(aggs).collect()
        if not frame["_bin"].is_sorted():  # ranges read only the row groups they cover
            frame = frame.sort("_bin")
        built[(level.grain, dims)] = frame
        out.append((level, dims, frame))
    return out


def apart_name(held: list[str]) -> str:
    """What a level of parts built apart from the core adds to the core level's name (nothing
    for the core's own levels).

    Examples
    --------
    >>> apart_name(["core", "fcr"]), apart_name(["fcr"]), apart_name(["agents", "fcr"])
    ('', ", FCR's repeats", ", agents' sets and FCR's repeats")
    """
    if "core" in held:
        return ""
    return ", " + " and ".join(APART_NAMES[p] for p in held)


def _named(level: Level, dims: tuple[str, ...]) -> str:
    """``level``'s name, or what it holds when the dataset lacks some of its dimensions
    (hours by priority without a priority column are the hours' totals)."""
    if dims == level.dims:
        return level.name
    grain = {"15m": "intraday", "1h": "hourly", "1d": "daily", "1mo": "monthly"}[level.grain]
    return f"{grain} by {', '.join(dims)}" if dims else f"{grain} total"


def _entry(
    acc: Cells,
    table: str,
    tcol: str,
    file: str,
    name: str,
    grain: str,
    dims: Iterable[str],
    columns: dict[str, str],
    kinds: dict[str, str],
    **extra: Any,
) -> dict[str, Any]:
    """A level's description for ``cube.json``, its files taken from ``acc`` (written)."""
    files, rows = acc.take(file), acc.rows[file]
    return {"table": table, "time": tcol, "level": name, "grain": grain, "dims": list(dims),
            "files": files, "rows": rows, "columns": columns, "kinds": kinds,
            "words": extra.pop("words", {}), "nullable": extra.pop("nullable", []), **extra}  # fmt: skip


#: Rows read into memory at once: whole local months, about this many.
CHUNK_ROWS = 1_000_000
#: Cells held in memory before the build writes them as parts of each level (bytes): at 10
#: million contacts a year the cells take about 1.5 GiB, written as one file per level.
CELLS_BYTES = 2 << 30


def build_levels(
    ds: Dataset,
    measures: Iterable[Measure],
    write: Callable[[str, pl.DataFrame], str],
    report: Callable[[str], None],
    *,
    partition_rows: int = PARTITION_ROWS,
    parts: Collection[str] = PARTS,
) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """Aggregate each (table, time column) at each level of ``parts`` (:data:`PARTS`);
    ``write(name, frame)`` stores one (or a part of one) and returns the file written.

    The rows are read in chunks of whole local months (:data:`CHUNK_ROWS`), grouped into
    partitions of about ``partition_rows`` rows; the exact builders (FCR's repeat test) run
    once per partition and their flags are carried into each chunk's rows. Every level's
    cells lie within a month, so chunks' cells are concatenated, never combined; they are
    kept in memory up to :data:`CELLS_BYTES` and written as parts beyond (``files``). Returns the
    levels' descriptions for ``cube.json``, each with its ``part``, and the parts that
    apply to the data (those with something to store, built or not), each with the
    signatures it stores (:func:`signature`; the core's are left out).
    """
    core = "core" in parts
    out: list[dict[str, Any]] = []
    applies: dict[str, set[str]] = {"core": set()}
    for (table, tcol), items in _groups(ds, measures).items():
        began = time.perf_counter()
        lf = table_frame(ds, table)
        schema = lf.collect_schema()
        names = schema.names()
        sources = [s for s in items if isinstance(s, tuple)]
        builders_all = [
            m for m in items if isinstance(m, Measure) and not m.name.startswith(SWEEP_BUILDERS)
        ]
        builders = builders_all if "fcr" in parts else []
        if builders_all:
            applies.setdefault("fcr", set()).update(
                signature(table, tcol, b) for b in builders_all
            )
        sweeps = [
            m
            for m in items
            if isinstance(m, Measure)
            and m.name.startswith(SWEEP_BUILDERS)
            and {"queue_ts", "wait_s"} <= set(names)
        ]
        # distinct counts the cube can store (bit sets or counts), not those the rows answer
        distinct = any(k == "distinct" and distinct_input(s.agg) is not None for s, k in sources)
        if not (
            core
            or builders
            or (sweeps and "sweeps" in parts)
            or (("customers" in parts or "agents" in parts) and distinct)
            or ("peaks" in parts and tcol == "arrival_ts" and sources)
        ):
            continue  # nothing here for the parts asked (a part alone)
        read = sorted({c for s, _ in sources for c in s.columns})
        wanted = {
            found[0]
            for s, kind in sources
            if kind == "distinct" and (found := distinct_input(s.agg)) is not None
        }
        facts = (
            lf.select(
                pl.len().alias("rows"),
                *(pl.col(c).null_count().alias(f"n|{c}") for c in read),
                *(pl.col(c).approx_n_unique().alias(f"u|{c}") for c in wanted),
                *(
                    [
                        pl.col("wait_s")
                        .filter(pl.col("queue_ts").is_not_null())
                        .max()
                        .alias("w+"),
                        pl.col("wait_s")
                        .filter(pl.col("queue_ts").is_not_null())
                        .min()
                        .alias("w-"),
                    ]
                    if sweeps
                    else []
                ),
            )
            .collect()
            .row(0, named=True)
        )
        nullable = [c for c in read if facts[f"n|{c}"]]
        if sweeps and facts["w+"] is None:  # no waits: nothing to sweep (the rows refuse it)
            sweeps = []
        sweeps_all, sweeps = sweeps, sweeps if "sweeps" in parts else []
        # text dimensions read as enums of their values (one scan): the groupings, sets and
        # sweeps of each chunk key on small integers; cells are written as text again
        # (one streaming query per column: read together, 14 GB of text at 100M contacts)
        texts = [d for d in (*SWEEP_DIMS, "agent_id") if schema.get(d) == pl.String]
        dim_values = dimension_values(lf, texts)
        enums = {d: pl.Enum(v) for d, v in dim_values.items()}
        values: dict[str, list[Any] | None] = {}
        for c in wanted:
            few = facts[f"u|{c}"] <= 2 * MAX_DISTINCT
            got = lf.select(pl.col(c).drop_nulls().unique().sort()).collect() if few else None
            values[c] = got[c].to_list() if got is not None and len(got) <= MAX_DISTINCT else None
        # columns of too many values for bit sets (customers): counted from first contacts
        # (kpi.cube._counts) and stored as sets of their values' hashes, when no two share one
        many = [c for c in wanted if values[c] is None]
        columns: dict[str, str] = {}
        kinds: dict[str, str] = {}
        words: dict[str, list[str]] = {}
        stored = []
        hashes: list[tuple[str, str, str]] = []  # (signature, stored column, column hashed)
        firsts: list[Later[Counts]] = []  # each hashed column's first-contact counts
        has_sets = False  # some distinct count stored as bit sets (in the agents' part)
        for i, (s, kind) in enumerate(sources):
            plan = plan_source(i, s, kind, schema, values)
            found = distinct_input(s.agg) if plan is None and kind == "distinct" else None
            if found is not None and found[0] in many:
                applies.setdefault("customers", set()).add(signature(table, tcol, s))
            if found is not None and found[0] in many and "customers" in parts:
                c, pred = found
                # the counts sort the table's customers apart from the chunks' groupings: in
                # a thread beside them when they fit in memory at once (numpy and polars run
                # without the interpreter's lock, so the two cores share the work)
                beside = facts["rows"] <= COUNT_ROWS
                report(
                    f"{table}: counting distinct {c} from first contacts"
                    + (" beside the chunks" if beside else ", in parts, before the chunks")
                )
                firsts.append(
                    Later(
                        functools.partial(
                            timed, report, f"{table}: distinct {c} counted",
                            functools.partial(
                                customer_counts,
                                lf, time_col=tcol, column=c, counted=pred,
                                dims=[d for d in (*SWEEP_DIMS, "agent_id") if d in names],
                                intraday_dims=[d for d in SWEEP_DIMS if d in names],
                                pairs=[
                                    p for p in itertools.combinations(DIMENSIONS, 2)
                                    if set(p) <= set(names)
                                ],
                                part_rows=COUNT_ROWS,
                                values=dim_values,
                            ),
                        ),
                        background=beside,
                    )
                )  # fmt: skip
                # the day sets are made meanwhile; kept only if no two values share a hash
                counted = pred.fill_null(False) & pl.col(c).is_not_null()
                h = pl.when(counted).then(pl.col(c).hash(seed=0)).alias(f"_h{i}")
                stored.append(Stored("values", [], [], first=[h]))
                hashes.append((signature(table, tcol, s), f"_h{i}", c))
            if plan is None:
                continue
            if plan.kind == "distinct":  # a bit set: the agents' part
                has_sets = True
                applies.setdefault("agents", set()).add(signature(table, tcol, s))
                if "agents" not in parts:
                    continue
            elif not core:
                continue
            stored.append(plan)
            columns[signature(table, tcol, s)] = f"m{i}"
            kinds[f"m{i}"] = plan.kind
            if plan.words:
                words[f"m{i}"] = plan.words
        for j, b in enumerate(builders):
            columns[signature(table, tcol, b)] = f"b{j}"
            kinds[f"b{j}"] = "sum"
        # what the cells at the core's levels hold: the core and the parts built with it, or
        # parts alone (levels of their own, of the rows and theirs); files are named by what
        # they hold unless that is all there is, so a reader never takes one for another
        bitsets = any(k == "distinct" for k in kinds.values())
        held = [p for p, x in zip(CELL_PARTS, (core, bitsets, bool(builders)), strict=True) if x]
        could = [
            p for p, x in zip(CELL_PARTS, (True, has_sets, bool(builders_all)), strict=True) if x
        ]
        alone = "" if held == could else "." + "-".join(held)
        first = [e for s in stored for e in s.first]
        per_row = [e for s in stored for e in s.rows]
        cells = [e for s in stored for e in s.cells] + [pl.len().alias("_rows")]
        nullable = nullable if core else []
        cells += [pl.col(c).count().alias(f"_nn_{c}") for c in nullable]
        cells += [
            pl.col(f"b{j}").sum().cast(pl.Int64).alias(f"b{j}") for j in range(len(builders))
        ]
        aggs = [e for c, k in kinds.items() for e in rollup_exprs(k, c, words.get(c))]
        aggs += [pl.col(c).sum() for c in ("_rows", *(f"_nn_{c}" for c in nullable))]
        t = pl.col(tcol)
        # a chunk keeps the columns its cells, sets and flags read, never the rest (contact ids)
        kept = [c for c in names if c in {*DIMENSIONS, *TOPICAL, *AGENT_DIMS, tcol, *read}]
        rows = lf.filter(t.is_not_null())
        dtype = schema[tcol]
        assert isinstance(dtype, pl.Datetime)
        quarters = quarter_map(rows, tcol, dtype)
        # FCR's look-ahead reads by arrival: partitions need the builders' time to be arrival
        whole = bool(builders) and tcol != "arrival_ts"
        starts, counts = month_counts(rows, tcol, quarters)
        partitions = spans(starts, counts, 2**62 if whole else partition_rows)
        acc = Cells(write, CELLS_BYTES)
        made: list[tuple[Level, tuple[str, ...], str]] = []
        # the hashes' sets: days by every dimension (whole bins are counted: ``firsts``)
        sets = [("1d", [d for d in DIMENSIONS if d in names])]
        valued: list[tuple[str, list[str], tuple[str, str, str], str]] = []
        swept: list[tuple[tuple[str, ...], str, str]] = []
        waits = [facts.get("w+") or 0.0, facts.get("w-") or 0.0]
        margin = (
            timedelta(seconds=max(waits[0], 0) + 1),
            timedelta(seconds=max(-waits[1], 0) + 1),
        )
        sums = tuple(src.agg for src in peak_sources())
        found = [any(s.agg.meta.eq(e) for s, _ in sources) for e in sums]
        ranked = all(found) and tcol == "arrival_ts"
        peak = ("agent_id",) if ranked and "agent_id" in names else ()
        pairs = [p for p in PEAK_DAILY if set(p) <= set(names)] if ranked else []
        peaked = [peak] * bool(peak) + pairs  # each day's busiest hour, stored by these
        if peaked:
            sigs = {signature(table, tcol, src) for src in peak_sources()}
            applies.setdefault("peaks", set()).update(sigs)
        if sweeps_all:
            sigs = {signature(table, tcol, m) for m in sweeps_all}
            applies.setdefault("sweeps", set()).update(sigs)
        peaked = peaked if "peaks" in parts else []
        if not core:  # a part alone: its chunks keep the columns it reads, no others
            need = {tcol, *(d for _, dims in sets if hashes for d in dims)}
            need.update(c for src in peak_sources() if peaked for c in src.columns)
            need.update(d for p in peaked for d in p)
            if bitsets or builders:  # cells at the core's levels
                need.update(DIMENSIONS, TOPICAL, AGENT_DIMS)
            kept = [c for c in kept if c in need]
        # the rows of each chunk are read when the core, the customers' sets or the busiest
        # hours need them (a sweep alone reads its own)
        chunky = core or bitsets or bool(builders) or bool(hashes) or bool(peaked)
        chunked = [(part, spans(starts, counts, CHUNK_ROWS, part)) for part in partitions]
        n_chunks, n_all, n_rows = 0, sum(len(mine) for _, mine in chunked), sum(counts)
        done, said = 0, time.perf_counter()
        for part, mine in chunked:
            if builders:  # one sort of the partition: the longest step without chunks to count
                report(f"{table}: the repeat test of {part.n:,} rows (first-contact resolution)")
            ids = resolved_rows(ds, table, rows, tcol, part, mine, builders) if builders else []
            offset = 0
            # each chunk's queue sweep (numpy: one core) in a thread beside its groupings; with
            # none (the sweeps alone), beside the next chunk's sweep
            sweep_of = functools.partial(
                sweep_later, lf, margin, names, by=SWEEP_DIMS, daily=SWEEP_DAILY, enums=enums
            )
            ahead: dict[int, Later[Any]] = {}
            for at, chunk in enumerate(mine):
                sweep = (ahead.pop(at, None) or sweep_of(chunk)) if sweeps else None
                if sweeps and not chunky and at + 1 < len(mine):
                    ahead[at + 1] = sweep_of(mine[at + 1])
                n_chunks += 1
                if chunky:
                    pre = rows.filter(between(t, chunk.lo, chunk.hi))
                    pre = pre.with_columns(first) if first else pre
                    pre = pre.with_columns(per_row) if per_row else pre
                    df = pre.select(
                        *(pl.col(c).cast(enums[c]) if c in enums else pl.col(c) for c in kept),
                        *(e.meta.output_name() for e in first + per_row),
                    ).collect()
                    df = df.with_columns(
                        pl.Series(f"b{j}", flag(f, offset, df.height)) for j, f in enumerate(ids)
                    )
                    df = local_keys(df, tcol, quarters)
                    offset += df.height
                    first_chunk = n_chunks == 1
                    for level, dims, frame in (
                        _derive(_fine(df, tcol, cells, names, quarters), names, aggs)
                        if core or bitsets or builders
                        else []
                    ):
                        file = (
                            f"{table}.{tcol.strip('_')}{alone}.{level.grain}."
                            f"{'-'.join(dims) or 'total'}"
                        )
                        if first_chunk:
                            made.append((level, dims, file))
                        acc.add(file, _text(frame))
                    hashed = [h[1] for h in hashes]
                    found_sets = customer_sets(df, tcol, hashed, sets, quarters) if hashed else []
                    for (grain, dims), h in ((g, h) for g in sets for h in hashes):
                        file = (
                            f"{table}.{tcol.strip('_')}.{h[1]}.{grain}.{'-'.join(dims) or 'total'}"
                        )
                        if first_chunk:
                            valued.append((grain, dims, h, file))
                        acc.add(file, _text(found_sets.pop(0)))
                    if peaked:  # each day's busiest hour by agent and by the pairs (no hours)
                        got = peak_days(df, tcol, quarters, peak, sums, pairs=pairs)
                        for d, frame in zip(peaked, got, strict=True):
                            acc.add(f"{table}.peak.1d.{'-'.join(d)}", _text(frame))
                    del df
                for d, fine, frame in sweep.result() if sweep is not None else []:
                    levels_ = [(fine, frame)]
                    if fine == "15m":  # and by the hour: a maximum of its quarter hours' maxima
                        hourly = (
                            rebin(frame.lazy(), "1h")
                            .group_by([*d, "_bin"])
                            .agg(pl.col("max_in_queue").max())
                        )
                        levels_.append(("1h", hourly.collect().sort("_bin")))
                    for grain, cells_ in levels_:
                        file = f"{table}.queue.{grain}.{'-'.join(d) or 'total'}"
                        if n_chunks == 1:
                            swept.append((d, grain, file))
                        acc.add(file, cells_)
                done += chunk.n
                if time.perf_counter() - said >= PROGRESS_S or n_chunks == n_all:
                    said = time.perf_counter()
                    to = f", through {starts[chunk.stop - 1]:%Y-%m}" if chunk.stop else ""
                    report(
                        f"{table} by {tcol}: {n_chunks}/{n_all} chunks ({done:,} of"
                        f" {n_rows:,} rows{to}) in {said - began:.0f} s"
                    )
        for level, dims, file in made:
            kw = {
                "words": words,
                "nullable": nullable,
                "part": "+".join(held) if not core else "core",
            }
            name = _named(level, dims) + apart_name(held)
            out.append(
                _entry(acc, table, tcol, file, name, level.grain, dims, columns, kinds, **kw)
            )
        customers = [f.result() for f in firsts]
        unique = {h[1] for h, got in zip(hashes, customers, strict=True) if got.unique}
        for grain, dims, (sig, col, c), file in valued:
            if col not in unique:  # two values share a hash: the rows answer (files dropped)
                continue
            name = f"distinct {c} {grain} by {', '.join(dims) or 'nothing'}"
            kw = {"values": col, "part": "customers"}
            out.append(
                _entry(
                    acc, table, tcol, file, name, grain, dims, {sig: col}, {col: "values"}, **kw
                )
            )
        if firsts:
            maps: dict[str, pl.DataFrame | None] = {
                "_day": (
                    quarters.select("_day", pl.col("_dbin").alias("_bin")).unique()
                    if quarters is not None
                    else rows.select(t.dt.date().alias("_day"), bin_expr(t, "1d").alias("_bin"))
                    .unique()
                    .collect()
                ),
                "_k": quarters.select("_k", "_bin") if quarters is not None else None,
            }
        for stored, got in zip(hashes, customers, strict=True):
            if got.unique:
                counted = count_levels(table, tcol, stored, got.frames, maps, write)
                out += [{**e, "part": "customers"} for e in counted]
        for d, grain, file in swept:
            name = f"queue sweep {grain} by {', '.join(d) or 'nothing'}"
            sigs = {signature(table, tcol, m): "max_in_queue" for m in sweeps}
            kw = {"sweep": sweeps[0].name, "part": "sweeps"}
            out.append(
                _entry(acc, table, tcol, file, name, grain, d, sigs, {"max_in_queue": "max"}, **kw)
            )
        for d in peaked:
            sigs = {signature(table, tcol, src): "c_calls" for src in peak_sources()}
            name, file = f"peak hours by day, {', '.join(d)}", f"{table}.peak.1d.{'-'.join(d)}"
            kw = {"peak": True, "part": "peaks"}
            out.append(_entry(acc, table, tcol, file, name, "1d", d, sigs, {}, **kw))
        sizes = ", ".join(f"{o['level']} {o['rows']:,}" for o in out if o["table"] == table)
        report(
            f"{table} by {tcol}: "
            + (f"{len(columns)} measures" if core else f"part(s) {', '.join(parts)}")
            + f"; {len(partitions)} partition(s),"
            f" {n_chunks} chunk(s); cells: {sizes} in {time.perf_counter() - began:.1f} s"
        )
    return out, applies
