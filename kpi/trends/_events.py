"""Events attached to the periods of a series, and a tidy events frame for chart rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from kpi.compute import Result
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.trends._series import Trend, _as_lazy, _duration, _out, _series

__all__ = ["attach_events"]


def _events_frame(
    events: pl.LazyFrame | pl.DataFrame | Dataset | Mapping[str, Any],
) -> pl.LazyFrame:
    if isinstance(events, Dataset):
        return events["events"]
    if isinstance(events, Mapping):
        if "events" not in events:
            raise KpiError("attach_events: no 'events' table in the data given")
        return _as_lazy(events["events"])
    return _as_lazy(events)


def attach_events(
    series: Trend | Result | pl.LazyFrame | pl.DataFrame,
    events: pl.LazyFrame | pl.DataFrame | Dataset | Mapping[str, Any],
    *,
    every: str | None = None,
    by: Sequence[str] | str | None = None,
) -> Trend:
    """Attach the labels of overlapping events to each period of a series.

    Parameters
    ----------
    series
        A series with ``period`` (a Result, a Trend, or a frame); any other columns are kept.
    events
        The ``events`` table (``start_ts``, ``end_ts`` (null for a point event), ``label``,
        ``team`` (null: all teams)), or a Dataset / mapping holding it. Time stamps are
        converted to the series' time zone (stamps without a zone are taken as local).
    every
        The grain of ``period`` (default: the Trend's); a duration such as ``1d`` or ``15m``.
    by
        Group columns of the series (default: those of a Result or Trend, else none).

    Returns
    -------
    Trend
        ``frame``: the series with ``events`` (String: the labels of the events overlapping
        the period, in order of start, joined by ``"; "``; null when none). ``events``
        attribute: one row per event within the series' time range, with ``start_ts``,
        ``end_ts`` (equal to ``start_ts`` for a point event), ``label`` and ``team``, ready for
        chart rules.

    Notes
    -----
    Period ``[p, p + every)`` and event ``[start, end)`` overlap when ``start < p + every`` and
    ``end > p``; a point event belongs to the period holding ``start``. When the series is by
    ``team``, an event applies to its own team (and an event without team to every team); the
    tidy events frame then has one row per team, with the series' team. Otherwise every event
    applies, and a team event is labelled ``"label (team)"``.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> tz = "Europe/London"
    >>> series = pl.DataFrame(
    ...     {
    ...         "team": ["A", "A", "B", "B"],
    ...         "period": [datetime(2026, 1, d) for d in (1, 2, 1, 2)],
    ...         "aht": [300.0, 320.0, 280.0, 290.0],
    ...     }
    ... ).with_columns(pl.col("period").dt.replace_time_zone(tz))
    >>> events = pl.DataFrame(
    ...     {
    ...         "start_ts": [datetime(2026, 1, 1, 9), datetime(2026, 1, 2, 14)],
    ...         "end_ts": [None, datetime(2026, 1, 3, 8)],
    ...         "label": ["new IVR", "outage"],
    ...         "team": [None, "B"],
    ...     }
    ... ).with_columns(pl.col("start_ts", "end_ts").dt.replace_time_zone(tz))
    >>> t = attach_events(series, events, every="1d", by="team")
    >>> t.frame.select("team", pl.col("period").dt.day(), "events").collect()
    shape: (4, 3)
    ┌──────┬────────┬─────────┐
    │ team ┆ period ┆ events  │
    │ ---  ┆ ---    ┆ ---     │
    │ str  ┆ i8     ┆ str     │
    ╞══════╪════════╪═════════╡
    │ A    ┆ 1      ┆ new IVR │
    │ A    ┆ 2      ┆ null    │
    │ B    ┆ 1      ┆ new IVR │
    │ B    ┆ 2      ┆ outage  │
    └──────┴────────┴─────────┘
    """
    s = _series(series, None, by, None, func="attach_events")
    every = every or s.every
    if every is None:
        raise KpiError(
            "attach_events needs the grain of the series: pass every= (e.g. 1d, 15m, 1mo)"
        )
    _duration(every, arg="every")
    ev = _events_frame(events)
    ev = _event_spans(ev, s.lf.collect_schema()["period"])
    by_l = list(s.by)
    keys = [*by_l, "period"]
    per_team = "team" in by_l
    src = (s.lf.drop("events") if "events" in s.names else s.lf).cache()
    bins = (
        src.select(keys).unique().with_columns(pl.col("period").dt.offset_by(every).alias("_pend"))
    )
    per_period = _labels_per_period(bins, ev, by_l, per_team=per_team)
    frame = src.join(per_period, on=keys, how="left", nulls_equal=True, maintain_order="left")
    tidy = _tidy_events(src, bins, ev, per_team=per_team)
    text = f"labels of events overlapping [period, period + {every})" + (
        ", matched by team" if per_team else ""
    )
    return _out(s, frame, {"events": text}, every=every, events=tidy)


def _event_spans(ev: pl.LazyFrame, dtype: pl.DataType) -> pl.LazyFrame:
    """Events in the series' time type: ``_start``, ``_stop``, ``_last`` instant, label, team."""
    ev_names = ev.collect_schema().names()
    for col in ("start_ts", "label"):
        if col not in ev_names:
            raise KpiError(
                f"attach_events: the events table has no column {col!r}; "
                f"its columns: {', '.join(ev_names)}"
            )
    assert isinstance(dtype, pl.Datetime)
    tz = dtype.time_zone

    ev_schema = ev.collect_schema()

    def to_series_tz(col: str) -> pl.Expr:
        got = ev_schema.get(col)
        if got is None or got == pl.Null:
            return pl.lit(None, dtype)
        if not isinstance(got, pl.Datetime):
            raise KpiError(f"attach_events: events column {col!r} must be a time stamp, got {got}")
        e = pl.col(col)
        if got.time_zone is None and tz is not None:
            e = e.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        elif tz is not None:
            e = e.dt.convert_time_zone(tz)
        return e.cast(dtype)

    ev = ev.select(
        to_series_tz("start_ts").alias("_start"),
        to_series_tz("end_ts").alias("_end_raw"),
        pl.col("label").cast(pl.String).alias("_label"),
        (pl.col("team").cast(pl.String) if "team" in ev_names else pl.lit(None, pl.String)).alias(
            "_team"
        ),
    ).filter(pl.col("_start").is_not_null())
    return ev.with_columns(
        pl.when(pl.col("_end_raw") > pl.col("_start"))
        .then(pl.col("_end_raw"))
        .otherwise(pl.col("_start"))
        .alias("_stop")
    ).with_columns(
        # last instant covered: the start for a point event
        pl.when(pl.col("_stop") > pl.col("_start"))
        .then(pl.col("_stop") - pl.duration(microseconds=1))
        .otherwise(pl.col("_start"))
        .alias("_last")
    )


def _labels_per_period(
    bins: pl.LazyFrame, ev: pl.LazyFrame, by_l: list[str], *, per_team: bool
) -> pl.LazyFrame:
    """The ``events`` text of each group and period: overlapping labels joined by ``"; "``."""
    keys = [*by_l, "period"]
    pairs = bins.join_where(
        ev, pl.col("_start") < pl.col("_pend"), pl.col("_last") >= pl.col("period")
    )
    if per_team:
        pairs = pairs.filter(pl.col("_team").is_null() | (pl.col("_team") == pl.col("team")))
        label = pl.col("_label")
    else:
        label = (
            pl.when(pl.col("_team").is_null())
            .then(pl.col("_label"))
            .otherwise(pl.format("{} ({})", pl.col("_label"), pl.col("_team")))
        )
    return (
        pairs.with_columns(label.alias("_l"))
        .sort([*by_l, "period", "_start", "_l"], nulls_last=True)
        .group_by(keys, maintain_order=True)
        .agg(pl.col("_l").unique(maintain_order=True).str.join("; ").alias("events"))
    )


def _tidy_events(
    src: pl.LazyFrame, bins: pl.LazyFrame, ev: pl.LazyFrame, *, per_team: bool
) -> pl.LazyFrame:
    """One row per event (per team when the series is by team) within the series' time range."""
    span = bins.select(pl.col("period").min().alias("_lo"), pl.col("_pend").max().alias("_hi"))
    in_span = ev.join(span, how="cross").filter(
        (pl.col("_start") < pl.col("_hi")) & (pl.col("_last") >= pl.col("_lo"))
    )
    if per_team:
        teams = src.select("team").unique()
        tidy = in_span.join(teams, how="cross").filter(
            pl.col("_team").is_null() | (pl.col("_team") == pl.col("team"))
        )
    else:
        tidy = in_span.with_columns(pl.col("_team").alias("team"))
    return tidy.select(
        pl.col("_start").alias("start_ts"),
        pl.col("_stop").alias("end_ts"),
        pl.col("_label").alias("label"),
        pl.col("team"),
    ).sort(["start_ts", "team", "label"], nulls_last=True)
