"""Reading a table for the cube in chunks of whole local months, and the queue sweep.

A chunk is a run of whole local months (:class:`Span`), so every cell of every level (quarter
hours, days, months by agent) lies in one chunk and chunks' cells are concatenated, never
combined; the months and their row counts come from the map of UTC quarter hours to local ones
(:func:`quarter_map`), read once. The queue sweep (:func:`queue_levels`) is run per chunk over the
contacts waiting during it. :class:`Cells` holds each level's cells, writing parts past a
memory budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import polars as pl

from kpi.periods import bin_expr

__all__ = [
    "Cells",
    "Span",
    "between",
    "customer_sets",
    "local_quarters",
    "month_counts",
    "peak_days",
    "quarter_map",
    "queue_levels",
    "spans",
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
    ).sort("_k")  # fmt: skip


def queue_levels(
    lf: pl.LazyFrame,
    chunk: Span,
    margin: tuple[timedelta, timedelta],
    names: list[str],
    by: tuple[str, ...],
) -> list[tuple[tuple[str, ...], pl.DataFrame]]:
    """Most contacts waiting at once in each local quarter hour of ``chunk``, by no dimension
    and by each one of ``by``: the sweep of :mod:`kpi.metrics`' ``max_in_queue``
    (entries +1, exits -1 at the wait's end, exits first at the same instant; the level after
    each event and before it, per group), over the contacts whose queue entry is within
    ``margin`` (the longest wait before, the most negative one after) of the chunk, which
    are all those waiting during it."""
    qt, w = pl.col("queue_ts"), pl.col("wait_s")
    lo = chunk.lo - margin[0] if chunk.lo is not None else None
    hi = chunk.hi + margin[1] if chunk.hi is not None else None
    sets = [(), *((d,) for d in by if d in names)]
    dims = sorted({d for s in sets for d in s})
    schema = lf.collect_schema()
    dtype = schema["queue_ts"]
    assert isinstance(dtype, pl.Datetime)
    unit = "ns" if dtype.time_unit == "ns" else "us"
    scale = 1000 if unit == "ns" else 1  # the wait, truncated to whole microseconds
    t, ended = qt.dt.epoch(unit), qt.dt.epoch(unit) + (w * 1e6).cast(pl.Int64) * scale
    text = [d for d in dims if schema[d] == pl.String]  # swept as categories, then back
    q = lf.filter(between(qt, lo, hi) & w.is_not_null()).select(
        *(pl.col(d).cast(pl.Categorical) if d in text else pl.col(d) for d in dims),
        t.alias("_in"),
        ended.alias("_out"),
    )
    # one integer key per event: its time × 2, exits (+0) before entries (+1) at an instant
    key = pl.col("_key")
    ev = (
        pl.concat(
            [
                q.select(*dims, (pl.col("_in") * 2 + 1).alias("_key")),
                q.select(*dims, (pl.col("_out") * 2).alias("_key")),
            ]
        )
        .sort("_key")
        .with_columns((key // 2).alias("_t"))
        .with_columns(
            ((key - pl.col("_t") * 2) * 2 - 1).alias("_d"),
            (pl.col("_t") // (900 * 10**6 * scale)).alias("_k"),
        )
        .collect()
    )
    inside = pl.col("_t").is_not_null()
    if chunk.lo is not None:
        inside = inside & (pl.col("_t") >= _epoch(chunk.lo, unit))
    if chunk.hi is not None:
        inside = inside & (pl.col("_t") < _epoch(chunk.hi, unit))
    keys = local_quarters(ev.filter(inside).select(pl.col("_k").unique()), dtype)
    stamp = pl.from_epoch("_t", time_unit=unit).dt.replace_time_zone("UTC")
    local = stamp.dt.convert_time_zone(dtype.time_zone or "UTC")
    at = [pl.col("_k")] if keys is not None else [bin_expr(local, "15m").alias("_bin")]
    most = pl.max_horizontal(pl.col("_l").max(), (pl.col("_l") - pl.col("_d")).max())
    plans = []
    for d in sets:
        level = pl.col("_d").cum_sum()
        level = level.over(list(d)) if d else level
        plans.append(
            ev.lazy()
            .with_columns(level.alias("_l"))
            .filter(inside)
            .group_by([*d, *at])
            .agg(most.cast(pl.Int64).alias("max_in_queue"))
            .with_columns(pl.col([x for x in d if x in text]).cast(pl.String))
        )
    out = pl.collect_all(plans)
    if keys is not None:
        out = [f.join(keys.select("_k", "_bin"), on="_k").drop("_k") for f in out]
    return [(d, f.sort("_bin")) for d, f in zip(sets, out, strict=True)]


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
    in that order, deduplicated (``_bin`` local, by ``quarters`` when given, as the levels),
    with ``_m``: whether the value has other rows in its bin."""
    t = pl.col(tcol)
    out = []
    for grain, dims in grains:
        if quarters is None:
            key, mapped = bin_expr(t, grain).alias("_bin"), None
        elif grain == "15m":
            key, mapped = (t.dt.epoch("s") // 900).alias("_k"), quarters.select("_k", "_bin")
        else:
            key = t.dt.date().alias("_day")
            mapped = quarters.select("_day", pl.col("_dbin").alias("_bin")).unique()
        for c in codes:
            f = df.lazy().filter(pl.col(c).is_not_null()).select(*dims, key, c).unique()
            # whether the value has other rows in the bin (other dimensions): the others count
            # one each in any grouping of the bin, so a count by the bin reads few sets
            f = f.with_columns((pl.len().over([key.meta.output_name(), c]) > 1).alias("_m"))
            if mapped is not None:
                f = f.join(mapped.lazy(), on=key.meta.output_name()).drop(key.meta.output_name())
            out.append(f)
    return [f.sort("_bin") for f in pl.collect_all(out)]


def peak_days(
    df: pl.DataFrame,
    tcol: str,
    quarters: pl.DataFrame | None,
    by: Sequence[str],
    sums: tuple[pl.Expr, pl.Expr],
) -> pl.DataFrame:
    """The busiest local clock hour of each local day by ``by`` in one chunk's rows, ranked by
    contacts offered and by answered handle time (``sums``: the aggregations of both): for
    each ranking (``c`` by contacts, ``e`` by handle time), the hour (the earliest of equals,
    ``*_hour``), its contacts (``*_calls``) and handle time (``*_handle``). Hours with no
    contact offered are left out. A bin's busiest hour is the busiest of its days' ones."""
    t = pl.col(tcol)
    agg = [sums[0].alias("_calls"), sums[1].alias("_handle")]
    if quarters is None:
        hours = df.lazy().group_by(
            [*by, bin_expr(t, "1h").alias("_hour"), bin_expr(t, "1d").alias("_bin")]
        )
    else:
        q = df.lazy().group_by([*by, (t.dt.epoch("s") // 900).alias("_k")]).agg(agg)
        at = quarters.lazy().select(
            "_k", bin_expr(pl.col("_bin"), "1h").alias("_hour"), pl.col("_dbin").alias("_bin")
        )
        hours = q.join(at, on="_k").group_by([*by, "_hour", "_bin"])
        agg = [pl.col("_calls").sum(), pl.col("_handle").sum()]
    best = []
    for r, rank in (("c", "_calls"), ("e", "_handle")):
        order = [pl.col(rank), -pl.col("_hour").dt.epoch("us")]
        best += [
            pl.col(x).sort_by(order).last().alias(f"{r}{x}")
            for x in ("_calls", "_handle", "_hour")
        ]
    return (
        hours.agg(agg)
        .filter(pl.col("_calls") > 0)
        .group_by([*by, "_bin"])
        .agg(best)
        .sort("_bin")
        .collect()
    )
