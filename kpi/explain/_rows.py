"""The data behind a segment: :func:`restrict` a dataset to it, or list its :func:`rows`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.explain._model import _period
from kpi.periods import Period
from kpi.schema import time_column

__all__ = ["restrict", "rows"]


def restrict(data: Dataset | Mapping[str, Any] | str, segment: Mapping[str, Any]) -> Dataset:
    """The dataset cut to one segment: tables with every segment column are filtered, tables
    without them are left out (their KPIs cannot be cut that way).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> c = pl.DataFrame(
    ...     {"arrival_ts": [datetime(2026, 1, 5, tzinfo=UTC)] * 2, "team": ["A", "B"]}
    ... )
    >>> restrict({"contacts": c}, {"team": "A"})["contacts"].collect()["team"].to_list()
    ['A']
    """
    ds = Dataset.coerce(data)
    tables = {}
    for name, lf in ds.tables.items():
        cols = lf.collect_schema().names()
        if all(c in cols for c in segment):
            cond = pl.lit(True)
            for c, v in segment.items():
                cond = cond & (pl.col(c).cast(pl.String) == str(v))
            tables[name] = lf.filter(cond)
    return Dataset(tables, tz=ds.tz, meta=ds.meta, path=ds.path)


def rows(
    data: Dataset | Mapping[str, Any] | str,
    segment: Mapping[str, Any],
    *,
    period: str | Period | None = None,
    table: str = "contacts",
) -> pl.LazyFrame:
    """The records behind a segment (e.g. ``{"team": "North", "topic": "outage"}``).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> c = pl.DataFrame(
    ...     {"arrival_ts": [datetime(2026, 1, 5, tzinfo=UTC)] * 2, "team": ["A", "B"]}
    ... )
    >>> rows({"contacts": c}, {"team": "B"}).collect()["team"].to_list()
    ['B']
    """
    ds = Dataset.coerce(data)
    lf = ds[table]
    names = lf.collect_schema().names()
    cond = pl.lit(True)
    for col, value in segment.items():
        if col not in names:
            raise KpiError(f"{table} has no column {col!r}; columns: {', '.join(names)}")
        cond = cond & (
            pl.col(col).is_null()
            if value in (None, "(none)")
            else pl.col(col).cast(pl.String) == str(value)
        )
    if period is not None:
        p = _period(period)
        col = time_column(table) or "arrival_ts"
        lo, hi = p.start_ts(ds.tz), p.end_ts(ds.tz)
        cond = cond & (pl.col(col) >= lo) & (pl.col(col) < hi)
    return lf.filter(cond)
