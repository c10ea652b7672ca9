"""A built cube and its queries: choosing the level that answers and rolling measures up.

:class:`Cube` reads ``cube.json`` (:mod:`kpi.cube._store`) and answers each (table, time
column) aggregation :mod:`kpi.compute` asks for from the smallest level that holds it
(:meth:`Cube.rollup`), the exact builders (FCR's numerator, peak-hour traffic, the queue
sweep) from theirs (:meth:`Cube.rollup_builder`), distinct customers from their counts or
sets, bit sets built apart from the core (agents) from their own levels, each joined to the
core's roll-up by group and bin; None where no level answers (the rows do).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from kpi.cube._build import (
    EXACT_BUILDERS,
    PEAK_BUILDERS,
    ROLLS_UP_TO,
    SWEEP_BUILDERS,
    peak_sources,
    rebin,
    signature,
)
from kpi.cube._plan import rollup_exprs
from kpi.metrics import Measure, Source

__all__ = ["Cube"]


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

    @functools.cached_property
    def _counted_apart(self) -> tuple[set[str], set[str]]:
        """The signatures of distinct counts read from levels of their own, to be joined to
        the core's roll-up: the customers' stored sets, and the bit sets built apart from the
        core (the agents' part)."""
        levels = self.meta["levels"]
        valued = {s for lv in levels if lv.get("values") for s in lv["columns"]}
        core = {s for lv in levels if lv.get("part", "core") == "core" for s in lv["columns"]}
        apart = {
            s
            for lv in levels
            if lv.get("part", "core") != "core" and not lv.get("values")
            for s, col in lv["columns"].items()
            if lv["kinds"].get(col) == "distinct" and s not in core
        }
        return valued, apart

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
        of its grain, both bounds on its bins and every signature stored; else None. Without
        signatures (the groups' row counts and flags alone), a level of the core."""
        return self._smallest(
            lambda lv: (
                lv["table"] == table
                and (bool(sigs) or lv.get("part", "core") == "core")
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
        valued, apart = self._counted_apart
        if (valued | apart) & set(sigs):  # distinct counts: each from its own levels
            rest = [it for it, s in zip(items, sigs, strict=True) if s not in valued | apart]
            kw = {"by": by, "every": every, "start": start, "end": end}
            frame = self.rollup(table, time_col, rest, **kw, rows=rows, known=known)
            for item, s in zip(items, sigs, strict=True):
                if frame is None or s not in valued | apart:
                    continue
                name = item[0]
                if s in valued:
                    counted = self._distinct(table, time_col, s, name, **kw)
                else:
                    alone = self._from_level(table, time_col, [item], [s], **kw, rows="_n")
                    counted = None if alone is None else alone.select(*by, "_bin", name)
                if counted is None:
                    return None
                frame = frame.join(counted, on=[*by, "_bin"], how="left", nulls_equal=True)
                frame = frame.with_columns(pl.col(name).fill_null(0))
            order = [*by, "_bin", *(n for n, _ in items), rows, *known.values()]
            return None if frame is None else frame.select(order)
        kw = {"by": by, "every": every, "start": start, "end": end}
        return self._from_level(table, time_col, items, sigs, **kw, rows=rows, known=known)

    def _from_level(
        self,
        table: str,
        time_col: str,
        items: Sequence[tuple[str, Source]],
        sigs: Sequence[str],
        *,
        by: Sequence[str],
        every: str | None,
        start: datetime | None,
        end: datetime | None,
        rows: str,
        known: dict[str, str] | None = None,
    ) -> pl.LazyFrame | None:
        """:meth:`rollup` from the one level that stores every signature of ``sigs``."""
        known = known or {}
        level = self.level(table, time_col, sigs, by, every, start, end)
        if level is None:
            return None
        if known and level.get("part", "core") != "core":  # the core's levels count nulls
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
        bounds on its bins) by nothing, one dimension or a pair counted by day: the sum over each
        bin's days (quarter hours) of the values first seen in that bin (:mod:`kpi.cube._counts`). Else from the
        smallest level of their stored sets (one row per bin, dimensions and value's hash)."""
        if every is not None and self._aligned(start, every) and self._aligned(end, every):
            level = self._smallest(
                lambda lv: (
                    bool(lv.get("counts"))
                    and lv["table"] == table
                    and lv["time"] == time_col
                    and sig in lv["columns"]
                    and len(lv["dims"]) == len(by)
                    and set(lv["dims"]) == set(by)
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
        if every == level["grain"]:  # a cell per group and day: its busiest hour as it is
            return lf.select(*keys, value.alias(meas.name))
        return lf.group_by(keys).agg(value.sort_by(order).last().alias(meas.name))
