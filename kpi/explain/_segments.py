"""Segments: the leaf table of a KPI per dimension combination, searched by :mod:`kpi.rca`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from kpi.compute import evaluate
from kpi.data import Dataset
from kpi.explain._model import Segment
from kpi.metrics import Metric
from kpi.periods import Period

__all__ = ["KEEP_VALUES", "MAX_LEAVES"]


def _leaves(
    ds: Dataset,
    metric: Metric,
    params: Mapping[str, Any],
    p0: Period,
    p1: Period,
    dims: Sequence[str],
    *,
    lazy: bool = False,
) -> pl.DataFrame | pl.LazyFrame | None:
    """One row per combination of ``dims`` with the KPI's measures in both periods (``__b``, ``__c``)."""
    build = metric.build(params)
    tables = {t for x in build.measures for t in x.source_tables if t in ds}
    if not all(d in ds[t].collect_schema().names() for t in tables for d in dims):
        return None
    cols = [build.numerator.name] + (
        [build.denominator.name] if build.denominator is not None else []
    )
    parts = []
    for tag, p in (("b", p0), ("c", p1)):
        r = evaluate(
            ds,
            metric.id,
            by=list(dims),
            period=p,
            params={metric.id: dict(params)},
            measures=True,
        )
        parts.append(
            r.frame.select(*dims, *[pl.col(c).cast(pl.Float64) for c in cols]).with_columns(
                pl.lit(tag).alias("_tag")
            )
        )

    # one group-by over both periods (cheaper than a full join on many string keys); a leaf
    # absent from a period has 0 there, a leaf whose measure is unknown (null: its rows lack
    # the KPI's inputs) is left out of the search, never read as 0
    def part(c: str, tag: str) -> pl.Expr:
        x = pl.col(c).filter(pl.col("_tag") == tag)
        return pl.when(x.is_null().any()).then(None).otherwise(x.sum()).alias(f"{c}__{tag}")

    names = [f"{c}__{tag}" for tag in ("b", "c") for c in cols]
    leaves = (
        pl.concat(parts)
        .with_columns(pl.col(list(dims)).cast(pl.String).fill_null("(none)"))
        .group_by(list(dims))
        .agg(*[part(c, tag) for tag in ("b", "c") for c in cols])
        .filter(pl.all_horizontal(pl.col(n).is_not_null() for n in names))
    )
    return leaves if lazy else leaves.collect()


MAX_LEAVES = 40_000
KEEP_VALUES = 12


def _coarse_values(
    ds: Dataset,
    metric: Metric,
    params: Mapping[str, Any],
    p0: Period,
    p1: Period,
    dims: Sequence[str],
    num: str,
    den: str | None,
    pace: float,
) -> dict[str, list[str]]:
    """Coarse-to-fine pre-filter when the dimensions have very many combinations.

    When the product of the dimensions' value counts exceeds :data:`MAX_LEAVES`, each
    dimension with more than :data:`KEEP_VALUES` values keeps the values whose own change
    deviates most (``|current − pace × baseline|`` for counts; ``|mix| + |rate|`` for ratios,
    from :func:`kpi.rca.segments`) and the rest merge into ``(other)``. A cause hidden in a
    combination still shows in the one-dimensional change of its values, so it survives, and
    the search runs on at most a few tens of thousands of leaves instead of millions.
    """
    from kpi import rca

    build = metric.build(params)
    table = next(t for x in build.measures for t in x.source_tables if t in ds)
    counts = ds[table].select(pl.col(list(dims)).n_unique()).collect().row(0, named=True)
    if math.prod(counts.values()) <= MAX_LEAVES:
        return {}
    keep: dict[str, list[str]] = {}
    big = [d for d in dims if counts[d] > KEEP_VALUES]
    plans = {d: _leaves(ds, metric, params, p0, p1, [d], lazy=True) for d in big}
    plans = {d: lf for d, lf in plans.items() if lf is not None}
    # the one-dimensional tables in one go: polars runs them in parallel
    for dim, one in zip(plans, pl.collect_all(list(plans.values())), strict=True):
        one = one.with_columns((pl.col(f"{num}__b") * pace).alias(f"{num}__b"))
        seg = rca.segments(
            one,
            dims=[dim],
            baseline=f"{num}__b",
            current=f"{num}__c",
            ratio=(f"{den}__b", f"{den}__c") if den else None,
            max_order=1,
        ).collect()
        score = (
            pl.col("mix").fill_null(0).abs() + pl.col("rate").fill_null(0).abs()
            if den
            else pl.col("contribution").abs()
        )
        keep[dim] = seg.sort(score, descending=True).head(KEEP_VALUES)[dim].to_list()
    return keep


