"""Reading a table for the cube in chunks of whole local months, and the queue sweep.

A chunk is a run of whole local months (:class:`Span`), so every cell of every level (quarter
hours, days, months by agent) lies in one chunk and chunks' cells are concatenated, never
combined; the months and their row counts come from the map of UTC quarter hours to local ones
(:func:`quarter_map`), read once. The queue sweep (:func:`queue_levels`) is run per chunk over the
contacts waiting during it. :class:`Cells` holds each level's cells, writing parts past a
memory budget.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import polars as pl

from kpi.cube._later import Later
from kpi.periods import bin_expr

__all__ = [
    "Cells",
    "Span",
    "between",
    "customer_sets",
    "local_keys",
    "local_quarters",
    "month_counts",
    "peak_days",
    "quarter_map",
    "queue_levels",
    "spans",
    "sweep_later",
]


def between(ts: pl.Expr, lo: datetime | None, hi: datetime | None) -> pl.Expr:
    cond = ts.is_not_null()
    if lo is not None:
        cond = cond & (ts >= lo)
    if hi is not None:
        cond = cond & (ts < hi)
    return cond


def local_quarters(keys: pl.DataFrame, dtype: pl.Datetime) -> pl.DataFrame | None:
    """``keys`` (UTC quarter hours ``_k``, epoch seconds // 900) with the local quarter hour
    of each (``_bin``); None when one spans two local ones (a zone whose offset is not whole
    quarter hours)."""
    unit = {"ns": 10**9, "us": 10**6, "ms": 10**3}[dtype.time_unit or "us"]
    k = pl.col("_k")

    def stamp(e: pl.Expr) -> pl.Expr:
        utc = e.cast(pl.Datetime(dtype.time_unit or "us", "UTC"))
        return utc.dt.convert_time_zone(dtype.time_zone or "UTC")

    keys = keys.with_columns(
        bin_expr(stamp(k * 900 * unit), "15m").alias("_bin"),
        bin_expr(stamp((k + 1) * 900 * unit - 1), "15m").alias("_b1"),
    )
    return None if not (keys["_bin"] == keys["_b1"]).all() else keys.drop("_b1")


def quarter_map(rows: pl.LazyFrame, tcol: str, dtype: pl.Datetime) -> pl.DataFrame | None:
    """The map from each UTC quarter hour of the data (``_k``, with its row count ``_n``) to
    its local quarter hour (``_bin``), day (``_day``, ``_dbin``) and month (``_mbin``); None
    for a zone whose offset is not whole quarter hours."""
    keys = rows.group_by((pl.col(tcol).dt.epoch("s") // 900).alias("_k")).agg(pl.len().alias("_n"))
    keys = local_quarters(keys.collect(), dtype)
    if keys is None:
        return None
    b = pl.col("_bin")
    return keys.select(
        "_k", "_n", "_bin", b.dt.date().alias("_day"),
        bin_expr(b, "1d").alias("_dbin"), bin_expr(b, "1mo").alias("_mbin"),
        bin_expr(b, "1h").alias("_hbin"),
    ).sort("_k")  # fmt: skip


def local_keys(df: pl.DataFrame, tcol: str, quarters: pl.DataFrame | None) -> pl.DataFrame:
    """``df`` with each row's local quarter hour, hour and day (``_q``, ``_h``, ``_d``: the
    bins' instants as integers), looked up in ``quarters`` by its UTC quarter hour (once per
    chunk, for every grouping of it); ``df`` itself when there is no map."""
    if quarters is None:
        return df
    at = np.searchsorted(quarters["_k"].to_numpy(), (df[tcol].dt.epoch("s") // 900).to_numpy())
    return df.with_columns(
        pl.Series(name, quarters[col].to_physical().to_numpy()[at])
        for name, col in (("_q", "_bin"), ("_h", "_hbin"), ("_d", "_dbin"))
    )


def queue_levels(
    lf: pl.LazyFrame,
    chunk: Span,
    margin: tuple[timedelta, timedelta],
    names: list[str],
    by: tuple[str, ...],
    *,
    daily: Sequence[tuple[str, ...]] = (),
    enums: dict[str, pl.Enum] | None = None,
) -> list[tuple[tuple[str, ...], str, pl.DataFrame]]:
    """Most contacts waiting at once in each local quarter hour of ``chunk``, by no dimension
    and by each one of ``by``, and in each local day by each dimension set of ``daily`` (agents,
    pairs of dimensions: by the quarter hour they would be about as large as the rows), as
    (dimensions, grain, cells):
    the sweep of :mod:`kpi.metrics`' ``max_in_queue``
    (entries +1, exits -1 at the wait's end, exits first at the same instant; the level after
    each event and before it, per group), over the contacts whose queue entry is within
    ``margin`` (the longest wait before, the most negative one after) of the chunk, which
    are all those waiting during it. ``enums``: dimensions read as enums of their values
    (all of the table's, sorted), whose codes need no sorting per chunk.

    The events are sorted once by time; each dimension's groups are then runs of a stable
    sort by the value's code (a radix sort of small integers), where the level is a running
    sum and each (value, quarter hour) is a run whose maximum is one ``maximum.reduceat``.
    """
    qt, w = pl.col("queue_ts"), pl.col("wait_s")
    lo = chunk.lo - margin[0] if chunk.lo is not None else None
    hi = chunk.hi + margin[1] if chunk.hi is not None else None
    sets = [(), *((d,) for d in by if d in names)]
    days = [tuple(d) for d in daily if set(d) <= set(names) and tuple(d) not in sets]
    dims = sorted({d for s in (*sets, *days) for d in s})
    schema = lf.collect_schema()
    dtype = schema["queue_ts"]
    assert isinstance(dtype, pl.Datetime)
    unit = "ns" if dtype.time_unit == "ns" else "us"
    scale = 1000 if unit == "ns" else 1  # the wait, truncated to whole microseconds
    t, ended = qt.dt.epoch(unit), qt.dt.epoch(unit) + (w * 1e6).cast(pl.Int64) * scale
    enums = {d: e for d, e in (enums or {}).items() if d in dims}
    q = (
        lf.filter(between(qt, lo, hi) & w.is_not_null())
        .select(
            *(pl.col(d).cast(enums[d]) if d in enums else pl.col(d) for d in dims),
            t.alias("_in"),
            ended.alias("_out"),
        )
        .collect()
    )
    # each dimension as dense codes (its values sorted; null last), to sort and to map back
    values = {
        d: pl.Series(d, enums[d].categories) if d in enums else q[d].drop_nulls().unique().sort()
        for d in dims
    }
    codes = q.select(
        (
            pl.col(d)
            if d in enums
            # a dimension of any type (an integer priority): codes by its text
            else pl.col(d).cast(pl.String).cast(pl.Enum(values[d].cast(pl.String)))
        )
        .to_physical()
        .cast(pl.UInt16 if len(values[d]) < 2**16 - 1 else pl.UInt32)
        .fill_null(len(values[d]))
        for d in dims
    )
    # one integer key per event: its time × 2, exits (+0) before entries (+1) at an instant;
    # in time order (a stable sort: the events are nearly in order already)
    n = q.height
    key = np.concatenate([q["_in"].to_numpy() * 2 + 1, q["_out"].to_numpy() * 2])
    order = np.argsort(key, kind="stable")
    key = key[order]
    contact = order  # the event's row of q
    contact[contact >= n] -= n
    del q
    at = key // 2
    entry = (key - at * 2).astype(bool)  # an entry, else an exit
    del key
    # the events in the chunk are a run of the sorted ones; the others only move the level
    a = 0 if chunk.lo is None else int(np.searchsorted(at, _epoch(chunk.lo, unit)))
    b = len(at) if chunk.hi is None else int(np.searchsorted(at, _epoch(chunk.hi, unit)))
    quarter = at // (900 * 10**6 * scale)
    inner = quarter[a:b]  # in order: its distinct values start where it changes
    inner = inner[np.r_[True, inner[1:] != inner[:-1]]] if len(inner) else inner
    keys = local_quarters(pl.DataFrame({"_k": inner}), dtype)
    if keys is None:  # each event's own local quarter hour (its physical value)
        stamp = pl.from_epoch(pl.Series(at[a:b]), time_unit=unit).dt.replace_time_zone("UTC")
        local = stamp.dt.convert_time_zone(dtype.time_zone or "UTC")
        binned = pl.select(bin_expr(pl.lit(local), "15m")).to_series()
        quarter[a:b] = binned.to_physical().to_numpy()
    outside = np.iinfo(np.int64).min  # the bin of an event outside the chunk: no cell
    quarter[:a] = outside
    quarter[b:] = outside
    day = np.full(len(quarter), outside, dtype=np.int64)
    if days:  # each event's local day (its start's physical value): a day is one run in time
        if keys is not None:
            starts = keys.select(bin_expr(pl.col("_bin"), "1d")).to_series()
            day[a:b] = starts.to_physical().to_numpy()[np.searchsorted(inner, quarter[a:b])]
        else:
            day[a:b] = (
                pl.select(bin_expr(pl.lit(binned), "1d")).to_series().to_physical().to_numpy()
            )
    # each event's bin as its run's number (small integers, so each dimension's sort moves
    # little memory), with whether it enters, in one array; the runs' bins to map back
    q_runs, q_bins = _runs(quarter, entry)
    d_runs, d_bins = _runs(day, entry) if days else (q_runs, q_bins)
    del quarter, day
    out = []
    for d in (*sets, *days):
        code = _set_code(d, codes, values)[contact] if d else None
        bins = d_bins if d in days else q_bins
        c, k, most = _run_maxima(code, d_runs if d in days else q_runs)
        cells = pl.DataFrame({"_c": c, "_k": bins[k], "max_in_queue": most}).filter(
            pl.col("_k") != outside
        )
        if d in days:  # a day's runs at once: no quarter-hour cells
            dtype_ = keys["_bin"].dtype if keys is not None else binned.dtype
            out.append((d, "1d", _named(cells, d, values, dtype_)))
            continue
        if keys is not None:
            cells = cells.join(keys.select("_k", "_bin"), on="_k")
        else:  # a local quarter hour may recur in two runs of its value: one cell each
            cells = (
                cells.with_columns(pl.col("_k").cast(binned.dtype).alias("_bin"))
                .group_by("_c", "_bin")
                .agg(pl.col("max_in_queue").max())
            )
        cells = _decoded(cells, d, values)
        cols = ["max_in_queue", "_bin"] if keys is not None else ["_bin", "max_in_queue"]
        out.append((d, "15m", cells.select(*d, *cols).sort("_bin")))
    return out


def sweep_later(
    lf: pl.LazyFrame,
    margin: tuple[timedelta, timedelta],
    names: list[str],
    chunk: Span,
    *,
    by: tuple[str, ...],
    daily: Sequence[tuple[str, ...]],
    enums: dict[str, pl.Enum] | None = None,
) -> Later[list[tuple[tuple[str, ...], str, pl.DataFrame]]]:
    """:func:`queue_levels` of ``chunk``, run in a thread (beside the chunk's groupings, or
    beside the next chunk's sweep)."""
    job = functools.partial(queue_levels, lf, chunk, margin, names, by, daily=daily, enums=enums)
    return Later(job, background=True)


def _decoded(
    cells: pl.DataFrame, d: tuple[str, ...], values: dict[str, pl.Series]
) -> pl.DataFrame:
    """``cells`` with the values of the dimensions ``d`` from their set's code ``_c``."""
    rest = cells["_c"].to_numpy().astype(np.int64)
    for x in reversed(d):  # each dimension's code from the set's (the last varies fastest)
        n = len(values[x]) + 1
        named = values[x].extend_constant(None, 1)  # null's code is last
        cells = cells.with_columns(named.gather(rest % n).alias(x))
        rest = rest // n
    return cells


def _named(
    cells: pl.DataFrame, d: tuple[str, ...], values: dict[str, pl.Series], dtype: pl.DataType
) -> pl.DataFrame:
    """Cells by (code, local day as its start's physical value) as stored: the dimensions'
    values, the maximum, the day's bin; in time order."""
    cells = _decoded(cells, d, values).with_columns(pl.col("_k").cast(dtype).alias("_bin"))
    return cells.select(*d, "max_in_queue", "_bin").sort("_bin")


def _set_code(d: tuple[str, ...], codes: pl.DataFrame, values: dict[str, pl.Series]) -> np.ndarray:
    """Each event's code of its values of the dimensions ``d`` (one, or a pair's mixed-radix
    code, the last dimension varying fastest), as small an unsigned type as holds them."""
    if len(d) == 1:
        return codes[d[0]].to_numpy()
    out = np.zeros(codes.height, dtype=np.uint64)
    size = 1
    for x in d:
        n = len(values[x]) + 1  # null: the last code
        out = out * np.uint64(n) + codes[x].to_numpy().astype(np.uint64)
        size *= n
    return out.astype(np.uint16 if size <= 2**16 else np.uint32 if size <= 2**32 else np.uint64)


def _runs(bins: np.ndarray, entry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Events in time order, by their bin (``bins``) and whether each enters (``entry``, else
    it exits): each event's run of equal bins, numbered from 0, times 2, plus 1 for an entry
    (as small an unsigned type as holds them); and each run's bin."""
    if not len(bins):
        return np.zeros(0, np.uint16), bins
    new = np.empty(len(bins), bool)
    new[0] = True
    np.not_equal(bins[1:], bins[:-1], out=new[1:])
    n = int(np.count_nonzero(new))
    kind = np.uint16 if 2 * n <= 2**16 else np.uint32 if 2 * n <= 2**32 else np.uint64
    runs = np.cumsum(new, dtype=kind)
    runs -= 1
    runs *= 2
    runs += entry
    return runs, bins[new]


def _run_maxima(
    code: np.ndarray | None, runs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per run of (code, bin) of the events (in time order; ``runs`` from :func:`_runs`):
    the most waiting after or before any of its events, the level being the running sum of
    the steps per code. Returns the runs' codes, bins' run numbers and maxima."""
    if len(runs) == 0:
        return np.zeros(0, dtype=np.uint16), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if code is None:
        c = np.zeros(len(runs), dtype=np.uint16)
    else:
        order = np.argsort(code, kind="stable")  # per code, still in time order
        c, runs = code[order], runs[order]
    entry = (runs & 1).astype(np.int8)
    step = entry * 2 - 1  # +1 an entry, -1 an exit
    level = np.cumsum(step, dtype=np.int64)
    if code is not None:
        first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        level -= np.repeat(level[first] - step[first], np.diff(np.r_[first, len(c)]))
    most = level + (1 - entry)  # before an exit, after an entry
    run = runs >> 1
    at = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (run[1:] != run[:-1])])
    return c[at], run[at], np.maximum.reduceat(most, at)


def _epoch(x: datetime, unit: str) -> int:
    micros = (x - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return micros * (1000 if unit == "ns" else 1)


@dataclass
class Span:
    """Rows whose time is in ``[lo, hi)`` (None: unbounded), whole local months, ``n`` rows."""

    lo: datetime | None
    hi: datetime | None
    n: int
    first: int  # the months' indices: [first, stop)
    stop: int


def month_counts(
    rows: pl.LazyFrame, tcol: str, quarters: pl.DataFrame | None
) -> tuple[list[datetime], list[int]]:
    """The local months of the rows (their starts, in order) and each one's row count: from
    ``quarters``, or, without it, from each row's local month."""
    if quarters is not None:
        months = quarters.group_by(pl.col("_mbin").alias("_m")).agg(pl.col("_n").sum())
    else:
        month = bin_expr(pl.col(tcol), "1mo").alias("_m")
        months = rows.group_by(month).agg(pl.len().alias("_n")).collect()
    months = months.sort("_m")
    return months["_m"].to_list(), months["_n"].to_list()


def spans(
    starts: list[datetime], counts: list[int], cap: int, within: Span | None = None
) -> list[Span]:
    """Runs of whole months (of ``within``'s, or all) of about ``cap`` rows each (a month is
    never split); the first starts unbounded, the last ends unbounded."""
    a0, b0 = (0, len(counts)) if within is None else (within.first, within.stop)
    cuts, size = [a0], 0
    for i in range(a0, b0):
        if size and size + counts[i] > cap:
            cuts.append(i)
            size = 0
        size += counts[i]
    cuts.append(b0)
    spans = [
        Span(
            starts[a] if a else None,
            starts[b] if b < len(starts) else None,
            sum(counts[a:b]),
            a,
            b,
        )
        for a, b in pairwise(cuts)
        if b > a
    ]
    return spans or [Span(None, None, 0, 0, 0)]


class Cells:
    """Each level's cells, chunk by chunk, held in memory up to ``budget`` bytes; beyond it,
    every level's cells so far are written as a part of its files (``write(name, frame)``
    returns the file written). Chunks are in time order, so the parts are too."""

    def __init__(self, write: Callable[[str, pl.DataFrame], str], budget: int) -> None:
        self.write, self.budget, self.size = write, budget, 0
        self.frames: dict[str, list[pl.DataFrame]] = {}
        self.files: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}

    def add(self, name: str, frame: pl.DataFrame) -> None:
        self.frames.setdefault(name, []).append(frame)
        self.rows[name] = self.rows.get(name, 0) + frame.height
        self.size += frame.estimated_size()
        if self.size > self.budget:
            for level in self.frames:
                self._flush(level)
            self.size = 0

    def _flush(self, name: str) -> None:
        frames = self.frames.get(name)
        if frames:
            files = self.files.setdefault(name, [])
            files.append(self.write(f"{name}.p{len(files)}", pl.concat(frames, rechunk=False)))
            self.frames[name] = []

    def take(self, name: str) -> list[str]:
        """Write what is left of a level; its files, in time order."""
        if not self.files.get(name):
            frames = self.frames.pop(name, [])
            return [self.write(name, pl.concat(frames, rechunk=False))]
        self._flush(name)
        return self.files[name]


def customer_sets(
    df: pl.DataFrame,
    tcol: str,
    codes: list[str],
    grains: list[tuple[str, list[str]]],
    quarters: pl.DataFrame | None,
) -> list[pl.DataFrame]:
    """One chunk's distinct values of each code column (a value's hash, null where the row is
    not counted) per (bin, dimensions): one frame per ``(grain, dims)`` of ``grains`` and code,
    in that order, deduplicated (``_bin`` local, as the levels: from ``df``'s
    :func:`local_keys` when ``quarters`` is given), with ``_m``: whether the value has other
    rows in its bin."""
    t = pl.col(tcol)
    out = []
    for grain, dims in grains:
        if quarters is None:
            key = bin_expr(t, grain).alias("_bin")
        else:  # the row's local bin (:func:`local_keys`), an instant as an integer
            key = pl.col({"15m": "_q", "1h": "_h", "1d": "_d"}[grain]).alias("_bin")
        for c in codes:
            f = df.lazy().filter(pl.col(c).is_not_null()).select(*dims, key, c).unique()
            # whether the value has other rows in the bin (other dimensions): the others count
            # one each in any grouping of the bin, so a count by the bin reads few sets
            f = f.with_columns((pl.len().over(["_bin", c]) > 1).alias("_m"))
            if quarters is not None:
                f = f.with_columns(pl.col("_bin").cast(quarters["_bin"].dtype))
            out.append(f)
    return [f.sort("_bin") for f in pl.collect_all(out)]


def peak_days(
    df: pl.DataFrame,
    tcol: str,
    quarters: pl.DataFrame | None,
    by: Sequence[str],
    sums: tuple[pl.Expr, pl.Expr],
    *,
    pairs: Sequence[tuple[str, ...]] = (),
) -> list[pl.DataFrame]:
    """The busiest local clock hour of each local day by ``by`` in one chunk's rows, ranked by
    contacts offered and by answered handle time (``sums``: the aggregations of both): for
    each ranking (``c`` by contacts, ``e`` by handle time), the hour (the earliest of equals,
    ``*_hour``), its contacts (``*_calls``) and handle time (``*_handle``). Hours with no
    contact offered are left out. A bin's busiest hour is the busiest of its days' ones.
    Local hours and days: ``df``'s :func:`local_keys` when ``quarters`` is given.

    Returns one frame for ``by`` (when given), then one per dimension set of ``pairs``, whose
    hours are summed from one grouping of the rows by every dimension of the pairs.
    """
    t = pl.col(tcol)
    agg = [sums[0].alias("_calls"), sums[1].alias("_handle")]
    if quarters is None:
        hour, day = bin_expr(t, "1h"), bin_expr(t, "1d")
    else:  # the row's local bins (:func:`local_keys`)
        dtype = quarters["_bin"].dtype
        hour, day = pl.col("_h").cast(dtype), pl.col("_d").cast(dtype)
    keys = [hour.alias("_hour"), day.alias("_bin")]
    plans = [df.lazy().group_by([*by, *keys]).agg(agg)] if by else []
    if pairs:
        every = list(dict.fromkeys(d for p in pairs for d in p))
        hours = df.lazy().group_by([*every, *keys]).agg(agg).collect().lazy()
        types = hours.collect_schema()
        again = [pl.col(c).sum().cast(types[c]) for c in ("_calls", "_handle")]
        plans += [hours.group_by([*p, "_hour", "_bin"]).agg(again) for p in pairs]
    best = []
    for r, rank in (("c", "_calls"), ("e", "_handle")):
        order = [pl.col(rank), -pl.col("_hour").dt.epoch("us")]
        best += [
            pl.col(x).sort_by(order).last().alias(f"{r}{x}")
            for x in ("_calls", "_handle", "_hour")
        ]
    sets = [tuple(by)] * bool(by) + [tuple(p) for p in pairs]
    return pl.collect_all(
        plan.filter(pl.col("_calls") > 0).group_by([*d, "_bin"]).agg(best).sort("_bin")
        for plan, d in zip(plans, sets, strict=True)
    )
