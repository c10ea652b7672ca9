"""SQL forms of the measures that are not plain counts: finance sums and ticket statistics.

Written beside their polars expressions (:mod:`kpi.metrics._factories`) in the dialect DuckDB
and Spark SQL share, for the SQL engines (:mod:`kpi.engines`); ``tests/test_engines.py``
holds each pair to the same numbers. Epoch microseconds are written ``unix_micros(ts)`` (the
DuckDB engine defines the macro).

Medians and percentiles are exact on both engines: ``percentile_cont(p) WITHIN GROUP (ORDER
BY x)`` interpolates linearly between the two nearest ranks, as polars'
``quantile(p, interpolation="linear")`` and ``median()`` (the mean of the two middle values)
do; not Spark's ``percentile_approx``.

Examples
--------
>>> stat_sql(hours_between_sql("created_ts", "solved_ts"), "p90")[:40]
'percentile_cont(0.9) WITHIN GROUP (ORDER'
>>> finance_sql("centre_cost")
'CAST(sum(centre_cost) AS DOUBLE)'
"""

from __future__ import annotations

__all__ = ["finance_sql", "hours_between_sql", "stat_sql"]

_QUANTILES = {"median": 0.5, "p90": 0.9}


def finance_sql(col: str) -> str:
    """``pl.col(col).sum().cast(pl.Float64)`` in SQL."""
    return f"CAST(sum({col}) AS DOUBLE)"


def hours_between_sql(start: str, end: str) -> str:
    """``(end - start).dt.total_seconds(fractional=True) / 3600`` in SQL (null if either is)."""
    return (
        f"CAST(unix_micros({end}) - unix_micros({start}) AS DOUBLE) / CAST(1000000 AS DOUBLE) "
        "/ CAST(3600 AS DOUBLE)"
    )


def stat_sql(value: str, aggregator: str) -> str:
    """The ``mean``, ``median`` or ``p90`` of ``value`` over the non-null rows, in SQL."""
    if aggregator == "mean":
        return f"avg({value})"
    return f"percentile_cont({_QUANTILES[aggregator]}) WITHIN GROUP (ORDER BY {value})"