def _map_values(ds: Dataset, keep: Mapping[str, Sequence[str]]) -> Dataset:
    """The dataset with every value outside ``keep[dim]`` renamed ``(other)``."""
    tables = {}
    for name, lf in ds.tables.items():
        cols = lf.collect_schema().names()
        exprs = [
            pl.when(pl.col(d).cast(pl.String).is_in(list(v)))
            .then(pl.col(d).cast(pl.String))
            .otherwise(pl.lit("(other)"))
            .alias(d)
            for d, v in keep.items()
            if d in cols
        ]
        tables[name] = lf.with_columns(exprs) if exprs else lf
    return Dataset(tables, tz=ds.tz, meta=ds.meta, path=ds.path)


def _segments(
    ds: Dataset,
    metric: Metric,
    params: dict[str, Any],
    p0: Period,
    p1: Period,
    dims: Sequence[str],
    k: int,
) -> tuple[list[Segment], dict[str, Any] | str, list[str]]:
    """Leaf table per period and dimension combination, searched by :mod:`kpi.rca`."""
    from kpi import rca

    build = metric.build(params)
    tables = {t for x in build.measures for t in x.source_tables if t in ds}
    usable = [d for d in dims if all(d in ds[t].collect_schema().names() for t in tables)]
    skipped = [d for d in dims if d not in usable]
    if not usable:
        return [], "no dimension available for this KPI's tables", skipped
    ratio = (
        build.denominator is not None
        and build.numerator.kind == "sum"
        and build.denominator.kind == "sum"
        and build.value is None
    )
    additive = build.denominator is None and build.numerator.kind == "sum"
    if not (ratio or additive):
        return (
            [],
            f"segments need additive measures; {metric.id} is a {build.numerator.kind} measure",
            skipped,
        )
    num, den = build.numerator.name, (build.denominator.name if ratio else None)
    scale = getattr(build, "scale", 1.0)
    # days with data in each period (a week the data end in holds fewer than its seven)
    days0, days1 = (_covered_days(ds, tables, p) for p in (p0, p1))
    full = days0 == (p0.end - p0.start).days and days1 == (p1.end - p1.start).days
    pace = days1 / days0 if additive and days0 != days1 and days0 else 1.0
    keep = _coarse_values(ds, metric, params, p0, p1, usable, num, den, pace)
    leaves = _leaves(_map_values(ds, keep) if keep else ds, metric, params, p0, p1, usable)
    assert leaves is not None
    collapsed = {d: len(v) for d, v in keep.items()}
    if pace != 1.0:
        # counts over periods of different length: expect the baseline's daily pace, so the
        # search localises what moved beyond the calendar (e.g. a 28-day February)
        leaves = leaves.with_columns((pl.col(f"{num}__b") * pace).alias(f"{num}__b"))
    result = rca.localize(
        leaves,
        dims=usable,
        baseline=f"{num}__b",
        current=f"{num}__c",
        ratio=(f"{den}__b", f"{den}__c") if den else None,
        scale=scale,
        max_elements=k,
    )
    segs = [Segment.from_cause(c, pace=pace) for c in result.causes]
    method: dict[str, Any] = dict(result.method)
    if collapsed:
        method["collapsed"] = collapsed
    if pace != 1.0:
        method["expected"] = f"baseline at its daily pace × {days1} / {days0} days"
        method.update({"pace": pace, "days": [days0, days1], "covered": not full})
    return segs, method, skipped


def _covered_days(ds: Dataset, tables: set[str], p: Period) -> int:
    """Days of ``p`` within the span of the data of ``tables`` (first to last local day).

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> from kpi.periods import parse_period
    >>> t = [datetime(2026, 3, d, 9, tzinfo=ZoneInfo("UTC")) for d in (2, 31)]
    >>> ds = Dataset({"contacts": pl.DataFrame({"arrival_ts": t})}, tz="UTC")
    >>> (
    ...     _covered_days(ds, {"contacts"}, parse_period("2026-W14")),
    ...     _covered_days(ds, {"contacts"}, parse_period("2026-W13")),
    ... )
    (2, 7)
    """
    from kpi.schema import TABLES

    spans = []
    for t in sorted(tables):
        col = TABLES[t].time_column if t in TABLES else None
        if col is None or col not in ds[t].collect_schema().names():
            continue
        local = pl.col(col).dt.convert_time_zone(ds.tz).dt.date()
        lo, hi = ds[t].select(local.min().alias("lo"), local.max().alias("hi")).collect().row(0)
        if lo is not None:
            spans.append((lo, hi))
    if not spans:
        return (p.end - p.start).days
    first, last = min(a for a, _ in spans), max(b for _, b in spans)
    start, end = max(p.start, first), min(p.end, last + timedelta(days=1))
    return max((end - start).days, 0)
