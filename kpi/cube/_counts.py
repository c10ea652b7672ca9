"""Distinct customers of whole bins, counted once at build time from each customer's first contacts.

``contacts_per_customer`` divides contacts by the distinct customers who made them, and a week's
distinct customers is not the sum of its days'. But it is the number of customers whose *first*
counted contact of that week falls on one of its days: for a dimension set ``S`` (none, one
dimension, or a pair of them for the grains of a day and more) and a grain ``G`` (:data:`COUNT_GRAINS`, in local time), flag each customer's first
contact in each (``G`` bin, ``S`` value) and count the flags per (local day, ``S`` value) as
``n_<G>`` (per local quarter hour for the grains under a day). Then::

    distinct customers of a whole G bin by S = sum of n_<G> over the bin's days (quarter hours)

exactly (a range that cuts a bin is not a sum of whole bins: those queries use the stored sets or
the rows). One pass per table sorts the counted contacts by their customer's 64-bit hash; per
dimension an integer key (customer run, value, day) sorted again is nearly sorted already, and
the first contacts of each grain are where the run, the value or the grain's bin changes. The
same sort checks that no two customers share a hash: two values in one run of equal hashes
differ in a second, independent 64-bit hash, unless both collide at once (about 10^-23 at a
hundred million customers, far below the odds of a memory error); nothing is counted, and
the rows answer, when a run holds two.

A table of more than ``part_rows`` counted contacts is done in parts by hash (a customer's
contacts are all in one part, so the parts' counts add up), each part read from the data again,
so memory holds a part, not the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kpi.periods import bin_expr

__all__ = [
    "COUNT_GRAINS",
    "DAY_GRAINS",
    "INTRADAY_GRAINS",
    "MAX_PAIR_CELLS",
    "MAX_VALUES",
    "Counts",
    "count_levels",
    "customer_counts",
    "dimension_values",
]

#: Grains counted per local day (days, Monday weeks, months, quarters, years in local time).
DAY_GRAINS = ("1d", "1w", "1mo", "1q", "1y")
#: Grains counted per local quarter hour (when the zone's offset is whole quarter hours).
INTRADAY_GRAINS = ("15m", "30m", "1h")
#: Every grain whose whole bins are counted.
COUNT_GRAINS = INTRADAY_GRAINS + DAY_GRAINS
#: A dimension with more values than this (besides null) is not counted by (its queries use the
#: stored sets or the rows).
MAX_VALUES = 65_534
#: Pairs of dimensions are counted by day while their (days × values of one × values of the
#: other) cells, all pairs together, are at most this many (each an 8-byte count per grain
#: while counting: 5 grains, 640 MB at most).
MAX_PAIR_CELLS = 16_000_000


@dataclass
class Counts:
    """The outcome of :func:`customer_counts`: ``unique`` is False when two values share a hash
    (nothing is counted then); ``frames`` has (dimensions, unit, frame) per dimension set
    counted and unit: ``"1d"`` frames hold ``_day`` (local date), ``"15m"`` frames ``_k`` (the
    UTC quarter hour, epoch seconds // 900), then the dimension (if any) and ``n_<grain>`` for
    each grain of :data:`DAY_GRAINS` or :data:`INTRADAY_GRAINS` counted."""

    unique: bool
    frames: list[tuple[tuple[str, ...], str, pl.DataFrame]]


def dimension_values(rows: pl.LazyFrame, dims: Sequence[str]) -> dict[str, pl.Series]:
    """Each dimension's values (of any type), sorted, when there are at most
    :data:`MAX_VALUES`."""
    if not dims:
        return {}
    # one query per column, run one by one (together, their shared source would be cached
    # whole): the streaming engine holds the values, not the columns
    got = [rows.select(pl.col(d).drop_nulls().unique()).collect(engine="streaming") for d in dims]
    return {d: f[d].sort() for d, f in zip(dims, got, strict=True) if f.height <= MAX_VALUES}


def _units(
    base: pl.LazyFrame, t: pl.Expr, zone: str
) -> tuple[bool, np.ndarray, pl.Series, np.ndarray, dict[str, np.ndarray]]:
    """The units rows are binned by: the UTC quarter hours of the data (epoch seconds // 900)
    when each lies in one local quarter hour, else its local days; only those present (a
    stray date decades away adds one, not a dense range). Returns (quarter units?, the units'
    keys (sorted; days as days since 1970), the local days present, each unit's day (its
    rank among them), the bins of each grain as integers: of each day for a day and more, of
    each unit under a day)."""
    quarter = (t.dt.epoch("s") // 900).alias("_k")
    ks = base.select(quarter.unique()).collect(engine="streaming").sort("_k")
    at = [
        pl.from_epoch(pl.col("_k") * 900 + e, time_unit="s")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(zone)
        for e in (0, 899)
    ]
    local = ks.select(at[0].alias("a"), at[1].alias("b"))
    a = pl.col("a")
    q = local.select(
        (a.dt.truncate("15m") == pl.col("b").dt.truncate("15m")).all().alias("whole"),
        *(a.dt.truncate(g).dt.epoch("s").alias(g) for g in ("30m", "1h")),
        a.dt.date().alias("day"),
    )
    whole = bool(q["whole"][0])
    if whole:
        days = q["day"].unique().sort()
    else:
        got = base.select(t.dt.date().unique().alias("day")).collect(engine="streaming")
        days = got["day"].sort()
    by_day = {g: days.dt.truncate(g).to_physical().to_numpy().astype(np.int64) for g in DAY_GRAINS}
    day_keys = days.to_physical().to_numpy().astype(np.int64)
    if not whole:
        return False, day_keys, days, np.arange(len(days), dtype=np.int64), by_day
    day_of = np.searchsorted(day_keys, q["day"].to_physical().to_numpy().astype(np.int64))
    bins = dict(by_day)  # by day; the grains under a day by unit
    bins["15m"] = np.arange(len(day_of), dtype=np.int64)
    for g in ("30m", "1h"):
        ids = q[g].to_numpy()
        if (np.diff(ids) >= 0).all():  # contiguous in time, as the first-contact test needs
            bins[g] = ids
    return True, ks["_k"].to_numpy(), days, day_of, bins


def _ranks(keys: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Each of ``found``'s rank in ``keys`` (sorted, holding all of ``found``), as ``uint64``:
    from a table over the keys' span when it is not much larger than the rows (a year of
    quarter hours), else by binary search (a stray date decades away)."""
    if not len(keys):
        return np.zeros(len(found), np.uint64)
    lo, span = int(keys[0]), int(keys[-1]) - int(keys[0]) + 1
    if span > 4 * len(found) + (1 << 20):
        return np.searchsorted(keys, found).astype(np.uint64)
    table = np.zeros(span, np.uint64)
    table[keys - lo] = np.arange(len(keys), dtype=np.uint64)
    return table.take(found - lo)


def customer_counts(
    rows: pl.LazyFrame,
    *,
    time_col: str,
    column: str,
    counted: pl.Expr,
    dims: Sequence[str],
    intraday_dims: Sequence[str],
    part_rows: int,
    values: dict[str, pl.Series] | None = None,
    pairs: Sequence[tuple[str, str]] = (),
) -> Counts:
    """First-contact counts of ``column``'s distinct values among the rows where ``counted``
    holds: per local day, by nothing, by each of ``dims`` and by each of ``pairs``, for the
    grains of a day and more; per quarter hour by nothing and each of ``intraday_dims`` for
    those under a day (see the module's notes).

    Parameters
    ----------
    rows
        The table (its time column time-zone aware, in the site's zone).
    time_col, column
        The time column binned by, and the column whose distinct values are counted.
    counted
        Which rows count (their ``column`` not null among them).
    dims, intraday_dims
        Dimensions to count by, one at a time (string columns), by day and by quarter hour.
    pairs
        Pairs of ``dims`` to count by, by day, in this order while their cells fit
        :data:`MAX_PAIR_CELLS` (and each pair's values the sort's 64-bit key).
    part_rows
        Counted rows held at once: more are done in parts by hash.
    values
        Dimensions' values already known (:func:`dimension_values`), not read again.

    Examples
    --------
    >>> from datetime import datetime
    >>> t = [datetime(2026, 3, d, 9) for d in (2, 3, 3, 9)]  # Mon, Tue, Tue, next Mon
    >>> lf = pl.LazyFrame(
    ...     {"t": t, "c": ["a", "a", "b", "a"], "team": ["X", "X", "Y", "Y"]}
    ... ).with_columns(pl.col("t").dt.replace_time_zone("Europe/London"))
    >>> got = customer_counts(
    ...     lf,
    ...     time_col="t",
    ...     column="c",
    ...     counted=pl.lit(True),
    ...     dims=["team"],
    ...     intraday_dims=[],
    ...     part_rows=10,
    ... )
    >>> got.unique
    True
    >>> total, by_team = (f for _, g, f in got.frames if g == "1d")
    >>> total.select("_day", "n_1d", "n_1w").rows()  # week of 2 March: a (Mon) and b (Tue)
    [(datetime.date(2026, 3, 2), 1, 1), (datetime.date(2026, 3, 3), 2, 1), (datetime.date(2026, 3, 9), 1, 1)]
    >>> by_team.sort("team", "_day").select("team", "_day", "n_1w").rows()
    [('X', datetime.date(2026, 3, 2), 1), ('X', datetime.date(2026, 3, 3), 0), ('Y', datetime.date(2026, 3, 3), 1), ('Y', datetime.date(2026, 3, 9), 1)]
    """
    known = {d: v for d, v in (values or {}).items() if d in dims}
    values = {**known, **dimension_values(rows, [d for d in dims if d not in known])}
    keep = [d for d in dims if d in values]
    c, t = pl.col(column), pl.col(time_col)
    base = rows.filter(counted.fill_null(False) & c.is_not_null() & t.is_not_null())
    quarter = t.dt.epoch("s") // 900
    n = base.select(pl.len()).collect(engine="streaming").item()
    if not n:
        return Counts(True, [])
    zone = rows.collect_schema()[time_col].time_zone or "UTC"  # type: ignore[union-attr]
    whole, keys, days, day_of, bins = _units(base, t, zone)
    n_days, n_units = len(days), len(day_of)
    sets: list[tuple[str, ...]] = [(), *((d,) for d in keep)]
    n_values = {(): 1, **{(d,): len(values[d]) + 1 for d in keep}}  # null: the last code
    unit_bits = max(int(n_units - 1).bit_length(), 1)
    budget = MAX_PAIR_CELLS
    for a, b in pairs:  # a part's runs are at most the table's rows: the key's bits are known
        if a in keep and b in keep and (a, b) not in n_values:
            nv = n_values[(a,)] * n_values[(b,)]
            bits = int(n).bit_length() + int(nv - 1).bit_length() + unit_bits
            if n_days * nv <= budget and bits <= 64:
                sets.append((a, b))
                n_values[(a, b)] = nv
                budget -= n_days * nv
    grains = {
        s: [
            g
            for g in COUNT_GRAINS
            if g in bins and (g in DAY_GRAINS or set(s) <= {*intraday_dims})
        ]
        for s in sets
    }
    grains.update({s: [g for g in grains[s] if g in DAY_GRAINS] for s in sets if len(s) == 2})
    total = {
        (s, g): np.zeros((n_days if g in DAY_GRAINS else n_units) * n_values[s], np.int64)
        for s in sets
        for g in grains[s]
    }
    parts = max(1, math.ceil(n / part_rows))
    h = c.hash(seed=0)
    unit = quarter if whole else t.dt.date().to_physical().cast(pl.Int64)
    for p in range(parts):
        part = base if parts == 1 else base.filter(h % parts == p)
        df = (
            part.select(
                h.alias("_h"),
                c.hash(seed=1).alias("_h1"),
                unit.alias("_u"),
                *(
                    pl.col(d)
                    .cast(pl.String)
                    .cast(pl.Enum(values[d].cast(pl.String)))
                    .to_physical()
                    .cast(pl.UInt16)
                    .fill_null(len(values[d]))
                    .alias(d)
                    for d in keep
                ),
            )
            .collect(engine="streaming")  # the part's rows, not the table's columns, in memory
            .sort("_h")
        )
        hs = df["_h"].to_numpy()
        same_h = np.empty(len(hs), bool)
        same_h[:1] = False
        np.equal(hs[1:], hs[:-1], out=same_h[1:])
        # two values with one hash sit in one run: their second hashes differ
        h1 = df["_h1"].to_numpy()
        if (same_h[1:] & (h1[1:] != h1[:-1])).any():
            return Counts(False, [])
        del hs, h1
        run = np.cumsum(~same_h, dtype=np.uint64)
        del same_h
        units = _ranks(keys, df["_u"].to_numpy())
        # work arrays made once a part and reused by every set and grain (out=): fresh ones of
        # the part's length each time cost more in page faults than the arithmetic itself
        m = len(run)
        key, who, tmp = (np.empty(m, np.uint64) for _ in range(3))
        u, v, day, b = (np.empty(m, np.int64) for _ in range(4))
        cells = {k: np.empty(m, np.int64) for k in ("1d", "15m")}
        kept = np.empty(m // 2 + 1, np.int64)  # the cells of the rows counted (at most half)
        new, first, step = (np.empty(m, bool) for _ in range(3))
        for s in sets:
            nv = n_values[s]
            value_bits = int(nv - 1).bit_length()
            shift = np.uint64(unit_bits + value_bits)
            if int(run[-1]).bit_length() + int(shift) > 64:  # pragma: no cover - 2^40 customers
                raise ValueError("too many customers in one part to count them")
            np.left_shift(run, shift, out=key)
            np.bitwise_or(key, units, out=key)
            if s:  # the value's code (a pair's: first * values of the second + second)
                np.copyto(tmp, df[s[0]].to_numpy(), casting="unsafe")
                if len(s) == 2:
                    np.multiply(tmp, np.uint64(n_values[s[1:]]), out=tmp)
                    np.add(tmp, df[s[1]].to_numpy(), out=tmp, casting="unsafe")
                np.left_shift(tmp, np.uint64(unit_bits), out=tmp)
                np.bitwise_or(key, tmp, out=key)
            key.sort(kind="stable")  # nearly sorted (each run's few rows): timsort's best case
            np.right_shift(key, np.uint64(unit_bits), out=who)  # run and value
            np.bitwise_and(key, np.uint64((1 << unit_bits) - 1), out=u.view(np.uint64))
            if s:
                np.bitwise_and(who, np.uint64((1 << value_bits) - 1), out=v.view(np.uint64))
            new[:1] = True
            np.not_equal(who[1:], who[:-1], out=new[1:])
            if whole:
                np.take(day_of, u, out=day, mode="clip")  # "raise" would copy
            else:
                day = u
            kinds = {"1d" if g in DAY_GRAINS else "15m" for g in grains[s]}
            for k in kinds:
                np.multiply(day if k == "1d" else u, nv, out=cells[k])
                if s:
                    np.add(cells[k], v, out=cells[k])
            at = {"1d": day, "15m": u}  # the grains that are the unit itself need no map
            rows_in: dict[str, np.ndarray] = {}
            for g in grains[s]:
                kind = "1d" if g in DAY_GRAINS else "15m"
                if g in at:
                    bg = at[g]
                else:
                    np.take(bins[g], day if kind == "1d" else u, out=b, mode="clip")
                    bg = b
                np.copyto(first, new)
                np.not_equal(bg[1:], bg[:-1], out=step[1:])
                np.bitwise_or(first[1:], step[1:], out=first[1:])
                cell, size = cells[kind], len(total[s, g])
                n_first = np.count_nonzero(first)
                if 2 * n_first < m:
                    picked = np.compress(first, cell, out=kept[:n_first])
                    total[s, g] += np.bincount(picked, minlength=size)
                else:  # mostly first contacts (short bins): count the others
                    if kind not in rows_in:
                        rows_in[kind] = np.bincount(cell, minlength=size)
                    np.logical_not(first, out=first)
                    picked = np.compress(first, cell, out=kept[: m - n_first])
                    total[s, g] += rows_in[kind] - np.bincount(picked, minlength=size)
        del key, who, tmp, u, v, day, b, cells, kept, new, first, step
        del df
    out = []
    for s in sets:
        nv = n_values[s]
        # a new series (``extend`` would append null to the caller's values, which another
        # column's counts, in another thread, may be reading)
        names = [values[d].extend_constant(None, 1) for d in s]
        for kind, at, n_at in (("1d", DAY_GRAINS, n_days), ("15m", INTRADAY_GRAINS, n_units)):
            mine = [g for g in grains[s] if g in at]
            if not mine:
                continue
            if kind == "1d":
                cols: dict[str, Any] = {"_day": days.gather(np.repeat(np.arange(n_at), nv))}
            else:
                cols = {"_k": np.repeat(keys, nv)}
            code = np.tile(np.arange(nv), n_at)
            if len(s) == 2:  # the pair's code: first * values of the second + second
                second = len(names[1])
                cols[s[0]] = names[0].gather(code // second).alias(s[0])
                cols[s[1]] = names[1].gather(code % second).alias(s[1])
            elif s:
                cols[s[0]] = names[0].gather(code).alias(s[0])
            cols.update({f"n_{g}": total[s, g] for g in mine})
            frame = pl.DataFrame(cols).filter(pl.col(f"n_{mine[0]}") > 0)
            out.append(
                (s, kind, frame.with_columns(pl.col(f"n_{g}").cast(pl.UInt32) for g in mine))
            )
    return Counts(True, out)


def count_levels(
    table: str,
    time_col: str,
    stored: tuple[str, str, str],
    frames: list[tuple[tuple[str, ...], str, pl.DataFrame]],
    maps: dict[str, pl.DataFrame | None],
    write: Callable[[str, pl.DataFrame], str],
) -> list[dict[str, Any]]:
    """The levels of :func:`customer_counts`' frames for ``cube.json``, each written: local days
    or quarter hours (``maps`` maps ``_day`` or ``_k`` to the cube's bin ``_bin``; a unit with no
    map is left out) by its dimensions, with ``n_<grain>`` for each grain counted; ``stored`` is
    (the source's signature, its column name, the column counted)."""
    sig, col, column = stored
    out = []
    for dims, kind, frame in frames:
        key = "_day" if kind == "1d" else "_k"
        bins = maps.get(key)
        if bins is None:
            continue
        cells = frame.join(bins, on=key).drop(key).sort("_bin")
        levels = [(kind, cells)]
        if kind == "15m":  # and by the hour: whole-year hourly views read 4 times fewer cells
            b = pl.col("_bin")
            hours = cells.select(b.unique()).with_columns(bin_expr(b, "1h").alias("_h"))
            hourly = (
                cells.join(hours, on="_bin")
                .group_by([*dims, pl.col("_h").alias("_bin")])
                .agg(pl.col("n_1h").sum())
                .sort("_bin")
            )
            levels.append(("1h", hourly))
        for grain, cells_ in levels:
            name = f"{table}.{time_col.strip('_')}.{col}.first.{grain}.{'-'.join(dims) or 'total'}"
            out.append(
                {
                    "table": table,
                    "time": time_col,
                    "level": f"first {column} by {grain}, {', '.join(dims) or 'nothing'}",
                    "grain": grain,
                    "dims": list(dims),
                    "files": [write(name, cells_)],
                    "rows": cells_.height,
                    "columns": {sig: col},
                    "kinds": {col: "counts"},
                    "words": {},
                    "nullable": [],
                    "counts": [c for c in cells_.columns if c.startswith("n_")],
                }
            )
    return out
