"""The measure cube: measures aggregated once, so any roll-up of them is a small query.

Every KPI is a function of measures. The measures that roll up exactly, aggregated once by
quarter hour in the site's local time and the slicing dimensions (:data:`LEVELS`), answer every
coarser grain, any subset of those dimensions and any range whose bounds fall on the cube's
bins, exactly, and the engine's rule for unknown groups (a group whose rows are all null in a
column a measure reads is null, not 0) is kept by storing each such column's non-null count.
:mod:`kpi.compute` asks the cube first (:meth:`Cube.rollup`) and reads the rows for the rest,
so results are the same either way (``tests/test_cube.py`` compares them over KPIs, grains,
dimensions, ranges and DST days).

Levels. Four are aggregated from the rows: quarter hours by site, team, queue and channel;
quarter hours by topic, direction and priority (:data:`kpi.cube._build.TOPICAL`, the views'
dimensions of few values); days by site, team, queue, channel and topic; days by team and
agent. The others are aggregated from them: hours by those, hours and quarter hours by
nothing, hours by each single dimension, days by each single dimension and by nothing, months
by team and agent (agent scorecards and the agent explorer), days by agent alone (views by
agent: an agent who works for several teams in a day has one cell).
The rows are read in chunks of whole local months (every cell lies in one), grouped in
partitions of about :data:`PARTITION_ROWS` rows for FCR's repeat test; a level whose cells
outgrow a memory budget is written in parts. A query reads the smallest level that has its
dimensions, a grain its grain is a multiple of and its range's bounds on its bins (``1h by
queue``: hours by queue, 24 queues × 8,760 hours).

Each measure's strategy:

- ``sum`` measures (counts and totals: offered, answered, waits, handle times, sales, ...):
  the cell's sum, rolled up as a sum. Exact.
- ``max`` measures (``longest_wait``'s longest wait): the cell's maximum, rolled up as a
  maximum of cell maxima. Exact.
- ``distinct`` measures (agents who handled contacts, for ``handled_per_agent`` and
  ``sales_per_agent``): a bit set of the cell's values, one ``UInt64`` word per 64 values,
  rolled up with a bitwise or and counted with a population count. Exact, for columns of at
  most :data:`kpi.cube._build.MAX_DISTINCT` values (2,048).
- FCR's numerator under its default window and key: each contact's repeat flag is computed
  once per partition (its contacts and the next window's days decide it: the test looks
  forward only) and counted like a ``sum`` in every level. Exact.
- Peak-hour traffic (``peak_hour_traffic``, by calls or Erlangs): the busiest clock hour of a
  bin ranks hourly sums of contacts offered and of answered handle time, which add up over
  the dimensions, so hours by the dimensions asked for (quarter hours for 15- and 30-minute
  bins) answer it exactly: any ``by`` the hourly levels hold. Agents have no hours: each
  local day's busiest hour by agent (by each ranking, the earliest of equals) is stored, and
  a day or longer bin's busiest hour is the busiest of its days'. So it is for topic with
  each intraday dimension (:data:`kpi.cube._build.PEAK_DAILY`; no hourly level holds topic
  with another dimension), from one hourly grouping of each chunk by all of them.
- Most contacts waiting at once (``max_in_queue``): the queue level is a property of the
  groups swept, so it is stored per dimension set, swept by quarter hour (and rolled up to
  hours) by nothing and by each one of :data:`kpi.cube._build.SWEEP_DIMS`; a query by
  exactly one of those sets takes the maximum of its quarter-hour (or hour) maxima. By agent
  (the contacts each agent answered, and those no agent did) it is stored per local day only
  (:data:`kpi.cube._build.SWEEP_DAILY`), and so it is by each pair of
  :data:`kpi.cube._build.DIMENSIONS` (each pair's values as one code): days and longer bins
  by agent or by a pair take the maximum of its days'. Exact; a pair finer than a day, or
  with direction or priority, and agents finer than a day, read the rows.
- ``distinct`` measures of too many values for bit sets (customers contacting, for
  ``contacts_per_customer``: a week's count is not the sum of its days'):
  a whole bin's distinct customers is the number of customers whose *first* counted contact
  of that bin falls in it. The build flags each customer's first contact per bin of every
  grain (local days, weeks, months, quarters, years; quarter hours, half hours, hours), by
  nothing and by each single dimension (agents by day and more), and stores the flags' counts
  per local day (``n_1d`` ... ``n_1y``) and per quarter hour and hour (``n_15m``, ``n_30m``,
  ``n_1h``): a query by nothing or one dimension whose range holds whole bins sums them
  (:mod:`kpi.cube._counts`). Others (a range that cuts a week, two dimensions) count the
  distinct 64-bit hashes of the stored sets, one row per (day, :data:`DIMENSIONS`, value's
  hash), marked when the value has other rows that day (so a count by day compares only
  those). Exact: both are stored only when no two values share a hash (checked when building
  with a second hash).
- Left to the rows: distinct customers by agent finer than a day, by two dimensions finer
  than a day or by agent with a range that cuts a bin, medians
  and other statistics, stocks, other variants (a service-level threshold of 30 s, another
  FCR window), ``agent_id`` finer than a day or with a dimension other than team, other columns,
  topic, direction or priority with a dimension of the first level finer than a day, contacts
  attributed by answer or completion time, ``bin_offset``, ranges whose bounds
  are not on a cube bin, chunked evaluation, and datasets that are not a directory (or whose
  tables were filtered or swapped after loading).

Kept in ``DIR/.kpi-cube/`` keyed by the data's files (:mod:`kpi.cube._store`); stale cubes are
never used. ``kpi cube build|info|clear --data DIR``; ``evaluate(..., cube=True)`` builds one
when there is none, ``cube=False`` reads the rows; :func:`prepare` builds one before an
explorer's first redraw and turns a cube that cannot be written into a note.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from kpi._fs import atomic_write
from kpi._progress import reporter
from kpi.cube._build import (
    AGENT_DIMS,
    DIMENSIONS,
    EXACT_BUILDERS,
    LEVELS,
    PARTITION_ROWS,
    PEAK_BUILDERS,
    ROLLS_UP_TO,
    SWEEP_BUILDERS,
    build_levels,
    cube_measures,
    peak_sources,
    rebin,
    signature,
)
from kpi.cube._plan import rollup_exprs
from kpi.cube._store import (
    FORMAT,
    cube_dir,
    data_key,
    plan_fingerprint,
    read_meta,
    remove,
    write_meta,
)
from kpi.data import Dataset, load
from kpi.errors import KpiError
from kpi.metrics import Measure, Source

__all__ = [
    "AGENT_DIMS",
    "DIMENSIONS",
    "LEVELS",
    "PARTITION_ROWS",
    "PREPARE_MIN_ROWS",
    "Cube",
    "CubeWarning",
    "build",
    "clear",
    "find",
    "info",
    "prepare",
    "progress_to",
]

_OPEN: dict[Path, tuple[str, Cube]] = {}
_PLANS: dict[tuple[str, str], dict[str, str]] = {}


#: :func:`prepare` builds a cube for data of at least this many rows (smaller data is quick
#: from the rows, and a sample directory is left as it is).
PREPARE_MIN_ROWS = 1_000_000


class CubeWarning(UserWarning):
    """A note that the rows answer where a cube was wanted (it could not be written)."""


#: Where :func:`prepare` reports a build's progress when not told (:func:`progress_to`).
_PROGRESS: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "kpi_cube_progress", default=None
)


@contextlib.contextmanager
def progress_to(report: Callable[[str], None]) -> Iterator[None]:
    """Within the block, a cube built on first use (:func:`prepare`) reports its progress to
    ``report`` (an explorer's status line) instead of standard error.

    Examples
    --------
    >>> said = []
    >>> with progress_to(said.append):
    ...     _PROGRESS.get() is not None
    True
    >>> _PROGRESS.get() is None
    True
    """
    token = _PROGRESS.set(report)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


#: (data directory, data key) to the note of a build that failed, so it is not retried on every
#: redraw (a new key, after the data changed, tries again).
_FAILED: dict[tuple[Path, str], str] = {}


class Cube:
    """A built cube: its directory, description (``cube.json``) and the site's zone."""

    def __init__(self, where: Path, meta: dict[str, Any]) -> None:
        self.where = where
        self.meta = meta
        self.tz: str = meta["tz"]
        self._schemas: dict[str, pl.Schema] = {}

    def _scan(self, level: dict[str, Any]) -> tuple[pl.LazyFrame, pl.Schema]:
        files = level["files"]
        lf = pl.scan_parquet([self.where / f for f in files])
        if files[0] not in self._schemas:
            self._schemas[files[0]] = lf.collect_schema()
        return lf, self._schemas[files[0]]

    def _aligned(self, ts: datetime | None, grain: str) -> bool:
        if ts is None:
            return True
        s = pl.Series([ts]).dt.convert_time_zone(self.tz)
        return bool((s.dt.truncate(grain) == s).all())

    def level(
        self,
        table: str,
        time_col: str,
        sigs: Sequence[str],
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> dict[str, Any] | None:
        """The smallest level that answers: ``by`` among its dimensions, ``every`` a multiple
        of its grain, both bounds on its bins and every signature stored; else None."""
        return self._smallest(
            lambda lv: (
                lv["table"] == table
                and lv["time"] == time_col
                and not lv.get("sweep")
                and not lv.get("values")
                and not lv.get("counts")
                and not lv.get("peak")
                and set(by) <= set(lv["dims"])
                and all(s in lv["columns"] for s in sigs)
            ),
            every,
            start,
            end,
        )

    def _smallest(
        self,
        kind: Callable[[dict[str, Any]], bool],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> dict[str, Any] | None:
        """The level with the fewest cells of those ``kind`` accepts whose grain ``every`` is a
        multiple of and whose bins hold both bounds; else None."""
        fits = [
            lv
            for lv in self.meta["levels"]
            if kind(lv)
            and every in ROLLS_UP_TO[lv["grain"]]
            and self._aligned(start, lv["grain"])
            and self._aligned(end, lv["grain"])
        ]
        return min(fits, key=lambda lv: lv["rows"]) if fits else None

    def _cells(
        self,
        level: dict[str, Any],
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[pl.LazyFrame, pl.Schema, list[pl.Expr]]:
        lf, schema = self._scan(level)
        b = pl.col("_bin")
        if start is not None:
            lf = lf.filter(b >= pl.lit(start).dt.convert_time_zone(self.tz))
        if end is not None:
            lf = lf.filter(b < pl.lit(end).dt.convert_time_zone(self.tz))
        if every is None:
            return lf, schema, [*by, pl.lit(0, pl.Int32).alias("_bin")]
        if every != level["grain"]:
            lf = rebin(lf, every)
        return lf, schema, [*by, "_bin"]

    def rollup(
        self,
        table: str,
        time_col: str,
        items: Sequence[tuple[str, Source]],
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
        rows: str,
        known: dict[str, str],
    ) -> pl.LazyFrame | None:
        """The engine's aggregation of one (table, time column) from the cube, or None.

        The same columns as the rows give: ``by``, ``_bin``, one column per measure (its
        aggregation over the rows of each group), ``rows`` (the group's row count) and, for
        each column of ``known``, whether the group has a value in it (``known`` maps the
        column to the name of that flag).
        """
        sigs = [signature(table, time_col, src) for _, src in items]
        valued = {s for lv in self.meta["levels"] if lv.get("values") for s in lv["columns"]}
        if valued & set(sigs):  # distinct counts of many values: from their stored sets
            rest = [it for it, s in zip(items, sigs, strict=True) if s not in valued]
            kw = {"by": by, "every": every, "start": start, "end": end}
            frame = self.rollup(table, time_col, rest, **kw, rows=rows, known=known)
            for (name, _), s in zip(items, sigs, strict=True):
                if frame is None or s not in valued:
                    continue
                counted = self._distinct(table, time_col, s, name, **kw)
                if counted is None:
                    return None
                frame = frame.join(counted, on=[*by, "_bin"], how="left", nulls_equal=True)
                frame = frame.with_columns(pl.col(name).fill_null(0))
            order = [*by, "_bin", *(n for n, _ in items), rows, *known.values()]
            return None if frame is None else frame.select(order)
        level = self.level(table, time_col, sigs, by, every, start, end)
        if level is None:
            return None
        if any(c not in level["read"] for c in known):
            return None
        lf, schema, keys = self._cells(level, by, every, start, end)
        # a level with exactly these dimensions at this grain: its cells are the groups
        direct = every == level["grain"] and set(by) == set(level["dims"])
        cols, kinds, words = level["columns"], level["kinds"], level["words"]
        aggs = []
        for (name, _), s in zip(items, sigs, strict=True):
            col = cols[s]
            kind = kinds[col]
            if kind == "distinct":
                sets = (
                    [pl.col(w) for w in words[col]]
                    if direct
                    else rollup_exprs(kind, col, words[col])
                )
                counts = (e.bitwise_count_ones() for e in sets)
                aggs.append(pl.sum_horizontal(counts).cast(pl.Int64).alias(name))
            else:
                (agg,) = [pl.col(col)] if direct else rollup_exprs(kind, col, None)
                aggs.append(agg.cast(schema[col]).alias(name))
        total = (lambda e: e) if direct else (lambda e: e.sum())
        aggs.append(total(pl.col("_rows")).alias(rows))
        for c, flag in known.items():
            nn = f"_nn_{c}" if c in level["nullable"] else "_rows"
            aggs.append((total(pl.col(nn)) > 0).alias(flag))
        return lf.select(*keys, *aggs) if direct else lf.group_by(keys).agg(aggs)

    def _distinct(
        self,
        table: str,
        time_col: str,
        sig: str,
        name: str,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> pl.LazyFrame | None:
        """A distinct count of many values (customers), or None. Whole bins of a grain (both
        bounds on its bins) by nothing or one dimension: the sum over each bin's days (quarter
        hours) of the values first seen in that bin (:mod:`kpi.cube._counts`). Else from the
        smallest level of their stored sets (one row per bin, dimensions and value's hash)."""
        if every is not None and self._aligned(start, every) and self._aligned(end, every):
            level = self._smallest(
                lambda lv: (
                    bool(lv.get("counts"))
                    and lv["table"] == table
                    and lv["time"] == time_col
                    and sig in lv["columns"]
                    and list(lv["dims"]) == list(by)
                    and f"n_{every}" in lv["counts"]
                ),
                every,
                start,
                end,
            )
            if level is not None:
                lf, _, keys = self._cells(level, by, every, start, end)
                n = pl.col(f"n_{every}")
                if every == level["grain"]:  # its cells are the groups
                    return lf.select(*keys, n.cast(pl.Int64).alias(name))
                return lf.group_by(keys).agg(n.sum().cast(pl.Int64).alias(name))
        level = self._smallest(
            lambda lv: (
                bool(lv.get("values"))
                and lv["table"] == table
                and lv["time"] == time_col
                and sig in lv["columns"]
                and set(by) <= set(lv["dims"])
            ),
            every,
            start,
            end,
        )
        if level is None:
            return None
        lf, schema, keys = self._cells(level, by, every, start, end)
        h = pl.col(level["values"])
        if every != level["grain"] or "_m" not in schema:
            return lf.group_by(keys).agg(h.n_unique().cast(pl.Int64).alias(name))
        # a value alone in its bin counts once wherever it is: only the others are compared
        once = lf.filter(~pl.col("_m")).group_by(keys).agg(pl.len().cast(pl.Int64).alias(name))
        more = lf.filter("_m").group_by(keys).agg(h.n_unique().cast(pl.Int64).alias(name))
        return pl.concat([once, more]).group_by(keys).agg(pl.col(name).sum())

    def rollup_builder(
        self,
        meas: Measure,
        time_col: str,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> pl.LazyFrame | None:
        """An exact builder measure (FCR's numerator, peak-hour traffic) from the cube, or
        None: its groups are those the builder's own frame has."""
        if meas.name.startswith(SWEEP_BUILDERS):
            return self._sweep(meas, by=by, every=every, start=start, end=end)
        if meas.name.startswith(PEAK_BUILDERS) and time_col == "arrival_ts":
            return self._peak(meas, by=by, every=every, start=start, end=end)
        if not meas.name.startswith(EXACT_BUILDERS) or not meas.tables:
            return None
        table = meas.tables[0]
        sig = signature(table, time_col, meas)
        level = self.level(table, time_col, [sig], by, every, start, end)
        if level is None:
            return None
        lf, schema, keys = self._cells(level, by, every, start, end)
        col = level["columns"][sig]
        if every == level["grain"] and set(by) == set(level["dims"]):  # cells are the groups
            return lf.select(*keys, pl.col(col).alias(meas.name)).filter(pl.col(meas.name) > 0)
        total = pl.col(col).sum().cast(schema[col]).alias(meas.name)
        return lf.group_by(keys).agg(total).filter(pl.col(meas.name) > 0)

    def _sweep(
        self,
        meas: Measure,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> pl.LazyFrame | None:
        """A queue sweep's maximum from its level swept by exactly ``by`` (a maximum of the
        quarter-hour maxima in each bin), or None."""
        level = self._smallest(
            lambda lv: lv.get("sweep") == meas.name and set(lv["dims"]) == set(by),
            every,
            start,
            end,
        )
        if level is None:
            return None
        lf, _, keys = self._cells(level, by, every, start, end)
        if every == level["grain"]:
            return lf.select(*keys, meas.name)
        return lf.group_by(keys).agg(pl.col(meas.name).max())

    def _peak(
        self,
        meas: Measure,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> pl.LazyFrame | None:
        """The busiest clock hour of each bin (the bin itself under 15- and 30-minute bins):
        contacts offered and answered handle time summed by hour from the cube, ranked by
        calls or Erlangs, ties to the earliest hour, as the sweep ranks the rows' hours."""
        rank_by = meas.name.rsplit("_by_", 1)[1]
        if every not in ("15m", "30m", "1h"):
            days = self._peak_days(meas, rank_by, by=by, every=every, start=start, end=end)
            if days is not None:
                return days
        hour = every if every in ("15m", "30m") else "1h"
        offered, handle = peak_sources()
        hours = self.rollup(
            "contacts", "arrival_ts", [("_calls", offered), ("_handle", handle)],
            by=by, every=hour, start=start, end=end, rows="_n", known={},
        )  # fmt: skip
        if hours is None:
            return None
        hour_s = {"15m": 900, "30m": 1800}.get(every or "", 3600)
        hours = hours.filter(pl.col("_calls") > 0).with_columns(
            pl.col("_bin").alias("_hour"), (pl.col("_handle") / hour_s).alias("_erlangs")
        )
        value = "_calls" if meas.name.startswith("peak_hour_calls_by_") else "_erlangs"
        if every == hour:  # one hour per bin: no ranking
            return hours.select(*by, "_bin", pl.col(value).alias(meas.name))
        if every is None:
            hours = hours.with_columns(pl.lit(0, pl.Int32).alias("_bin"))
        else:
            hours = rebin(hours, every)
        rank = "_calls" if rank_by == "calls" else "_erlangs"
        order = [pl.col(rank), -pl.col("_hour").dt.epoch("us")]
        return hours.group_by([*by, "_bin"]).agg(
            pl.col(value).sort_by(order).last().alias(meas.name)
        )

    def _peak_days(
        self,
        meas: Measure,
        rank_by: str,
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> pl.LazyFrame | None:
        """Peak-hour traffic of day or longer bins from each day's busiest hour (stored by
        agent, who have no hourly levels): the busiest of a bin's days' busiest hours, the
        earliest of equals, is the bin's busiest hour."""
        sigs = [signature("contacts", "arrival_ts", src) for src in peak_sources()]
        level = self._smallest(
            lambda lv: (
                bool(lv.get("peak"))
                and set(lv["dims"]) == set(by)
                and all(s in lv["columns"] for s in sigs)
            ),
            every,
            start,
            end,
        )
        if level is None:
            return None
        lf, _, keys = self._cells(level, by, every, start, end)
        r = "c" if rank_by == "calls" else "e"
        rank = pl.col(f"{r}_calls" if r == "c" else f"{r}_handle")
        order = [rank, -pl.col(f"{r}_hour").dt.epoch("us")]
        if meas.name.startswith("peak_hour_calls_by_"):
            value = pl.col(f"{r}_calls").cast(pl.Int64)
        else:
            value = (pl.col(f"{r}_handle") / 3600).cast(pl.Float64)
        return lf.group_by(keys).agg(value.sort_by(order).last().alias(meas.name))


def _fresh(ds: Dataset, where: Path, key: str) -> Cube | None:
    meta = read_meta(where)
    if meta is None or meta.get("key") != key:
        return None
    hit = _OPEN.get(where)
    if hit is not None and hit[0] == meta["built"]:
        return hit[1]
    cube = Cube(where, meta)
    _OPEN[where] = (meta["built"], cube)
    return cube


def _loaded_plans(path: Path, key: str) -> dict[str, str]:
    """The plan fingerprint of each table of ``path`` as :func:`kpi.data.load` opens it (kept
    per path, as given, and data key: a plan names its files by the path it was loaded by)."""
    hit = _PLANS.get((str(path), key))
    if hit is None:
        fresh = load(path, check=False)
        hit = {t: plan_fingerprint(lf) for t, lf in fresh.tables.items()}
        _PLANS[(str(path), key)] = hit
    return hit


def _own_tables(ds: Dataset, cube: Cube, key: str) -> bool:
    """Whether ``ds`` holds the directory's tables as loaded (not filtered or swapped), by
    whichever path it was loaded (relative or absolute)."""
    if ds.tz != cube.tz or ds.path is None:
        return False
    plans = _loaded_plans(Path(ds.path), key)
    for table in cube.meta["fingerprints"]:
        if table not in ds.tables or plan_fingerprint(ds.tables[table]) != plans.get(table):
            return False
    return True


def find(
    data: Dataset | str | Path,
    *,
    build_missing: bool = False,
    params: dict[str, Any] | None = None,
    progress: bool | Callable[[str], None] = False,
) -> Cube | None:
    """The fresh cube of a dataset directory, or None (no directory, none built, stale, or the
    dataset's tables are not the directory's as loaded). ``build_missing``: build it when it
    is missing or stale (``params``, ``progress`` as for :func:`build`)."""
    ds = data if isinstance(data, Dataset) else load(data, check=False)
    if ds.path is None:
        return None
    where = cube_dir(ds.path)
    key = data_key(ds.path)
    cube = _fresh(ds, where, key)
    if cube is None and build_missing:
        build(ds.path, params=params, progress=progress)
        cube = _fresh(ds, where, key)
    return cube if cube is not None and _own_tables(ds, cube, key) else None


def prepare(
    data: Dataset,
    *,
    params: dict[str, Any] | None = None,
    progress: bool | Callable[[str], None] | None = None,
) -> str | None:
    """Make sure a dataset directory's cube is there before an explorer's first redraw.

    Builds it (``params``, ``progress`` as for :func:`build`; ``None``: to the callable of
    :func:`progress_to` around the call, else as lines on standard error, since a build of
    millions of rows takes a while) when ``data`` holds the tables of its directory as
    loaded, has at least :data:`PREPARE_MIN_ROWS` rows and there is no fresh cube; does
    nothing for data that is not a directory or was filtered (the cube could not answer for
    it), or is small (the rows answer in a blink). A cube that cannot be written
    (a read-only place, a full disk) or built is not an error: the queries read the rows, and
    the returned line says so (once per directory and data key; the build is not retried).

    Returns
    -------
    str | None
        None when the cube is ready or not needed; else one line on why the rows are read.

    Examples
    --------
    >>> import polars as pl
    >>> prepare(Dataset({"contacts": pl.LazyFrame({"wait_s": [1.0]})})) is None
    True
    """
    if data.path is None:
        return None
    root = Path(data.path)
    key = data_key(root)
    if (root.resolve(), key) in _FAILED:
        return None
    fresh = load(root, check=False)
    plans = _loaded_plans(root, key)
    if data.tz != fresh.tz or any(
        t not in data.tables or plan_fingerprint(data.tables[t]) != fp for t, fp in plans.items()
    ):
        return None  # filtered or swapped tables: a cube of the directory cannot answer
    where = cube_dir(root)
    if _fresh(fresh, where, key) is not None:
        return None
    rows = sum(lf.select(pl.len()).collect().item() for lf in fresh.tables.values())
    if rows < PREPARE_MIN_ROWS:
        return None
    if progress is None:
        progress = _PROGRESS.get() or True
    say = reporter(progress, "kpi cube")
    if say is not None:
        say(f"{rows:,} rows: building the measure cube once, so that later redraws are quick")
    try:
        build(root, params=params, progress=progress)
    except OSError as exc:
        why = exc.strerror or str(exc)
        note = f"{where}: the measure cube could not be written ({why}); reading the rows"
    except (KpiError, pl.exceptions.PolarsError) as exc:  # the rows may still answer
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        note = f"{root}: the measure cube could not be built ({first}); reading the rows"
    else:
        return None
    _FAILED[(root.resolve(), key)] = note
    return note


def build(
    data_dir: str | Path,
    *,
    params: dict[str, Any] | None = None,
    progress: bool | Callable[[str], None] = False,
    partition_rows: int = PARTITION_ROWS,
) -> Path:
    """Build the cube of a dataset directory (always from its files) and publish it.

    ``params``: definition variants the cube stores instead of the defaults (the dataset's
    own facts, such as ``csat.scale_max``, belong here). ``partition_rows``: FCR's repeat
    test sorts partitions of whole local months of about this many rows (and the days its
    window looks ahead); the rows are aggregated in smaller chunks of whole months, so memory
    follows a partition's sort, a chunk and the cells held, not the table. Returns the cube
    directory.
    """
    root = Path(data_dir)
    report = reporter(progress, "kpi cube") or (lambda msg: None)
    began = time.perf_counter()
    key = data_key(root)  # before reading: a change meanwhile leaves the cube stale
    ds = load(root, check=False)
    where = cube_dir(root)
    where.mkdir(parents=True, exist_ok=True)
    measures = cube_measures(params)
    report(f"building the cube of {root} ({len(measures)} additive measures) in {where}")

    def write(name: str, frame: pl.DataFrame) -> str:
        file = f"{name}.{key}.parquet"
        atomic_write(
            where / file,
            lambda p: frame.write_parquet(p, compression="lz4", row_group_size=65_536),
        )
        return file

    levels = build_levels(ds, measures, write, report, partition_rows=partition_rows)
    for lv in levels:
        lv["read"] = sorted(
            {
                c
                for m in measures
                for s in m.sources
                if s.table == lv["table"]
                and signature(lv["table"], lv["time"], s) in lv["columns"]
                for c in s.columns
            }
        )
    tables = sorted({lv["table"] for lv in levels})
    meta = {
        "format": FORMAT,
        "key": key,
        "built": time.time_ns(),
        "tz": ds.tz,
        "data": str(root.resolve()),
        "params": params or {},
        "seconds": round(time.perf_counter() - began, 2),
        "fingerprints": {t: plan_fingerprint(ds.tables[t]) for t in tables},
        "levels": levels,
    }
    write_meta(where, meta)
    report(f"built in {meta['seconds']:.1f} s")
    return where


def info(data_dir: str | Path) -> dict[str, Any]:
    """What is known of a directory's cube: where, whether it is fresh, levels and sizes."""
    root = Path(data_dir)
    where = cube_dir(root)
    meta = read_meta(where)
    out: dict[str, Any] = {"where": str(where), "exists": meta is not None}
    if meta is None:
        return out
    out["fresh"] = meta.get("key") == data_key(root)
    out["seconds"] = meta.get("seconds")
    out["params"] = meta.get("params")
    out["levels"] = [
        {
            "table": lv["table"],
            "time": lv["time"],
            "level": lv["level"],
            "grain": lv["grain"],
            "dims": lv["dims"],
            "measures": len(lv["columns"]),
            "cells": lv["rows"],
            "bytes": sum((where / f).stat().st_size for f in lv["files"] if (where / f).exists()),
        }
        for lv in meta["levels"]
    ]
    return out


def clear(data_dir: str | Path) -> bool:
    """Remove a directory's cube; True if there was one."""
    where = cube_dir(Path(data_dir))
    _OPEN.pop(where, None)
    if not where.exists():
        return False
    if (where / "cube.json").exists() or not any(where.iterdir()) or where.name == ".kpi-cube":
        return remove(where)
    raise KpiError(f"{where} does not look like a cube directory; not removed")
