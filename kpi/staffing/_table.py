"""The staffing table: demand, required and actual agents per interval from the data, and the
achieved values next to what the model expects of the actual staffing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import polars as pl

from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.staffing._demand import (
    agents_from_log,
    demand_from_contacts,
    demand_from_intervals,
    known,
    staff_from_agent_time,
)
from kpi.staffing._exprs import _model_expr, _required_expr
from kpi.staffing._formulas import Denominator, _array, _denominator, _patience
from kpi.staffing._project import project
from kpi.staffing._what_if import WhatIf

__all__ = ["estimate_patience", "staffing_table"]


_DAY_S = 86_400


def _every_seconds(every: str) -> int:
    """Seconds of a staffing interval that divides the day (``7m`` would cut bins at 01:17).

    Examples
    --------
    >>> _every_seconds("30m"), _every_seconds("2h")
    (1800, 7200)
    >>> _every_seconds("7m")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: bad interval '7m' for staffing: it must divide the day into whole intervals, such as 15m, 30m, 1h or 2h
    """
    m = re.fullmatch(r"(\d{1,5})(m|h)", every.strip())
    if not m or int(m[1]) == 0:
        raise KpiError(
            f"bad interval {every!r} for staffing: use minutes or hours such as 15m, 30m, 1h "
            "(Erlang load is per interval; days and weeks are too long)"
        )
    seconds = int(m[1]) * (60 if m[2] == "m" else 3600)
    if _DAY_S % seconds:
        raise KpiError(
            f"bad interval {every!r} for staffing: it must divide the day into whole intervals, "
            "such as 15m, 30m, 1h or 2h"
        )
    return seconds


def _check_every_against_data(every: str, every_s: int, ds: Dataset) -> None:
    """Refuse an interval that is not a whole number of the data's own intervals.

    Agent time (and an interval report) is counted per interval of the source: shorter or
    misaligned staffing intervals would find no agents in most bins, or a half-interval of
    demand against a whole interval of agents.
    """
    lengths = [
        ds[table].select(pl.col("interval_s").max()).collect().item()
        for table in ("agent_time", "intervals")
        if table in ds and "interval_s" in ds[table].collect_schema()
    ]
    source_s = max((float(x) for x in lengths if x is not None), default=None)
    if source_s and every_s % source_s:
        minutes = f"{source_s / 60:g}"
        raise KpiError(
            f"bad interval {every!r} for staffing: the data is counted in {minutes}-minute "
            f"intervals, so use a multiple of {minutes}m that divides the day"
        )


_BY_CHOICES = ("queue", "team", "site", "channel")
_STAFF_KEYS = ("team", "site")


def _achieved_sl(denominator: str) -> pl.Expr:
    ans_t, ab_t = pl.col("answered_within"), pl.col("abandoned_within")
    num, den = {
        "offered": (ans_t, pl.col("offered")),
        "answered_plus_abandoned": (ans_t, pl.col("answered") + pl.col("abandoned")),
        "answered": (ans_t, pl.col("answered")),
        "ignore_abandons_within_threshold": (ans_t, pl.col("offered") - ab_t),
        "abandons_within_threshold_met": (ans_t + ab_t, pl.col("offered")),
    }[denominator]
    return _ratio(num, den)


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den)


def estimate_patience(
    data: Dataset | Mapping[str, Any] | str, *, by: Sequence[str] = ()
) -> pl.LazyFrame:
    """Mean patience per group, estimated from abandons and the time everybody waited.

    Parameters
    ----------
    data
        A :class:`kpi.data.Dataset` (or mapping / directory) with ``contacts``, or else an
        ``intervals`` table with ``wait_abandoned_s``.
    by
        Group columns (e.g. ``("queue",)``); ``()`` for one estimate over everything.

    Returns
    -------
    polars.LazyFrame
        ``by`` columns, ``queued``, ``abandoned``, ``total_wait_s`` and ``patience_s`` (null
        without abandons: no evidence of impatience, use Erlang C).

    Notes
    -----
    ``patience = Σ wait of all queued contacts (answered, abandoned, flowed out) / abandons``.
    This is the maximum-likelihood estimate of the mean of an exponential patience from
    censored data: an abandon reveals the patience, every other queued contact only shows that
    its patience exceeded its wait, so ``θ̂ = abandons / total time at risk`` (Mandelbaum &
    Zeltyn; the same estimator Koole's CCmath documents for Erlang X).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> t = datetime(2024, 1, 8, 9, tzinfo=__import__("zoneinfo").ZoneInfo("UTC"))
    >>> contacts = pl.LazyFrame(
    ...     {
    ...         "queue": ["a", "a", "a"],
    ...         "direction": ["inbound"] * 3,
    ...         "queue_ts": [t] * 3,
    ...         "wait_s": [30.0, 90.0, 60.0],
    ...         "outcome": ["answered", "abandoned_queue", "answered"],
    ...     }
    ... )
    >>> estimate_patience({"contacts": contacts}, by=["queue"]).collect()
    shape: (1, 5)
    ┌───────┬────────┬───────────┬──────────────┬────────────┐
    │ queue ┆ queued ┆ abandoned ┆ total_wait_s ┆ patience_s │
    │ ---   ┆ ---    ┆ ---       ┆ ---          ┆ ---        │
    │ str   ┆ i64    ┆ i64       ┆ f64          ┆ f64        │
    ╞═══════╪════════╪═══════════╪══════════════╪════════════╡
    │ a     ┆ 3      ┆ 1         ┆ 180.0        ┆ 180.0      │
    └───────┴────────┴───────────┴──────────────┴────────────┘
    """
    return _estimate_patience(Dataset.coerce(data), list(by))


def _estimate_patience(ds: Dataset, keys: list[str]) -> pl.LazyFrame:
    """Queued, abandoned, total wait and mean patience per group of ``keys``."""
    if "contacts" in ds:
        lf = ds["contacts"].filter(
            pl.col("queue_ts").is_not_null(), pl.col("direction") == "inbound"
        )
        agg = {
            "queued": pl.len().cast(pl.Int64),
            "abandoned": (pl.col("outcome") == "abandoned_queue").sum().cast(pl.Int64),
            "total_wait_s": pl.col("wait_s").fill_null(0.0).sum().cast(pl.Float64),
        }
    elif "intervals" in ds:
        lf = ds["intervals"]
        if "wait_abandoned_s" not in lf.collect_schema():
            raise KpiError(
                "cannot estimate patience: the intervals table has no wait_abandoned_s column; "
                "give --patience-s / patience_s instead"
            )
        agg = {
            "queued": pl.col("offered").sum().cast(pl.Int64),
            "abandoned": pl.col("abandoned").sum().cast(pl.Int64),
            "total_wait_s": (
                pl.col("wait_answered_s").fill_null(0.0)
                + pl.col("wait_abandoned_s").fill_null(0.0)
            )
            .sum()
            .cast(pl.Float64),
        }
    else:
        raise KpiError("estimating patience needs a contacts or an intervals table")
    grouped = lf.group_by(keys, maintain_order=True) if keys else lf.select()
    out = grouped.agg(**agg) if keys else lf.select(**agg)
    return out.with_columns(patience_s=_ratio(pl.col("total_wait_s"), pl.col("abandoned")))


def staffing_table(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str = "30m",
    by: Sequence[str] = ("team",),
    threshold_s: float | None = None,
    target_sl: float | None = 0.8,
    target_asa_s: float | None = None,
    max_occupancy: float | None = None,
    max_abandon: float | None = None,
    shrinkage: float | None = None,
    patience_s: float | Literal["estimate"] | None = None,
    denominator: Denominator = "offered",
    what_if: WhatIf | Sequence[str] | None = None,
    aht_s: float | None = None,
    estimate_agents: bool = True,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pl.LazyFrame:
    """Required against actual agents per interval, with expected and achieved service.

    Parameters
    ----------
    data
        A :class:`kpi.data.Dataset` (or mapping / directory). Demand comes from ``contacts``
        (inbound contacts that entered a queue, binned by ``queue_ts``) or, without contacts,
        from ``intervals``; staffing from ``agent_time`` (else ``intervals.staffed_s``).
    every
        Interval length, ``15m``, ``30m``, ``1h``...; bins are cut in the dataset's local time
        with ``dt.truncate``, so a 23-hour day has 46 half-hours. It must divide the day and be
        a multiple of the interval length of ``agent_time`` (or ``intervals``); anything else
        is a :class:`~kpi.errors.KpiError`, since most bins would find no agents.
    by
        Any of ``queue``, ``team``, ``site``, ``channel``; ``()`` for the whole centre. Agents
        are staffed per team (and site); with ``queue`` or ``channel`` in ``by``, a team's
        agents are shared among its rows in proportion to their load, and ``team`` is added
        to the output (use ``by=("team",)`` for the pooled view that Erlang assumes).
    threshold_s
        Service-level threshold (s); default 20, or for ``intervals`` data the
        ``interval_threshold_s`` of ``dataset.json`` (a different value is an error, since the
        counts were made with it).
    target_sl, target_asa_s, max_occupancy, max_abandon
        Targets for the required agents, see :func:`required_agents`.
    shrinkage
        Turns required agents into ``required_scheduled``; None uses each row's measured
        shrinkage ``1 − on-queue time / scheduled time`` from ``agent_time``.
    patience_s
        None for Erlang C; a mean patience (s) for Erlang A; ``"estimate"`` for Erlang A with
        the patience of each group estimated from the whole dataset (:func:`estimate_patience`;
        groups without abandons fall back to Erlang C).
    denominator
        Service-level definition for both the expected and the achieved value, see
        :func:`service_level`.
    what_if
        Optional changes (:func:`parse_what_if`) projected by :func:`project`.
    aht_s
        Planning assumption: the AHT (seconds, with wrap-up) of the rows whose handle time
        the data does not give (no talk time in the data, or none for the group); the data's
        own AHT wins where it has one. Rows that use it list ``aht_s`` in ``assumed``.
    estimate_agents
        Without agent time (no ``agent_time`` with handle, wrap-up and available time, and no
        ``staffed_s`` in an interval report), estimate the agents on queue from a call log
        that names the agent on each call (:func:`~kpi.staffing._demand.agents_from_log`:
        distinct agents busy with a call in the interval, a lower bound); those rows list
        ``staffed_agents`` in ``assumed``. False: the agents on queue stay unknown (null).
    start, end
        Only the intervals starting in ``[start, end)`` (time-zone-aware instants; either may
        be None: open). The rows are the same as those of the whole table in that range: a
        group's AHT where an interval answered nothing still comes from the whole data, and
        only the work of the range (estimating agents from the log) is limited to it.

    Returns
    -------
    polars.LazyFrame
        One row per interval and group: ``interval_start``, the groups, ``interval_s``,
        ``offered``, ``answered``, ``abandoned``, ``aht_s``, ``load_erlangs``, ``patience_s``,
        ``required_agents`` (fractional), ``required_scheduled``, ``staffed_agents`` (on-queue:
        ``Σ (handle_s + acw_s + available_s) / interval_s``), ``scheduled_agents``,
        ``staffing_gap`` (staffed − required: negative is under-staffed), then
        ``expected_*`` (the model at the staffed agents) beside ``achieved_*`` for
        ``service_level``, ``asa_s``, ``abandon_rate`` and ``occupancy``, and
        ``expected_wait_probability``, then ``assumed`` (the quantities of the row taken
        from a planning assumption or estimated: ``aht_s``, ``shrinkage``,
        ``staffed_agents``; null when none). Ratios are null where their denominator is
        zero. A quantity whose inputs the data lack is null, never 0: an arrivals-only
        interval report has offered contacts and load (with ``aht_s``) but no achieved
        service level, ASA or agents on queue.

    Notes
    -----
    ``AHT = Σ (talk + hold + acw) / answered`` in the interval (the group's AHT over the whole
    data when the interval answered nothing); ``load = offered × AHT / interval_s``;
    achieved SL per ``denominator`` (default ``answered within T / offered``, flow-outs count
    as misses); achieved ASA = Σ wait of answered / answered; achieved abandon rate =
    abandoned / offered; achieved occupancy = (handle + acw) / (handle + acw + available).
    Sum ``required_agents`` across rows and :func:`round_up` the total once.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> t = datetime(2024, 1, 8, 9, 5, tzinfo=ZoneInfo("Europe/London"))
    >>> contacts = pl.DataFrame(
    ...     {
    ...         "queue": ["q"] * 4,
    ...         "team": ["A"] * 4,
    ...         "direction": ["inbound"] * 4,
    ...         "queue_ts": [t] * 4,
    ...         "wait_s": [5.0, 10.0, 40.0, 30.0],
    ...         "outcome": ["answered", "answered", "answered", "abandoned_queue"],
    ...         "talk_s": [200.0, 250.0, 300.0, 0.0],
    ...         "hold_s": [0.0] * 4,
    ...         "acw_s": [50.0, 50.0, 50.0, 0.0],
    ...     }
    ... )
    >>> agent_time = pl.DataFrame(
    ...     {
    ...         "team": ["A"],
    ...         "interval_start": [t.replace(minute=0)],
    ...         "interval_s": [1800.0],
    ...         "handle_s": [750.0],
    ...         "acw_s": [150.0],
    ...         "available_s": [2700.0],
    ...         "scheduled_s": [3600.0],
    ...     }
    ... )
    >>> ds = {"contacts": contacts, "agent_time": agent_time}
    >>> out = staffing_table(ds, target_sl=0.8, threshold_s=20).collect()
    >>> out.select("team", "offered", "aht_s", "staffed_agents", "achieved_service_level")
    shape: (1, 5)
    ┌──────┬─────────┬───────┬────────────────┬────────────────────────┐
    │ team ┆ offered ┆ aht_s ┆ staffed_agents ┆ achieved_service_level │
    │ ---  ┆ ---     ┆ ---   ┆ ---            ┆ ---                    │
    │ str  ┆ i64     ┆ f64   ┆ f64            ┆ f64                    │
    ╞══════╪═════════╪═══════╪════════════════╪════════════════════════╡
    │ A    ┆ 4       ┆ 300.0 ┆ 2.0            ┆ 0.5                    │
    └──────┴─────────┴───────┴────────────────┴────────────────────────┘
    """
    ds = Dataset.coerce(data)
    every_s = _every_seconds(every)
    _check_every_against_data(every, every_s, ds)
    keys = _check_by(by)
    denominator = _denominator(denominator)
    targets = _check_targets(
        target_sl=target_sl,
        target_asa_s=target_asa_s,
        max_occupancy=max_occupancy,
        max_abandon=max_abandon,
        shrinkage=shrinkage,
        patience_s=patience_s,
    )
    if aht_s is not None:
        _array("aht_s", aht_s, low=0, low_open=True)
    source, threshold = _demand_source(ds, threshold_s)
    ok = known(ds)
    staff = (
        staff_from_agent_time(ds["agent_time"], [], ok["agent_time"], every=every)
        if "agent_time" in ds
        else None
    )
    keys, split = _group_keys(ds, source, keys, staff=staff is not None)
    staff_keys = [k for k in keys if k in _STAFF_KEYS]
    if "contacts" in ds:
        demand = demand_from_contacts(
            source, keys, ok["contacts"], every=every, threshold_s=threshold
        )
    else:
        demand = demand_from_intervals(source, keys, ok["intervals"], every=every)
    estimate = None
    if estimate_agents and staff is None and "contacts" in ds:
        estimate = agents_from_log(source, keys, ok["contacts"], every=every, start=start, end=end)
    table = _with_staff(
        demand, ds, ok, staff_keys, every=every, every_s=every_s, split=split, estimate=estimate
    )
    overall_keys = [k for k in keys if k != "interval_start"]
    table = _with_aht_and_load(table, overall_keys, assumed_aht=aht_s)
    table = _with_patience(table, ds, overall_keys, patience_s=patience_s)
    table = _with_staffed_agents(table, staff_keys, split=split)
    table = _with_required_and_expected(
        table, targets, threshold_s=threshold, denominator=denominator, shrinkage=shrinkage
    )
    table = _with_assumed(table, shrinkage=shrinkage)
    if start is not None:
        table = table.filter(pl.col("interval_start") >= start)
    if end is not None:
        table = table.filter(pl.col("interval_start") < end)
    table = table.select("interval_start", *keys, *_COLUMNS).sort(
        "interval_start", *keys, nulls_last=True
    )
    if what_if:
        table = project(table, what_if, threshold_s=threshold, denominator=denominator)
    return table


#: The columns of :func:`staffing_table` after ``interval_start`` and the group keys.
_COLUMNS = (
    "interval_s",
    "offered",
    "answered",
    "abandoned",
    "aht_s",
    "load_erlangs",
    "patience_s",
    "required_agents",
    "required_scheduled",
    "staffed_agents",
    "scheduled_agents",
    "staffing_gap",
    "expected_service_level",
    "achieved_service_level",
    "expected_asa_s",
    "achieved_asa_s",
    "expected_abandon_rate",
    "achieved_abandon_rate",
    "expected_occupancy",
    "achieved_occupancy",
    "expected_wait_probability",
    "assumed",
)


def _check_by(by: Sequence[str]) -> list[str]:
    """The group keys of ``by``, deduplicated, each one of the valid choices."""
    keys = list(dict.fromkeys(by))
    unknown = [k for k in keys if k not in _BY_CHOICES]
    if unknown:
        raise KpiError(
            f"cannot staff by {', '.join(map(repr, unknown))}; valid: {', '.join(_BY_CHOICES)}"
        )
    return keys


def _check_targets(
    *,
    target_sl: float | None,
    target_asa_s: float | None,
    max_occupancy: float | None,
    max_abandon: float | None,
    shrinkage: float | None,
    patience_s: float | str | None,
) -> dict[str, float | None]:
    """The targets by name, after checking them, the shrinkage and the patience."""
    targets = {
        "target_sl": target_sl,
        "target_asa_s": target_asa_s,
        "max_occupancy": max_occupancy,
        "max_abandon": max_abandon,
    }
    if target_sl is not None:
        _array("target_sl", target_sl, low=0, low_open=True, high=1, high_open=True)
    if target_asa_s is not None:
        _array("target_asa_s", target_asa_s, low=0, low_open=True)
    if max_occupancy is not None:
        _array("max_occupancy", max_occupancy, low=0, low_open=True, high=1)
    if max_abandon is not None:
        _array("max_abandon", max_abandon, low=0, low_open=True, high=1, high_open=True)
        if patience_s is None:
            raise KpiError("max_abandon needs patience (Erlang A): give patience_s or 'estimate'")
    if all(v is None for v in targets.values()):
        raise KpiError("staffing_table needs a target: target_sl, target_asa_s, ...")
    if shrinkage is not None:
        _array("shrinkage", shrinkage, low=0, low_open=False, high=1, high_open=True)
    if isinstance(patience_s, str) and patience_s != "estimate":
        raise KpiError(f"patience_s must be seconds, None or 'estimate', got {patience_s!r}")
    if patience_s is not None and not isinstance(patience_s, str):
        _patience(patience_s)
    return targets


def _demand_source(ds: Dataset, threshold_s: float | None) -> tuple[pl.LazyFrame, float]:
    """The table demand comes from (contacts, else intervals) and the service-level threshold."""
    if "contacts" in ds:
        source = ds["contacts"]
        threshold = 20.0 if threshold_s is None else float(threshold_s)
    elif "intervals" in ds:
        source = ds["intervals"]
        meta_t = ds.meta.get("interval_threshold_s")
        if threshold_s is not None and meta_t is not None and float(threshold_s) != float(meta_t):
            raise KpiError(
                f"threshold_s={threshold_s:g} but the intervals table counts answers within "
                f"{float(meta_t):g} s (dataset.json interval_threshold_s); use {float(meta_t):g}"
            )
        threshold = float(threshold_s if threshold_s is not None else (meta_t or 20.0))
    else:
        raise KpiError("staffing needs a contacts or an intervals table in the dataset")
    _array("threshold_s", threshold, low=0, low_open=False)
    return source, threshold


def _group_keys(
    ds: Dataset, source: pl.LazyFrame, keys: list[str], *, staff: bool
) -> tuple[list[str], bool]:
    """The output's group keys (``team`` added when agents are shared) and whether to share."""
    schema = source.collect_schema()
    missing = [k for k in keys if k not in schema]
    if missing:
        raise KpiError(
            f"cannot staff by {', '.join(missing)}: no such column in the "
            f"{'contacts' if 'contacts' in ds else 'intervals'} table"
        )
    split = any(k not in _STAFF_KEYS for k in keys) and staff and keys != []
    if split and "team" not in keys:
        if "team" not in schema:
            raise KpiError("staffing by queue needs a team column to share agents among queues")
        keys = [*keys, "team"]
    return keys, split


def _with_staff(
    demand: pl.LazyFrame,
    ds: Dataset,
    ok: Mapping[str, Mapping[str, bool]],
    staff_keys: list[str],
    *,
    every: str,
    every_s: int,
    split: bool,
    estimate: pl.LazyFrame | None,
) -> pl.LazyFrame:
    """Demand joined with on-queue, busy and scheduled time (agent time, else the interval
    report's ``staffed_s``, else the estimate from the log); ``interval_s``.

    Intervals with agents but no contacts get 0 of each count the data know (no contact
    came); a count the data lack stays null everywhere.
    """
    staff = None
    if "agent_time" in ds:
        staff = staff_from_agent_time(ds["agent_time"], staff_keys, ok["agent_time"], every=every)
    none = pl.lit(None, dtype=pl.Float64)
    if staff is not None:
        on = ["interval_start", *staff_keys]
        if split:
            table = demand.join(staff, on=on, how="left", nulls_equal=True)
        else:
            table = demand.join(staff, on=on, how="full", coalesce=True, nulls_equal=True)
        table = table.with_columns(agents_estimate=none)
    else:
        table = demand.with_columns(
            on_queue_s=pl.col("staffed_from_intervals_s")
            if "staffed_from_intervals_s" in demand.collect_schema()
            else none,
            busy_s=none,
            sched_s=none,
            staff_interval_s=none,
        )
        if estimate is not None:
            on = ["interval_start", *[k for k in demand.collect_schema() if k in _BY_CHOICES]]
            table = table.join(estimate, on=on, how="left", nulls_equal=True).with_columns(
                pl.col("agents_estimate").fill_null(0.0)
            )
        else:
            table = table.with_columns(agents_estimate=none)
    source = "contacts" if "contacts" in ds else "intervals"
    col_ok = ok.get(source, {})
    count_known = {
        "offered": True,
        "answered": source == "contacts" or col_ok.get("answered", False),
        "abandoned": source == "contacts" or col_ok.get("abandoned", False),
        "answered_within": col_ok.get(
            "wait_s" if source == "contacts" else "answered_within_threshold", False
        ),
        "handle_s": col_ok.get("talk_s", False),
    }
    no_demand = pl.col("_demand").is_null()
    return table.with_columns(
        *(
            pl.when(no_demand).then(pl.lit(0) if k else None).otherwise(pl.col(c)).alias(c)
            for c, k in count_known.items()
        ),
        interval_s=pl.max_horizontal(
            pl.lit(float(every_s)),
            pl.col("source_interval_s").fill_null(0.0),
            pl.col("staff_interval_s").fill_null(0.0),
        ),
    ).drop("_demand")


def _join_per_group(table: pl.LazyFrame, other: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """``other`` (one row per group of ``keys``, or one row when no keys) joined to each row."""
    if keys:
        return table.join(other, on=keys, how="left", nulls_equal=True)
    return table.join(other, how="cross")


def _with_aht_and_load(
    table: pl.LazyFrame, overall_keys: list[str], *, assumed_aht: float | None
) -> pl.LazyFrame:
    """``aht_s`` (the group's overall AHT where an interval answered nothing; the assumed AHT
    where the data give none) and the load; ``_aht_assumed`` marks the assumed rows."""
    both = pl.col("handle_s").is_not_null() & pl.col("answered").is_not_null()
    fallback_aht = pl.col("handle_s").filter(both).sum() / pl.col("answered").filter(both).sum()
    fallback = (
        table.group_by(overall_keys).agg(_fallback_aht=fallback_aht)
        if overall_keys
        else table.select(_fallback_aht=fallback_aht)
    )
    return (
        _join_per_group(table, fallback, overall_keys)
        .with_columns(
            _aht_data=pl.coalesce(
                _ratio(pl.col("handle_s"), pl.col("answered")),
                pl.when(pl.col("_fallback_aht").is_finite()).then(pl.col("_fallback_aht")),
            )
        )
        .with_columns(
            aht_s=pl.col("_aht_data").fill_null(
                pl.lit(None if assumed_aht is None else float(assumed_aht), dtype=pl.Float64)
            ),
            _aht_assumed=pl.col("_aht_data").is_null() & pl.lit(assumed_aht is not None),
        )
        .with_columns(
            load_erlangs=pl.when(pl.col("offered") == 0)
            .then(0.0)
            .otherwise(pl.col("offered") * pl.col("aht_s") / pl.col("interval_s"))
        )
    )


def _with_patience(
    table: pl.LazyFrame,
    ds: Dataset,
    overall_keys: list[str],
    *,
    patience_s: float | str | None,
) -> pl.LazyFrame:
    """``patience_s``: the one given, null (Erlang C), or estimated per group from the data."""
    if patience_s == "estimate":
        est = _estimate_patience(ds, overall_keys).select(*overall_keys, "patience_s")
        return _join_per_group(table, est, overall_keys)
    return table.with_columns(
        patience_s=pl.lit(None if patience_s is None else float(patience_s), dtype=pl.Float64)
    )


def _with_staffed_agents(
    table: pl.LazyFrame, staff_keys: list[str], *, split: bool
) -> pl.LazyFrame:
    """Staffed and scheduled agents, shared by load within a team when splitting."""
    staffed = pl.coalesce(pl.col("on_queue_s") / pl.col("interval_s"), pl.col("agents_estimate"))
    scheduled = pl.col("sched_s") / pl.col("interval_s")
    if split:
        grp = ["interval_start", *staff_keys]
        share = (
            pl.when(pl.col("load_erlangs").sum().over(grp) > 0)
            .then(pl.col("load_erlangs") / pl.col("load_erlangs").sum().over(grp))
            .otherwise(1.0 / pl.len().over(grp))
        )
        staffed, scheduled = staffed * share, scheduled * share
    return table.with_columns(
        staffed_agents=staffed,
        scheduled_agents=scheduled,
        _staff_estimated=pl.col("on_queue_s").is_null() & pl.col("agents_estimate").is_not_null(),
    )


def _with_assumed(table: pl.LazyFrame, *, shrinkage: float | None) -> pl.LazyFrame:
    """``assumed``: the row's quantities taken from a planning assumption or an estimate."""
    parts = [
        pl.when(pl.col("_aht_assumed")).then(pl.lit("aht_s")),
        pl.when(pl.col("_staff_estimated")).then(pl.lit("staffed_agents")),
    ]
    if shrinkage is not None:
        parts.append(pl.lit("shrinkage"))
    joined = pl.concat_list(parts).list.drop_nulls().list.join(", ")
    return table.with_columns(assumed=pl.when(joined != "").then(joined))


def _with_required_and_expected(
    table: pl.LazyFrame,
    targets: Mapping[str, float | None],
    *,
    threshold_s: float,
    denominator: str,
    shrinkage: float | None,
) -> pl.LazyFrame:
    """Required agents, the gap, and the model's expected values beside the achieved ones."""
    solve_targets = {**targets, "threshold_s": threshold_s, "denominator": denominator}
    required = _required_expr(
        pl.col("load_erlangs"), pl.col("aht_s"), pl.col("patience_s"), targets=solve_targets
    )
    measured_shrinkage = 1.0 - _ratio(pl.col("on_queue_s"), pl.col("sched_s"))
    shrink = measured_shrinkage if shrinkage is None else pl.lit(float(shrinkage))
    expected = _model_expr(
        pl.col("load_erlangs"),
        pl.col("staffed_agents"),
        pl.col("aht_s").fill_null(1.0),
        pl.col("patience_s"),
        threshold_s=threshold_s,
        denominator=denominator,
    )
    model = pl.col("_expected").struct.field
    return table.with_columns(required_agents=required, _expected=expected).with_columns(
        required_scheduled=pl.when(shrink < 1).then(pl.col("required_agents") / (1 - shrink)),
        staffing_gap=pl.col("staffed_agents") - pl.col("required_agents"),
        expected_service_level=model("service_level"),
        achieved_service_level=_achieved_sl(denominator),
        expected_asa_s=model("asa_s"),
        achieved_asa_s=_ratio(pl.col("wait_answered_s"), pl.col("answered")),
        expected_abandon_rate=model("abandon_probability"),
        achieved_abandon_rate=_ratio(pl.col("abandoned"), pl.col("offered")),
        expected_occupancy=model("occupancy"),
        achieved_occupancy=_ratio(pl.col("busy_s"), pl.col("on_queue_s")),
        expected_wait_probability=model("wait_probability"),
    )
