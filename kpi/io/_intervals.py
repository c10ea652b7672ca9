"""Aggregating contact rows into an ACD interval report (the ``intervals`` table)."""

from __future__ import annotations

import polars as pl

from kpi.errors import KpiError
from kpi.schema import TABLES

__all__ = ["contacts_to_intervals"]

_OFFERED = ("answered", "abandoned_queue", "flowout")


def contacts_to_intervals(
    contacts: pl.LazyFrame | pl.DataFrame,
    *,
    every: str = "30m",
    threshold_s: float = 20,
    short_abandon_s: float | None = None,
    time_column: str = "arrival_ts",
) -> pl.LazyFrame:
    """Aggregate contacts into the ``intervals`` table an ACD interval report would hold.

    Parameters
    ----------
    contacts
        A ``contacts`` table (time stamps in the site time zone).
    every
        Interval length as a polars duration string: ``"15m"``, ``"30m"``, ``"1h"``, ``"1d"``.
    threshold_s
        Service-level threshold T: ``answered_within_threshold`` counts answers with
        ``wait_s <= T``, ``abandoned_within_threshold`` abandons with ``wait_s <= T``.
    short_abandon_s
        Short-abandon threshold S: ``abandoned_short`` counts abandons with ``wait_s < S``
        (as :mod:`kpi.metrics` reads S); null when None.
    time_column
        Contacts are attributed to the interval holding this time stamp (arrival by default,
        the table's time column, so contact-level KPIs per interval match).

    Returns
    -------
    pl.LazyFrame
        One row per interval, queue, channel and team with at least one offered contact, in
        the canonical ``intervals`` column order; ``staffed_s`` is null (contacts do not tell).

    Notes
    -----
    Offered = contacts that reached a queue: outcome answered, abandoned_queue or flowout
    (IVR abandons and outbound contacts are not offered). Intervals are bins of local time
    in the site time zone: a 1-day bin on a daylight-saving day is 23 or 25 hours long, and
    ``interval_s`` says so. Totals: ``wait_answered_s`` = Σ wait of answered,
    ``wait_abandoned_s`` = Σ wait of abandoned, ``talk_s``/``hold_s``/``acw_s`` = Σ over
    answered contacts, ``max_wait_s`` = max wait of offered contacts, ``transferred`` = answered
    contacts that were transferred.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> t = [datetime(2024, 5, 1, 9, m) for m in (1, 7, 20, 40)]
    >>> contacts = pl.LazyFrame(
    ...     {
    ...         "arrival_ts": t,
    ...         "queue": ["sales"] * 4,
    ...         "channel": ["voice"] * 4,
    ...         "team": ["a"] * 4,
    ...         "outcome": ["answered", "answered", "abandoned_queue", "abandoned_ivr"],
    ...         "wait_s": [5.0, 40.0, 12.0, None],
    ...         "talk_s": [100.0, 200.0, 0.0, 0.0],
    ...         "hold_s": [0.0, 10.0, 0.0, 0.0],
    ...         "acw_s": [20.0, 30.0, 0.0, 0.0],
    ...         "transferred": [False, True, False, False],
    ...     }
    ... ).with_columns(pl.col("arrival_ts").dt.replace_time_zone("Europe/London"))
    >>> iv = contacts_to_intervals(contacts, every="30m", threshold_s=20).collect()
    >>> iv.select("offered", "answered", "abandoned", "answered_within_threshold", "talk_s")
    shape: (1, 5)
    ┌─────────┬──────────┬───────────┬───────────────────────────┬────────┐
    │ offered ┆ answered ┆ abandoned ┆ answered_within_threshold ┆ talk_s │
    │ ---     ┆ ---      ┆ ---       ┆ ---                       ┆ ---    │
    │ i64     ┆ i64      ┆ i64       ┆ i64                       ┆ f64    │
    ╞═════════╪══════════╪═══════════╪═══════════════════════════╪════════╡
    │ 3       ┆ 2        ┆ 1         ┆ 1                         ┆ 300.0  │
    └─────────┴──────────┴───────────┴───────────────────────────┴────────┘
    """
    _check_options(every=every, threshold_s=threshold_s, short_abandon_s=short_abandon_s)
    lf = _with_optional_columns(contacts.lazy())
    outcome = pl.col("outcome")
    ans = outcome == "answered"
    ab = outcome == "abandoned_queue"
    wait = pl.col("wait_s")
    n = lambda cond: cond.cast(pl.Int64).sum()  # noqa: E731
    short = (
        n(ab & (wait < short_abandon_s))
        if short_abandon_s is not None
        else pl.lit(None, dtype=pl.Int64)
    )
    start = pl.col(time_column).dt.truncate(every).alias("interval_start")
    out = (
        lf.filter(outcome.is_in(_OFFERED))
        .with_columns(start)
        .group_by("interval_start", "queue", "channel", "team")
        .agg(
            pl.len().cast(pl.Int64).alias("offered"),
            n(ans).alias("answered"),
            n(ab).alias("abandoned"),
            short.alias("abandoned_short"),
            n(ans & (wait <= threshold_s)).alias("answered_within_threshold"),
            n(ab & (wait <= threshold_s)).alias("abandoned_within_threshold"),
            n(outcome == "flowout").alias("flowout"),
            wait.filter(ans).sum().alias("wait_answered_s"),
            wait.filter(ab).sum().alias("wait_abandoned_s"),
            wait.filter(outcome == "flowout").sum().alias("wait_flowout_s"),
            wait.max().alias("max_wait_s"),
            pl.col("talk_s").filter(ans).sum().alias("talk_s"),
            pl.col("hold_s").filter(ans).sum().alias("hold_s"),
            pl.col("acw_s").filter(ans).sum().alias("acw_s"),
            n(ans & pl.col("transferred").fill_null(False)).alias("transferred"),
        )
        .with_columns(
            (
                (pl.col("interval_start").dt.offset_by(every) - pl.col("interval_start"))
                .dt.total_microseconds()
                .cast(pl.Float64)
                / 1e6
            ).alias("interval_s"),
            pl.lit(None, dtype=pl.Float64).alias("staffed_s"),
        )
        .sort("interval_start", "queue", "channel", "team", nulls_last=True)
    )
    return out.select(TABLES["intervals"].names)


def _check_options(*, every: str, threshold_s: float, short_abandon_s: float | None) -> None:
    """Refuse negative thresholds and an interval length polars cannot read."""
    if threshold_s is None or threshold_s < 0:
        raise KpiError(f"threshold_s must be 0 or more, got {threshold_s}")
    if short_abandon_s is not None and short_abandon_s < 0:
        raise KpiError(f"short_abandon_s must be 0 or more, got {short_abandon_s}")
    try:
        pl.select(pl.datetime(2024, 1, 1).dt.truncate(every))
    except Exception:
        raise KpiError(
            f"every = {every!r} is not a polars duration such as '15m', '30m', '1h' or '1d'"
        ) from None


def _with_optional_columns(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Null ``queue``/``channel``/``team``, talk/hold/ACW and ``transferred`` where absent."""
    have = lf.collect_schema()
    for c in ("queue", "channel", "team"):
        if c not in have:
            lf = lf.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    for c in ("talk_s", "hold_s", "acw_s"):
        if c not in have:
            lf = lf.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    if "transferred" not in have:
        lf = lf.with_columns(pl.lit(None, dtype=pl.Boolean).alias("transferred"))
    return lf
